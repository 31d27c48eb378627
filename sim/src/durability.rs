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
//!   decided there and then (as a kernel's background writeback would): kept operations
//!   reach the durable image, lost ones are forgotten;
//! - synced data is never lost; directory entries have their own durability (see
//!   `namespace`).

use std::collections::{BTreeMap, VecDeque};

use crate::blocks::{Buf, Interner, SparseFile};
use crate::hash::SimRng;

/// Pending operations kept per inode before the oldest is settled by writeback.
pub const PENDING_CAP: usize = 64;

/// Set of block indices as disjoint inclusive ranges: appends coalesce into one range.
#[derive(Debug, Clone, Default)]
pub struct RangeSet(BTreeMap<u64, u64>);

impl RangeSet {
    pub fn insert(&mut self, mut a: u64, mut b: u64) {
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

/// What a pending write wrote: bytes for small writes, block references for large ones (so a
/// log of 1 MiB writes costs refcounts, not copies).
#[derive(Debug, Clone)]
enum Payload {
    Bytes(Vec<u8>),
    Blocks {
        first: u64,
        blocks: Vec<Option<Buf>>,
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
}

impl Durability {
    pub fn new(block_size: u64) -> Self {
        Durability {
            image: SparseFile::new(block_size),
            dirty: RangeSet::default(),
            trunc_low: None,
            pending: VecDeque::new(),
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
        crash: (&mut SimRng, u64),
    ) {
        if data.is_empty() {
            return;
        }
        let bs = live.block_size();
        let len = data.len() as u64;
        let (first, last) = (off / bs, (off + len - 1) / bs);
        self.dirty.insert(first, last);
        let payload = if len <= 2 * bs {
            Payload::Bytes(data.to_vec())
        } else {
            Payload::Blocks {
                first,
                blocks: live.entries_in(interner, first, last),
            }
        };
        self.push(Pending::Write { off, len, payload }, interner, crash);
    }

    /// Log an `ftruncate` (or `O_TRUNC`) to `len`.
    pub fn note_truncate(
        &mut self,
        len: u64,
        bs: u64,
        interner: &mut Interner,
        crash: (&mut SimRng, u64),
    ) {
        self.trunc_low = Some(self.trunc_low.map_or(len, |t| t.min(len)));
        if !len.is_multiple_of(bs) {
            self.dirty.insert(len / bs, len / bs);
        }
        self.push(Pending::Truncate { len }, interner, crash);
    }

    fn push(&mut self, op: Pending, interner: &mut Interner, (rng, sector): (&mut SimRng, u64)) {
        self.pending.push_back(op);
        if self.pending.len() > PENDING_CAP
            && let Some(oldest) = self.pending.pop_front()
        {
            settle(&mut self.image, interner, &oldest, rng, sector);
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
    }

    /// Power loss: settle every pending operation by the seed, in order, and return the
    /// resulting contents, which are now durable.
    pub fn crash(&mut self, interner: &mut Interner, rng: &mut SimRng, sector: u64) -> SparseFile {
        for op in std::mem::take(&mut self.pending) {
            settle(&mut self.image, interner, &op, rng, sector);
        }
        self.image.seal(interner);
        self.dirty.clear();
        self.trunc_low = None;
        self.image.clone()
    }

    /// Memory held beyond the shared buffers: block-map entries and logged bytes.
    pub fn stored_estimate(&self) -> u64 {
        let mut n = self.image.entries() as u64 * 32;
        for op in &self.pending {
            n += 48;
            if let Pending::Write { payload, .. } = op {
                n += match payload {
                    Payload::Bytes(b) => b.len() as u64,
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

fn settle(
    image: &mut SparseFile,
    interner: &mut Interner,
    op: &Pending,
    rng: &mut SimRng,
    sector: u64,
) {
    match op {
        Pending::Truncate { len } => {
            if rng.below(2) == 1 {
                image.truncate(interner, *len);
            }
        }
        Pending::Write { off, len, payload } => {
            let kept = match decide(rng, *off, *len, sector) {
                Fate::Lost => 0,
                Fate::Whole => *len,
                Fate::Prefix(n) => n,
            };
            apply(image, interner, *off, kept, payload);
        }
    }
}

fn apply(image: &mut SparseFile, interner: &mut Interner, off: u64, kept: u64, payload: &Payload) {
    match payload {
        Payload::Bytes(b) => image.write(interner, off, &b[..kept as usize]),
        Payload::Blocks { first, blocks } => {
            let bs = image.block_size();
            let zeros = vec![0u8; bs as usize];
            let mut at = off;
            while at < off + kept {
                let idx = at / bs;
                let in_block = (at % bs) as usize;
                let n = (bs - in_block as u64).min(off + kept - at) as usize;
                let src: &[u8] = match blocks.get((idx - first) as usize) {
                    Some(Some(buf)) => buf,
                    _ => &zeros,
                };
                image.write(interner, at, &src[in_block..in_block + n]);
                at += n as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        let mut rng = SimRng::new(1);
        let mut live = SparseFile::new(4096);
        let mut d = Durability::new(4096);
        live.write(&mut i, 0, &[1u8; 10000]);
        d.note_write(&mut live, &mut i, 0, &[1u8; 10000], (&mut rng, 512));
        live.truncate(&mut i, 3000);
        d.note_truncate(3000, 4096, &mut i, (&mut rng, 512));
        d.fsync(&mut live, &mut i);
        assert_eq!(d.image().to_vec(), live.to_vec());
        assert_eq!(d.image().allocated(), 4096);
        assert_eq!(d.pending_len(), 0);
    }

    #[test]
    fn the_pending_log_stays_bounded() {
        let mut i = Interner::default();
        let mut rng = SimRng::new(1);
        let mut live = SparseFile::new(4096);
        let mut d = Durability::new(4096);
        for n in 0..1000u64 {
            live.write(&mut i, n * 10, b"0123456789");
            d.note_write(&mut live, &mut i, n * 10, b"0123456789", (&mut rng, 512));
        }
        assert_eq!(d.pending_len(), PENDING_CAP);
    }
}
