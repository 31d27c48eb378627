//! An imapd session: the mailbox one imapd process has SELECTed, held open across commands,
//! and what each command does to notice other processes' changes (imap/imapd.c and
//! imap/index.c; T7 = cyrus-imapd-2.3.7, T12 = cyrus-imapd-2.3.12-p1).
//!
//! imapd keeps two views of the selected mailbox: `struct mailbox` (fds of cyrus.header,
//! cyrus.index and cyrus.cache, and mailbox.c's maps of them, refreshed under the index
//! lock) and index.c's own statics `index_base`/`index_len`, `cache_base`/`cache_len`,
//! `index_ino` and `imapd_exists` (index.c T12:89-100), maps that only `index_check` moves
//! forward. Between commands the process holds every fd and map and no lock.
//!
//! Which commands check first is the source's, not a choice: NOOP, UID FETCH, EXPUNGE (after
//! its expunge) call `index_check`; a plain FETCH or STORE reads through index.c's maps as
//! they are (imapd.c T12:4080-4095, 4444-4453; T7:3985-3990, 4345-4352). `st_mtime` is not
//! simulated: `index_check` notices a same-inode change by `st_size` alone.

use sim::{MapId, OpenFlags, Pid, Vfs, Whence};

use crate::cx::{CResult, Cx, CyrusError};
use crate::expunge::{ExpungeFix, ExpungeReport, mailbox_expunge};
use crate::layout::*;
use crate::mailbox::*;
use crate::map::{CyrusMap, map_free, map_refresh};
use crate::process_records::Decide;

/// A session's view after `index_check` differs from what cyrus.index holds.
pub const CHECK_VIEW_STALE: &str = "session-view-stale";
/// A UID FETCH, which runs `index_check` first, met a message whose file is gone.
pub const CHECK_FETCH_GONE: &str = "session-fetch-gone";

/// The selected mailbox of one imapd process: `imapd_mailbox` and index.c's statics.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// `mboxstruct`: the fds and mailbox.c's maps.
    pub mailbox: Mailbox,
    /// index.c's `index_base`/`index_len`.
    pub index_map: CyrusMap,
    /// index.c's `cache_base`/`cache_len`, and `cache_end`.
    pub cache_map: CyrusMap,
    pub cache_end: u64,
    /// index.c's `index_ino`, `start_offset`, `record_size`.
    pub index_ino: u64,
    pub start_offset: u32,
    pub record_size: u32,
    /// `imapd_exists`: -1 forces `* n EXISTS` at the next check.
    pub imapd_exists: i64,
    /// `flagreport[msgno]`: the last_updated last reported (index 0 unused).
    pub flagreport: Vec<u32>,
}

/// What one `index_check` told the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// cyrus.index was renamed over (or the session's map was of an older inode): reopened.
    pub reopened: bool,
    /// `* n EXPUNGE` responses sent.
    pub expunged: u32,
    /// `* n EXISTS` sent with this count.
    pub exists: Option<u32>,
    /// `* n FETCH (FLAGS ...)` responses for flags other processes changed.
    pub flag_updates: u32,
}

/// What one FETCH of every message answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchReport {
    /// The UIDs fetched, in msgno order, as the session's map gave them.
    pub uids: Vec<u32>,
    /// UIDs answered `* OK Message n no longer exists` (IMAP_NO_MSGGONE): the file is gone.
    pub gone: Vec<u32>,
    /// The `index_check` a UID FETCH ran first.
    pub check: Option<CheckReport>,
}

impl Session {
    /// `UID(msgno)` and friends: a field of record `msgno` through index.c's map, without a
    /// bounds check, as index.c's macros read it (index.c T12:73-88).
    fn field(&self, cx: &mut Cx, msgno: u32, offset: usize) -> CResult<u32> {
        let off = record_offset(cx, self.start_offset, self.record_size, msgno) + offset as u64;
        let mut b = [0u8; 4];
        self.index_map.read(cx, off, &mut b)?;
        Ok(u32::from_be_bytes(b))
    }

    /// How many messages the session shows (`imapd_exists`, 0 while it is -1).
    pub fn exists(&self) -> u32 {
        u32::try_from(self.imapd_exists).unwrap_or(0)
    }
}

