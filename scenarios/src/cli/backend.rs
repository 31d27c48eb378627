//! What the CLI needs from the scenario runner, in one place: the loader, the executor and
//! the catalog. Until the executor lands these are placeholders with its signatures, which
//! report that no scenario can be loaded yet. Once the executor is merged this file becomes:
//!
//! ```ignore
//! pub use crate::executor::Run;
//! pub use crate::scenario::Scenario;
//! pub use crate::{RunOptions, catalog_names, load, run};
//! use crate::export::Source;
//! pub fn final_fs(run: &mut Run) -> Option<Source<'_>> {
//!     Some(Source::sim(&mut run.fs))
//! }
//! ```
//!
//! and the `#[ignore]`s come off `tests/cli_{run,sweep,check}.rs`.

use crate::export::Source;
use crate::report::RunReport;

pub struct Scenario {
    name: String,
}

impl Scenario {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn expected_strategies(&self) -> Vec<engine::Strategy> {
        Vec::new()
    }

    pub fn is_multi_process(&self) -> bool {
        false
    }
}

#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    pub trace: Option<std::path::PathBuf>,
    pub keep_story: bool,
}

pub struct Run {
    pub report: RunReport,
}

pub fn load(spec: &str) -> Result<Scenario, String> {
    Err(format!(
        "{spec}: cannot load scenarios yet (the executor is not merged)"
    ))
}

pub fn run(
    sc: &Scenario,
    _strategy: engine::Strategy,
    _seed: u64,
    opts: &RunOptions,
) -> Result<Run, String> {
    let _ = (&opts.trace, opts.keep_story);
    Err(format!("{}: no executor yet", sc.name))
}

pub fn catalog_names() -> Vec<&'static str> {
    Vec::new()
}

/// The final filesystem of a run, for `--export`.
pub fn final_fs(_run: &mut Run) -> Option<Source<'_>> {
    None
}
