//! `mailbox_expunge` (imap/mailbox.c T7:2014, T12:2078, T13:2108), step by step, with the
//! switches the proposed fixes change. With no switch set it is Cyrus as shipped.

use sim::{Errno, OpenFlags, Whence};

use crate::cx::{CResult, Cx, CyrusError};
use crate::layout::*;
use crate::mailbox::*;
use crate::map::{CyrusMap, map_free, map_refresh};
use crate::process_records::*;
use crate::quota::quota_release;
use crate::site::ExpungeMode;
use crate::stdio::StdioFile;

/// What a fix changes inside `mailbox_expunge`. `Default` is Cyrus as shipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpungeFix {
    /// Fix 1 as proposed: `map_free` + `map_refresh` of cyrus.expunge after pass 1.
    pub remap_after_pass1: bool,
    /// Count the pass-1 appends: pass 2 walks E + N1 records and its header starts from
    /// the counts of all of them.
    pub count_pass1_appends: bool,
    /// Pass 2 gets counters of its own instead of the caller's cumulative ones.
    pub per_pass_counters: bool,
    /// Unlink only the message files of records purged for good, never those whose
    /// records pass 1 moved into cyrus.expunge. (With no cyrus.expunge to append to, a
    /// cleanup does not create one, T7:2066-2070: pass 1 then moves nothing and its
    /// records are purged for good, files included.)
    pub keep_pass1_files: bool,
}

/// What one call did, for the story, the ghost state and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpungeReport {
    pub flags: u32,
    /// `expunge_exists` as read from cyrus.expunge's map before pass 1 (E).
    pub expunge_exists_before: u64,
    pub pass1: PassReport,
    pub pass2: Option<PassReport>,
    /// Message files unlinked at the end.
    pub unlinked: Vec<u32>,
    /// cyrus.expunge was unlinked because no record was left in it.
    pub expunge_unlinked: bool,
}

/// `mailbox_expunge(mailbox, decideproc, rock, flags)`. The mailbox must be open; its header
/// and index locks are taken (counted) here as in Cyrus.
pub fn mailbox_expunge(
    cx: &mut Cx,
    mb: &mut Mailbox,
    decide: &mut Decide,
    flags: u32,
    fix: ExpungeFix,
) -> CResult<ExpungeReport> {
    let mut report = ExpungeReport {
        flags,
        ..Default::default()
    };
    let mut mode = cx.site.expunge_mode;
    // 2.3.7-2.3.14 test equality, so FORCE|CLEANUP stays delayed (T12:2118).
    let force = if cx.site.version.force_is_bitmask() {
        flags & EXPUNGE_FORCE != 0
    } else {
        flags == EXPUNGE_FORCE
    };
    if force {
        mode = ExpungeMode::Immediate;
    }
    let cleanup = flags & EXPUNGE_CLEANUP != 0;
    let expunge_path = mb.fname(FNAME_EXPUNGE);

    // Open cyrus.expunge in delayed or cleanup mode (T12:2124-2148).
    let mut expunge_fd = None;
    if mode != ExpungeMode::Immediate || cleanup {
        match cx.fs.open(cx.pid, &expunge_path, OpenFlags::RDWR) {
            Ok(fd) => expunge_fd = Some(fd),
            Err(e) if e.errno == Errno::NoEnt && !cleanup => {
                let fd = cx
                    .fs
                    .open(cx.pid, &expunge_path, OpenFlags::RDWR_CREATE)
                    .map_err(|e| cx.check(e))?;
                expunge_fd = Some(fd);
            }
            Err(e) if e.errno == Errno::NoEnt => {
                if flags == EXPUNGE_CLEANUP {
                    return Ok(report);
                }
            }
            Err(e) => {
                return Err(cx.fail_with(e, |cx| cx.ioerror(format!("opening {expunge_path}"))));
            }
        }
    }

    mailbox_lock_header(cx, mb)?;
    if let Err(e) = mailbox_lock_index(cx, mb) {
        mailbox_unlock_header(cx, mb)?;
        return Err(e);
    }
    if let Err(e) = mailbox_lock_pop(cx, mb) {
        mailbox_unlock_index(cx, mb)?;
        mailbox_unlock_header(cx, mb)?;
        return Err(e);
    }
    let mut st = State {
        expunge_fd,
        expunge_map: CyrusMap::default(),
        newindex: None,
        newcache: None,
        newexpunge: None,
    };
    let r = expunge_locked(cx, mb, decide, flags, fix, mode, &mut st, &mut report);
    if let Err(e) = r {
        if let CyrusError::Died(..) = e {
            return Err(e);
        }
        // fail: (T12:2530-2545) unlock, close and free; the .NEW files stay behind.
        st.close(cx)?;
        mailbox_unlock_pop(cx, mb)?;
        mailbox_unlock_index(cx, mb)?;
        mailbox_unlock_header(cx, mb)?;
        return Err(e);
    }
    Ok(report)
}

