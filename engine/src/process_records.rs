//! `process_records` (imap/mailbox.c T7:1842, T12:1896): one pass over the records of an
//! index or expunge map, copying kept records to a new file and deciding the rest.

use sim::Fd;

use crate::cx::{CResult, Cx};
use crate::layout::*;
use crate::mailbox::{Mailbox, retry_write};
use crate::map::CyrusMap;
use crate::site::ExpireRule;
use crate::stdio::StdioFile;

/// `EXPUNGE_FORCE` (imap/mailbox.h).
pub const EXPUNGE_FORCE: u32 = 1 << 0;
/// `EXPUNGE_CLEANUP` (imap/mailbox.h).
pub const EXPUNGE_CLEANUP: u32 = 1 << 1;

/// cyr_expire's `struct expire_rock`: the marks and what `expire_cb` counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpireRock {
    /// Expire (without CLEANUP) records dated before this; 0 expires nothing.
    pub expire_mark: i64,
    /// Purge (with CLEANUP) expunged records whose last_updated is before this.
    pub expunge_mark: i64,
    /// The date expire compares: sent date (stock) or INTERNALDATE (the 2008 site).
    pub rule: Option<ExpireRule>,
    pub messages: u64,
    pub deleted: u64,
}

/// The `decideproc` passed to `mailbox_expunge`.
#[derive(Debug)]
pub enum Decide<'a> {
    /// NULL: expunge records flagged \Deleted (imapd's EXPUNGE).
    Deleted,
    /// `expungenone`.
    None,
    /// `expungeall`.
    All,
    /// cyr_expire's `expire_cb`.
    Expire(&'a mut ExpireRock),
}

impl Decide<'_> {
    fn decide(&mut self, rec: &[u8], expunge_flags: u32) -> bool {
        match self {
            Decide::Deleted => get32(rec, OFFSET_SYSTEM_FLAGS) & FLAG_DELETED != 0,
            Decide::None => false,
            Decide::All => true,
            Decide::Expire(rock) => expire_cb(rock, rec, expunge_flags),
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Decide::None)
    }
}

/// `expire_cb` (imap/cyr_expire.c T12:114-139): with CLEANUP purge by last_updated,
/// otherwise expire by sent date (or INTERNALDATE at a site that changed it).
pub fn expire_cb(rock: &mut ExpireRock, rec: &[u8], expunge_flags: u32) -> bool {
    rock.messages += 1;
    let hit = if expunge_flags & EXPUNGE_CLEANUP != 0 {
        (get32(rec, OFFSET_LAST_UPDATED) as i64) < rock.expunge_mark
    } else {
        let off = match rock.rule {
            Some(ExpireRule::InternalDate) => OFFSET_INTERNALDATE,
            _ => OFFSET_SENTDATE,
        };
        (get32(rec, off) as i64) < rock.expire_mark
    };
    if hit {
        rock.deleted += 1;
    }
    hit
}

/// The counters `mailbox_expunge` passes by pointer to both passes. C's `unsigned` and
/// `uquota_t`: they wrap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub numdeleted: u32,
    pub quotadeleted: u64,
    pub numansweredflag: u32,
    pub numdeletedflag: u32,
    pub numflaggedflag: u32,
}

/// Where the decided records go.
pub struct Sinks<'f> {
    /// The new index (or new expunge index) file; None skips the copy and the header fix.
    pub newindex: Option<&'f mut StdioFile>,
    /// The new cache file and the running size of what was written to it.
    pub newcache: Option<&'f mut StdioFile>,
    pub new_cache_total_size: &'f mut u64,
    /// cyrus.expunge's fd, positioned at `last_offset`: decided records are appended.
    pub expunge_fd: Option<Fd>,
    pub last_offset: u64,
}

/// What one pass did, for the story and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    pub examined: u64,
    pub decided_uids: Vec<u32>,
    pub appended: u32,
    pub dropped_zero_cache: u32,
}

