//! Which fd holds each process's lock on each inode.
//!
//! Open-file-description locks belong to the fd, not the process, so two fds of one process
//! would conflict with each other and closing one fd would leave the other's lock alone. POSIX
//! fcntl locks belong to the process. This table restores the POSIX rules: a process's
//! lock on a file lives on exactly one of its fds (relocking converts on that fd), and closing
//! any fd of the file releases it.

use std::collections::BTreeMap;

use super::budget::InodeKey;
use crate::vfs::{Fd, LockKind, Pid};

#[derive(Debug, Default)]
pub(crate) struct Locks {
    held: BTreeMap<(Pid, InodeKey), (Fd, LockKind)>,
}

impl Locks {
    /// The fd through which `pid` holds its lock on the inode, and the lock's kind.
    pub(crate) fn held(&self, pid: Pid, key: InodeKey) -> Option<(Fd, LockKind)> {
        self.held.get(&(pid, key)).copied()
    }

    pub(crate) fn set(&mut self, pid: Pid, key: InodeKey, fd: Fd, kind: LockKind) {
        self.held.insert((pid, key), (fd, kind));
    }

    pub(crate) fn forget(&mut self, pid: Pid, key: InodeKey) {
        self.held.remove(&(pid, key));
    }

    /// Every inode `pid` holds a lock on, with the holding fd.
    pub(crate) fn of_process(&self, pid: Pid) -> Vec<(InodeKey, Fd)> {
        self.held
            .iter()
            .filter(|((p, _), _)| *p == pid)
            .map(|((_, k), (fd, _))| (*k, *fd))
            .collect()
    }
}
