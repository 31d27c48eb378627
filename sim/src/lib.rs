//! A simulated POSIX filesystem for testing storage engines, and its real-filesystem twin.
//!
//! [`Vfs`] is the surface; `SimFs` models what real filesystems do to code that mixes
//! `write()` with an older `mmap` (coherence modes, mapping lengths), the page cache and
//! what survives power loss, sparse files, a partition that fills, fcntl locks and faults;
//! `RealFs` runs the same calls on the real kernel inside one directory.
//!
//! `SimFs` is one module per operating-system concept:
//!
//! | module | models |
//! |---|---|
//! | [`blocks`], [`extents`] | sparse files: apparent size vs allocated blocks, content-interned blocks |
//! | [`namespace`] | paths, implicit directories, live and durable directory entries |
//! | [`process`] | pids, fd tables, positions, access modes |
//! | [`durability`] | page cache vs durable image; power loss, torn writes at sector granularity |
//! | [`mapping`] | maps of fixed length; `Shared` / `StupidShared` / `NoMmap` coherence; SIGSEGV/SIGBUS |
//! | [`partition`] | capacity, short writes and `ENOSPC`, largest file |
//! | [`locks`] | whole-file fcntl locks, POSIX close semantics |
//! | [`faults`] | fault plans: EIO, short write, ENOSPC, kill, power loss at call N |
//! | [`trace`], [`series`] | every call, a stable digest, events, sizes over time |
//! | [`simfs`] | the configuration ([`SimConfig`]) and the filesystem ([`SimFs`]) |
//!
//! Everything is deterministic: the only randomness is the seeded generator in [`hash`], and
//! no output depends on a hash map's iteration order.

pub mod blocks;
mod calls;
pub mod durability;
pub mod extents;
pub mod faults;
pub mod hash;
pub mod locks;
pub mod mapping;
pub mod namespace;
pub mod partition;
pub mod process;
pub mod realfs;
pub mod series;
pub mod simfs;
pub mod testing;
pub mod trace;
pub mod vfs;
mod vfs_impl;

pub use faults::{FaultAction, FaultPlan, FaultRule, RandomFaults, Trigger};
pub use mapping::{Coherence, MapTail};
pub use realfs::{RealConfig, RealFs};
pub use series::{Peaks, Sample};
pub use simfs::{SimConfig, SimFs};
pub use trace::{Arg, Args, EventKind, Outcome, SimEvent, TraceEntry, TraceSink};

pub use vfs::{Errno, Fd, LockKind, MapId, OpenFlags, Pid, Stat, Vfs, VfsError, VfsResult, Whence};