/// `process_records(mailbox, newindex, index_base, exists, deleted, counters, newcache,
/// &new_cache_total_size, expunge_fd, last_offset, decideproc, rock, expunge_flags)`.
///
/// `deleted` is Cyrus's `deleted[]`; `deleted_cap` is how many entries were xmalloc'd.
#[allow(clippy::too_many_arguments)]
pub fn process_records(
    cx: &mut Cx,
    mb: &Mailbox,
    base: &CyrusMap,
    exists: u64,
    deleted: &mut Vec<u32>,
    deleted_cap: u64,
    c: &mut Counters,
    sinks: &mut Sinks,
    decide: &mut Decide,
    expunge_flags: u32,
) -> CResult<PassReport> {
    let rs = mb.record_size as usize;
    let mut buf = vec![0u8; rs.max(MAX_RECORD_SIZE)];
    let mut report = PassReport::default();
    let mut msgno: u64 = 1;
    while msgno <= exists {
        let off = cx
            .site
            .arch
            .ulong(mb.start_offset as u128 + (msgno as u128 - 1) * rs as u128);
        base.read(cx, off, &mut buf[..rs])?;
        report.examined += 1;
        let uid = get32(&buf, OFFSET_UID);
        if uid == 0 {
            return Err(cx.ioerror(format!(
                "{} zero index/expunge record {msgno}/{exists}",
                mb.name
            )));
        }
        if decide.decide(&buf, expunge_flags) {
            let sysflags = get32(&buf, OFFSET_SYSTEM_FLAGS);
            if deleted.len() as u64 >= deleted_cap {
                cx.story(format!(
                    "deleted[] written past its {deleted_cap} allocated entries (heap overflow in C)"
                ));
            }
            deleted.push(uid);
            c.numdeleted = c.numdeleted.wrapping_add(1);
            c.quotadeleted = c.quotadeleted.wrapping_add(get32(&buf, OFFSET_SIZE) as u64);
            if sysflags & FLAG_ANSWERED != 0 {
                c.numansweredflag = c.numansweredflag.wrapping_add(1);
            }
            if sysflags & FLAG_DELETED != 0 {
                c.numdeletedflag = c.numdeletedflag.wrapping_add(1);
            }
            if sysflags & FLAG_FLAGGED != 0 {
                c.numflaggedflag = c.numflaggedflag.wrapping_add(1);
            }
            report.decided_uids.push(uid);
            if let Some(efd) = sinks.expunge_fd {
                put32(&mut buf, OFFSET_LAST_UPDATED, cx.now);
                let n = retry_write(cx, efd, &buf[..rs])?;
                if n != rs {
                    let e = cx.ioerror(format!(
                        "writing expunge index record {msgno} for {}",
                        mb.name
                    ));
                    let r = cx.fs.ftruncate(cx.pid, efd, sinks.last_offset);
                    cx.ignore(r)?;
                    return Err(e);
                }
                report.appended += 1;
            }
        } else if sinks.newcache.is_some() {
            let cache_offset = get32(&buf, OFFSET_CACHE_OFFSET) as u64;
            if cache_offset == 0 {
                cx.story(format!(
                    "{}: 0 cache_offset on message {msgno}/{exists}: record dropped",
                    mb.name
                ));
                report.dropped_zero_cache += 1;
                msgno += 1;
                continue;
            }
            put32(
                &mut buf,
                OFFSET_CACHE_OFFSET,
                *sinks.new_cache_total_size as u32,
            );
            if let Some(ni) = sinks.newindex.as_deref_mut() {
                ni.fwrite(cx, &buf[..rs])?;
            }
            let rec = read_cache_record(cx, mb, cache_offset, msgno, exists)?;
            *sinks.new_cache_total_size += rec.len() as u64;
            if let Some(nc) = sinks.newcache.as_deref_mut() {
                nc.fwrite(cx, &rec)?;
            }
        } else if let Some(ni) = sinks.newindex.as_deref_mut() {
            ni.fwrite(cx, &buf[..rs])?;
        }
        msgno += 1;
    }
    if let Some(ni) = sinks.newindex.as_deref_mut() {
        fix_up_header(cx, mb, ni, c, sinks.newcache.is_some())?;
    }
    Ok(report)
}

