//! What the CLI needs from the scenario runner, in one place: the loader, the executor and
//! the catalog.

pub use crate::executor::Run;
pub use crate::scenario::Scenario;
pub use crate::{RunOptions, catalog_names, load, run};

use crate::export::Source;

/// The final filesystem of a run, for `--export`.
pub fn final_fs(run: &mut Run) -> Option<Source<'_>> {
    Some(Source::sim(&mut run.fs))
}