/// `cmd_select` (imapd.c T12:3471-3492): mailbox_open_header and mailbox_open_index, no lock,
/// then `index_newmailbox`, whose `index_check` maps index.c's view.
pub fn cmd_select(cx: &mut Cx, name: &str) -> CResult<Session> {
    let mut mb = mailbox_open_header(cx, name)?;
    if let Err(e) = mailbox_open_index(cx, &mut mb) {
        if !matches!(e, CyrusError::Died(..)) {
            mailbox_close(cx, &mut mb)?;
        }
        return Err(e);
    }
    let mut s = Session {
        mailbox: mb,
        imapd_exists: -1,
        ..Session::default()
    };
    index_check(cx, &mut s)?;
    Ok(s)
}

/// `index_check(mailbox, usinguid, checkseen)` (index.c T7:255, T12:258): stat cyrus.index;
/// if its inode is not the one the session holds, reopen and report the expunges; if only
/// its size changed, re-read the header; then refresh index.c's maps to the new `exists`
/// and report flags other processes changed. No lock is taken. \Seen state is not modelled.
pub fn index_check(cx: &mut Cx, s: &mut Session) -> CResult<CheckReport> {
    let mut report = CheckReport::default();
    let mut oldexists = s.imapd_exists;
    if s.index_map.len != 0 {
        let path = s.mailbox.fname(FNAME_INDEX);
        match cx.fs.stat(&path) {
            Err(e) if e.errno == sim::Errno::NoEnt => {
                // "Mailbox has been deleted" (T12:280-292).
                report.expunged = s.exists();
                s.mailbox.exists = 0;
                s.imapd_exists = -1;
            }
            // Any other failure of stat() is passed over, as in Cyrus.
            Err(e) => {
                cx.ignore::<()>(Err(e))?;
            }
            Ok(st) if st.ino != s.mailbox.index_ino || s.index_ino != s.mailbox.index_ino => {
                reopen(cx, s, &mut oldexists, &mut report)?;
            }
            Ok(st) if st.size != s.mailbox.index_size => {
                mailbox_read_index_header(cx, &mut s.mailbox)?;
            }
            Ok(_) => {}
        }
    }
    s.index_ino = s.mailbox.index_ino;
    s.start_offset = s.mailbox.start_offset;
    s.record_size = s.mailbox.record_size;
    let newexists = s.mailbox.exists;
    let ifd = s
        .mailbox
        .index_fd
        .ok_or_else(|| cx.fatal("index_check: no index fd"))?;
    let len = cx
        .site
        .arch
        .ulong(s.start_offset as u128 + newexists as u128 * s.record_size as u128);
    map_refresh(cx, ifd, false, &mut s.index_map, Some(len), "index")?;
    let cfd = s
        .mailbox
        .cache_fd
        .ok_or_else(|| cx.fatal("index_check: no cache fd"))?;
    let st = match cx.fs.fstat(cx.pid, cfd) {
        Ok(st) => st,
        Err(e) => {
            cx.check(e);
            return Err(cx.fatal("failed to stat cache file"));
        }
    };
    if s.cache_end < st.size {
        s.cache_end = st.size;
        map_refresh(cx, cfd, false, &mut s.cache_map, Some(st.size), "cache")?;
    }
    if i64::from(newexists) != s.imapd_exists {
        // Newly arrived messages start with what they have (T12:414-418).
        s.flagreport.resize(newexists as usize + 1, 0);
        let first = u32::try_from(oldexists.max(0)).unwrap_or(0) + 1;
        for msgno in first..=newexists {
            s.flagreport[msgno as usize] = s.field(cx, msgno, OFFSET_LAST_UPDATED)?;
        }
        s.imapd_exists = i64::from(newexists);
        report.exists = Some(newexists);
    }
    // Flags other processes changed (T12:444-458): every old record, through the map.
    let old = u32::try_from(oldexists.max(0)).unwrap_or(0);
    for msgno in 1..=old {
        let updated = s.field(cx, msgno, OFFSET_LAST_UPDATED)?;
        if s.flagreport
            .get(msgno as usize)
            .is_some_and(|&r| r < updated)
        {
            s.field(cx, msgno, OFFSET_SYSTEM_FLAGS)?;
            s.flagreport[msgno as usize] = updated;
            report.flag_updates += 1;
        }
    }
    Ok(report)
}

