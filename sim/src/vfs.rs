//! `Vfs`: the POSIX-shaped surface that the engine is written against.
//!
//! Two implementations stand behind it: [`crate::SimFs`] (deterministic, in memory) and
//! [`crate::RealFs`] (the real kernel, confined to one directory). The engine cannot tell them
//! apart. Every call names the simulated process that makes it, so that one filesystem can be
//! shared by imapd, lmtpd and cyr_expire with fd tables, locks and maps of their own.
//!
//! Nothing a caller does can panic an implementation: bad fds, bad maps, offsets past any
//! limit and conflicting locks all come back as [`VfsError`] values.

use std::fmt;

/// A simulated process. Created by [`Vfs::spawn`]; its fds, locks and maps die with
/// [`Vfs::kill`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid(pub u32);

/// A file descriptor in one process's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fd(pub u32);

/// A mapping made by one process with [`Vfs::mmap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MapId(pub u32);

/// errno-like error kinds. Names follow the errno they stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Errno {
    /// ENOENT: no such file.
    NoEnt,
    /// EEXIST: `O_CREAT|O_EXCL` on an existing name.
    Exist,
    /// EBADF: the fd is not open in this process, or not open for this kind of access.
    BadF,
    /// EINVAL: a bad argument (negative seek, zero-length map, unknown map id).
    Inval,
    /// ENOSPC: the partition has no room for the blocks this write would allocate.
    NoSpc,
    /// EFBIG: an offset past the largest file size the filesystem supports.
    FBig,
    /// EIO: an injected (or real) I/O error.
    Io,
    /// EAGAIN/EWOULDBLOCK: a lock held by another process. Blocking requests get it too:
    /// a simulation never blocks a thread, the scheduler parks the process and retries.
    WouldBlock,
    /// ESRCH: the process does not exist (never spawned, or killed).
    Srch,
    /// SIGSEGV-class fault: a read through a map at or past the map's length.
    Segv,
    /// SIGBUS-class fault: a read through a map of a page wholly past the file's current end.
    Bus,
    /// EACCES/EPERM, or a path that escapes the root of a confined filesystem.
    Acces,
    /// Anything else the real kernel said, with its raw errno.
    Other(i32),
}

impl Errno {
    /// The name of the errno (or signal) this kind stands for.
    pub fn name(self) -> &'static str {
        match self {
            Errno::NoEnt => "ENOENT",
            Errno::Exist => "EEXIST",
            Errno::BadF => "EBADF",
            Errno::Inval => "EINVAL",
            Errno::NoSpc => "ENOSPC",
            Errno::FBig => "EFBIG",
            Errno::Io => "EIO",
            Errno::WouldBlock => "EWOULDBLOCK",
            Errno::Srch => "ESRCH",
            Errno::Segv => "SIGSEGV",
            Errno::Bus => "SIGBUS",
            Errno::Acces => "EACCES",
            Errno::Other(_) => "EOTHER",
        }
    }
}

/// An error from a [`Vfs`] call: the kind, and what was being done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VfsError {
    pub errno: Errno,
    pub context: String,
}

impl VfsError {
    pub fn new(errno: Errno, context: impl Into<String>) -> Self {
        VfsError {
            errno,
            context: context.into(),
        }
    }
}

impl fmt::Display for VfsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.errno.name(), self.context)
    }
}

impl std::error::Error for VfsError {}

pub type VfsResult<T> = Result<T, VfsError>;

/// Flags for [`Vfs::open`], as `open(2)` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OpenFlags {
    pub read: bool,
    pub write: bool,
    pub create: bool,
    pub exclusive: bool,
    pub truncate: bool,
    pub append: bool,
}

impl OpenFlags {
    /// `O_RDONLY`.
    pub const RDONLY: OpenFlags = OpenFlags {
        read: true,
        write: false,
        create: false,
        exclusive: false,
        truncate: false,
        append: false,
    };
    /// `O_RDWR`.
    pub const RDWR: OpenFlags = OpenFlags {
        read: true,
        write: true,
        ..OpenFlags::RDONLY
    };
    /// `O_RDWR|O_CREAT`.
    pub const RDWR_CREATE: OpenFlags = OpenFlags {
        create: true,
        ..OpenFlags::RDWR
    };
    /// `O_RDWR|O_CREAT|O_TRUNC`: what Cyrus uses for every `.NEW` file.
    pub const RDWR_CREATE_TRUNC: OpenFlags = OpenFlags {
        truncate: true,
        ..OpenFlags::RDWR_CREATE
    };
    /// `O_RDWR|O_CREAT|O_EXCL`.
    pub const RDWR_CREATE_EXCL: OpenFlags = OpenFlags {
        exclusive: true,
        ..OpenFlags::RDWR_CREATE
    };
}

/// `whence` for [`Vfs::lseek`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Whence {
    Set,
    Cur,
    End,
}

/// What `fstat`/`stat` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Stat {
    /// Inode number; stable while the inode lives.
    pub ino: u64,
    /// Apparent size (`st_size`).
    pub size: u64,
    /// Allocated bytes (`st_blocks * 512`), block granular.
    pub allocated: u64,
}

