//! The partition: a capacity in bytes, what the live inodes use of it, and file size limits.
//!
//! Used bytes are the allocated blocks of every live inode (one that a name, fd or map still
//! holds), as `df` reports them; apparent sizes cost nothing. A write that needs more blocks
//! than are free behaves as on ext4: it writes the whole blocks that fit and returns a short
//! count, and only a write that fits nothing fails with `ENOSPC`.

use std::collections::BTreeMap;

/// 1 TiB: the default capacity.
pub const DEFAULT_CAPACITY: u64 = 1 << 40;
/// 16 TiB: ext4's largest file with 4 KiB blocks, the default `max_file_size`.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 16 << 40;

/// A multiset of sizes, so the largest is known in O(log n) as sizes change.
#[derive(Debug, Clone, Default)]
struct Multiset(BTreeMap<u64, u32>);

impl Multiset {
    fn add(&mut self, v: u64) {
        *self.0.entry(v).or_insert(0) += 1;
    }

    fn remove(&mut self, v: u64) {
        if let Some(n) = self.0.get_mut(&v) {
            *n -= 1;
            if *n == 0 {
                self.0.remove(&v);
            }
        }
    }

    fn max(&self) -> u64 {
        self.0.keys().next_back().copied().unwrap_or(0)
    }
}

/// Apparent size and allocated bytes of one inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sizes {
    pub apparent: u64,
    pub allocated: u64,
}

/// Capacity and usage, with the largest live file tracked as sizes change.
#[derive(Debug, Clone)]
pub struct Partition {
    pub capacity: u64,
    used: u64,
    apparent: Multiset,
    allocated: Multiset,
}

impl Partition {
    pub fn new(capacity: u64) -> Self {
        Partition {
            capacity,
            used: 0,
            apparent: Multiset::default(),
            allocated: Multiset::default(),
        }
    }

    pub fn used(&self) -> u64 {
        self.used
    }

    /// Whole blocks still free.
    pub fn free_blocks(&self, block_size: u64) -> u64 {
        self.capacity.saturating_sub(self.used) / block_size.max(1)
    }

    /// A live inode appears with `s`.
    pub fn add(&mut self, s: Sizes) {
        self.used += s.allocated;
        self.apparent.add(s.apparent);
        self.allocated.add(s.allocated);
    }

    /// A live inode with `s` goes (its blocks are freed).
    pub fn remove(&mut self, s: Sizes) {
        self.used = self.used.saturating_sub(s.allocated);
        self.apparent.remove(s.apparent);
        self.allocated.remove(s.allocated);
    }

    /// A live inode changed from `old` to `new`.
    pub fn change(&mut self, old: Sizes, new: Sizes) {
        if old != new {
            self.remove(old);
            self.add(new);
        }
    }

    /// The largest apparent size of any live file.
    pub fn largest_apparent(&self) -> u64 {
        self.apparent.max()
    }

    /// The most bytes allocated to any one live file.
    pub fn largest_allocated(&self) -> u64 {
        self.allocated.max()
    }

    /// Forget every inode (before recounting after power loss).
    pub fn clear(&mut self) {
        *self = Partition::new(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_and_largest_files_follow_changes() {
        let mut p = Partition::new(1 << 20);
        let a = Sizes {
            apparent: 100,
            allocated: 4096,
        };
        let b = Sizes {
            apparent: 1 << 38,
            allocated: 8192,
        };
        p.add(a);
        p.add(b);
        assert_eq!(
            (p.used(), p.largest_apparent(), p.largest_allocated()),
            (12288, 1 << 38, 8192)
        );
        p.change(
            b,
            Sizes {
                apparent: 10,
                allocated: 0,
            },
        );
        assert_eq!(
            (p.used(), p.largest_apparent(), p.largest_allocated()),
            (4096, 100, 4096)
        );
        assert_eq!(p.free_blocks(4096), 255);
        p.remove(a);
        assert_eq!((p.used(), p.largest_apparent()), (0, 10));
    }
}
