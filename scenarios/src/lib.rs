//! Scenario language, runner and reports for `expunge-sim`.
//!
//! A scenario file ([`scenario`]) is expanded into a schedule of [`executor::Op`]s
//! ([`plan`]), which the one executor ([`executor`]) applies to a simulated site, running the
//! oracles after every step; [`expect`] judges the report against the scenario's
//! expectations.

pub mod catalog;
pub mod cli;
pub mod crash;
pub mod executor;
pub mod expect;
pub mod export;
pub mod fuzzing;
pub mod plan;
pub mod plot;
pub mod progress;
pub mod recorder;
pub mod report;
pub mod scenario;
pub mod session;
pub mod sweep;
mod untraced;
pub mod world;

pub use catalog::catalog_names;
pub use executor::{Run, RunError, RunOptions};
pub use scenario::{Scenario, ScenarioError};

use std::path::Path;

use engine::Strategy;

/// A scenario by path, or by the name of a bundled one (its file name without `.toml`).
pub fn load(spec: &str) -> Result<Scenario, ScenarioError> {
    let path = Path::new(spec);
    let looks_like_path = spec.ends_with(".toml") || spec.contains('/') || path.exists();
    if !looks_like_path && let Some(text) = catalog::get(spec) {
        return scenario::parse(text, &format!("scenarios/catalog/{spec}.toml"), spec);
    }
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: spec.to_string(),
        line: 0,
        column: 0,
        message: if looks_like_path {
            format!("cannot read: {e}")
        } else {
            format!(
                "no such file, and no bundled scenario of that name (bundled: {})",
                catalog_names().join(", ")
            )
        },
    })?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or(spec);
    scenario::parse(&text, spec, stem)
}

/// Why this build cannot run a multi-process scenario.
pub fn world_refusal(name: &str) -> String {
    format!(
        "scenario {name} is multi-process and needs the simulation build: build with \
         `--cfg madsim` (set in .cargo/config.toml; a RUSTFLAGS environment variable \
         replaces it, so add `--cfg madsim` to RUSTFLAGS too)"
    )
}

/// Run a scenario under a strategy with a seed, and judge it. A multi-process scenario runs
/// in the madsim world (simulation builds only); every other through the schedule.
pub fn run(
    sc: &Scenario,
    strategy: Strategy,
    seed: u64,
    opts: &RunOptions,
) -> Result<Run, RunError> {
    let setup = plan::setup(sc, seed);
    let mut run = if sc.is_multi_process() {
        run_world(sc, strategy, seed, opts)?
    } else {
        let ops = plan::ops(sc, seed).map_err(|e| RunError(format!("{}: {e}", sc.origin)))?;
        executor::execute(&setup, &ops, strategy, seed, opts)?
    };
    if let Some(e) = sc.expectation(strategy) {
        let unmet = expect::judge(e, &run.report, setup.sim.block_size);
        run.report.expectations_met = Some(unmet.is_empty());
        run.report.unmet = unmet;
    }
    Ok(run)
}

#[cfg(madsim)]
fn run_world(
    sc: &Scenario,
    strategy: Strategy,
    seed: u64,
    opts: &RunOptions,
) -> Result<Run, RunError> {
    world::run(sc, strategy, seed, opts)
}

#[cfg(not(madsim))]
fn run_world(sc: &Scenario, _: Strategy, _: u64, _: &RunOptions) -> Result<Run, RunError> {
    Err(RunError(world_refusal(sc.name())))
}
