//! A simulated POSIX filesystem for testing storage engines, and its real-filesystem twin.
//!
//! [`Vfs`] is the surface; `SimFs` models what real filesystems do to code that mixes
//! `write()` with an older `mmap` (coherence modes, mapping lengths), the page cache and
//! what survives power loss, sparse files, a partition that fills, fcntl locks and faults;
//! `RealFs` runs the same calls on the real kernel inside one directory.

pub mod realfs;
pub mod vfs;

pub use realfs::{RealConfig, RealFs};
pub use vfs::{Errno, Fd, LockKind, MapId, OpenFlags, Pid, Stat, Vfs, VfsError, VfsResult, Whence};
