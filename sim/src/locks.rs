//! Whole-file fcntl locks (`F_SETLK`/`F_SETLKW`), one per (process, inode).
//!
//! Models classic POSIX record locks as Cyrus 2.3 uses them (`lock_blocking`, `lock_shared`
//! on whole files): shared locks coexist, an exclusive lock excludes every other process, and
//! a process may upgrade or downgrade its own lock freely. Locks belong to the process, not
//! the fd, so closing *any* fd of a file drops the process's lock on it, and a dead process
//! holds none. A blocking request that conflicts is not slept on: the `Vfs` returns
//! `EWOULDBLOCK` and the scheduler parks the process and retries later.

use std::collections::BTreeMap;

use crate::vfs::{LockKind, Pid};

/// The locks held on one inode.
#[derive(Debug, Clone, Default)]
pub struct Locks(BTreeMap<Pid, LockKind>);

impl Locks {
    /// Take or change `pid`'s lock; on conflict, the first other holder in the way.
    pub fn request(&mut self, pid: Pid, kind: LockKind) -> Result<(), (Pid, LockKind)> {
        let conflict = self
            .0
            .iter()
            .find(|&(&other, &held)| {
                other != pid && (kind == LockKind::Exclusive || held == LockKind::Exclusive)
            })
            .map(|(&p, &k)| (p, k));
        match conflict {
            Some(c) => Err(c),
            None => {
                self.0.insert(pid, kind);
                Ok(())
            }
        }
    }

    /// Drop `pid`'s lock, if it holds one.
    pub fn release(&mut self, pid: Pid) -> bool {
        self.0.remove(&pid).is_some()
    }

    pub fn held_by(&self, pid: Pid) -> Option<LockKind> {
        self.0.get(&pid).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LockKind::{Exclusive as Ex, Shared as Sh};

    #[test]
    fn conflict_matrix_between_two_processes() {
        for (first, second, ok) in [
            (Sh, Sh, true),
            (Sh, Ex, false),
            (Ex, Sh, false),
            (Ex, Ex, false),
        ] {
            let mut l = Locks::default();
            l.request(Pid(1), first).unwrap();
            assert_eq!(
                l.request(Pid(2), second).is_ok(),
                ok,
                "{first:?} then {second:?}"
            );
        }
    }

    #[test]
    fn a_process_upgrades_and_downgrades_its_own_lock() {
        let mut l = Locks::default();
        l.request(Pid(1), Sh).unwrap();
        l.request(Pid(1), Ex).unwrap();
        assert_eq!(l.request(Pid(2), Sh), Err((Pid(1), Ex)));
        l.request(Pid(1), Sh).unwrap();
        l.request(Pid(2), Sh).unwrap();
        assert_eq!(l.request(Pid(1), Ex), Err((Pid(2), Sh)));
        assert!(l.release(Pid(2)));
        l.request(Pid(1), Ex).unwrap();
        assert_eq!(l.held_by(Pid(1)), Some(Ex));
    }
}
