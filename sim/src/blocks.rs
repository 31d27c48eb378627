//! Sparse file data: an apparent size, and block-granular allocation beneath it.
//!
//! Models an extent-based filesystem such as ext4 or XFS: a write allocates whole blocks,
//! `lseek` and `ftruncate` past the end allocate nothing, and holes read as zeros. Memory
//! follows the bytes really written, never the apparent size: a block is either *allocated
//! zero* (no buffer at all) or a shared buffer *interned by content*, so a file of a million
//! identical blocks holds one buffer and a million map entries, and a 3.4e11-byte file with
//! a few KiB written holds a few KiB.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::{Arc, Weak};

use crate::extents::{BlockMap, Entry};
use crate::hash::{IdHasher, content_hash};

/// One block's bytes, shared between every file, durable image and private map copy that
/// holds the same contents.
pub type Buf = Arc<Box<[u8]>>;
type WeakBuf = Weak<Box<[u8]>>;

/// Deduplicates block buffers by content, filesystem wide.
///
/// Holds only weak references: a buffer dies with its last block, and dead entries are
/// pruned as the table grows (amortised O(1) per insert).
#[derive(Debug, Clone, Default)]
pub struct Interner {
    table: HashMap<u64, Vec<WeakBuf>, BuildHasherDefault<IdHasher>>,
    since_prune: usize,
}

impl Interner {
    /// The shared buffer holding `data`, made if no live one holds the same bytes.
    pub fn intern(&mut self, data: &[u8]) -> Buf {
        let h = content_hash(data);
        if let Some(found) = self.lookup(h, data) {
            return found;
        }
        self.insert(h, Arc::new(data.into()))
    }

    /// Like [`Interner::intern`] for a buffer the caller already owns: no copy when new;
    /// when an equal buffer is found, `data` is handed back for reuse.
    pub fn intern_reusing(&mut self, data: Box<[u8]>) -> (Buf, Option<Box<[u8]>>) {
        let h = content_hash(&data);
        if let Some(found) = self.lookup(h, &data) {
            return (found, Some(data));
        }
        (self.insert(h, Arc::new(data)), None)
    }

    fn lookup(&self, h: u64, data: &[u8]) -> Option<Buf> {
        self.table
            .get(&h)?
            .iter()
            .filter_map(Weak::upgrade)
            .find(|b| ***b == *data)
    }

    fn insert(&mut self, h: u64, buf: Buf) -> Buf {
        let bucket = self.table.entry(h).or_default();
        bucket.retain(|w| w.strong_count() > 0);
        bucket.push(Arc::downgrade(&buf));
        self.since_prune += 1;
        if self.since_prune >= self.table.len().max(1024) {
            self.prune();
        }
        buf
    }

    fn prune(&mut self) {
        self.table.retain(|_, bucket| {
            bucket.retain(|w| w.strong_count() > 0);
            !bucket.is_empty()
        });
        self.since_prune = 0;
    }

    /// Bytes held by live unique buffers, plus a per-entry overhead estimate of the table.
    pub fn stored_bytes(&self) -> u64 {
        let mut total = 0u64;
        for bucket in self.table.values() {
            total += 48;
            for w in bucket {
                total += 16;
                if let Some(b) = w.upgrade() {
                    total += b.len() as u64;
                }
            }
        }
        total
    }
}

/// The data of one file: apparent size plus allocated blocks.
///
/// Invariant: bytes of an allocated block past `size` are zero (truncation zeroes them), so
/// a mapping's view of the tail of the last page is zeros, as POSIX says.
#[derive(Debug)]
pub struct SparseFile {
    bs: u64,
    size: u64,
    /// Block index -> contents; `None` is an allocated block of zeros.
    blocks: BlockMap,
    /// The one block being filled by small writes, kept private and mutable so that a run of
    /// 88-byte appends does not re-hash a block per write. Its entry in `blocks` exists but
    /// is stale while it is here.
    dirty: Option<(u64, Box<[u8]>)>,
    /// Bytes of the private block from this offset on read as zeros whatever its buffer
    /// holds: a new block is not zeroed up front, only where a write skips over (appends
    /// never do) and when it is sealed.
    zero_from: usize,
    /// A block buffer no longer needed (a private block that turned out to be zeros or a
    /// duplicate), kept for the next private block instead of a new allocation.
    spare: Option<Box<[u8]>>,
}

