//! The page cache versus the durable image: what reads see, and what survives power loss.
//!
//! The model, one rule per line:
//! - every call sees the page cache (the live [`SparseFile`] of the inode);
//! - `fsync` copies the file's data and size to its durable image (only the blocks touched
//!   since the last `fsync`, so syncing a large file after a small append is cheap);
//! - writes and truncations since the last `fsync` are *pending*, logged in order; at power
//!   loss each pending operation, in order, is decided by the seed: **lost**, **kept whole**,
//!   or, for a write, **torn**: kept for a prefix ending on a sector boundary (disks write
//!   whole sectors atomically, nothing smaller). A truncation is lost or kept;
//! - the log is bounded ([`PENDING_CAP`]); when it overflows, the oldest operation is
//!   written back whole to the durable image, as a kernel's background writeback of old
//!   dirty pages would (so at most the last 64 operations of a file are ever at risk; and
//!   a long run of small unsynced appends leaves an image that shares blocks with the page
//!   cache instead of a unique mix of lost and kept fragments);
//! - synced data is never lost; directory entries have their own durability (see
//!   `namespace`).

use std::collections::{BTreeMap, VecDeque};

use crate::blocks::{Interner, SparseFile};
use crate::extents::Entry;
use crate::hash::SimRng;

/// Pending operations kept per inode before the oldest is settled by writeback.
pub const PENDING_CAP: usize = 64;

/// Set of block indices as disjoint inclusive ranges: appends coalesce into one range.
#[derive(Debug, Clone, Default)]
pub struct RangeSet(BTreeMap<u64, u64>);

impl RangeSet {
    pub fn insert(&mut self, mut a: u64, mut b: u64) {
        // Fastest path (appends): the last range holds or touches `a..=b` from below.
        if let Some(mut last) = self.0.last_entry()
            && *last.key() <= a
            && last.get().saturating_add(1) >= a
        {
            *last.get_mut() = (*last.get()).max(b);
            return;
        }
        // Fast path (appends): extend the range that holds or touches `a` in place, when no
        // later range would need merging.
        let next_free = self
            .0
            .range(a.saturating_add(1)..)
            .next()
            .is_none_or(|(&s, _)| s > b.saturating_add(1));
        if next_free
            && let Some((_, e)) = self.0.range_mut(..=a).next_back()
            && e.saturating_add(1) >= a
        {
            *e = (*e).max(b);
            return;
        }
        let merge: Vec<u64> = self
            .0
            .range(..=b.saturating_add(1))
            .rev()
            .take_while(|(_, e)| e.saturating_add(1) >= a)
            .map(|(&s, _)| s)
            .collect();
        for s in merge {
            if let Some(e) = self.0.remove(&s) {
                a = a.min(s);
                b = b.max(e);
            }
        }
        self.0.insert(a, b);
    }

    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.0.iter().map(|(&a, &b)| (a, b))
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// What a pending write wrote: bytes for small writes, kept in the log's byte ring; block
/// references for large writes and for writes of whole aligned blocks (so a log of 1 MiB
/// writes costs refcounts, not copies, and writeback shares the page cache's blocks).
#[derive(Debug, Clone)]
enum Payload {
    /// The write's bytes: the front of [`Durability`]'s ring once this is the oldest write
    /// with bytes there (writes leave the log in order).
    Ring,
    Blocks {
        first: u64,
        blocks: Vec<Entry>,
    },
}

#[derive(Debug, Clone)]
enum Pending {
    Write {
        off: u64,
        len: u64,
        payload: Payload,
    },
    Truncate {
        len: u64,
    },
}

impl Pending {
    /// Whether this operation may change block `idx` (blocks of `bs` bytes).
    fn touches(&self, idx: u64, bs: u64) -> bool {
        match self {
            Pending::Write { off, len, .. } => off / bs <= idx && idx <= (off + len - 1) / bs,
            Pending::Truncate { len } => idx >= len / bs,
        }
    }
}

/// The fate of one pending operation at power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Lost,
    Whole,
    /// Kept for this many bytes from the start of the write (ends on a sector boundary).
    Prefix(u64),
}

