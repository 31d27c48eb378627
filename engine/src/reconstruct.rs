//! `reconstruct MAILBOX`: rebuild cyrus.index and cyrus.cache from the message files, as an
//! administrator runs it when a mailbox no longer opens (imap/reconstruct.c, `reconstruct()`).
//!
//! Two generations of the tool, chosen by [`Version::reconstruct_two_phase`]:
//! - **2.3.7** (reconstruct.c T7:577-637): "Remove any previously expunged messages": if
//!   cyrus.expunge's header passes a sanity check, every message file it lists is unlinked
//!   (stopping at the first UID 0), then cyrus.expunge itself is unlinked, sane or not.
//!   Messages whose files remain go back into cyrus.index: a message cyrus.expunge held but
//!   whose header failed the check comes back to life.
//! - **2.3.12-p1 to 2.3.16** (reconstruct.c T16:521-545, 670-713, 924-1303): cyrus.expunge
//!   is read into a UID map (sorted by UID, duplicates lowest msgno first). Without `-k`
//!   every file it lists is unlinked first; with `-k` each listed message keeps a record in
//!   a rebuilt cyrus.expunge. A file listed in cyrus.expunge never goes back to cyrus.index.
//!
//! Both open cyrus.index in reconstruct mode: `mailbox_open_index` stops after opening and
//! mapping cyrus.index (mailbox.c T12:629, no generation check against cyrus.cache) and the
//! header's generation is taken from cyrus.index (T12:888). If that fails the old index is
//! ignored: UIDVALIDITY becomes now and every message is recovered from its file alone.
//!
//! Per message file (`UID.` names, sorted by UID): an old record of the same UID gives the
//! flags, INTERNALDATE and modseq; otherwise INTERNALDATE is the file's mtime (SimFs keeps
//! no mtimes: the model uses the time reconstruct runs) and modseq 1. The rest comes from
//! parsing the file (`message_parse_file` + `message_create_record`), the cache record
//! included. Not modelled: cyrus.header's rewrite (the model keeps no ACL or user flags
//! there), the seen database, the quota root (`quota -f` is a separate tool) and the
//! search for mailboxes missing from mailboxes.db.

use sim::{Fd, OpenFlags};

use crate::cx::{CResult, Cx, CyrusError};
use crate::format::{FLAG_DRAFT, IndexRecord, MinorVersion};
use crate::layout::*;
use crate::lock::{lock_blocking, lock_reopen};
use crate::mailbox::*;
use crate::map::{CyrusMap, map_free, map_refresh, uid_hole_run};
use crate::message::MessageParser;
use crate::stdio::StdioFile;

/// What one `reconstruct` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconstructReport {
    pub mailbox: String,
    /// The old cyrus.index could be read (its flags and dates were kept).
    pub index_read: bool,
    /// Records in the new cyrus.index.
    pub index_records: u32,
    /// Records in the new cyrus.expunge (`-k`, 2.3.12 on).
    pub expunge_records: u32,
    /// Message files unlinked because cyrus.expunge listed them, in the order unlinked.
    pub purged: Vec<u32>,
    /// Messages put in cyrus.index with no old record of theirs: flags lost, new dates.
    pub recovered: Vec<u32>,
}

/// The counts `reconstruct_counts_update` keeps for one output file.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    exists: u32,
    answered: u32,
    flagged: u32,
    deleted: u32,
    quota_used: u64,
}

impl Counts {
    fn update(&mut self, r: &IndexRecord) {
        self.exists += 1;
        self.quota_used += u64::from(r.size);
        self.answered += u32::from(r.is_answered());
        self.deleted += u32::from(r.is_deleted());
        self.flagged += u32::from(r.is_flagged());
    }
}

/// cyrus.expunge as reconstruct read it: UIDs with their record numbers, sorted.
#[derive(Debug, Default)]
struct ExpungeMap {
    /// (uid, msgno) of every record whose UID is not 0, sorted.
    uids: Vec<(u32, u32)>,
    /// Records whose UID read as 0 (they sort first and match no file).
    zero: u64,
    map: CyrusMap,
    fd: Option<Fd>,
    record_size: u32,
    start_offset: u32,
}

