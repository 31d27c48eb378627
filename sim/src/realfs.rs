//! `RealFs`: the [`Vfs`] calls on the real kernel, confined to one directory.
//!
//! The twin of `SimFs`, used to check the simulator against Linux (the differential test) and
//! to run the engine on real files. Every simulated process gets its own fd table of real
//! `File`s (each trait fd is its own open file description, so positions are the kernel's),
//! its own maps (`memmap2`, `PROT_READ`, `MAP_SHARED`) and its own lock owner
//! (open-file-description locks, `F_OFD_SETLK`).
//!
//! What a real kernel would do that a test process cannot survive is refused before it happens:
//! a map read past the map's length is [`Errno::Segv`], a page wholly past EOF is
//! [`Errno::Bus`], and any growth past the apparent-size budget is [`Errno::NoSpc`].
//!
//! Limits: paths are checked lexically (no `..`, not absolute); a symlink planted under the
//! root by someone else could still lead out of it. Inodes are keyed by (device, inode).

mod budget;
mod locks;
mod sys;

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::vfs::{Errno, Fd, MapId, OpenFlags, Pid, Stat, VfsError, VfsResult, Whence};
use budget::{Budget, InodeKey};
use locks::Locks;
use sys::err;

/// Knobs of a [`RealFs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealConfig {
    /// The most bytes of APPARENT size (sum of `st_size` over the files under the root, and
    /// unlinked files still open) that the filesystem may reach. A `write`, `pwrite`,
    /// `ftruncate` that would pass it is refused with [`Errno::NoSpc`] and does nothing: a
    /// sparse 3.4e11-byte file is refused even though it would cost the disk a few KiB.
    /// Default: 1 GiB.
    pub budget_bytes: u64,
}

impl Default for RealConfig {
    fn default() -> Self {
        RealConfig {
            budget_bytes: 1 << 30,
        }
    }
}

/// One open file description.
#[derive(Debug)]
struct OpenFile {
    file: File,
    key: InodeKey,
    flags: OpenFlags,
}

/// One mapping: the memory, and a handle on its file (so an unlink or a close leaves the map
/// readable, and `map_read` can ask the file's current size).
#[derive(Debug)]
struct Map {
    mmap: Mmap,
    file: File,
    key: InodeKey,
    len: u64,
}

#[derive(Debug)]
struct Proc {
    name: String,
    /// Map ids count from 1 in each process, as in SimFs.
    next_map: u32,
    fds: BTreeMap<Fd, OpenFile>,
    maps: BTreeMap<MapId, Map>,
}

/// The real filesystem under one root directory. See the module documentation.
#[derive(Debug)]
pub struct RealFs {
    root: PathBuf,
    cfg: RealConfig,
    page_size: u64,
    next_pid: u32,
    procs: BTreeMap<Pid, Proc>,
    budget: Budget,
    locks: Locks,
}

/// The first fd a process gets: 0, 1 and 2 are stdin, stdout and stderr.
const FIRST_FD: u32 = 3;

fn key_of(md: &std::fs::Metadata) -> InodeKey {
    (md.dev(), md.ino())
}

fn stat_of(md: &std::fs::Metadata) -> Stat {
    Stat {
        ino: md.ino(),
        size: md.size(),
        allocated: md.blocks() * 512,
    }
}