impl Clone for SparseFile {
    /// A clone shares every interned block; it copies the private block, not the spare.
    fn clone(&self) -> Self {
        SparseFile {
            bs: self.bs,
            size: self.size,
            blocks: self.blocks.clone(),
            dirty: self.dirty.clone(),
            zero_from: self.zero_from,
            spare: None,
        }
    }
}

impl SparseFile {
    pub fn new(block_size: u64) -> Self {
        SparseFile {
            bs: block_size.max(1),
            size: 0,
            blocks: BlockMap::default(),
            dirty: None,
            zero_from: 0,
            spare: None,
        }
    }

    /// Apparent size (`st_size`).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Allocated bytes: whole blocks.
    pub fn allocated(&self) -> u64 {
        self.blocks.len() * self.bs
    }

    /// Bytes the block map itself takes (references and run overhead), estimated.
    pub fn map_bytes(&self) -> u64 {
        self.blocks.len() * 8 + self.blocks.runs() as u64 * 64
    }

    /// SEEK_DATA: the first offset at or after `off` inside an allocated block (allocated
    /// zeros count as data), or None if only a hole remains before EOF.
    pub fn next_data(&self, off: u64) -> Option<u64> {
        if off >= self.size {
            return None;
        }
        let idx = off / self.bs;
        let mut next = self.blocks.next_allocated(idx);
        if let Some((d, _)) = &self.dirty
            && *d >= idx
            && next.is_none_or(|n| *d < n)
        {
            next = Some(*d);
        }
        let at = next?.checked_mul(self.bs)?.max(off);
        (at < self.size).then_some(at)
    }

    pub fn block_size(&self) -> u64 {
        self.bs
    }

    /// Extend the apparent size without allocating (a hole).
    pub fn set_size_at_least(&mut self, size: u64) {
        self.size = self.size.max(size);
    }

    /// `read(2)` semantics: up to `buf.len()` bytes at `off`, short at EOF.
    pub fn read_at(&self, off: u64, buf: &mut [u8]) -> usize {
        if off >= self.size {
            return 0;
        }
        let n = (self.size - off).min(buf.len() as u64) as usize;
        self.fill(off, &mut buf[..n]);
        n
    }

    /// The bytes at `off..off+buf.len()`, holes and anything past the size as zeros.
    pub fn fill(&self, off: u64, buf: &mut [u8]) {
        let mut pos = 0usize;
        while pos < buf.len() {
            let at = off + pos as u64;
            let idx = at / self.bs;
            let in_block = (at % self.bs) as usize;
            let n = (self.bs as usize - in_block).min(buf.len() - pos);
            let dst = &mut buf[pos..pos + n];
            // A private block's slice may end early: zeros after it.
            let src = self.block(idx).unwrap_or(&[]);
            let have = src.len().saturating_sub(in_block).min(n);
            if have > 0 {
                dst[..have].copy_from_slice(&src[in_block..in_block + have]);
            }
            if have < n {
                dst[have..].fill(0);
            }
            pos += n;
        }
    }

    /// The contents of block `idx`, or `None` for a hole or an allocated zero block. For
    /// the private block, a slice that may end early: the rest of the block is zeros.
    fn block(&self, idx: u64) -> Option<&[u8]> {
        if let Some((d, buf)) = &self.dirty
            && *d == idx
        {
            return Some(&buf[..self.zero_from]);
        }
        match self.blocks.get(idx) {
            Some(Some(buf)) => Some(buf),
            _ => None,
        }
    }

    /// Write `data` at `off`. The caller has checked limits and space.
    pub fn write(&mut self, interner: &mut Interner, off: u64, data: &[u8]) {
        let bs = self.bs as usize;
        let mut pos = 0usize;
        while pos < data.len() {
            let at = off + pos as u64;
            let idx = at / self.bs;
            let in_block = (at % self.bs) as usize;
            let n = (bs - in_block).min(data.len() - pos);
            let chunk = &data[pos..pos + n];
            if n == bs {
                // Whole block: no read-modify-write.
                let v = if is_zero(chunk) {
                    None
                } else {
                    Some(interner.intern(chunk))
                };
                self.set_entry(idx, v);
            } else {
                self.write_partial(interner, idx, in_block, chunk);
            }
            pos += n;
        }
        self.size = self.size.max(off + data.len() as u64);
    }