struct State {
    expunge_fd: Option<sim::Fd>,
    expunge_map: CyrusMap,
    newindex: Option<StdioFile>,
    newcache: Option<StdioFile>,
    newexpunge: Option<StdioFile>,
}

impl State {
    fn close(&mut self, cx: &mut Cx) -> CResult<()> {
        for f in [
            self.newindex.take(),
            self.newcache.take(),
            self.newexpunge.take(),
        ]
        .into_iter()
        .flatten()
        {
            f.fclose(cx)?;
        }
        if let Some(fd) = self.expunge_fd.take() {
            let r = cx.fs.close(cx.pid, fd);
            cx.ignore(r)?;
        }
        map_free(cx, &mut self.expunge_map)
    }
}

#[allow(clippy::too_many_arguments)]
fn expunge_locked(
    cx: &mut Cx,
    mb: &mut Mailbox,
    decide: &mut Decide,
    flags: u32,
    fix: ExpungeFix,
    mode: ExpungeMode,
    st: &mut State,
    report: &mut ExpungeReport,
) -> CResult<()> {
    let cleanup = flags & EXPUNGE_CLEANUP != 0;
    let so = mb.start_offset as usize;
    let rs = mb.record_size as u128;
    let arch = cx.site.arch;

    let newindex_path = format!("{}.NEW", mb.fname(FNAME_INDEX));
    st.newindex = StdioFile::fopen_w_plus(cx, &newindex_path)?;
    if st.newindex.is_none() {
        return Err(cx.ioerror(format!("creating {newindex_path}")));
    }
    // Immediate or cleanup mode rewrites the cache (T12:2181-2205).
    if mode == ExpungeMode::Immediate || cleanup {
        let cfd = mb
            .cache_fd
            .ok_or_else(|| CyrusError::BadFormat(mb.name.clone()))?;
        let cst = match cx.fs.fstat(cx.pid, cfd) {
            Ok(s) => s,
            Err(e) => {
                cx.check(e);
                return Err(cx.fatal("can't fstat cache file"));
            }
        };
        mb.cache_size = cst.size;
        map_refresh(cx, cfd, false, &mut mb.cache_map, Some(cst.size), "cache")?;
        let p = format!("{}.NEW", mb.fname(FNAME_CACHE));
        st.newcache = StdioFile::fopen_w_plus(cx, &p)?;
        if st.newcache.is_none() {
            return Err(cx.ioerror(format!("creating {p}")));
        }
    }

    // Copy the index header; the cache gets generation+1 (T12:2208-2229).
    let mut buf = vec![0u8; so.max(INDEX_HEADER_SIZE)];
    mb.index_map.read(cx, 0, &mut buf[..so])?;
    if let Some(nc) = st.newcache.as_mut() {
        put32(
            &mut buf,
            OFFSET_GENERATION_NO,
            mb.generation_no.wrapping_add(1),
        );
        nc.fwrite(cx, &buf[..4])?;
    }
    let ni = st.newindex.as_mut().expect("opened above");
    ni.fwrite(cx, &buf[..so])?;
    for n in so..INDEX_HEADER_SIZE {
        ni.putc(cx, if n == OFFSET_UIDVALIDITY + 3 { 1 } else { 0 })?;
    }

    // Lock and map cyrus.expunge; seek to its end as its header says (T12:2231-2311).
    let mut expunge_exists: u64 = 0;
    let mut last_offset: u64 = 0;
    if let Some(efd) = st.expunge_fd {
        let epath = mb.fname(FNAME_EXPUNGE);
        let (efd, mut est) = match crate::lock::lock_reopen(cx, efd, &epath) {
            Ok(v) => v,
            Err(e) => {
                if let CyrusError::Died(..) = e {
                    return Err(e);
                }
                let r = cx.fs.close(cx.pid, efd);
                cx.ignore(r)?;
                st.expunge_fd = None;
                return Err(cx.ioerror(format!("locking expunge index for {}", mb.name)));
            }
        };
        st.expunge_fd = Some(efd);
        if est.size == 0 {
            // An empty cyrus.expunge gets a copy of the index header, counts zeroed.
            for off in [
                OFFSET_EXISTS,
                OFFSET_ANSWERED,
                OFFSET_DELETED,
                OFFSET_FLAGGED,
                OFFSET_LEAKED_CACHE,
            ] {
                put32(&mut buf, off, 0);
            }
            put64(&mut buf, OFFSET_QUOTA_MAILBOX_USED64, 0);
            let n = retry_write(cx, efd, &buf[..so])?;
            let s = cx.fs.fsync(cx.pid, efd);
            if n != so || cx.ignore(s)?.is_none() {
                return Err(cx.ioerror(format!("writing expunge index for {}", mb.name)));
            }
            est.size = so as u64;
        }
        map_refresh(
            cx,
            efd,
            true,
            &mut st.expunge_map,
            Some(est.size),
            "expunge",
        )?;
        let mut e4 = [0u8; 4];
        st.expunge_map.read(cx, OFFSET_EXISTS as u64, &mut e4)?;
        expunge_exists = u32::from_be_bytes(e4) as u64;
        last_offset = arch.ulong(mb.start_offset as u128 + expunge_exists as u128 * rs);
        let r = cx
            .fs
            .lseek(cx.pid, efd, arch.long(last_offset), Whence::Set);
        if cx.ignore(r)?.is_none() {
            cx.story(format!(
                "lseek to {} failed: the next write lands at the fd's current position",
                arch.long(last_offset)
            ));
        }
        if last_offset > est.size {
            cx.story(format!(
                "{}: cyrus.expunge says exists={expunge_exists}: appending at offset {last_offset} of a {}-byte file",
                mb.name, est.size
            ));
        }
        if cleanup && expunge_exists > 0 {
            let p = format!("{}.NEW", mb.fname(FNAME_EXPUNGE));
            st.newexpunge = StdioFile::fopen_w_plus(cx, &p)?;
            if st.newexpunge.is_none() {
                return Err(cx.ioerror(format!("creating {p}")));
            }
        }
    }
    report.expunge_exists_before = expunge_exists;

    // deleted = xmalloc((exists + expunge_exists) * sizeof(unsigned long)) (T12:2314).
    let mut deleted_cap = 0;
    if mb.exists as u64 + expunge_exists > 0 {
        deleted_cap = arch.ulong(mb.exists as u128 + expunge_exists as u128);
        let bytes = arch.ulong(deleted_cap as u128 * arch.long_size() as u128);
        cx.xmalloc(bytes, "deleted[]")?;
        deleted_cap = bytes / arch.long_size();
    }
    let mut deleted: Vec<u32> = Vec::new();
    let mut c = Counters::default();
    let mut none = Decide::None;
    let decide: &mut Decide = if cleanup && decide.is_none() {
        &mut none
    } else {
        decide
    };
    let mut new_cache_total_size: u64 = 4;

    // Pass 1 over the index (T12:2326).
    let index_map = mb.index_map;
    let pass1_moves = st.expunge_fd.is_some();
    let mut sinks = Sinks {
        newindex: st.newindex.as_mut(),
        newcache: st.newcache.as_mut(),
        new_cache_total_size: &mut new_cache_total_size,
        expunge_fd: st.expunge_fd,
        last_offset,
    };
    report.pass1 = process_records(
        cx,
        mb,
        &index_map,
        mb.exists as u64,
        &mut deleted,
        deleted_cap,
        &mut c,
        &mut sinks,
        decide,
        0,
    )?;
    // The UIDs whose records pass 1 moved into cyrus.expunge (none without one).
    let pass1_uids = if pass1_moves { deleted.len() } else { 0 };
    let n1 = report.pass1.appended as u64;
    if n1 > 0 {
        cx.story(format!(
            "pass 1 appended {n1} record(s) to cyrus.expunge with write(); the map of cyrus.expunge ({} bytes) does not cover them",
            st.expunge_map.len
        ));
    }
    quota_release(cx, &mb.name, c.quotadeleted)?;

    if cleanup {
        let pass1_counters = c;
        if fix.remap_after_pass1
            && let Some(efd) = st.expunge_fd
        {
            map_free(cx, &mut st.expunge_map)?;
            let est = cx.fs.fstat(cx.pid, efd).map_err(|e| cx.check(e))?;
            map_refresh(
                cx,
                efd,
                true,
                &mut st.expunge_map,
                Some(est.size),
                "expunge",
            )?;
            cx.story(format!(
                "remapped cyrus.expunge after pass 1: the map now covers {} bytes",
                est.size
            ));
        }
        let mut pass2_exists = expunge_exists;
        if fix.count_pass1_appends && n1 > 0 {
            if st.newexpunge.is_none() {
                let p = format!("{}.NEW", mb.fname(FNAME_EXPUNGE));
                st.newexpunge = StdioFile::fopen_w_plus(cx, &p)?;
                if st.newexpunge.is_none() {
                    return Err(cx.ioerror(format!("creating {p}")));
                }
            }
            pass2_exists = expunge_exists + n1;
            deleted_cap += n1;
        }
        let new_deleted = c.numdeleted;
        if let Some(ne) = st.newexpunge.as_mut() {
            // The new expunge header is copied from the map (T12:2356-2363).
            let mut h = vec![0u8; so.max(INDEX_HEADER_SIZE)];
            st.expunge_map.read(cx, 0, &mut h[..so])?;
            put32(
                &mut h,
                OFFSET_GENERATION_NO,
                mb.generation_no.wrapping_add(1),
            );
            if fix.count_pass1_appends {
                add_pass1_to_header(&mut h, expunge_exists, n1, &pass1_counters);
            }
            ne.fwrite(cx, &h[..so])?;
        }
        let mut all = Decide::All;
        let decide2: &mut Decide = if decide.is_none() { &mut all } else { decide };
        let mut own = Counters::default();
        let counters = if fix.per_pass_counters {
            &mut own
        } else {
            &mut c
        };
        let expunge_map = st.expunge_map;
        let mut sinks = Sinks {
            newindex: st.newexpunge.as_mut(),
            newcache: st.newcache.as_mut(),
            new_cache_total_size: &mut new_cache_total_size,
            expunge_fd: None,
            last_offset: 0,
        };
        let p2 = process_records(
            cx,
            mb,
            &expunge_map,
            pass2_exists,
            &mut deleted,
            deleted_cap,
            counters,
            &mut sinks,
            decide2,
            EXPUNGE_CLEANUP,
        )?;
        let n2 = p2.decided_uids.len() as u64;
        report.pass2 = Some(p2);
        if !fix.per_pass_counters {
            expunge_exists =
                expunge_exists.wrapping_sub((c.numdeleted.wrapping_sub(new_deleted)) as u64);
        } else {
            expunge_exists = pass2_exists.wrapping_sub(n2);
        }
    } else if mode != ExpungeMode::Immediate {
        delayed_header_update(cx, mb, st, &c, last_offset)?;
    }

    // fflush and fsync every new file (T12:2435-2446).
    let mut ok = true;
    for f in [
        st.newindex.as_mut(),
        st.newcache.as_mut(),
        st.newexpunge.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        f.fflush(cx)?;
        if f.ferror() || !f.fsync(cx)? {
            ok = false;
            break;
        }
    }
    if !ok {
        return Err(cx.ioerror(format!("writing index/cache/expunge for {}", mb.name)));
    }

    // Rename index, then cache, then expunge (T12:2449-2497).
    let ip = mb.fname(FNAME_INDEX);
    if let Err(e) = cx.fs.rename(cx.pid, &newindex_path, &ip) {
        let name = &mb.name;
        return Err(cx.fail_with(e, |cx| {
            cx.ioerror(format!("renaming index file for {name}"))
        }));
    }
    if st.newcache.is_some() {
        let cp = mb.fname(FNAME_CACHE);
        if let Err(e) = cx.fs.rename(cx.pid, &format!("{cp}.NEW"), &cp) {
            let err = cx.check(e);
            if let CyrusError::Died(..) = err {
                return Err(err);
            }
            cx.story(format!(
                "CRITICAL IOERROR: renaming cache file for {}, need to reconstruct",
                mb.name
            ));
        }
    }
    if cleanup {
        let ep = mb.fname(FNAME_EXPUNGE);
        if let Some(ne) = st.newexpunge.take() {
            if let Err(e) = cx.fs.rename(cx.pid, &format!("{ep}.NEW"), &ep) {
                let err = cx.check(e);
                if let CyrusError::Died(..) = err {
                    return Err(err);
                }
                cx.story(format!(
                    "CRITICAL IOERROR: renaming expunge file for {}",
                    mb.name
                ));
            }
            ne.fclose(cx)?;
            if n1 > 0 && !fix.count_pass1_appends {
                cx.story(format!(
                    "cyrus.expunge.NEW renamed over cyrus.expunge: the {n1} record(s) pass 1 appended to the old inode are gone"
                ));
            }
        }
        if expunge_exists == 0 {
            let r = cx.fs.unlink(cx.pid, &ep);
            cx.ignore(r)?;
            report.expunge_unlinked = true;
        }
    }

    mailbox_unlock_pop(cx, mb)?;
    mailbox_unlock_index(cx, mb)?;
    mailbox_unlock_header(cx, mb)?;
    if let Some(efd) = st.expunge_fd.take() {
        crate::lock::lock_unlock(cx, efd)?;
        let r = cx.fs.close(cx.pid, efd);
        cx.ignore(r)?;
    }
    map_free(cx, &mut st.expunge_map)?;
    if let Some(ni) = st.newindex.take() {
        ni.fclose(cx)?;
    }
    if let Some(nc) = st.newcache.take() {
        nc.fclose(cx)?;
        // Delete the message file of every UID in deleted[] (T12:2515-2528).
        let skip = if fix.keep_pass1_files && cleanup {
            pass1_uids
        } else {
            0
        };
        for &uid in &deleted[skip..] {
            let r = cx.fs.unlink(cx.pid, &message_fname(&mb.path, uid));
            cx.ignore(r)?;
            report.unlinked.push(uid);
        }
    }
    Ok(())
}