impl RealFs {
    /// A filesystem confined to `root` (created if missing), charged at start with the files
    /// already there.
    pub fn new(root: &Path, cfg: RealConfig) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let budget = Budget::scan(&root, cfg.budget_bytes)?;
        Ok(RealFs {
            root,
            cfg,
            page_size: sys::page_size(),
            next_pid: 1,
            procs: BTreeMap::new(),
            budget,
            locks: Locks::default(),
        })
    }

    /// The root directory every path is relative to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config(&self) -> RealConfig {
        self.cfg
    }

    /// The apparent bytes charged against the budget now.
    pub fn apparent_total(&self) -> u64 {
        self.budget.total()
    }

    /// The name a process was spawned with.
    pub fn process_name(&self, pid: Pid) -> Option<&str> {
        self.procs.get(&pid).map(|p| p.name.as_str())
    }

    /// The real path of `path`, refused with EACCES if it could leave the root.
    fn resolve(&self, path: &str) -> VfsResult<PathBuf> {
        if path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return Err(VfsError::new(
                Errno::Acces,
                format!("path {path:?} escapes the RealFs root"),
            ));
        }
        Ok(self.root.join(path))
    }

    fn proc(&self, pid: Pid) -> VfsResult<&Proc> {
        self.procs
            .get(&pid)
            .ok_or_else(|| VfsError::new(Errno::Srch, format!("no process {}", pid.0)))
    }

    fn proc_mut(&mut self, pid: Pid) -> VfsResult<&mut Proc> {
        self.procs
            .get_mut(&pid)
            .ok_or_else(|| VfsError::new(Errno::Srch, format!("no process {}", pid.0)))
    }

    fn fd(&self, pid: Pid, fd: Fd) -> VfsResult<&OpenFile> {
        self.proc(pid)?.fds.get(&fd).ok_or_else(|| {
            VfsError::new(
                Errno::BadF,
                format!("fd {} not open in process {}", fd.0, pid.0),
            )
        })
    }

    fn map(&self, pid: Pid, map: MapId) -> VfsResult<&Map> {
        self.proc(pid)?.maps.get(&map).ok_or_else(|| {
            VfsError::new(
                Errno::Inval,
                format!("no map {} in process {}", map.0, pid.0),
            )
        })
    }

    /// How many fds and maps, in any process, hold the inode.
    fn handles_on(&self, key: InodeKey) -> usize {
        self.procs
            .values()
            .map(|p| {
                p.fds.values().filter(|f| f.key == key).count()
                    + p.maps.values().filter(|m| m.key == key).count()
            })
            .sum()
    }

    /// A handle on `key` was just dropped (`file` is still open): if that was the last
    /// handle and the inode has no name left, it is gone and no longer charged.
    fn release(&mut self, key: InodeKey, file: &File) {
        if self.handles_on(key) == 0 && file.metadata().map(|m| m.nlink() == 0).unwrap_or(true) {
            self.budget.forget(key);
        }
    }

    /// A name is about to go (unlink, or replaced by a rename): if nothing holds the inode,
    /// stop charging it.
    fn unname(&mut self, key: InodeKey) {
        if self.handles_on(key) == 0 {
            self.budget.forget(key);
        }
    }

    /// The file's size now, as the kernel says, re-synced into the budget.
    fn sync_size(&mut self, pid: Pid, fd: Fd) -> VfsResult<u64> {
        let of = self.fd(pid, fd)?;
        let key = of.key;
        let size = of.file.metadata().map_err(|e| err(e, "fstat"))?.size();
        self.budget.set(key, size);
        Ok(size)
    }

    /// Refuse with ENOSPC a write of `len` bytes at `offset` (None: at the fd's position)
    /// that would grow the file past the budget. Fds not open for writing pass: the kernel
    /// refuses those itself.
    fn check_write(&mut self, pid: Pid, fd: Fd, len: usize, offset: Option<u64>) -> VfsResult<()> {
        let of = self.fd(pid, fd)?;
        if !sys::writable(of.flags) || len == 0 {
            return Ok(());
        }
        let key = of.key;
        let size = of.file.metadata().map_err(|e| err(e, "fstat"))?.size();
        let start = match offset {
            Some(o) => o,
            None if of.flags.append => size,
            None => sys::lseek(&of.file, 0, Whence::Cur).map_err(|e| err(e, "lseek"))?,
        };
        let end = start.saturating_add(len as u64);
        self.budget.check_grow(key, size, end.max(size))
    }

    /// Drop every lock the process holds on the inode, whichever fd took it (POSIX close).
    /// Call it while the fds are still in the table.
    fn drop_locks_on(&mut self, pid: Pid, key: InodeKey) {
        if let Some((holder, _)) = self.locks.held(pid, key) {
            if let Some(of) = self.procs.get(&pid).and_then(|p| p.fds.get(&holder)) {
                // An unlock of a lock we hold cannot conflict; a failure leaves nothing to do.
                let _ = sys::ofd_setlk(&of.file, sys::LockOp::Unlock);
            }
            self.locks.forget(pid, key);
        }
    }
}

mod vfs_impl;