/// The branch of `index_check` for a cyrus.index renamed over (T12:293-336): reopen the
/// mailbox (a failure is `fatal("failed to reopen index file")`), walk the old view beside
/// the new file to send `* n EXPUNGE`, then drop index.c's maps.
fn reopen(
    cx: &mut Cx,
    s: &mut Session,
    oldexists: &mut i64,
    report: &mut CheckReport,
) -> CResult<()> {
    let olduidvalidity = s.mailbox.uidvalidity;
    if let Err(e) = mailbox_open_index(cx, &mut s.mailbox) {
        if let CyrusError::Died(..) = e {
            return Err(e);
        }
        cx.story(format!("{}: {e}", s.mailbox.name));
        return Err(cx.fatal("failed to reopen index file"));
    }
    report.reopened = true;
    // 2.3.16 skips the walk when UIDVALIDITY changed; T7 and T12 walk regardless.
    if olduidvalidity != s.mailbox.uidvalidity {
        *oldexists = -1;
    }
    let old = s.exists();
    let (mut oldmsgno, mut msgno) = (1u32, 1u32);
    while oldmsgno <= old {
        let uid = if msgno <= s.mailbox.exists {
            let mut rec = vec![0u8; s.mailbox.record_size as usize];
            mailbox_read_index_record(cx, &s.mailbox, msgno, &mut rec)?;
            get32(&rec, OFFSET_UID)
        } else {
            s.mailbox.last_uid.wrapping_add(1)
        };
        let mut nexpunge = 0;
        while oldmsgno <= old && s.field(cx, oldmsgno, OFFSET_UID)? < uid {
            nexpunge += 1;
            oldmsgno += 1;
        }
        if nexpunge > 0 {
            let from = msgno as usize;
            let to = (from + nexpunge as usize).min(s.flagreport.len());
            s.flagreport.drain(from.min(to)..to);
            *oldexists -= i64::from(nexpunge);
            report.expunged += nexpunge;
        }
        oldmsgno += 1;
        msgno += 1;
    }
    map_free(cx, &mut s.index_map)?;
    map_free(cx, &mut s.cache_map)?;
    s.cache_end = 0;
    s.imapd_exists = -1;
    Ok(())
}

/// `mailbox_read_index_record` (mailbox.c T7:966, T12:966-1018): one record through
/// mailbox.c's map, refused with IOERROR past the map's end (INDEX_RECORD_SIZE is this
/// binary's record size).
pub fn mailbox_read_index_record(
    cx: &mut Cx,
    mb: &Mailbox,
    msgno: u32,
    buf: &mut [u8],
) -> CResult<()> {
    let off = record_offset(cx, mb.start_offset, mb.record_size, msgno);
    if off + u64::from(cx.site.version.record_size()) > mb.index_map.len {
        return Err(cx.ioerror(format!(
            "index record {msgno} for {} past end of file",
            mb.name
        )));
    }
    mb.read_record_raw(cx, msgno, buf)
}

/// `cmd_noop` (imapd.c T12:2303-2318): `index_check`.
pub fn cmd_noop(cx: &mut Cx, s: &mut Session) -> CResult<CheckReport> {
    index_check(cx, s)
}

/// `cmd_fetch` of every message with a body item (`FETCH 1:* (FLAGS BODY[])`, or its UID
/// form): a UID FETCH runs `index_check` first, a plain one does not (imapd.c T12:4080-4095).
/// `index_fetchreply` (index.c T12:2425-2460) reads each record through index.c's map and
/// maps the message file; a file that will not open is `* OK Message n no longer exists`.
pub fn cmd_fetch(cx: &mut Cx, s: &mut Session, usinguid: bool) -> CResult<FetchReport> {
    let mut report = FetchReport::default();
    if usinguid {
        report.check = Some(index_check(cx, s)?);
    }
    for msgno in 1..=s.exists() {
        let uid = s.field(cx, msgno, OFFSET_UID)?;
        s.field(cx, msgno, OFFSET_SYSTEM_FLAGS)?;
        report.uids.push(uid);
        if !mailbox_map_message(cx, &s.mailbox, uid)? {
            cx.story(format!(
                "{}: * OK Message {msgno} no longer exists (UID {uid}: its file is gone)",
                s.mailbox.name
            ));
            report.gone.push(uid);
        }
    }
    Ok(report)
}

