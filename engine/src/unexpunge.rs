//! `unexpunge -l` (imap/unexpunge.c, cyrus-imapd-2.3.12-p1 main() 530-632 and
//! list_expunged() 121-166; T7 529-550 is the same loop): map cyrus.expunge once at its
//! size, trust its `exists`, xmalloc `exists` `struct msg`s, read each record's UID through
//! the map with no bounds check, qsort by UID, and print every record with items from its
//! cache entry (again with no bounds check).
//!
//! The model stays fast on a 2^32-record sparse file: records whose UID lies in a hole are
//! counted as UID 0 without being read ([`sim::Vfs::map_next_data`]), and the listing it
//! returns is bounded: the first [`LISTING_MAX`] entries in sorted order and the counts.

use sim::OpenFlags;

use crate::cx::{CResult, Cx, CyrusError};
use crate::layout::*;
use crate::lock::{lock_reopen, lock_unlock};
use crate::mailbox::*;
use crate::map::{CyrusMap, map_free, map_refresh, uid_hole_run};
use crate::site::Arch;

/// Entries of the sorted listing the model keeps.
pub const LISTING_MAX: usize = 1000;

/// `sizeof(struct msg)` (unexpunge.c 105-109: unsigned recno; unsigned long uid; int
/// restore): 24 bytes on LP64 (with padding), 12 on ILP32.
pub fn sizeof_struct_msg(arch: Arch) -> u64 {
    match arch {
        Arch::Lp64 => 24,
        Arch::Ilp32 => 12,
    }
}

/// One line of the listing: record number (0-based, as `recno`) and UID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expunged {
    pub uid: u32,
    pub recno: u64,
}

/// What `unexpunge -l` lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// `exists` from cyrus.expunge's header: the number of entries listed.
    pub exists: u64,
    /// Entries whose UID read as 0.
    pub uid_zero: u64,
    /// Of those, the ones that lay in holes and were counted without being read.
    pub in_holes: u64,
    /// The first [`LISTING_MAX`] entries sorted by UID (then record number).
    pub first: Vec<Expunged>,
    /// Entries list_expunged printed in full before the process died (all of them if
    /// `death` is None).
    pub printed: u64,
    /// How the print phase killed the process (a cache walk through an unchecked offset),
    /// if it did. The UID loop had completed: the counts above are what it read.
    pub death: Option<CyrusError>,
}

/// `unexpunge -l MAILBOX`. `Ok(None)`: no cyrus.expunge ("unable to open/lock mailbox",
/// exit 0).
pub fn unexpunge_list(cx: &mut Cx, name: &str) -> CResult<Option<Listing>> {
    let mut mb = mailbox_open_and_lock(cx, name)?;
    mailbox_lock_pop(cx, &mut mb)?;
    let path = mb.fname(FNAME_EXPUNGE);
    let fd = match cx.fs.open(cx.pid, &path, OpenFlags::RDWR) {
        Ok(fd) => fd,
        Err(e) if e.errno == sim::Errno::NoEnt => {
            mailbox_close(cx, &mut mb)?;
            return Ok(None);
        }
        Err(e) => return Err(cx.check(e)),
    };
    let (fd, st) = lock_reopen(cx, fd, &path)?;
    let mut map = CyrusMap::default();
    map_refresh(cx, fd, true, &mut map, Some(st.size), "expunge")?;
    let r = list(cx, &mb, &map);
    let died = matches!(r, Err(CyrusError::Died(..))) || matches!(&r, Ok(l) if l.death.is_some());
    if died {
        return r.map(Some);
    }
    map_free(cx, &mut map)?;
    lock_unlock(cx, fd)?;
    let c = cx.fs.close(cx.pid, fd);
    cx.ignore(c)?;
    mailbox_close(cx, &mut mb)?;
    r.map(Some)
}