/// Fix 1 completed: the pass-2 header starts from E + N1 records and their counts.
fn add_pass1_to_header(h: &mut [u8], e: u64, n1: u64, p1: &Counters) {
    put32(h, OFFSET_EXISTS, (e + n1) as u32);
    let add = |h: &mut [u8], off: usize, v: u32| {
        let x = get32(h, off).wrapping_add(v);
        put32(h, off, x);
    };
    add(h, OFFSET_ANSWERED, p1.numansweredflag);
    add(h, OFFSET_DELETED, p1.numdeletedflag);
    add(h, OFFSET_FLAGGED, p1.numflaggedflag);
    let q = get64(h, OFFSET_QUOTA_MAILBOX_USED64).wrapping_add(p1.quotadeleted);
    put64(h, OFFSET_QUOTA_MAILBOX_USED64, q);
}

/// Delayed mode without cleanup: re-read cyrus.expunge's header with read(), add this
/// call's counts, write it back at 0 and fsync (T12:2379-2433).
fn delayed_header_update(
    cx: &mut Cx,
    mb: &Mailbox,
    st: &mut State,
    c: &Counters,
    last_offset: u64,
) -> CResult<()> {
    let Some(efd) = st.expunge_fd else {
        return Ok(());
    };
    let so = mb.start_offset as usize;
    let mut h = vec![0u8; so.max(INDEX_HEADER_SIZE)];
    let r = cx.fs.lseek(cx.pid, efd, 0, Whence::Set);
    cx.ignore(r)?;
    let n = read_full(cx, efd, &mut h[..so])?;
    if n != so {
        let e = cx.ioerror(format!(
            "reading expunge index header for {}: got {n} of {so}",
            mb.name
        ));
        let r = cx.fs.ftruncate(cx.pid, efd, last_offset);
        cx.ignore(r)?;
        return Err(e);
    }
    put32(&mut h, OFFSET_LAST_APPENDDATE, cx.now);
    let old = get32(&h, OFFSET_EXISTS);
    let newexists = old.wrapping_add(c.numdeleted);
    put32(&mut h, OFFSET_EXISTS, newexists);
    let add = |h: &mut [u8], off: usize, v: u32| {
        let x = get32(h, off).wrapping_add(v);
        put32(h, off, x);
    };
    add(&mut h, OFFSET_ANSWERED, c.numansweredflag);
    add(&mut h, OFFSET_DELETED, c.numdeletedflag);
    add(&mut h, OFFSET_FLAGGED, c.numflaggedflag);
    let q = get64(&h, OFFSET_QUOTA_MAILBOX_USED64).wrapping_add(c.quotadeleted);
    put64(&mut h, OFFSET_QUOTA_MAILBOX_USED64, q);
    if (mb.start_offset as usize) < INDEX_HEADER_SIZE {
        put32(&mut h, OFFSET_START_OFFSET, INDEX_HEADER_SIZE as u32);
    }
    let r = cx.fs.lseek(cx.pid, efd, 0, Whence::Set);
    cx.ignore(r)?;
    let n = retry_write(cx, efd, &h[..so])?;
    let s = cx.fs.fsync(cx.pid, efd);
    if n != so || cx.ignore(s)?.is_none() {
        let e = cx.ioerror(format!("writing index/cache for {}", mb.name));
        let r = cx.fs.ftruncate(cx.pid, efd, last_offset);
        cx.ignore(r)?;
        return Err(e);
    }
    if newexists < old {
        cx.story(format!(
            "{}: cyrus.expunge exists {old} + {} wrapped to {newexists}",
            mb.name, c.numdeleted
        ));
    }
    Ok(())
}
