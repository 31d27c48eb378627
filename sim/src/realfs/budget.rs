//! The apparent-size budget: the sum of `st_size` over every inode under the root (and every
//! unlinked inode still held open), so that no experiment can fill the host's disk, even with
//! a sparse file whose apparent size dwarfs the disk.
//!
//! Sizes are tracked per inode as `RealFs` changes them and re-read from the kernel (`fstat`)
//! before every growth check, so the check costs one syscall, never a directory walk. The
//! one walk is at start-up, to count files already under the root.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::vfs::{Errno, VfsError, VfsResult};

/// An inode's identity: device and inode number.
pub(crate) type InodeKey = (u64, u64);

#[derive(Debug)]
pub(crate) struct Budget {
    limit: u64,
    sizes: HashMap<InodeKey, u64>,
    /// u128: files found at start-up are not bounded by the budget, and must not overflow it.
    total: u128,
}

impl Budget {
    /// A budget of `limit` bytes, already charged with every regular file under `root`.
    pub(crate) fn scan(root: &Path, limit: u64) -> io::Result<Budget> {
        let mut b = Budget {
            limit,
            sizes: HashMap::new(),
            total: 0,
        };
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let md = entry.metadata()?;
                if md.is_dir() {
                    stack.push(entry.path());
                } else if md.is_file() {
                    b.set((md.dev(), md.ino()), md.size());
                }
            }
        }
        Ok(b)
    }

    /// Record an inode's current apparent size.
    pub(crate) fn set(&mut self, key: InodeKey, size: u64) {
        let old = self.sizes.insert(key, size).unwrap_or(0);
        self.total = self.total - u128::from(old) + u128::from(size);
    }

    /// The inode is gone (no name, no handle): stop charging for it.
    pub(crate) fn forget(&mut self, key: InodeKey) {
        if let Some(old) = self.sizes.remove(&key) {
            self.total -= u128::from(old);
        }
    }

    /// Refuse, with ENOSPC, growing the inode from `current` to `new_size` bytes if the
    /// total would pass the limit. Shrinking and staying put always pass.
    pub(crate) fn check_grow(
        &mut self,
        key: InodeKey,
        current: u64,
        new_size: u64,
    ) -> VfsResult<()> {
        self.set(key, current);
        if new_size <= current {
            return Ok(());
        }
        let after = self.total - u128::from(current) + u128::from(new_size);
        if after <= u128::from(self.limit) {
            Ok(())
        } else {
            Err(VfsError::new(
                Errno::NoSpc,
                format!(
                    "RealFs budget: growing a file to {new_size} bytes would take the apparent \
                     total past {} bytes (now {})",
                    self.limit, self.total
                ),
            ))
        }
    }

    /// The apparent bytes charged now (saturating at `u64::MAX`).
    pub(crate) fn total(&self) -> u64 {
        u64::try_from(self.total).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_past_the_limit_is_refused_and_shrinking_is_not() {
        let mut b = Budget {
            limit: 100,
            sizes: HashMap::new(),
            total: 0,
        };
        b.set((1, 1), 60);
        assert!(b.check_grow((1, 2), 0, 40).is_ok());
        b.set((1, 2), 40);
        assert_eq!(
            b.check_grow((1, 2), 40, 41).unwrap_err().errno,
            Errno::NoSpc
        );
        assert!(b.check_grow((1, 1), 60, 0).is_ok());
        b.forget((1, 1));
        assert_eq!(b.total(), 40);
        assert_eq!(
            b.check_grow((1, 3), 0, u64::MAX).unwrap_err().errno,
            Errno::NoSpc
        );
    }
}