    fn write_partial(&mut self, interner: &mut Interner, idx: u64, at: usize, chunk: &[u8]) {
        if !matches!(&self.dirty, Some((d, _)) if *d == idx) {
            self.seal(interner);
            let (buf, zero_from) = self.buffer_from(idx);
            if !self.blocks.contains(idx) {
                self.blocks.insert(idx, None);
            }
            self.dirty = Some((idx, buf));
            self.zero_from = zero_from;
        }
        if let Some((_, buf)) = &mut self.dirty {
            if at > self.zero_from {
                buf[self.zero_from..at].fill(0);
            }
            buf[at..at + chunk.len()].copy_from_slice(chunk);
            self.zero_from = self.zero_from.max(at + chunk.len());
        }
    }

    /// A private copy of block `idx` (zeros for a hole), in the spare buffer if there is
    /// one, with the offset from which it reads as zeros.
    fn buffer_from(&mut self, idx: u64) -> (Box<[u8]>, usize) {
        let bs = self.bs as usize;
        let spare = self.spare.take();
        let src = self.block(idx).unwrap_or(&[]);
        match spare {
            Some(mut buf) if buf.len() == bs => {
                buf[..src.len()].copy_from_slice(src);
                (buf, src.len())
            }
            _ if src.len() == bs => (src.into(), bs),
            _ => {
                let mut buf = vec![0u8; bs].into_boxed_slice();
                buf[..src.len()].copy_from_slice(src);
                (buf, bs)
            }
        }
    }

    /// Intern the private block, if any, so that clones share every buffer.
    pub fn seal(&mut self, interner: &mut Interner) {
        if let Some((idx, mut buf)) = self.dirty.take() {
            buf[self.zero_from..].fill(0);
            let v = if is_zero(&buf) {
                self.spare = Some(buf);
                None
            } else {
                let (shared, unused) = interner.intern_reusing(buf);
                self.spare = unused;
                Some(shared)
            };
            self.blocks.insert(idx, v);
        }
    }

    /// The index of the private block, if there is one.
    pub fn private_block(&self) -> Option<u64> {
        self.dirty.as_ref().map(|(d, _)| *d)
    }

    /// The entry of block `idx` if it is allocated and not the private block: `Some(None)`
    /// for allocated zeros, `Some(Some(buf))` for a shared buffer.
    pub fn sealed_entry(&self, idx: u64) -> Option<&Entry> {
        if self.private_block() == Some(idx) {
            return None;
        }
        self.blocks.get(idx)
    }

    /// Replace the private block by `entry`, which the caller knows holds the same bytes
    /// (another file's sealed block): no hashing, and the buffer becomes the spare.
    pub fn seal_as(&mut self, entry: Entry) {
        if let Some((idx, buf)) = self.dirty.take() {
            let z = self.zero_from;
            debug_assert!(
                match &entry {
                    Some(b) => b[..z] == buf[..z] && is_zero(&b[z..]),
                    None => is_zero(&buf[..z]),
                },
                "block {idx} sealed as a block with other contents"
            );
            self.spare = Some(buf);
            self.blocks.insert(idx, entry);
        }
    }

    /// Set block `idx` to `entry` (allocating it), dropping the private block if it is there.
    pub fn set_entry(&mut self, idx: u64, entry: Entry) {
        if matches!(&self.dirty, Some((d, _)) if *d == idx) {
            self.spare = self.dirty.take().map(|(_, b)| b);
        }
        self.blocks.insert(idx, entry);
    }

    /// `ftruncate`: shrinking frees the blocks past the new size and zeroes the tail of the
    /// last partial block; growing only moves the size (a hole).
    pub fn truncate(&mut self, interner: &mut Interner, len: u64) {
        if len >= self.size {
            self.size = len;
            return;
        }
        let first_free = len.div_ceil(self.bs);
        self.blocks.truncate_from(first_free);
        if matches!(&self.dirty, Some((d, _)) if *d >= first_free) {
            self.dirty = None;
        }
        let tail = (len % self.bs) as usize;
        if tail != 0 {
            let idx = len / self.bs;
            if let Some(src) = self.block(idx)
                && src.get(tail..).is_some_and(|t| !is_zero(t))
            {
                let zeros = vec![0u8; self.bs as usize - tail];
                self.write_partial(interner, idx, tail, &zeros);
            }
        }
        self.size = len;
    }