fn list(cx: &mut Cx, mb: &Mailbox, map: &CyrusMap) -> CResult<Listing> {
    let arch = cx.site.arch;
    let mut e4 = [0u8; 4];
    map.read(cx, OFFSET_EXISTS as u64, &mut e4)?;
    let exists = u32::from_be_bytes(e4) as u64;
    let bytes = arch.ulong(exists as u128 * sizeof_struct_msg(arch) as u128);
    cx.xmalloc(bytes, "struct msg[exists]")?;
    if bytes / sizeof_struct_msg(arch) < exists {
        cx.story(format!(
            "xmalloc({exists} * {}) wrapped to {bytes} bytes: msgs[] is written past its end",
            sizeof_struct_msg(arch)
        ));
    }

    // The loop over exists (unexpunge.c 602-624), reading only the UID in list mode.
    let (so, rs) = (mb.start_offset as u128, mb.record_size as u128);
    let mut out = Listing {
        exists,
        ..Listing::default()
    };
    let mut zeros: Vec<Expunged> = Vec::new();
    // Non-zero entries with their cache offsets: bounded by the data the file really holds.
    let mut nonzero: Vec<(Expunged, u32)> = Vec::new();
    let mut next_data: u64 = 0;
    let mut msgno: u64 = 0;
    while msgno < exists {
        let raw = so + msgno as u128 * rs;
        let off = arch.ulong(raw);
        let k = uid_hole_run(
            cx,
            map,
            off,
            &mut next_data,
            rs as u64,
            exists - msgno,
            u64::MAX,
        );
        if k > 0 {
            // Records whose UID bytes lie in a hole: all read as 0.
            for i in 0..k.min((LISTING_MAX - zeros.len().min(LISTING_MAX)) as u64) {
                zeros.push(Expunged {
                    uid: 0,
                    recno: msgno + i,
                });
            }
            out.uid_zero += k;
            out.in_holes += k;
            msgno += k;
            continue;
        }
        let mut rec = [0u8; OFFSET_CACHE_OFFSET + 4];
        map.read(cx, off, &mut rec[..4])?;
        let uid = get32(&rec, OFFSET_UID);
        let e = Expunged { uid, recno: msgno };
        if uid == 0 {
            out.uid_zero += 1;
            if zeros.len() < LISTING_MAX {
                zeros.push(e);
            }
        } else {
            // list_expunged reads the record's cache_offset too (after the sort).
            map.read(cx, off, &mut rec)?;
            nonzero.push((e, get32(&rec, OFFSET_CACHE_OFFSET)));
        }
        msgno += 1;
    }
    nonzero.sort_unstable();
    out.first = zeros;
    out.first.truncate(LISTING_MAX);
    let room = LISTING_MAX - out.first.len();
    out.first.extend(nonzero.iter().take(room).map(|(e, _)| *e));

    // list_expunged, in sorted order: UID-0 entries first. Every one in a hole has
    // cache_offset 0, so one walk stands for all of them (a UID-0 record read from data
    // may carry another offset; the model walks offset 0 for those too).
    if out.uid_zero > 0 {
        if let Err(e) = walk_cache_items(cx, mb, 0) {
            out.death = Some(e);
            return Ok(out);
        }
        out.printed = out.uid_zero;
    }
    for (_, co) in nonzero {
        if let Err(e) = walk_cache_items(cx, mb, co as u64) {
            out.death = Some(e);
            return Ok(out);
        }
        out.printed += 1;
    }
    Ok(out)
}

/// The nine CACHE_ITEM_NEXTs of list_expunged (and the item it prints last): each reads an
/// item length at the current pointer; nothing checks the pointer against the map.
fn walk_cache_items(cx: &mut Cx, mb: &Mailbox, cache_offset: u64) -> CResult<()> {
    let mut p = cache_offset;
    let mut lenbuf = [0u8; 4];
    for _ in 0..10 {
        mb.cache_map.read(cx, p, &mut lenbuf)?;
        let len = u32::from_be_bytes(lenbuf) as u64;
        p = cx.site.arch.ulong(p as u128 + 4 + ((len + 3) & !3) as u128);
    }
    Ok(())
}
