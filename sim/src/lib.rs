//! A simulated POSIX filesystem for testing storage engines, and its real-filesystem twin.
//!
//! [`Vfs`] is the surface; `SimFs` models what real filesystems do to code that mixes
//! `write()` with an older `mmap` (coherence modes, mapping lengths), the page cache and
//! what survives power loss, sparse files, a partition that fills, fcntl locks and faults;
//! `RealFs` runs the same calls on the real kernel inside one directory.

pub mod blocks;
mod calls;
pub mod durability;
pub mod faults;
pub mod hash;
pub mod locks;
pub mod mapping;
pub mod namespace;
pub mod partition;
pub mod process;
pub mod series;
pub mod simfs;
pub mod trace;
pub mod vfs;

pub use faults::{FaultAction, FaultPlan, FaultRule, RandomFaults, Trigger};
pub use mapping::Coherence;
pub use series::{Peaks, Sample};
pub use simfs::{SimConfig, SimFs};
pub use trace::{Arg, EventKind, Outcome, SimEvent, TraceEntry, TraceSink};

pub use vfs::{Errno, Fd, LockKind, MapId, OpenFlags, Pid, Stat, Vfs, VfsError, VfsResult, Whence};