/// `reconstruct [-k] MAILBOX` by the running process. `keep` is `-k` (2.3.12 on; 2.3.7 has
/// no such flag and always purges what cyrus.expunge lists).
pub fn reconstruct(cx: &mut Cx, name: &str, keep: bool) -> CResult<ReconstructReport> {
    let mut mb = mailbox_open_header(cx, name)?;
    let r = reconstruct_open(cx, &mut mb, keep);
    if !matches!(r, Err(CyrusError::Died(..))) {
        mailbox_close(cx, &mut mb)?;
    }
    r
}

fn reconstruct_open(cx: &mut Cx, mb: &mut Mailbox, keep: bool) -> CResult<ReconstructReport> {
    survive(mailbox_lock_header(cx, mb))?;
    let version = cx.site.version;
    let two_phase = version.reconstruct_two_phase();
    let keep = keep && two_phase;
    let mut report = ReconstructReport {
        mailbox: mb.name.clone(),
        ..ReconstructReport::default()
    };
    match open_index_for_reconstruct(cx, mb) {
        Ok(()) => {
            report.index_read = true;
            if let Some(fd) = mb.index_fd {
                survive(lock_blocking(cx, fd))?;
            }
        }
        Err(e @ CyrusError::Died(..)) => return Err(e),
        Err(_) => {
            // "If we can't read the index, assume new UIDL" (T16:903-913).
            mb.exists = 0;
            mb.last_uid = 0;
            mb.last_appenddate = 0;
            mb.uidvalidity = cx.now;
            mb.highestmodseq = 1;
        }
    }

    let ep = mb.fname(FNAME_EXPUNGE);
    let mut exp = if two_phase {
        let e = read_expunge_two_phase(cx, mb, &ep)?;
        if !keep {
            // reconstruct_clear_expunged (T16:698-713).
            for &(uid, _) in &e.uids {
                let r = cx.fs.unlink(cx.pid, &message_fname(&mb.path, uid));
                cx.ignore(r)?;
                report.purged.push(uid);
            }
        }
        e
    } else {
        purge_expunged_2_3_7(cx, mb, &ep, &mut report)?;
        ExpungeMap::default()
    };

    let r = rebuild(cx, mb, &mut exp, keep, two_phase, &mut report);
    if let Some(fd) = exp.fd.take() {
        map_free(cx, &mut exp.map)?;
        let c = cx.fs.close(cx.pid, fd);
        cx.ignore(c)?;
    }
    r?;
    Ok(report)
}

/// A call whose failure reconstruct ignores (`(void) mailbox_lock_header(...)`); only the
/// death of the process stops it.
fn survive(r: CResult<()>) -> CResult<()> {
    match r {
        Err(e @ CyrusError::Died(..)) => Err(e),
        _ => Ok(()),
    }
}

/// `mailbox_open_index` in reconstruct mode: open and map cyrus.index only, then read its
/// header, taking the generation from it.
fn open_index_for_reconstruct(cx: &mut Cx, mb: &mut Mailbox) -> CResult<()> {
    let ip = mb.fname(FNAME_INDEX);
    let fd = match cx.fs.open(cx.pid, &ip, OpenFlags::RDWR) {
        Ok(fd) => fd,
        Err(e) => {
            return Err(cx.fail_with(e, |_| {
                CyrusError::BadFormat(format!("{}: no cyrus.index", mb.name))
            }));
        }
    };
    mb.index_fd = Some(fd);
    map_refresh(cx, fd, false, &mut mb.index_map, None, "index")?;
    mailbox_read_index_header(cx, mb)?;
    let mut g = [0u8; 4];
    mb.index_map.read(cx, OFFSET_GENERATION_NO as u64, &mut g)?;
    mb.generation_no = u32::from_be_bytes(g);
    Ok(())
}

