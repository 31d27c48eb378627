//! Read-only shared mappings, and how they see later `write()`s: the coherence modes.
//!
//! A map has the length it was made with, whatever happens to the file afterwards (this is
//! the heart of the Cyrus bug: a map made before an append does not grow with the file).
//! Reading at or past that length is a segfault-class fault; touching a page that lies
//! wholly past the file's *current* end is a SIGBUS-class fault, and the tail of the last
//! page beyond EOF reads as zeros, as POSIX specifies.
//!
//! Map reads are memory accesses, not system calls: they are not traced or counted, and are
//! kept cheap (one or two B-tree lookups per read).

use std::collections::BTreeMap;

use crate::blocks::{Interner, SparseFile};
use crate::vfs::Errno;

/// How maps see `write()`s made after they were created. One mode per filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Coherence {
    /// Linux, the BSDs, Solaris: one unified page cache. Reads below the map length see
    /// every `write()`, overwrites and appends alike. The default.
    #[default]
    Shared,
    /// HP-UX with split buffer and page caches, as Cyrus's configure test (`stupidshared`)
    /// describes it: an overwrite in place of bytes that existed when the map was made is
    /// seen; bytes past the file's end at map time keep reading as they were then (zeros),
    /// so appends made through `write()` are not seen through an older map.
    StupidShared,
    /// Cyrus's `map_nommap`: the "map" is a private copy read at map time (here a clone of
    /// the block map, sharing the interned blocks). Later writes are never seen, and as it
    /// is ordinary memory it never raises SIGBUS (only reads past its length fault).
    NoMmap,
}

impl Coherence {
    /// The name used in scenario files and traces.
    pub fn name(self) -> &'static str {
        match self {
            Coherence::Shared => "shared",
            Coherence::StupidShared => "stupidshared",
            Coherence::NoMmap => "nommap",
        }
    }
}

#[derive(Debug, Clone)]
enum View {
    Shared,
    StupidShared { size_at_map: u64 },
    Private(Box<SparseFile>),
}

/// One process's mapping of one inode.
#[derive(Debug, Clone)]
pub struct Map {
    pub ino: u64,
    pub len: u64,
    /// How far reads may go without a fault: `len`, or `len` rounded up to a whole page
    /// (see [`MapTail`]).
    pub reach: u64,
    view: View,
    /// With `page_staleness`: each page's contents as first touched through this map.
    stale: Option<BTreeMap<u64, Box<[u8]>>>,
}

/// What a read past a map's length but inside its last page does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MapTail {
    /// A segfault-class fault at any byte at or past the length the map was made with
    /// (DESIGN.md's model: such a read is undefined behaviour in C, so flag it loudly).
    #[default]
    Fault,
    /// As a real kernel does: a map covers whole pages, so bytes past its length inside the
    /// last page read the file as it is there (zeros past EOF); only a read past that page
    /// faults. Such reads are still reported (as a `map_tail` event) for the oracles.
    Page,
}

/// A map-read fault: the kind (`Segv` or `Bus`) and what happened.
pub type MapFault = (Errno, String);

impl Map {
    /// Map the first `len` bytes of `live` (inode `ino`).
    pub fn new(
        ino: u64,
        len: u64,
        coherence: Coherence,
        page_staleness: bool,
        live: &mut SparseFile,
        interner: &mut Interner,
    ) -> Map {
        let view = match coherence {
            Coherence::Shared => View::Shared,
            Coherence::StupidShared => View::StupidShared {
                size_at_map: live.size(),
            },
            Coherence::NoMmap => {
                live.seal(interner);
                View::Private(Box::new(live.clone()))
            }
        };
        let stale = (page_staleness && !matches!(view, View::Private(_))).then(BTreeMap::new);
        Map {
            ino,
            len,
            reach: len,
            view,
            stale,
        }
    }

    /// Read `buf.len()` bytes at `offset` through the map; `live` is the file now.
    pub fn read(
        &mut self,
        live: &SparseFile,
        offset: u64,
        buf: &mut [u8],
        page: u64,
    ) -> Result<bool, MapFault> {
        let end = offset.checked_add(buf.len() as u64);
        match end {
            Some(end) if offset < self.reach && end <= self.reach => {}
            _ => {
                return Err((
                    Errno::Segv,
                    format!(
                        "read of {} bytes at offset {offset} through a map of length {}",
                        buf.len(),
                        self.len
                    ),
                ));
            }
        }
        if buf.is_empty() {
            return Ok(false);
        }
        let end = offset + buf.len() as u64;
        let page = page.max(1);
        if !matches!(self.view, View::Private(_)) {
            let last_page_start = (end - 1) / page * page;
            if last_page_start >= live.size() {
                return Err((
                    Errno::Bus,
                    format!(
                        "read at offset {offset}..{end} touches the page at {last_page_start}, \
                         wholly past the file's end at {}",
                        live.size()
                    ),
                ));
            }
        }
        if self.stale.is_some() {
            self.read_stale(live, offset, buf, page);
        } else {
            self.view_fill(live, offset, buf);
        }
        Ok(end > self.len)
    }