    /// Bytes of `len` at `off` that fit if at most `free_blocks` new blocks may be allocated:
    /// whole blocks only, stopping at the first block that does not fit.
    pub fn fit(&self, off: u64, len: u64, free_blocks: u64) -> u64 {
        if len == 0 {
            return 0;
        }
        let first = off / self.bs;
        let last = (off + len - 1) / self.bs;
        if last - first < free_blocks {
            // Fits even if every block is new: no need to look at the block map.
            return len;
        }
        let mut needed = 0u64;
        let mut cursor = first;
        let stop_at = |cursor: u64, needed: u64| {
            let end_block = cursor.saturating_add(free_blocks - needed);
            end_block
                .saturating_mul(self.bs)
                .saturating_sub(off)
                .min(len)
        };
        for (a, b) in self.blocks.allocated_in(first, last) {
            let gap = a - cursor;
            if needed + gap > free_blocks {
                return stop_at(cursor, needed);
            }
            needed += gap;
            cursor = b + 1;
        }
        let gap = last + 1 - cursor;
        if needed + gap > free_blocks {
            return stop_at(cursor, needed);
        }
        len
    }

    /// Blocks `off..off+len` would newly allocate.
    pub fn new_blocks(&self, off: u64, len: u64) -> u64 {
        if len == 0 {
            return 0;
        }
        let first = off / self.bs;
        let last = (off + len - 1) / self.bs;
        (last - first + 1) - self.blocks.count_in(first, last)
    }

    /// The (sealed) entries of blocks `first..=last`, for a durable log or a copy.
    pub fn entries_in(&mut self, interner: &mut Interner, first: u64, last: u64) -> Vec<Entry> {
        if self
            .private_block()
            .is_some_and(|d| (first..=last).contains(&d))
        {
            self.seal(interner);
        }
        (first..=last)
            .map(|i| self.blocks.get(i).cloned().flatten())
            .collect()
    }

    /// Copy block `idx` of `src` into this file as it is there (present or hole). `src`
    /// must be sealed.
    pub fn copy_block_from(&mut self, src: &SparseFile, idx: u64) {
        if matches!(&self.dirty, Some((d, _)) if *d == idx) {
            self.dirty = None;
        }
        match src.blocks.get(idx) {
            Some(v) => self.blocks.insert(idx, v.clone()),
            None => self.blocks.remove(idx),
        }
    }

    /// Drop every block from `first` on, and the private block if it lies there.
    pub fn drop_blocks_from(&mut self, first: u64) {
        self.blocks.truncate_from(first);
        if matches!(&self.dirty, Some((d, _)) if *d >= first) {
            self.dirty = None;
        }
    }

    pub fn set_size(&mut self, size: u64) {
        self.size = size;
    }

    /// The whole file as bytes (tests and small files only).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.size as usize];
        self.fill(0, &mut v);
        v
    }
}