/// One inode's durable image and the operations not yet in it.
#[derive(Debug, Clone)]
pub struct Durability {
    image: SparseFile,
    dirty: RangeSet,
    trunc_low: Option<u64>,
    pending: VecDeque<Pending>,
    /// The bytes of every pending `Payload::Ring` write, oldest first.
    bytes: VecDeque<u8>,
}

impl Durability {
    pub fn new(block_size: u64) -> Self {
        Durability {
            image: SparseFile::new(block_size),
            dirty: RangeSet::default(),
            trunc_low: None,
            pending: VecDeque::new(),
            bytes: VecDeque::new(),
        }
    }

    /// The durable image: what the disk holds for this inode now.
    pub fn image(&self) -> &SparseFile {
        &self.image
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Log a write that `live` has just taken (`data` is what was really written).
    pub fn note_write(
        &mut self,
        live: &mut SparseFile,
        interner: &mut Interner,
        off: u64,
        data: &[u8],
    ) {
        if data.is_empty() {
            return;
        }
        let bs = live.block_size();
        let len = data.len() as u64;
        let (first, last) = (off / bs, (off + len - 1) / bs);
        self.dirty.insert(first, last);
        let whole_blocks = off.is_multiple_of(bs) && len.is_multiple_of(bs);
        let payload = if whole_blocks || len > 2 * bs {
            Payload::Blocks {
                first,
                blocks: live.entries_in(interner, first, last),
            }
        } else {
            self.bytes.extend(data);
            Payload::Ring
        };
        self.push(Pending::Write { off, len, payload }, live, interner);
    }

    /// Log an `ftruncate` (or `O_TRUNC`) of `live` to `len`.
    pub fn note_truncate(&mut self, live: &SparseFile, len: u64, interner: &mut Interner) {
        let bs = live.block_size();
        self.trunc_low = Some(self.trunc_low.map_or(len, |t| t.min(len)));
        if !len.is_multiple_of(bs) {
            self.dirty.insert(len / bs, len / bs);
        }
        self.push(Pending::Truncate { len }, live, interner);
    }

    /// Append `op` to the log; past [`PENDING_CAP`], write the oldest back whole.
    fn push(&mut self, op: Pending, live: &SparseFile, interner: &mut Interner) {
        self.pending.push_back(op);
        if self.pending.len() > PENDING_CAP
            && let Some(oldest) = self.pending.pop_front()
        {
            match oldest {
                Pending::Truncate { len } => self.image.truncate(interner, len),
                Pending::Write { len, .. } => self.apply(&oldest, len, Some(live), interner),
            }
        }
    }

    /// `fsync`: the image becomes the page cache's contents and size.
    pub fn fsync(&mut self, live: &mut SparseFile, interner: &mut Interner) {
        live.seal(interner);
        if let Some(t) = self.trunc_low.take() {
            self.image.drop_blocks_from(t.div_ceil(live.block_size()));
        }
        for (a, b) in self.dirty.ranges() {
            for idx in a..=b {
                self.image.copy_block_from(live, idx);
            }
        }
        self.image.set_size(live.size());
        self.dirty.clear();
        self.pending.clear();
        self.bytes.clear();
    }

    /// Power loss: settle every pending operation by the seed, in order, and return the
    /// resulting contents, which are now durable.
    pub fn crash(&mut self, interner: &mut Interner, rng: &mut SimRng, sector: u64) -> SparseFile {
        for op in std::mem::take(&mut self.pending) {
            match &op {
                Pending::Truncate { len } => {
                    if rng.below(2) == 1 {
                        self.image.truncate(interner, *len);
                    }
                }
                Pending::Write { off, len, .. } => {
                    let kept = match decide(rng, *off, *len, sector) {
                        Fate::Lost => 0,
                        Fate::Whole => *len,
                        Fate::Prefix(n) => n,
                    };
                    self.apply(&op, kept, None, interner);
                }
            }
        }
        self.image.seal(interner);
        self.dirty.clear();
        self.trunc_low = None;
        self.image.clone()
    }

    /// Write the first `kept` bytes of `op`, just taken off the front of the log, into the
    /// image, block by block, and drop its bytes from the ring. With `live` (background
    /// writeback), the image's private block is shared with the page cache instead of
    /// hashed as soon as no later operation can change it (see [`Durability::share_private`]).
    fn apply(
        &mut self,
        op: &Pending,
        kept: u64,
        live: Option<&SparseFile>,
        interner: &mut Interner,
    ) {
        let Pending::Write { off, len, payload } = op else {
            return;
        };
        let (off, len) = (*off, *len);
        let bs = self.image.block_size();
        let op_last = (off + len - 1) / bs;
        let mut zeros = Vec::new();
        let mut at = off;
        while at < off + kept {
            let idx = at / bs;
            let in_block = (at % bs) as usize;
            let n = (bs - in_block as u64).min(off + kept - at) as usize;
            if let Some(live) = live {
                self.share_private(live, idx, op_last);
            }
            match payload {
                Payload::Ring => {
                    let from = (at - off) as usize;
                    let (front, back) = self.bytes.as_slices();
                    let split = front.len().saturating_sub(from).min(n);
                    if split > 0 {
                        self.image.write(interner, at, &front[from..from + split]);
                    }
                    if split < n {
                        let b = from + split - front.len();
                        self.image
                            .write(interner, at + split as u64, &back[b..b + n - split]);
                    }
                }
                Payload::Blocks { first, blocks } => {
                    let entry = blocks.get((idx - first) as usize).cloned().flatten();
                    if n as u64 == bs {
                        // A whole block: the page cache's buffer itself, no copy.
                        self.image.set_entry(idx, entry);
                    } else {
                        let src: &[u8] = match &entry {
                            Some(buf) => buf,
                            None => {
                                zeros.resize(bs as usize, 0);
                                &zeros
                            }
                        };
                        self.image.write(interner, at, &src[in_block..in_block + n]);
                    }
                }
            }
            at += n as u64;
        }
        if kept == 0 && len <= 2 * bs {
            // A small write wholly lost still moves the durable size to its offset, as it
            // always has here (it was one `write` of zero bytes at `off`); kept so that
            // every crash outcome, and so every digest, stays as it was.
            self.image.set_size_at_least(off);
        }
        if let Payload::Ring = payload {
            self.bytes.drain(..len as usize);
        }
    }

    /// Before writeback writes block `next` (the rest of its operation reaching `op_last`):
    /// if the image's private block is another one that no later operation touches, its
    /// bytes are final and equal the page cache's block there, so take that block's buffer
    /// (an id shared with the page cache) instead of hashing a copy.
    fn share_private(&mut self, live: &SparseFile, next: u64, op_last: u64) {
        let Some(d) = self.image.private_block() else {
            return;
        };
        let bs = self.image.block_size();
        if (next..=op_last).contains(&d) || self.pending.iter().any(|p| p.touches(d, bs)) {
            return;
        }
        if let Some(entry) = live.sealed_entry(d) {
            self.image.seal_as(entry.clone());
        }
    }

    /// Memory held beyond the shared buffers: block-map entries and logged bytes.
    pub fn stored_estimate(&self) -> u64 {
        let mut n = self.image.map_bytes();
        for op in &self.pending {
            n += 48;
            if let Pending::Write { len, payload, .. } = op {
                n += match payload {
                    Payload::Ring => *len,
                    Payload::Blocks { blocks, .. } => blocks.len() as u64 * 8,
                };
            }
        }
        n
    }
}

/// Decide the fate of a write of `len` bytes at `off` with sectors of `sector` bytes.
pub fn decide(rng: &mut SimRng, off: u64, len: u64, sector: u64) -> Fate {
    let sector = sector.max(1);
    let end = off.saturating_add(len);
    let first_boundary = (off / sector + 1).saturating_mul(sector);
    let inner = if first_boundary < end {
        (end - 1 - first_boundary) / sector + 1
    } else {
        0
    };
    match rng.below(3) {
        0 => Fate::Lost,
        1 => Fate::Whole,
        _ if inner == 0 => {
            if rng.below(2) == 0 {
                Fate::Lost
            } else {
                Fate::Whole
            }
        }
        _ => Fate::Prefix(first_boundary + rng.below(inner) * sector - off),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn ranges_coalesce_when_adjacent_or_overlapping() {
        let mut r = RangeSet::default();
        r.insert(5, 5);
        r.insert(6, 9);
        r.insert(1, 2);
        r.insert(20, 30);
        r.insert(3, 3);
        assert_eq!(
            r.ranges().collect::<Vec<_>>(),
            vec![(1, 3), (5, 9), (20, 30)]
        );
        r.insert(4, 4);
        assert_eq!(r.ranges().collect::<Vec<_>>(), vec![(1, 9), (20, 30)]);
        r.insert(0, 25);
        assert_eq!(r.ranges().collect::<Vec<_>>(), vec![(0, 30)]);
    }

    #[test]
    fn torn_prefixes_end_on_sector_boundaries_inside_the_write() {
        let mut rng = SimRng::new(3);
        let mut seen = [false; 3];
        for _ in 0..2000 {
            let off = rng.below(5000);
            let len = 1 + rng.below(5000);
            match decide(&mut rng, off, len, 512) {
                Fate::Lost => seen[0] = true,
                Fate::Whole => seen[1] = true,
                Fate::Prefix(n) => {
                    seen[2] = true;
                    assert!(n > 0 && n < len, "prefix {n} of {len}");
                    assert_eq!((off + n) % 512, 0, "prefix must end on a sector boundary");
                }
            }
        }
        assert_eq!(seen, [true; 3]);
    }

    #[test]
    fn fsync_makes_the_image_equal_the_page_cache() {
        let mut i = Interner::default();
        let mut live = SparseFile::new(4096);
        let mut d = Durability::new(4096);
        live.write(&mut i, 0, &[1u8; 10000]);
        d.note_write(&mut live, &mut i, 0, &[1u8; 10000]);
        live.truncate(&mut i, 3000);
        d.note_truncate(&live, 3000, &mut i);
        d.fsync(&mut live, &mut i);
        assert_eq!(d.image().to_vec(), live.to_vec());
        assert_eq!(d.image().allocated(), 4096);
        assert_eq!(d.pending_len(), 0);
    }

    #[test]
    fn writeback_shares_the_page_cache_blocks_it_settles() {
        let mut i = Interner::default();
        let mut live = SparseFile::new(4096);
        let mut d = Durability::new(4096);
        let mut expect = Vec::new();
        for n in 0..400u32 {
            let rec: Vec<u8> = (0..88).map(|k| (n as u8) ^ k).collect();
            let off = expect.len() as u64;
            live.write(&mut i, off, &rec);
            d.note_write(&mut live, &mut i, off, &rec);
            expect.extend_from_slice(&rec);
        }
        // Every block that no pending write touches any more holds the page cache's buffer.
        let settled = (400 - PENDING_CAP as u64) * 88 / 4096;
        assert!(settled >= 4, "{settled}");
        for b in 0..settled {
            match (d.image().sealed_entry(b), live.sealed_entry(b)) {
                (Some(Some(img)), Some(Some(pc))) => assert!(Arc::ptr_eq(img, pc), "block {b}"),
                other => panic!("block {b}: {other:?}"),
            }
        }
        // And a power loss that keeps every pending write gives the page cache's bytes.
        let all_kept = d.image().size() as usize;
        assert_eq!(d.image().to_vec(), expect[..all_kept]);
    }

    #[test]
    fn a_write_of_whole_blocks_is_logged_by_reference_and_settles_whole() {
        let mut i = Interner::default();
        let mut live = SparseFile::new(4096);
        let mut d = Durability::new(4096);
        let block: Vec<u8> = (0..4096u32).map(|k| k as u8).collect();
        live.write(&mut i, 8192, &block);
        d.note_write(&mut live, &mut i, 8192, &block);
        assert_eq!(d.stored_estimate() - d.image().map_bytes(), 48 + 8);
        for n in 0..PENDING_CAP as u64 {
            live.write(&mut i, n, b"x");
            d.note_write(&mut live, &mut i, n, b"x");
        }
        match (d.image().sealed_entry(2), live.sealed_entry(2)) {
            (Some(Some(img)), Some(Some(pc))) => assert!(Arc::ptr_eq(img, pc)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_pending_log_stays_bounded() {
        let mut i = Interner::default();
        let mut live = SparseFile::new(4096);
        let mut d = Durability::new(4096);
        for n in 0..1000u64 {
            live.write(&mut i, n * 10, b"0123456789");
            d.note_write(&mut live, &mut i, n * 10, b"0123456789");
        }
        assert_eq!(d.pending_len(), PENDING_CAP);
    }
}