/// `mailbox_map_message` then `mailbox_unmap_message` (mailbox.c T12:391-423): open, fstat,
/// map the whole file once, close. `false` when the open fails.
fn mailbox_map_message(cx: &mut Cx, mb: &Mailbox, uid: u32) -> CResult<bool> {
    let path = message_fname(&mb.path, uid);
    let fd = match cx.fs.open(cx.pid, &path, OpenFlags::RDONLY) {
        Ok(fd) => fd,
        Err(e) if e.errno == sim::Errno::Srch => return Err(cx.check(e)),
        Err(_) => return Ok(false),
    };
    let st = match cx.fs.fstat(cx.pid, fd) {
        Ok(st) => st,
        Err(e) => {
            cx.check(e);
            return Err(cx.fatal("can't fstat message file"));
        }
    };
    let mut m = CyrusMap::default();
    if st.size > 0 {
        map_refresh(cx, fd, true, &mut m, Some(st.size), &path)?;
    }
    let r = cx.fs.close(cx.pid, fd);
    cx.ignore(r)?;
    map_free(cx, &mut m)?;
    Ok(true)
}

/// `STORE msgnos +FLAGS (\Deleted)` (cmd_store -> index_store -> index_storeflag, index.c
/// T12:874-1025, 2858-2990): lock the index (which reopens a renamed cyrus.index), find each
/// msgno's UID (read through index.c's map) by binary search in the locked file, flag it;
/// a UID no longer there is a faked store. Then refresh index.c's map. No `index_check`
/// follows a plain STORE. Returns the UIDs newly flagged.
pub fn cmd_store_deleted(cx: &mut Cx, s: &mut Session, msgnos: &[u32]) -> CResult<Vec<u32>> {
    mailbox_lock_index(cx, &mut s.mailbox)?;
    let r = store_locked(cx, s, msgnos);
    if matches!(r, Err(CyrusError::Died(..))) {
        return r;
    }
    mailbox_unlock_index(cx, &mut s.mailbox)?;
    let flagged = r?;
    let ifd = s
        .mailbox
        .index_fd
        .ok_or_else(|| cx.fatal("index_store: no index fd"))?;
    let len = cx
        .site
        .arch
        .ulong(s.start_offset as u128 + s.exists() as u128 * s.record_size as u128);
    map_refresh(cx, ifd, false, &mut s.index_map, Some(len), "index")?;
    Ok(flagged)
}

fn store_locked(cx: &mut Cx, s: &mut Session, msgnos: &[u32]) -> CResult<Vec<u32>> {
    let mut flagged = Vec::new();
    let mut rec = vec![0u8; s.mailbox.record_size as usize];
    let shown = s.exists();
    for &msgno in msgnos.iter().filter(|&&m| m >= 1 && m <= shown) {
        let uid = s.field(cx, msgno, OFFSET_UID)?;
        let Some(found) = find_uid(cx, &s.mailbox, uid, &mut rec)? else {
            continue; // "Message was expunged": the flags are faked (T12:2905-2918).
        };
        let flags = get32(&rec, OFFSET_SYSTEM_FLAGS);
        if flags & FLAG_DELETED != 0 {
            continue;
        }
        put32(&mut rec, OFFSET_SYSTEM_FLAGS, flags | FLAG_DELETED);
        put32(&mut rec, OFFSET_LAST_UPDATED, cx.now);
        s.mailbox.deleted = s.mailbox.deleted.wrapping_add(1);
        mailbox_write_index_record(cx, &s.mailbox, found, &rec)?;
        flagged.push(uid);
    }
    if !flagged.is_empty() {
        mailbox_write_index_header(cx, &mut s.mailbox)?;
    }
    Ok(flagged)
}

