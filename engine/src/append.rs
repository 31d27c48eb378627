//! What imapd and lmtpd do to a mailbox besides expunging: deliver (append_fromstage +
//! mailbox_append_index), STORE \Deleted (mailbox_write_index_record), and EXPUNGE
//! (index_expunge -> mailbox_expunge with flags 0). imap/append.c, imap/index.c, T12.

use sim::{OpenFlags, Whence};

use crate::cx::{CResult, Cx, CyrusError};
use crate::expunge::{ExpungeFix, ExpungeReport, mailbox_expunge};
use crate::layout::*;
use crate::mailbox::*;
use crate::message::{message_body, message_parse};
use crate::process_records::Decide;
use crate::quota::quota_charge;

/// A message as lmtpd receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The Date: header, seconds since the epoch.
    pub sentdate: u32,
    /// INTERNALDATE: when it arrived.
    pub internaldate: u32,
    /// RFC822.SIZE.
    pub size: u32,
}

/// The cache record Cyrus would write for a message: 10 items, each a big-endian length
/// and data padded to 4 bytes. The content is a function of the UID so the fsck can tell
/// whose record an offset points at.
pub fn cache_record_for(uid: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(224);
    write_cache_record_for(uid, &mut out);
    out
}

/// [`cache_record_for`] into `out` (cleared first), so that a caller checking many records
/// reuses one buffer.
pub fn write_cache_record_for(uid: u32, out: &mut Vec<u8>) {
    // The oracle rebuilds this for every record after every step: no formatting machinery.
    out.clear();
    let mut digits = [0u8; 10];
    let mut n = uid;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let uid_text = &digits[i..];
    for name in crate::format::CACHE_FIELD_NAMES {
        let len = name.len() + b" of uid ".len() + uid_text.len();
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b" of uid ");
        out.extend_from_slice(uid_text);
        out.resize(out.len().next_multiple_of(4), 0);
    }
}

