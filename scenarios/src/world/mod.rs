//! The multi-process world (DESIGN.md, "madsim"): every Cyrus process of a scenario's
//! `[[process]]` tables is a madsim node, all sharing ONE `SimFs` and ghost state behind a
//! mutex. Each node loops: sleep a time drawn from madsim's random numbers, then apply one
//! [`Op`](crate::executor::Op) through the executor's `World::apply`, with the oracles run
//! after it, exactly as for a scenario's schedule. madsim's virtual clock is the site's
//! clock, so thirty nights take no longer than the operations in them.
//!
//! What goes wrong in it, all seeded: a process killed at a filesystem call of one of its
//! operations (a `Kill` fault armed inside that operation, then madsim's `Handle::kill` and,
//! after its downtime, `Handle::restart` of the node; the other processes go on); the whole
//! machine losing power at a filesystem call (every node restarted after the reboot); and
//! the deaths Cyrus itself brings about (a segfault, `fatal()`), after which master (or the
//! next night's cron) starts the program again.
//!
//! Every op a node applies is recorded with its time and process, so a world is also a
//! schedule: replaying the record through the executor gives the same filesystem trace,
//! which is how `expunge-sim crash` sweeps a world's steps.
//!
//! A build without `--cfg madsim` has only [`spec`]: it reads such scenarios and refuses to
//! run them (see `crate::world_refusal`).

pub mod spec;

#[cfg(madsim)]
mod node;
#[cfg(madsim)]
mod run;

#[cfg(madsim)]
pub use run::{Outcome, drive, run, schedule};