/// Whether every byte is zero: 512-byte chunks OR-folded a word at a time, which the
/// compiler vectorises; stops at the first chunk with a set bit.
fn is_zero(data: &[u8]) -> bool {
    let mut chunks = data.chunks_exact(512);
    let words_zero = |c: &[u8]| {
        c.chunks_exact(8).fold(0u64, |a, w| {
            a | u64::from_ne_bytes(w.try_into().unwrap_or([1; 8]))
        }) == 0
    };
    chunks.all(words_zero) && chunks.remainder().iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> (SparseFile, Interner) {
        (SparseFile::new(4096), Interner::default())
    }

    #[test]
    fn a_far_sparse_write_allocates_one_block_and_reads_holes_as_zero() {
        let (mut f, mut i) = file();
        f.write(&mut i, 340_000_000_000, b"abc");
        assert_eq!(f.size(), 340_000_000_003);
        assert_eq!(f.allocated(), 4096);
        let mut buf = [9u8; 6];
        assert_eq!(f.read_at(339_999_999_999, &mut buf), 4);
        assert_eq!(&buf[..4], b"\0abc");
        assert_eq!(f.read_at(0, &mut buf), 6);
        assert_eq!(buf, [0; 6]);
    }

    #[test]
    fn identical_blocks_are_stored_once() {
        let (mut f, mut i) = file();
        let block = [7u8; 4096];
        for n in 0..100 {
            f.write(&mut i, n * 4096, &block);
        }
        assert_eq!(f.allocated(), 100 * 4096);
        assert!(i.stored_bytes() < 2 * 4096, "{}", i.stored_bytes());
    }

    #[test]
    fn small_appends_fill_a_block_and_read_back() {
        let (mut f, mut i) = file();
        let mut expect = Vec::new();
        for n in 0..200u32 {
            let rec: Vec<u8> = (0..88).map(|k| (n as u8).wrapping_add(k)).collect();
            f.write(&mut i, expect.len() as u64, &rec);
            expect.extend_from_slice(&rec);
        }
        assert_eq!(f.to_vec(), expect);
        f.seal(&mut i);
        assert_eq!(f.to_vec(), expect);
        assert_eq!(f.allocated(), expect.len().div_ceil(4096) as u64 * 4096);
    }

    #[test]
    fn is_zero_sees_a_single_set_bit_anywhere() {
        for len in [0, 1, 7, 8, 511, 512, 513, 4096, 4100] {
            let mut v = vec![0u8; len];
            assert!(is_zero(&v), "{len}");
            for at in (0..len).step_by(97).chain(len.checked_sub(1)) {
                v[at] = 0x10;
                assert!(!is_zero(&v), "{len} {at}");
                v[at] = 0;
            }
        }
    }

    #[test]
    fn a_reused_buffer_reads_as_zeros_where_nothing_was_written() {
        let (mut f, mut i) = file();
        let junk = [0xEEu8; 3000];
        f.write(&mut i, 0, &junk);
        f.write(&mut i, 2 * 4096, &junk); // the same bytes: block 0's buffer is reused
        f.write(&mut i, 3 * 4096 + 100, b"abc"); // a spare full of 0xEE, written at 100
        let mut block = vec![1u8; 4096];
        f.fill(3 * 4096, &mut block);
        assert!(block[..100].iter().chain(&block[103..]).all(|&b| b == 0));
        assert_eq!(&block[100..103], b"abc");
        f.seal(&mut i);
        let mut again = vec![1u8; 4096];
        f.fill(3 * 4096, &mut again);
        assert_eq!(block, again);
        f.truncate(&mut i, 3 * 4096 + 101);
        assert_eq!(f.to_vec()[3 * 4096 + 100..], *b"a");
    }

    #[test]
    fn zero_blocks_are_allocated_but_hold_no_buffer() {
        let (mut f, mut i) = file();
        f.write(&mut i, 0, &[0u8; 8192]);
        assert_eq!(f.allocated(), 8192);
        assert_eq!(i.stored_bytes(), 0);
    }

    #[test]
    fn truncate_frees_blocks_and_zeroes_the_tail_of_the_last_one() {
        let (mut f, mut i) = file();
        f.write(&mut i, 0, &[1u8; 10000]);
        f.truncate(&mut i, 5000);
        assert_eq!(f.allocated(), 8192);
        f.truncate(&mut i, 9000);
        assert_eq!(f.allocated(), 8192);
        let v = f.to_vec();
        assert!(v[..5000].iter().all(|&b| b == 1));
        assert!(v[5000..].iter().all(|&b| b == 0));
        f.truncate(&mut i, 0);
        assert_eq!(f.allocated(), 0);
    }

    #[test]
    fn fit_counts_only_new_blocks_and_stops_at_the_first_that_does_not_fit() {
        let (mut f, mut i) = file();
        f.write(&mut i, 4096, &[1u8; 4096]); // block 1 allocated
        assert_eq!(f.new_blocks(0, 4 * 4096), 3);
        assert_eq!(f.fit(0, 4 * 4096, 3), 4 * 4096);
        // One free block: block 0 fits, block 1 already there, block 2 does not.
        assert_eq!(f.fit(0, 4 * 4096, 1), 2 * 4096);
        assert_eq!(f.fit(100, 4 * 4096, 0), 0);
        assert_eq!(f.fit(4096 + 10, 100, 0), 100);
    }
}