/// 2.3.7: unlink the files a sane cyrus.expunge lists, then cyrus.expunge (T7:577-637).
fn purge_expunged_2_3_7(
    cx: &mut Cx,
    mb: &Mailbox,
    ep: &str,
    report: &mut ReconstructReport,
) -> CResult<()> {
    let opened = match cx.fs.stat(ep) {
        Ok(st) if st.size > OFFSET_LEAKED_CACHE as u64 => {
            match cx.fs.open(cx.pid, ep, OpenFlags::RDONLY) {
                Ok(fd) => Some((fd, st.size)),
                Err(e) => {
                    cx.ignore::<()>(Err(e))?;
                    None
                }
            }
        }
        Ok(_) => None,
        Err(e) => {
            cx.ignore::<()>(Err(e))?;
            None
        }
    };
    if let Some((fd, size)) = opened {
        let mut map = CyrusMap::default();
        map_refresh(cx, fd, true, &mut map, Some(size), "expunge")?;
        let mut h = [0u8; INDEX_HEADER_SIZE];
        map.read(cx, 0, &mut h[..(size as usize).min(INDEX_HEADER_SIZE)])?;
        let format = get32(&h, OFFSET_FORMAT);
        let minor = get32(&h, OFFSET_MINOR_VERSION);
        let start = get32(&h, OFFSET_START_OFFSET);
        let rs = get32(&h, OFFSET_RECORD_SIZE);
        let exists = get32(&h, OFFSET_EXISTS);
        let arch = cx.site.arch;
        let max_minor = cx.site.version.minor_version();
        let needed = arch.ulong(start as u128 + exists as u128 * rs as u128);
        let sane = format == 0
            && exists != 0
            && minor != 0
            && minor <= max_minor
            && start != 0
            && start as usize <= INDEX_HEADER_SIZE
            && rs != 0
            && rs <= cx.site.version.record_size()
            && size >= needed;
        if sane {
            for msgno in 0..exists {
                let off = record_offset(cx, start, rs, msgno + 1);
                let mut u = [0u8; 4];
                map.read(cx, off, &mut u)?;
                let uid = u32::from_be_bytes(u);
                if uid == 0 {
                    cx.story(format!(
                        "reconstruct {}: zero expunge record {}/{exists}",
                        mb.name,
                        msgno + 1
                    ));
                    break;
                }
                let r = cx.fs.unlink(cx.pid, &message_fname(&mb.path, uid));
                cx.ignore(r)?;
                report.purged.push(uid);
            }
        } else {
            cx.story(format!(
                "reconstruct {}: cyrus.expunge fails the sanity check (exists {exists}, \
                 record size {rs}, {size} bytes): its messages are not purged",
                mb.name
            ));
        }
        map_free(cx, &mut map)?;
        let c = cx.fs.close(cx.pid, fd);
        cx.ignore(c)?;
    }
    let r = cx.fs.unlink(cx.pid, ep);
    cx.ignore(r)?;
    Ok(())
}