/// The GUID Cyrus would compute (a SHA1 of the message); any 20 bytes unique per UID do.
pub(crate) fn guid_for(uid: u32) -> [u8; 20] {
    let mut g = [0u8; 20];
    let mut x = (uid as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for b in g.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    g
}

/// lmtpd delivery: write the message file, append its cache record and index record,
/// update the header and the quota. Returns the new UID.
pub fn deliver(cx: &mut Cx, name: &str, d: Delivery) -> CResult<u32> {
    let mut mb = mailbox_open_and_lock(cx, name)?;
    let r = deliver_locked(cx, &mut mb, d);
    if !matches!(r, Err(CyrusError::Died(..))) {
        mailbox_close(cx, &mut mb)?;
    }
    r
}

fn deliver_locked(cx: &mut Cx, mb: &mut Mailbox, d: Delivery) -> CResult<u32> {
    let uid = mb.last_uid.wrapping_add(1);
    // The message file (append_fromstage links the staged file; here it is written).
    let mp = message_fname(&mb.path, uid);
    let fd = cx
        .fs
        .open(cx.pid, &mp, OpenFlags::RDWR_CREATE_TRUNC)
        .map_err(|e| cx.check(e))?;
    let body = message_body(uid, &d);
    let parsed = message_parse(&body);
    let n = retry_write(cx, fd, &body)?;
    let s = cx.fs.fsync(cx.pid, fd);
    let r = cx.fs.close(cx.pid, fd);
    cx.ignore(r)?;
    if n != body.len() || cx.ignore(s)?.is_none() {
        let r = cx.fs.unlink(cx.pid, &mp);
        cx.ignore(r)?;
        return Err(cx.ioerror(format!("writing message file {mp}")));
    }
    // The cache record goes at the end of cyrus.cache.
    let cfd = mb
        .cache_fd
        .ok_or_else(|| CyrusError::BadFormat(mb.name.clone()))?;
    let cache_offset = cx
        .fs
        .lseek(cx.pid, cfd, 0, Whence::End)
        .map_err(|e| cx.check(e))?;
    let crec = cache_record_for(uid);
    let n = retry_write(cx, cfd, &crec)?;
    if n != crec.len() {
        let r = cx.fs.ftruncate(cx.pid, cfd, cache_offset);
        cx.ignore(r)?;
        return Err(cx.ioerror(format!("appending cache record for {}", mb.name)));
    }
    // The index record at msgno exists+1 (mailbox_append_index).
    let rs = mb.record_size as usize;
    let mut rec = vec![0u8; rs];
    put32(&mut rec, OFFSET_UID, uid);
    put32(&mut rec, OFFSET_INTERNALDATE, d.internaldate);
    put32(&mut rec, OFFSET_SENTDATE, d.sentdate);
    put32(&mut rec, OFFSET_SIZE, parsed.size);
    put32(&mut rec, OFFSET_HEADER_SIZE, parsed.header_size);
    put32(&mut rec, OFFSET_CONTENT_OFFSET, parsed.header_size);
    put32(&mut rec, OFFSET_CACHE_OFFSET, cache_offset as u32);
    put32(&mut rec, OFFSET_LAST_UPDATED, cx.now);
    put32(&mut rec, OFFSET_CONTENT_LINES, parsed.content_lines);
    put32(&mut rec, OFFSET_CACHE_VERSION, 1);
    let guid_len = if mb.minor_version >= 10 { 20 } else { 12 };
    rec[OFFSET_MESSAGE_GUID..OFFSET_MESSAGE_GUID + guid_len]
        .copy_from_slice(&guid_for(uid)[..guid_len]);
    let modseq = mb.highestmodseq.wrapping_add(1);
    let mo = offset_modseq(mb.minor_version);
    if mo + 8 <= rs {
        put64(&mut rec, mo, modseq);
    }
    let ifd = mb
        .index_fd
        .ok_or_else(|| CyrusError::BadFormat(mb.name.clone()))?;
    let last_offset = record_offset(
        cx,
        mb.start_offset,
        mb.record_size,
        mb.exists.wrapping_add(1),
    );
    let r = cx
        .fs
        .lseek(cx.pid, ifd, cx.site.arch.long(last_offset), Whence::Set);
    cx.ignore(r)?;
    let n = retry_write(cx, ifd, &rec)?;
    let s = cx.fs.fsync(cx.pid, ifd);
    if n != rs || cx.ignore(s)?.is_none() {
        let r = cx.fs.ftruncate(cx.pid, ifd, last_offset);
        cx.ignore(r)?;
        return Err(cx.ioerror(format!("appending index records for {}", mb.name)));
    }
    mb.exists = mb.exists.wrapping_add(1);
    mb.last_uid = uid;
    mb.last_appenddate = cx.now;
    mb.quota_mailbox_used = mb.quota_mailbox_used.wrapping_add(parsed.size as u64);
    mb.highestmodseq = modseq;
    // The map was made before the append; refresh it so the header write reads the base.
    crate::map::map_refresh(cx, ifd, false, &mut mb.index_map, None, "index")?;
    mailbox_write_index_header(cx, mb)?;
    quota_charge(cx, &mb.name, parsed.size as u64)?;
    Ok(uid)
}

/// imapd `STORE n +FLAGS (\Deleted)` for the given UIDs: rewrite each record in place and
/// the header's deleted count (mailbox_write_index_record + mailbox_write_index_header).
/// Returns the UIDs that were found and flagged.
pub fn set_deleted(cx: &mut Cx, name: &str, uids: &[u32]) -> CResult<Vec<u32>> {
    let mut mb = mailbox_open_and_lock(cx, name)?;
    let r = (|| {
        let mut flagged = Vec::new();
        let rs = mb.record_size as usize;
        let mut rec = vec![0u8; rs];
        let ifd = mb
            .index_fd
            .ok_or_else(|| CyrusError::BadFormat(mb.name.clone()))?;
        for msgno in 1..=mb.exists {
            mb.read_record_raw(cx, msgno, &mut rec)?;
            let uid = get32(&rec, OFFSET_UID);
            let flags = get32(&rec, OFFSET_SYSTEM_FLAGS);
            if uids.contains(&uid) && flags & FLAG_DELETED == 0 {
                put32(&mut rec, OFFSET_SYSTEM_FLAGS, flags | FLAG_DELETED);
                put32(&mut rec, OFFSET_LAST_UPDATED, cx.now);
                let off = record_offset(cx, mb.start_offset, mb.record_size, msgno);
                let n = cx
                    .fs
                    .pwrite(cx.pid, ifd, &rec, off)
                    .map_err(|e| cx.check(e))?;
                if n != rs {
                    return Err(cx.ioerror(format!("writing index record {msgno} of {}", mb.name)));
                }
                mb.deleted = mb.deleted.wrapping_add(1);
                flagged.push(uid);
            }
        }
        if !flagged.is_empty() {
            mailbox_write_index_header(cx, &mut mb)?;
        }
        Ok(flagged)
    })();
    if !matches!(r, Err(CyrusError::Died(..))) {
        mailbox_close(cx, &mut mb)?;
    }
    r
}

/// imapd `EXPUNGE`: `mailbox_expunge(mailbox, NULL, NULL, 0)`: in delayed mode the
/// \Deleted records move to cyrus.expunge, in immediate mode they and their files go.
pub fn imapd_expunge(cx: &mut Cx, name: &str) -> CResult<ExpungeReport> {
    let mut mb = mailbox_open_and_lock(cx, name)?;
    let r = mailbox_expunge(cx, &mut mb, &mut Decide::Deleted, 0, ExpungeFix::default());
    if !matches!(r, Err(CyrusError::Died(..))) {
        mailbox_close(cx, &mut mb)?;
    }
    r
}