/// fcntl-style record lock kinds (whole-file locks: Cyrus locks whole files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockKind {
    /// `F_RDLCK`.
    Shared,
    /// `F_WRLCK`.
    Exclusive,
}

/// The POSIX-shaped filesystem both `SimFs` and `RealFs` implement.
///
/// Paths are relative to the filesystem's root and use `/`; a path that escapes the root
/// (`..`, absolute) is refused with [`Errno::Acces`]. Directories are created implicitly by
/// the first file beneath them.
pub trait Vfs {
    /// Start a simulated process called `name` (for traces: "imapd", "cyr_expire", ...).
    fn spawn(&mut self, name: &str) -> Pid;
    /// Kill a process: close its fds, drop its locks and maps. The disk is left as it is.
    fn kill(&mut self, pid: Pid) -> VfsResult<()>;

    fn open(&mut self, pid: Pid, path: &str, flags: OpenFlags) -> VfsResult<Fd>;
    /// Close an fd. As POSIX says, this drops every lock the process holds on that file,
    /// whichever fd took it.
    fn close(&mut self, pid: Pid, fd: Fd) -> VfsResult<()>;

    /// `read(2)` at the fd's position, advancing it. Returns 0 at or past EOF.
    fn read(&mut self, pid: Pid, fd: Fd, buf: &mut [u8]) -> VfsResult<usize>;
    /// `write(2)` at the fd's position (at EOF with `append`), advancing it. Writing past EOF
    /// leaves a hole. May be short when the partition fills.
    fn write(&mut self, pid: Pid, fd: Fd, data: &[u8]) -> VfsResult<usize>;
    /// `pread(2)`: read at `offset` without moving the position.
    fn pread(&mut self, pid: Pid, fd: Fd, buf: &mut [u8], offset: u64) -> VfsResult<usize>;
    /// `pwrite(2)`: write at `offset` without moving the position.
    fn pwrite(&mut self, pid: Pid, fd: Fd, data: &[u8], offset: u64) -> VfsResult<usize>;
    /// `lseek(2)`; seeking past EOF is allowed and allocates nothing.
    fn lseek(&mut self, pid: Pid, fd: Fd, offset: i64, whence: Whence) -> VfsResult<u64>;

    fn fstat(&mut self, pid: Pid, fd: Fd) -> VfsResult<Stat>;
    fn stat(&mut self, path: &str) -> VfsResult<Stat>;
    fn ftruncate(&mut self, pid: Pid, fd: Fd, len: u64) -> VfsResult<()>;
    /// Make the file's data and size durable (not its directory entry).
    fn fsync(&mut self, pid: Pid, fd: Fd) -> VfsResult<()>;
    /// Make the directory entries under `dir` ("" for the root) durable: creations, renames
    /// and unlinks in it survive power loss only after this.
    fn fsync_dir(&mut self, pid: Pid, dir: &str) -> VfsResult<()>;
    /// Atomic `rename(2)`; replaces `to`. Open fds keep the inode they had.
    fn rename(&mut self, pid: Pid, from: &str, to: &str) -> VfsResult<()>;
    /// `unlink(2)`; the inode lives on while an fd or map holds it.
    fn unlink(&mut self, pid: Pid, path: &str) -> VfsResult<()>;
    /// The names directly inside `dir` ("" for the root), sorted; subdirectories end in `/`.
    fn list(&mut self, dir: &str) -> VfsResult<Vec<String>>;

    /// Take a whole-file fcntl lock. `wait` asks for `F_SETLKW`; a conflict then gives
    /// [`Errno::WouldBlock`] all the same (the caller's scheduler waits, not the thread).
    fn lock(&mut self, pid: Pid, fd: Fd, kind: LockKind, wait: bool) -> VfsResult<()>;
    /// Release this process's lock on the fd's file.
    fn unlock(&mut self, pid: Pid, fd: Fd) -> VfsResult<()>;

    /// `mmap(PROT_READ, MAP_SHARED)` of the first `len` bytes of the fd's file. The map keeps
    /// the inode alive and keeps its length whatever happens to the file.
    fn mmap(&mut self, pid: Pid, fd: Fd, len: u64) -> VfsResult<MapId>;
    /// Read `buf.len()` bytes at `offset` through a map. Reading at or past the map's length
    /// is [`Errno::Segv`]; touching a page wholly past the file's current end is
    /// [`Errno::Bus`]. What the bytes are depends on the coherence mode.
    fn map_read(&mut self, pid: Pid, map: MapId, offset: u64, buf: &mut [u8]) -> VfsResult<()>;
    /// The length the map was made with.
    fn map_len(&self, pid: Pid, map: MapId) -> VfsResult<u64>;
    fn munmap(&mut self, pid: Pid, map: MapId) -> VfsResult<()>;

    /// An optimisation hint, not a syscall: the first offset at or after `offset` where a
    /// read through `map` might return a non-zero byte (the map's length if none). Callers
    /// may skip reading `[offset, result)`, which reads as zeros. The default knows nothing
    /// and returns `offset`. Never traced.
    fn map_next_data(&mut self, pid: Pid, map: MapId, offset: u64) -> VfsResult<u64> {
        let _ = (pid, map);
        Ok(offset)
    }
}