/// 2.3.12 on: `reconstruct_open_expunge` and the UID map (T16:521-545, 924-967).
fn read_expunge_two_phase(cx: &mut Cx, mb: &Mailbox, ep: &str) -> CResult<ExpungeMap> {
    let mut e = ExpungeMap::default();
    let size = match cx.fs.stat(ep) {
        Ok(st) if st.size >= INDEX_HEADER_SIZE as u64 => Some(st.size),
        Ok(_) => None,
        Err(err) => {
            cx.ignore::<()>(Err(err))?;
            None
        }
    };
    let fd = match size.map(|_| cx.fs.open(cx.pid, ep, OpenFlags::RDWR)) {
        Some(Ok(fd)) => fd,
        other => {
            if let Some(Err(err)) = other {
                cx.ignore::<()>(Err(err))?;
            }
            let r = cx.fs.unlink(cx.pid, ep);
            cx.ignore(r)?;
            return Ok(e);
        }
    };
    let (fd, st) = match lock_reopen(cx, fd, ep) {
        Ok(v) => v,
        Err(err @ CyrusError::Died(..)) => return Err(err),
        Err(_) => {
            return Err(cx.ioerror(format!("locking expunge index for {}", mb.name)));
        }
    };
    e.fd = Some(fd);
    map_refresh(cx, fd, true, &mut e.map, Some(st.size), "expunge")?;
    let len = e.map.len;
    let mut h = [0u8; INDEX_HEADER_SIZE];
    e.map.read(cx, 0, &mut h)?;
    let minor = get32(&h, OFFSET_MINOR_VERSION);
    let exists = get32(&h, OFFSET_EXISTS);
    e.start_offset = get32(&h, OFFSET_START_OFFSET);
    e.record_size = get32(&h, OFFSET_RECORD_SIZE);
    let arch = cx.site.arch;
    let version = cx.site.version;
    // reconstruct_header_isvalid (T16:670-696).
    let needed = arch.ulong(e.start_offset as u128 + exists as u128 * e.record_size as u128);
    let valid = get32(&h, OFFSET_FORMAT) == 0
        && minor != 0
        && minor <= version.minor_version()
        && e.start_offset != 0
        && e.start_offset as usize <= INDEX_HEADER_SIZE
        && e.record_size != 0
        && e.record_size <= version.record_size()
        && len >= needed;
    if !valid {
        cx.story(format!(
            "reconstruct {}: unable to verify expunge header - deleting",
            mb.name
        ));
        map_free(cx, &mut e.map)?;
        let c = cx.fs.close(cx.pid, fd);
        cx.ignore(c)?;
        e.fd = None;
        let r = cx.fs.unlink(cx.pid, ep);
        cx.ignore(r)?;
        return Ok(e);
    }
    if exists == 0 {
        return Ok(e);
    }
    // xmalloc(expunge_exists * sizeof(struct uiditem)): two unsigned longs.
    let item = 2 * arch.long_size();
    cx.xmalloc(arch.ulong(exists as u128 * item as u128), "expunge_uidmap")?;
    let recsize = version.record_size() as u64;
    let mut next_data = 0u64;
    let mut msgno = 1u64;
    while msgno <= exists as u64 {
        let off = record_offset(cx, e.start_offset, e.record_size, msgno as u32);
        if off + recsize > len {
            return Err(cx.ioerror(format!(
                "index record {msgno} for {} past end of file",
                mb.name
            )));
        }
        // Records whose UID lies in a hole read as UID 0: count them without reading each.
        let k = uid_hole_run(
            cx,
            &e.map,
            off,
            &mut next_data,
            e.record_size as u64,
            exists as u64 - msgno + 1,
            len.saturating_sub(recsize.saturating_sub(e.record_size as u64)),
        );
        if k > 0 {
            e.zero += k;
            msgno += k;
            continue;
        }
        let mut u = [0u8; 4];
        e.map.read(cx, off, &mut u)?;
        match u32::from_be_bytes(u) {
            0 => e.zero += 1,
            uid => e.uids.push((uid, msgno as u32)),
        }
        msgno += 1;
    }
    e.uids.sort_unstable();
    Ok(e)
}

/// Record `msgno` of an old cyrus.index or cyrus.expunge read through `map`, in this
/// binary's record layout, with the check both `mailbox_read_index_record` and
/// `reconstruct_read_index_record` make against the map's length (T12:976-983,
/// T16:715-740): past it, the record counts as not found.
fn read_old_record(
    cx: &mut Cx,
    map: &CyrusMap,
    (start_offset, record_size): (u32, u32),
    msgno: u32,
    what: &str,
) -> CResult<Option<IndexRecord>> {
    let Some(minor) = MinorVersion::from_number(cx.site.version.minor_version()) else {
        return Ok(None);
    };
    let off = record_offset(cx, start_offset, record_size, msgno);
    let rs = minor.record_size();
    if off + rs as u64 > map.len {
        cx.story(format!("{what} record {msgno} past end of file"));
        return Ok(None);
    }
    let mut buf = vec![0u8; rs];
    map.read(cx, off, &mut buf)?;
    Ok(IndexRecord::parse(&buf, minor))
}

