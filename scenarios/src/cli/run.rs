//! `expunge-sim run SCENARIO`: one run, told as a story or printed as the report JSON.

use std::path::{Path, PathBuf};

use super::args::{switch, value};
use super::backend::{self, RunOptions};
use super::{CliError, EXIT_FAILED, EXIT_OK, emit, narrate};
use crate::export;

const FLAGS: &[super::args::Flag] = &[
    value("--strategy"),
    value("--seed"),
    switch("--json"),
    value("--trace"),
    value("--plot"),
    value("--export"),
    value("--export-budget"),
];

pub fn main(rest: &[String]) -> Result<i32, CliError> {
    let p = super::parse(rest, FLAGS)?;
    let spec = &p.exactly(1, "SCENARIO")?[0];
    let strategy = p.strategy()?;
    let seed = p.u64("--seed")?.unwrap_or(0);
    let budget = p.u64("--export-budget")?;
    if budget.is_some() && p.value("--export").is_none() {
        return Err(CliError::usage("--export-budget needs --export DIR"));
    }
    let budget = budget.unwrap_or(export::DEFAULT_BUDGET);

    let sc = super::load(spec)?;
    let strategy = strategy.unwrap_or_else(|| super::default_strategy(&sc.expected_strategies()));
    let opts = RunOptions {
        trace: p.value("--trace").map(PathBuf::from),
        keep_story: true,
    };
    let mut run = backend::run(&sc, strategy, seed, &opts).map_err(|e| {
        CliError::input(format!(
            "{spec} (strategy {}, seed {seed}): {e}",
            strategy.name()
        ))
    })?;

    if let Some(file) = p.value("--plot") {
        let r = &run.report;
        let title = format!("{} / {} / seed {}", r.scenario, r.strategy, r.seed);
        std::fs::write(file, crate::plot::svg(&title, &r.series))
            .map_err(|e| CliError::input(format!("--plot {file}: {e}")))?;
    }
    if let Some(dir) = p.value("--export") {
        export_to(&mut run, Path::new(dir), budget)?;
    }

    let report = &run.report;
    if p.has("--json") {
        let json = serde_json::to_string(report)
            .map_err(|e| CliError::input(format!("encoding the report: {e}")))?;
        emit(&format!("{json}\n"));
    } else {
        emit(&narrate::story(report));
    }
    Ok(if report.failed() {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

fn export_to(run: &mut backend::Run, dir: &Path, budget: u64) -> Result<(), CliError> {
    let Some(src) = backend::final_fs(run) else {
        return Err(CliError::input(
            "--export: this run kept no filesystem to export",
        ));
    };
    export::export(src, dir, budget)
        .map(|_| ())
        .map_err(|e| CliError::input(format!("--export {}: {e}", dir.display())))
}