/// Walk the 10 cache items at `cache_offset` through the cache map, as CACHE_ITEM_NEXT does,
/// and return the record's bytes. From 2.3.8 an item that ends outside the map is an
/// IOERROR; 2.3.7 reads on (and faults if the walk leaves the map).
fn read_cache_record(
    cx: &mut Cx,
    mb: &Mailbox,
    cache_offset: u64,
    msgno: u64,
    exists: u64,
) -> CResult<Vec<u8>> {
    const NUM_CACHE_FIELDS: usize = 10;
    let mut p = cache_offset;
    let mut lenbuf = [0u8; 4];
    for _ in 0..NUM_CACHE_FIELDS {
        mb.cache_map.read(cx, p, &mut lenbuf)?;
        let len = u32::from_be_bytes(lenbuf) as u64;
        let next = p.wrapping_add(4).wrapping_add((len + 3) & !3);
        if cx.site.version.cache_bounds_check() && (next < cache_offset || next > mb.cache_map.len)
        {
            return Err(cx.ioerror(format!(
                "reading cache record for {}: got bogus offset {} for {msgno}/{exists}; try reconstruct",
                mb.name,
                next.wrapping_sub(cache_offset) as i64
            )));
        }
        p = next;
    }
    let size = p.wrapping_sub(cache_offset);
    // The walk read every item length through the map, so `size` is bounded by the map.
    let mut rec = vec![0u8; size.min(mb.cache_map.len) as usize];
    mb.cache_map.read(cx, cache_offset, &mut rec)?;
    Ok(rec)
}

/// The header fix-up at the end of process_records (T12:2010-2058): rewind the new file,
/// read the header back, subtract the caller's *cumulative* counters, write it again.
fn fix_up_header(
    cx: &mut Cx,
    mb: &Mailbox,
    ni: &mut StdioFile,
    c: &Counters,
    newcache: bool,
) -> CResult<()> {
    let so = mb.start_offset as usize;
    let mut h = vec![0u8; so.max(INDEX_HEADER_SIZE)];
    ni.rewind(cx)?;
    let n = ni.fread(cx, &mut h[..so])?;
    if n != so {
        return Err(cx.ioerror(format!(
            "reading index header for {}: got {n} of {so}",
            mb.name
        )));
    }
    let exists = get32(&h, OFFSET_EXISTS);
    let newexists = exists.wrapping_sub(c.numdeleted);
    put32(&mut h, OFFSET_EXISTS, newexists);
    if newexists > exists {
        cx.story(format!(
            "{}: {} exists {exists} - numdeleted {} wrapped to {newexists}",
            mb.name, ni.path, c.numdeleted
        ));
    }
    if newcache {
        put32(&mut h, OFFSET_LEAKED_CACHE, 0);
    } else {
        let leaked = get32(&h, OFFSET_LEAKED_CACHE).wrapping_add(c.numdeleted);
        put32(&mut h, OFFSET_LEAKED_CACHE, leaked);
    }
    let v = get32(&h, OFFSET_ANSWERED).wrapping_sub(c.numansweredflag);
    put32(&mut h, OFFSET_ANSWERED, v);
    let v = get32(&h, OFFSET_DELETED).wrapping_sub(c.numdeletedflag);
    put32(&mut h, OFFSET_DELETED, v);
    let v = get32(&h, OFFSET_FLAGGED).wrapping_sub(c.numflaggedflag);
    put32(&mut h, OFFSET_FLAGGED, v);
    let q = get64(&h, OFFSET_QUOTA_MAILBOX_USED64).wrapping_sub(c.quotadeleted);
    put64(&mut h, OFFSET_QUOTA_MAILBOX_USED64, q);
    if (mb.start_offset as usize) < INDEX_HEADER_SIZE {
        put32(&mut h, OFFSET_START_OFFSET, INDEX_HEADER_SIZE as u32);
    }
    ni.rewind(cx)?;
    ni.fwrite(cx, &h[..so])?;
    Ok(())
}