    /// The first offset at or after `offset` where this map may show a non-zero byte; the
    /// map's length if none. Conservative: stale pages and allocated blocks count as data.
    pub fn next_data(&self, live: &SparseFile, offset: u64) -> u64 {
        if self.stale.is_some() || offset >= self.len {
            return offset.min(self.len);
        }
        let next = match &self.view {
            View::Shared => live.next_data(offset),
            View::StupidShared { size_at_map } => {
                live.next_data(offset).filter(|n| n < size_at_map)
            }
            View::Private(copy) => copy.next_data(offset),
        };
        next.unwrap_or(self.len).min(self.len)
    }

    fn view_fill(&self, live: &SparseFile, offset: u64, buf: &mut [u8]) {
        match &self.view {
            View::Shared => live.fill(offset, buf),
            View::StupidShared { size_at_map } => {
                live.fill(offset, buf);
                let end = offset + buf.len() as u64;
                if end > *size_at_map {
                    let from = size_at_map.saturating_sub(offset) as usize;
                    buf[from..].fill(0);
                }
            }
            View::Private(copy) => copy.fill(offset, buf),
        }
    }

    fn read_stale(&mut self, live: &SparseFile, offset: u64, buf: &mut [u8], page: u64) {
        let mut pos = 0usize;
        while pos < buf.len() {
            let at = offset + pos as u64;
            let p = at / page;
            let in_page = (at % page) as usize;
            let n = (page as usize - in_page).min(buf.len() - pos);
            let snap = match self.stale.as_ref().and_then(|s| s.get(&p)) {
                Some(s) => s.clone(),
                None => {
                    let mut fresh = vec![0u8; page as usize].into_boxed_slice();
                    self.view_fill(live, p * page, &mut fresh);
                    if let Some(s) = self.stale.as_mut() {
                        s.insert(p, fresh.clone());
                    }
                    fresh
                }
            };
            buf[pos..pos + n].copy_from_slice(&snap[in_page..in_page + n]);
            pos += n;
        }
    }

    /// Memory held by this map beyond shared buffers (private copies' maps, stale pages).
    pub fn stored_estimate(&self) -> u64 {
        let mut n = 64;
        if let View::Private(copy) = &self.view {
            n += copy.map_bytes();
        }
        if let Some(s) = &self.stale {
            n += s.values().map(|p| p.len() as u64 + 32).sum::<u64>();
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(c: Coherence, stale: bool) -> (SparseFile, Interner, Map) {
        let mut i = Interner::default();
        let mut f = SparseFile::new(4096);
        f.write(&mut i, 0, b"hello");
        let m = Map::new(1, 8192, c, stale, &mut f, &mut i);
        (f, i, m)
    }

    fn read(m: &mut Map, f: &SparseFile, off: u64, n: usize) -> Result<Vec<u8>, Errno> {
        let mut b = vec![0xAA; n];
        m.read(f, off, &mut b, 4096).map(|_| b).map_err(|(e, _)| e)
    }

    #[test]
    fn shared_sees_appends_and_overwrites() {
        let (mut f, mut i, mut m) = setup(Coherence::Shared, false);
        f.write(&mut i, 5, b" world");
        f.write(&mut i, 0, b"J");
        assert_eq!(read(&mut m, &f, 0, 11).unwrap(), b"Jello world");
    }

    #[test]
    fn stupidshared_sees_overwrites_but_not_appends() {
        let (mut f, mut i, mut m) = setup(Coherence::StupidShared, false);
        f.write(&mut i, 5, b" world");
        f.write(&mut i, 0, b"J");
        assert_eq!(read(&mut m, &f, 0, 11).unwrap(), b"Jello\0\0\0\0\0\0");
    }

    #[test]
    fn nommap_sees_nothing_written_after_the_map() {
        let (mut f, mut i, mut m) = setup(Coherence::NoMmap, false);
        f.write(&mut i, 5, b" world");
        f.write(&mut i, 0, b"J");
        assert_eq!(read(&mut m, &f, 0, 11).unwrap(), b"hello\0\0\0\0\0\0");
    }

    #[test]
    fn the_map_length_bounds_reads_and_pages_past_eof_fault() {
        let (f, _, mut m) = setup(Coherence::Shared, false);
        assert_eq!(read(&mut m, &f, 8192, 1), Err(Errno::Segv));
        assert_eq!(read(&mut m, &f, 8000, 200), Err(Errno::Segv));
        assert_eq!(read(&mut m, &f, u64::MAX, 2), Err(Errno::Segv));
        // The rest of the last page reads zeros; the next page is wholly past EOF.
        assert_eq!(read(&mut m, &f, 4000, 96).unwrap(), vec![0; 96]);
        assert_eq!(read(&mut m, &f, 4000, 97), Err(Errno::Bus));
    }

    #[test]
    fn with_page_staleness_a_page_keeps_what_it_held_when_first_touched() {
        let (mut f, mut i, mut m) = setup(Coherence::Shared, true);
        assert_eq!(read(&mut m, &f, 0, 5).unwrap(), b"hello");
        f.write(&mut i, 0, b"J");
        f.write(&mut i, 4096, b"second page");
        assert_eq!(read(&mut m, &f, 0, 5).unwrap(), b"hello");
        assert_eq!(read(&mut m, &f, 4096, 6).unwrap(), b"second");
    }
}
