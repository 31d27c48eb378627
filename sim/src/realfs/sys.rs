//! Thin wrappers over the few syscalls `RealFs` makes through libc rather than std: `open(2)`
//! with the exact flags the caller gave, `lseek(2)`, and open-file-description locks.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::vfs::{Errno, LockKind, OpenFlags, VfsError, Whence};

/// The access mode `open(2)` gets for these flags. Neither `read` nor `write` is `O_RDONLY`,
/// as in C, where `O_RDONLY` is 0.
pub(crate) fn access_mode(flags: OpenFlags) -> libc::c_int {
    match (flags.read, flags.write) {
        (true, true) => libc::O_RDWR,
        (_, true) => libc::O_WRONLY,
        _ => libc::O_RDONLY,
    }
}

pub(crate) fn readable(flags: OpenFlags) -> bool {
    access_mode(flags) != libc::O_WRONLY
}

pub(crate) fn writable(flags: OpenFlags) -> bool {
    access_mode(flags) != libc::O_RDONLY
}

/// `open(2)` with the caller's flags, unvalidated: std's `OpenOptions` refuses combinations
/// the kernel accepts (`O_RDONLY|O_CREAT`, `O_RDONLY|O_TRUNC`), and the kernel is the judge here.
pub(crate) fn open(path: &Path, flags: OpenFlags) -> io::Result<File> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut oflags = access_mode(flags) | libc::O_CLOEXEC;
    if flags.create {
        oflags |= libc::O_CREAT;
    }
    if flags.exclusive {
        oflags |= libc::O_EXCL;
    }
    if flags.truncate {
        oflags |= libc::O_TRUNC;
    }
    if flags.append {
        oflags |= libc::O_APPEND;
    }
    // SAFETY: `c` is a valid NUL-terminated string; the mode is a plain integer.
    let fd = unsafe { libc::open(c.as_ptr(), oflags, 0o644 as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by open(2) and nothing else owns it.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// `lseek(2)` on the file's own open file description. A position that would be negative
/// is EINVAL from the kernel.
pub(crate) fn lseek(file: &File, offset: i64, whence: Whence) -> io::Result<u64> {
    let w = match whence {
        Whence::Set => libc::SEEK_SET,
        Whence::Cur => libc::SEEK_CUR,
        Whence::End => libc::SEEK_END,
    };
    // SAFETY: plain syscall on an fd we own.
    let r = unsafe { libc::lseek(file.as_raw_fd(), offset as libc::off_t, w) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r as u64)
}

/// What an open-file-description lock call should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockOp {
    Set(LockKind),
    Unlock,
}

/// `fcntl(F_OFD_SETLK)` on the whole file. Never `F_OFD_SETLKW`: that would block the one
/// thread that runs every simulated process.
pub(crate) fn ofd_setlk(file: &File, op: LockOp) -> io::Result<()> {
    let l_type = match op {
        LockOp::Set(LockKind::Shared) => libc::F_RDLCK,
        LockOp::Set(LockKind::Exclusive) => libc::F_WRLCK,
        LockOp::Unlock => libc::F_UNLCK,
    };
    // SAFETY: `flock` is plain old data; all-zero is a valid value (and l_pid must be 0 for
    // OFD locks).
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = l_type as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = 0;
    fl.l_len = 0;
    fl.l_pid = 0;
    // SAFETY: `fl` lives across the call; the fd is owned by `file`.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &fl) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The system page size; mappings fault page by page.
pub(crate) fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ps = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if ps > 0 { ps as u64 } else { 4096 }
}

/// The `Errno` kind of a real I/O error.
pub(crate) fn errno_of(e: &io::Error) -> Errno {
    match e.raw_os_error() {
        Some(libc::ENOENT) => Errno::NoEnt,
        Some(libc::EEXIST) => Errno::Exist,
        Some(libc::ENOSPC) => Errno::NoSpc,
        Some(libc::EFBIG) => Errno::FBig,
        Some(libc::EBADF) => Errno::BadF,
        Some(libc::EINVAL) => Errno::Inval,
        Some(libc::EIO) => Errno::Io,
        Some(libc::EACCES) | Some(libc::EPERM) => Errno::Acces,
        Some(libc::EAGAIN) => Errno::WouldBlock,
        Some(raw) => Errno::Other(raw),
        // std's own refusals (a NUL in a path, a bad argument) carry no errno.
        None => match e.kind() {
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => Errno::Inval,
            io::ErrorKind::NotFound => Errno::NoEnt,
            io::ErrorKind::AlreadyExists => Errno::Exist,
            io::ErrorKind::PermissionDenied => Errno::Acces,
            _ => Errno::Io,
        },
    }
}

/// An I/O error as a `VfsError`, with what was being done.
pub(crate) fn err(e: io::Error, context: impl std::fmt::Display) -> VfsError {
    VfsError::new(errno_of(&e), format!("{context}: {e}"))
}

/// A lock call's error: a conflicting lock is EAGAIN or EACCES (POSIX allows both).
pub(crate) fn lock_err(e: io::Error, context: impl std::fmt::Display) -> VfsError {
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => {
            VfsError::new(Errno::WouldBlock, format!("{context}: {e}"))
        }
        _ => err(e, context),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_mapping_follows_the_errno_names() {
        let k = |raw| errno_of(&io::Error::from_raw_os_error(raw));
        assert_eq!(k(libc::ENOENT), Errno::NoEnt);
        assert_eq!(k(libc::EPERM), Errno::Acces);
        assert_eq!(k(libc::EWOULDBLOCK), Errno::WouldBlock);
        assert_eq!(k(libc::EISDIR), Errno::Other(libc::EISDIR));
        let lock = lock_err(io::Error::from_raw_os_error(libc::EACCES), "lock");
        assert_eq!(lock.errno, Errno::WouldBlock);
    }
}