/// The message files of the mailbox directory, by UID (`UID.` names; T16:1004-1032).
fn message_uids(cx: &mut Cx, mb: &Mailbox) -> CResult<Vec<u32>> {
    let names = match cx.fs.list(&mb.path) {
        Ok(n) => n,
        Err(e) => {
            return Err(cx.fail_with(e, |cx| cx.ioerror(format!("opendir {}", mb.path))));
        }
    };
    // Digits then a dot, the first digit not 0.
    let mut uids: Vec<u32> = names
        .iter()
        .filter(|n| !n.starts_with('0'))
        .filter_map(|n| crate::fsck::message_uid_from_name(n))
        .collect();
    uids.sort_unstable();
    Ok(uids)
}

/// Open and parse one message file. `None`: skipped (cannot be opened, or empty, which is
/// unlinked).
fn parse_message_file(
    cx: &mut Cx,
    mb: &Mailbox,
    uid: u32,
) -> CResult<Option<crate::message::Parsed>> {
    let path = message_fname(&mb.path, uid);
    let fd = match cx.fs.open(cx.pid, &path, OpenFlags::RDONLY) {
        Ok(fd) => fd,
        Err(e) => {
            cx.ignore::<()>(Err(e))?;
            cx.story(format!(
                "reconstruct: fopen() failed for '{path}' -- skipping"
            ));
            return Ok(None);
        }
    };
    let r = (|| {
        let st = match cx.fs.fstat(cx.pid, fd) {
            Ok(st) => st,
            Err(e) => {
                cx.ignore::<()>(Err(e))?;
                return Ok(None);
            }
        };
        if st.size == 0 {
            let r = cx.fs.unlink(cx.pid, &path);
            cx.ignore(r)?;
            return Ok(None);
        }
        let mut p = MessageParser::default();
        let mut buf = [0u8; 4096];
        let mut off = 0u64;
        while off < st.size {
            match cx.fs.pread(cx.pid, fd, &mut buf, off) {
                Ok(0) => break,
                Ok(n) => {
                    p.feed(&buf[..n]);
                    off += n as u64;
                }
                Err(e) => {
                    return Err(cx.fail_with(e, |cx| cx.ioerror(format!("reading {path}"))));
                }
            }
        }
        Ok(Some(p.finish()))
    })();
    if !matches!(r, Err(CyrusError::Died(..))) {
        let c = cx.fs.close(cx.pid, fd);
        cx.ignore(c)?;
    }
    r
}

