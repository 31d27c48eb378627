//! `expunge-sim crash SCENARIO`: a crash at every filesystem call of one step, the next
//! login's open of every mailbox, then the oracles (see `crate::crash`).

use super::args::{switch, value};
use super::{CliError, EXIT_FAILED, EXIT_OK, emit};
use crate::crash::{CrashMode, CrashPlan, CrashReport, ReconstructPolicy, crash};

const FLAGS: &[super::args::Flag] = &[
    value("--strategy"),
    value("--step"),
    value("--mode"),
    value("--seed"),
    value("--point"),
    value("--reconstruct"),
    switch("--no-sync"),
    switch("--json"),
];

pub fn main(rest: &[String]) -> Result<i32, CliError> {
    let p = super::parse(rest, FLAGS)?;
    let spec = &p.exactly(1, "SCENARIO")?[0];
    let strategy = p.strategy()?;
    let seed = p.u64("--seed")?.unwrap_or(0);
    let mode = p.value("--mode").unwrap_or("both");
    let modes = CrashMode::parse_modes(mode)
        .ok_or_else(|| CliError::usage(format!("--mode {mode:?}: power, kill or both")))?;
    let policy = p.value("--reconstruct").unwrap_or("all");
    let reconstruct = ReconstructPolicy::parse(policy).ok_or_else(|| {
        CliError::usage(format!("--reconstruct {policy:?}: never, failed or all"))
    })?;
    let plan = CrashPlan {
        reconstruct,
        step: p.u64("--step")?.map(|n| n as usize),
        modes,
        point: p.u64("--point")?,
        sync_before: !p.has("--no-sync"),
    };

    let sc = super::load(spec)?;
    let strategy = strategy.unwrap_or_else(|| super::default_strategy(&sc.expected_strategies()));
    let report = crash(&sc, strategy, seed, &plan).map_err(|e| {
        CliError::input(format!(
            "{spec} (strategy {}, seed {seed}): {e}",
            strategy.name()
        ))
    })?;
    if p.has("--json") {
        let json = serde_json::to_string(&report).map_err(|e| CliError::input(e.to_string()))?;
        emit(&format!("{json}\n"));
    } else {
        emit(&text(&report));
    }
    Ok(if report.failed() {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

/// The sweep for a person: what was crashed, what broke, how to replay it.
fn text(r: &CrashReport) -> String {
    let mut out = format!(
        "crash {} strategy {} seed {}: step {} ({}), {} call(s), modes {}\n\
         {} crash point(s) tried, {} failed, {} left a mailbox unopenable; reconstruct {} \
         ({} run(s): {} message(s) back from bare files, {} purged); digest {}\n",
        r.scenario,
        r.strategy,
        r.seed,
        r.step,
        r.op,
        r.calls,
        r.modes.join("+"),
        r.points,
        r.failures.len(),
        r.unopenable_points,
        r.reconstruct,
        r.reconstructions,
        r.recovered_messages,
        r.purged_messages,
        r.digest
    );
    if !r.known_violations.is_empty() {
        out.push_str("the step violates the oracles without any crash:\n");
        for v in &r.known_violations {
            out.push_str(&format!("  {}: {}\n", v.check, v.detail));
        }
    }
    for f in &r.failures {
        out.push_str(&format!(
            "FAIL point {} ({}) mode {}\n",
            f.point, f.call, f.mode
        ));
        for v in &f.violations {
            out.push_str(&format!("  {}: {}\n", v.check, v.detail));
        }
        out.push_str(&format!("  reproduce: {}\n", f.reproduce));
    }
    out
}
