//! The partition: a capacity in bytes, what the live inodes use of it, and file size limits.
//!
//! Used bytes are the allocated blocks of every live inode (one that a name, fd or map still
//! holds), as `df` reports them; apparent sizes cost nothing. A write that needs more blocks
//! than are free behaves as on ext4: it writes the whole blocks that fit and returns a short
//! count, and only a write that fits nothing fails with `ENOSPC`.

/// 1 TiB: the default capacity.
pub const DEFAULT_CAPACITY: u64 = 1 << 40;
/// 16 TiB: ext4's largest file with 4 KiB blocks, the default `max_file_size`.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 16 << 40;

/// Apparent size and allocated bytes of one inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sizes {
    pub apparent: u64,
    pub allocated: u64,
}

/// Capacity and usage, with the largest live file's sizes.
///
/// The maxima are kept as running values; when the file holding one shrinks or goes, they
/// are marked stale and the owner recounts them from its inodes ([`Partition::recount`]).
/// Growth, the common case, costs two comparisons.
#[derive(Debug, Clone)]
pub struct Partition {
    pub capacity: u64,
    used: u64,
    largest: Sizes,
    stale: bool,
}

impl Partition {
    pub fn new(capacity: u64) -> Self {
        Partition {
            capacity,
            used: 0,
            largest: Sizes::default(),
            stale: false,
        }
    }

    pub fn used(&self) -> u64 {
        self.used
    }

    /// Whole blocks still free.
    pub fn free_blocks(&self, block_size: u64) -> u64 {
        self.capacity.saturating_sub(self.used) / block_size.max(1)
    }

    fn grow_max(&mut self, s: Sizes) {
        self.largest.apparent = self.largest.apparent.max(s.apparent);
        self.largest.allocated = self.largest.allocated.max(s.allocated);
    }

    fn maybe_stale(&mut self, old: Sizes, new: Sizes) {
        if (old.apparent >= self.largest.apparent && new.apparent < old.apparent)
            || (old.allocated >= self.largest.allocated && new.allocated < old.allocated)
        {
            self.stale = true;
        }
    }

    /// A live inode appears with `s`.
    pub fn add(&mut self, s: Sizes) {
        self.used += s.allocated;
        self.grow_max(s);
    }

    /// A live inode with `s` goes (its blocks are freed).
    pub fn remove(&mut self, s: Sizes) {
        self.used = self.used.saturating_sub(s.allocated);
        self.maybe_stale(s, Sizes::default());
    }

    /// A live inode changed from `old` to `new`.
    pub fn change(&mut self, old: Sizes, new: Sizes) {
        self.used = (self.used + new.allocated).saturating_sub(old.allocated);
        self.maybe_stale(old, new);
        self.grow_max(new);
    }

    /// Whether the maxima need a [`Partition::recount`].
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// Set the maxima from the sizes of every live inode.
    pub fn recount(&mut self, live: impl Iterator<Item = Sizes>) {
        self.largest = Sizes::default();
        for s in live {
            self.grow_max(s);
        }
        self.stale = false;
    }

    /// The largest apparent size and the most bytes allocated of any live file (recount
    /// first if [`Partition::is_stale`]).
    pub fn largest(&self) -> Sizes {
        self.largest
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
    fn usage_follows_changes_and_maxima_go_stale_when_the_largest_file_shrinks() {
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
        assert_eq!((p.used(), p.largest()), (12288, b));
        assert!(!p.is_stale());
        p.change(
            a,
            Sizes {
                apparent: 200,
                allocated: 4096,
            },
        );
        assert!(
            !p.is_stale(),
            "a smaller file changing leaves the maxima alone"
        );
        let b2 = Sizes {
            apparent: 10,
            allocated: 0,
        };
        p.change(b, b2);
        assert!(p.is_stale());
        p.recount(
            [
                Sizes {
                    apparent: 200,
                    allocated: 4096,
                },
                b2,
            ]
            .into_iter(),
        );
        assert_eq!(
            (p.used(), p.largest().apparent, p.largest().allocated),
            (4096, 200, 4096)
        );
        assert_eq!(p.free_blocks(4096), 255);
    }
}