/// The body of `reconstruct()` from creating the `.NEW` files to renaming them.
fn rebuild(
    cx: &mut Cx,
    mb: &mut Mailbox,
    exp: &mut ExpungeMap,
    keep: bool,
    two_phase: bool,
    report: &mut ReconstructReport,
) -> CResult<()> {
    let version = cx.site.version;
    let minor = MinorVersion::from_number(version.minor_version())
        .ok_or_else(|| CyrusError::BadFormat(mb.name.clone()))?;
    let ip_new = format!("{}.NEW", mb.fname(FNAME_INDEX));
    let cp_new = format!("{}.NEW", mb.fname(FNAME_CACHE));
    let ep_new = format!("{}.NEW", mb.fname(FNAME_EXPUNGE));
    let Some(mut newindex) = StdioFile::fopen_w_plus(cx, &ip_new)? else {
        return Err(cx.ioerror(format!("creating {ip_new}")));
    };
    let newcache = match cx.fs.open(cx.pid, &cp_new, OpenFlags::RDWR_CREATE_TRUNC) {
        Ok(fd) => fd,
        Err(e) => {
            return Err(cx.fail_with(e, |cx| cx.ioerror(format!("creating {cp_new}"))));
        }
    };
    let mut newexpunge = if two_phase {
        match StdioFile::fopen_w_plus(cx, &ep_new)? {
            Some(f) => Some(f),
            None => return Err(cx.ioerror(format!("creating {ep_new}"))),
        }
    } else {
        None
    };

    // Placeholder headers carrying the next generation number.
    let generation = mb.generation_no.wrapping_add(1);
    let mut placeholder = [0u8; INDEX_HEADER_SIZE];
    put32(&mut placeholder, OFFSET_GENERATION_NO, generation);
    newindex.fwrite(cx, &placeholder)?;
    if let Some(f) = newexpunge.as_mut() {
        f.fwrite(cx, &placeholder)?;
    }
    let n = retry_write(cx, newcache, &generation.to_be_bytes())?;
    let mut cache_end = n as u64;

    let uids = message_uids(cx, mb)?;
    let mut index_counts = Counts::default();
    let mut expunge_counts = Counts::default();
    let mut highestmodseq = 0u64;
    let mut oldmsg = 0u32;
    let mut old: Option<IndexRecord> = None;
    let mut expmsg = 0usize;
    let mut recbuf = vec![0u8; minor.record_size()];
    for &uid in &uids {
        let Some(parsed) = parse_message_file(cx, mb, uid)? else {
            continue;
        };
        // Was this message expunged?
        while expmsg < exp.uids.len() && exp.uids[expmsg].0 < uid {
            expmsg += 1;
        }
        let expunge_found = exp.uids.get(expmsg).is_some_and(|&(u, _)| u == uid);
        let mut found: Option<IndexRecord> = None;
        if expunge_found {
            let msgno = exp.uids[expmsg].1;
            let geometry = (exp.start_offset, exp.record_size);
            found = read_old_record(cx, &exp.map, geometry, msgno, "expunge")?;
            expmsg += 1;
            // Further copies of the same UID are passed over by the next file's search.
        } else {
            while oldmsg < mb.exists && old.map_or(0, |r| r.uid) < uid {
                oldmsg += 1;
                let geometry = (mb.start_offset, mb.record_size);
                old = read_old_record(cx, &mb.index_map, geometry, oldmsg, "index")?;
            }
            if let Some(r) = old.filter(|r| r.uid == uid) {
                found = Some(r);
            }
        }
        let mut rec = IndexRecord {
            uid,
            ..IndexRecord::default()
        };
        match found {
            Some(t) => {
                rec.internaldate = t.internaldate;
                rec.last_updated = if two_phase { t.last_updated } else { cx.now };
                rec.modseq = t.modseq.max(1);
                rec.system_flags =
                    t.system_flags & (FLAG_ANSWERED | FLAG_FLAGGED | FLAG_DELETED | FLAG_DRAFT);
                rec.user_flags = t.user_flags;
                rec.guid = t.guid;
            }
            None => {
                rec.internaldate = cx.now;
                rec.last_updated = cx.now;
                rec.modseq = 1;
                report.recovered.push(uid);
            }
        }
        highestmodseq = highestmodseq.max(rec.modseq);
        // message_create_record: the cache record at the end of the new cache, the parsed
        // fields, and (2.3.10 on) a GUID computed from the message when none was kept.
        let crec = crate::append::cache_record_for(uid);
        let n = retry_write(cx, newcache, &crec)?;
        if n != crec.len() {
            return Err(cx.ioerror(format!("writing cache record for {}", mb.name)));
        }
        rec.cache_offset = cache_end as u32;
        cache_end += n as u64;
        rec.size = parsed.size;
        rec.header_size = parsed.header_size;
        rec.content_offset = parsed.header_size;
        rec.content_lines = parsed.content_lines;
        rec.sentdate = parsed.sentdate;
        rec.cache_version = 1;
        if minor == MinorVersion::V10 && rec.guid == [0; 20] {
            rec.guid = crate::append::guid_for(uid);
        }
        rec.write_into(&mut recbuf, minor);
        match newexpunge.as_mut() {
            Some(f) if expunge_found && keep => {
                expunge_counts.update(&rec);
                f.fwrite(cx, &recbuf)?;
            }
            _ => {
                index_counts.update(&rec);
                newindex.fwrite(cx, &recbuf)?;
            }
        }
    }

    // The new headers (T16:1174-1221).
    if let Some(&max) = uids.last()
        && mb.last_uid < max
    {
        cx.story(format!(
            "reconstruct {}: updating last_uid {} => {}",
            mb.name,
            mb.last_uid,
            max.wrapping_add(100)
        ));
        mb.last_uid = max.wrapping_add(100);
    }
    if mb.last_appenddate == 0 || mb.last_appenddate > cx.now {
        mb.last_appenddate = cx.now;
    }
    if mb.uidvalidity == 0 || mb.uidvalidity > cx.now {
        mb.uidvalidity = cx.now;
    }
    mb.highestmodseq = mb.highestmodseq.max(highestmodseq);
    let header = |c: &Counts| {
        let h = Mailbox {
            generation_no: generation,
            format: 0,
            minor_version: minor.number(),
            start_offset: INDEX_HEADER_SIZE as u32,
            record_size: minor.record_size() as u32,
            exists: c.exists,
            quota_mailbox_used: c.quota_used,
            deleted: c.deleted,
            answered: c.answered,
            flagged: c.flagged,
            leaked_cache: 0,
            ..mb.clone()
        };
        h.header_bytes(&[0u8; INDEX_HEADER_SIZE])
    };
    newindex.rewind(cx)?;
    newindex.fwrite(cx, &header(&index_counts))?;
    newindex.fflush(cx)?;
    if let Some(f) = newexpunge.as_mut() {
        f.rewind(cx)?;
        f.fwrite(cx, &header(&expunge_counts))?;
        f.fflush(cx)?;
    }
    let cache_synced = cx.fs.fsync(cx.pid, newcache);
    let cache_ok = cx.ignore(cache_synced)?.is_some();
    let index_ok = !newindex.ferror() && newindex.fsync(cx)?;
    let expunge_ok = match newexpunge.as_mut() {
        Some(f) => !f.ferror() && f.fsync(cx)?,
        None => true,
    };
    let c = cx.fs.close(cx.pid, newcache);
    cx.ignore(c)?;
    newindex.fclose(cx)?;
    if let Some(f) = newexpunge {
        f.fclose(cx)?;
    }
    if !(cache_ok && index_ok && expunge_ok) {
        return Err(cx.ioerror(format!("writing index/cache/expunge for {}", mb.name)));
    }
    report.index_records = index_counts.exists;
    report.expunge_records = expunge_counts.exists;

    // Commit. 2.3.7: index, then cache. 2.3.12 on: cache, expunge (or unlink it when
    // empty), index last "as this blows away the index lock".
    let rename = |cx: &mut Cx, file: &str| -> CResult<()> {
        let to = mb.fname(file);
        match cx.fs.rename(cx.pid, &format!("{to}.NEW"), &to) {
            Ok(()) => Ok(()),
            Err(e) => Err(cx.fail_with(e, |cx| {
                cx.ioerror(format!("renaming {file} for {}", mb.name))
            })),
        }
    };
    if two_phase {
        rename(cx, FNAME_CACHE)?;
        rename(cx, FNAME_EXPUNGE)?;
        if expunge_counts.exists == 0 {
            let r = cx.fs.unlink(cx.pid, &mb.fname(FNAME_EXPUNGE));
            cx.ignore(r)?;
        }
        rename(cx, FNAME_INDEX)?;
    } else {
        rename(cx, FNAME_INDEX)?;
        rename(cx, FNAME_CACHE)?;
    }
    cx.story(format!(
        "reconstruct {}: {} record(s) in cyrus.index, {} in cyrus.expunge, {} file(s) purged, \
         {} recovered without a record",
        mb.name,
        report.index_records,
        report.expunge_records,
        report.purged.len(),
        report.recovered.len()
    ));
    Ok(())
}
