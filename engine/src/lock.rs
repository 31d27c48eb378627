//! lib/lock_fcntl.c (cyrus-imapd-2.3.12-p1): whole-file fcntl locks.

use sim::{Fd, LockKind, OpenFlags, Stat};

use crate::cx::{CResult, Cx};

/// `lock_blocking(fd)`: F_SETLKW of an exclusive lock. A conflict comes back as
/// `CyrusError::Locked`: the scheduler parks the process and retries.
pub fn lock_blocking(cx: &mut Cx, fd: Fd) -> CResult<()> {
    let r = cx.fs.lock(cx.pid, fd, LockKind::Exclusive, true);
    r.map_err(|e| cx.check(e))
}

/// `lock_nonblocking(fd)`: F_SETLK of an exclusive lock.
pub fn lock_nonblocking(cx: &mut Cx, fd: Fd) -> CResult<()> {
    let r = cx.fs.lock(cx.pid, fd, LockKind::Exclusive, false);
    r.map_err(|e| cx.check(e))
}

/// `lock_unlock(fd)`.
pub fn lock_unlock(cx: &mut Cx, fd: Fd) -> CResult<()> {
    let r = cx.fs.unlock(cx.pid, fd);
    cx.ignore(r)?;
    Ok(())
}

/// `lock_reopen(fd, path, &sbuf, &failaction)`: lock, then make sure the fd still names the
/// file at `path`; if the file was replaced by a rename, reopen it and lock again.
/// Returns the (possibly new) fd and the stat of the locked file.
pub fn lock_reopen(cx: &mut Cx, fd: Fd, path: &str) -> CResult<(Fd, Stat)> {
    let mut fd = fd;
    loop {
        lock_blocking(cx, fd)?;
        let fdst = cx.fs.fstat(cx.pid, fd).map_err(|e| cx.check(e))?;
        let pathst = match cx.fs.stat(path) {
            Ok(s) => s,
            Err(e) => {
                lock_unlock(cx, fd)?;
                return Err(cx.check(e));
            }
        };
        if fdst.ino == pathst.ino {
            return Ok((fd, fdst));
        }
        let r = cx.fs.close(cx.pid, fd);
        cx.ignore(r)?;
        fd = cx
            .fs
            .open(cx.pid, path, OpenFlags::RDWR)
            .map_err(|e| cx.check(e))?;
    }
}
