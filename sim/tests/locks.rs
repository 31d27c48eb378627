//! fcntl locks as Cyrus relies on them: per process, whole file, dropped by any close.

use sim::{Errno, EventKind, Fd, LockKind, OpenFlags, Pid, SimFs, Vfs};

fn two_processes() -> (SimFs, (Pid, Fd), (Pid, Fd)) {
    let mut fs = SimFs::default();
    let a = fs.spawn("imapd");
    let b = fs.spawn("cyr_expire");
    let fa = fs
        .open(a, "user/joe/cyrus.index", OpenFlags::RDWR_CREATE)
        .unwrap();
    let fb = fs.open(b, "user/joe/cyrus.index", OpenFlags::RDWR).unwrap();
    (fs, (a, fa), (b, fb))
}

#[test]
fn shared_and_exclusive_locks_conflict_only_between_processes() {
    use LockKind::{Exclusive as Ex, Shared as Sh};
    for (first, second, ok) in [
        (Sh, Sh, true),
        (Sh, Ex, false),
        (Ex, Sh, false),
        (Ex, Ex, false),
    ] {
        let (mut fs, (a, fa), (b, fb)) = two_processes();
        fs.lock(a, fa, first, false).unwrap();
        let r = fs.lock(b, fb, second, false);
        assert_eq!(r.is_ok(), ok, "{first:?} then {second:?}");
        if let Err(e) = r {
            assert_eq!(e.errno, Errno::WouldBlock);
            assert!(
                e.context.contains("imapd[1]"),
                "the error names the holder: {e}"
            );
        }
        // Alone, a process may always change its own lock.
        fs.unlock(b, fb).unwrap();
        fs.lock(a, fa, Ex, false).unwrap();
        fs.lock(a, fa, Sh, false).unwrap();
    }
}

#[test]
fn a_blocking_request_that_conflicts_returns_wouldblock_and_records_a_wait() {
    let (mut fs, (a, fa), (b, fb)) = two_processes();
    fs.lock(a, fa, LockKind::Exclusive, true).unwrap();
    assert!(fs.events().is_empty());
    let e = fs.lock(b, fb, LockKind::Shared, true).unwrap_err();
    assert_eq!(e.errno, Errno::WouldBlock);
    assert_eq!(
        fs.events().last().map(|e| e.kind),
        Some(EventKind::LockWait)
    );
    let n = fs.events().len();
    fs.lock(b, fb, LockKind::Shared, false).unwrap_err();
    assert_eq!(fs.events().len(), n, "a non-blocking try is not a wait");
}

#[test]
fn closing_any_fd_of_the_file_drops_the_process_lock() {
    let (mut fs, (a, fa), (b, fb)) = two_processes();
    let other = fs
        .open(a, "user/joe/cyrus.index", OpenFlags::RDONLY)
        .unwrap();
    fs.lock(a, fa, LockKind::Exclusive, false).unwrap();
    fs.close(a, other).unwrap(); // not the fd that took the lock
    fs.lock(b, fb, LockKind::Exclusive, false).unwrap();
}

#[test]
fn closing_a_fd_of_another_file_keeps_the_lock() {
    let (mut fs, (a, fa), (b, fb)) = two_processes();
    let unrelated = fs
        .open(a, "user/joe/cyrus.cache", OpenFlags::RDWR_CREATE)
        .unwrap();
    fs.lock(a, fa, LockKind::Exclusive, false).unwrap();
    fs.close(a, unrelated).unwrap();
    assert_eq!(
        fs.lock(b, fb, LockKind::Shared, false).unwrap_err().errno,
        Errno::WouldBlock
    );
}

#[test]
fn kill_and_unlock_drop_locks() {
    let (mut fs, (a, fa), (b, fb)) = two_processes();
    fs.lock(a, fa, LockKind::Exclusive, false).unwrap();
    fs.unlock(a, fa).unwrap();
    fs.lock(b, fb, LockKind::Exclusive, false).unwrap();
    fs.kill(b).unwrap();
    fs.lock(a, fa, LockKind::Exclusive, false).unwrap();
    assert_eq!(
        fs.lock(b, fb, LockKind::Shared, false).unwrap_err().errno,
        Errno::Srch
    );
}

#[test]
fn lock_kinds_need_matching_access() {
    let mut fs = SimFs::default();
    let p = fs.spawn("imapd");
    let w = fs.open(p, "f", OpenFlags::RDWR_CREATE).unwrap();
    fs.close(p, w).unwrap();
    let r = fs.open(p, "f", OpenFlags::RDONLY).unwrap();
    assert_eq!(
        fs.lock(p, r, LockKind::Exclusive, false).unwrap_err().errno,
        Errno::BadF
    );
    fs.lock(p, r, LockKind::Shared, false).unwrap();
}