/// index_storeflag's binary search for `uid` among mailbox.c's `exists` records.
fn find_uid(cx: &mut Cx, mb: &Mailbox, uid: u32, rec: &mut [u8]) -> CResult<Option<u32>> {
    let (mut low, mut high) = (1i64, i64::from(mb.exists));
    while low <= high {
        let mid = (high - low) / 2 + low;
        mailbox_read_index_record(cx, mb, mid as u32, rec)?;
        let found = get32(rec, OFFSET_UID);
        if found == uid {
            return Ok(Some(mid as u32));
        }
        if found > uid {
            high = mid - 1;
        } else {
            low = mid + 1;
        }
    }
    Ok(None)
}

/// `mailbox_write_index_record(mailbox, msgno, record, sync=0)` (mailbox.c T12:1408-1435):
/// lseek to the record, retry_write it.
fn mailbox_write_index_record(cx: &mut Cx, mb: &Mailbox, msgno: u32, rec: &[u8]) -> CResult<()> {
    let fd = mb
        .index_fd
        .ok_or_else(|| CyrusError::BadFormat(mb.name.clone()))?;
    let off = record_offset(cx, mb.start_offset, mb.record_size, msgno);
    let r = cx.fs.lseek(cx.pid, fd, cx.site.arch.long(off), Whence::Set);
    if cx.ignore(r)?.is_none() {
        return Err(cx.ioerror(format!("seeking index record {msgno} for {}", mb.name)));
    }
    let n = retry_write(cx, fd, rec)?;
    if n != rec.len() {
        return Err(cx.ioerror(format!("writing index record {msgno} for {}", mb.name)));
    }
    Ok(())
}

/// `cmd_expunge` (imapd.c T12:4867-4908): `mailbox_expunge(flags 0)` of the held mailbox,
/// then `index_check` whatever it returned.
pub fn cmd_expunge(cx: &mut Cx, s: &mut Session) -> CResult<(ExpungeReport, CheckReport)> {
    let r = expunge_deleted(cx, s);
    if let Err(CyrusError::Died(..)) = r {
        return r.map(|e| (e, CheckReport::default()));
    }
    let check = index_check(cx, s)?;
    r.map(|e| (e, check))
}

/// `mailbox_expunge(imapd_mailbox, NULL, NULL, 0)`: \Deleted records go, as the site's
/// expunge_mode says.
fn expunge_deleted(cx: &mut Cx, s: &mut Session) -> CResult<ExpungeReport> {
    mailbox_expunge(
        cx,
        &mut s.mailbox,
        &mut Decide::Deleted,
        0,
        ExpungeFix::default(),
    )
}

/// `index_closemailbox` then `mailbox_close` (index.c T12:206-221; imapd.c T12:3576-3577).
pub fn index_closemailbox(cx: &mut Cx, s: &mut Session) -> CResult<()> {
    map_free(cx, &mut s.index_map)?;
    map_free(cx, &mut s.cache_map)?;
    s.cache_end = 0;
    s.imapd_exists = -1;
    mailbox_close(cx, &mut s.mailbox)
}

/// `cmd_close` (imapd.c T12:3551-3580): a delayed EXPUNGE (flags 0), then close.
pub fn cmd_close(cx: &mut Cx, s: &mut Session) -> CResult<ExpungeReport> {
    let r = expunge_deleted(cx, s);
    if let Err(CyrusError::Died(..)) = r {
        return r;
    }
    index_closemailbox(cx, s)?;
    r
}

/// The session's view, read through its own map on `fs` (a snapshot, for the oracles):
/// `(uid, system_flags)` of msgno 1..=imapd_exists. `Err` if a read faults.
pub fn session_view(fs: &mut dyn Vfs, pid: Pid, s: &Session) -> Result<Vec<(u32, u32)>, String> {
    let map: MapId = s.index_map.map.ok_or("no index map")?;
    let mut out = Vec::with_capacity(s.exists() as usize);
    let mut b = [0u8; 4];
    for msgno in 1..=u64::from(s.exists()) {
        let base = u64::from(s.start_offset) + (msgno - 1) * u64::from(s.record_size);
        fs.map_read(pid, map, base + OFFSET_UID as u64, &mut b)
            .map_err(|e| e.to_string())?;
        let uid = u32::from_be_bytes(b);
        fs.map_read(pid, map, base + OFFSET_SYSTEM_FLAGS as u64, &mut b)
            .map_err(|e| e.to_string())?;
        out.push((uid, u32::from_be_bytes(b)));
    }
    Ok(out)
}
