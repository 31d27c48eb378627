//! `expunge-sim sweep SCENARIO --seeds A..B`: many seeds on many threads, one summary.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::args::{switch, value};
use super::backend::{self, RunOptions};
use super::{CliError, EXIT_FAILED, EXIT_OK, emit};
use crate::progress::Progress;
use crate::sweep::{
    Counters, SeedOutcome, SeedRange, Shard, SweepSummary, reproduce_command, run_seeds,
};

const FLAGS: &[super::args::Flag] = &[
    value("--seeds"),
    value("--strategy"),
    value("--jobs"),
    value("--shard"),
    switch("--json"),
];

pub fn main(rest: &[String]) -> Result<i32, CliError> {
    let p = super::parse(rest, FLAGS)?;
    let spec = &p.exactly(1, "SCENARIO")?[0];
    let range = p
        .value("--seeds")
        .ok_or_else(|| CliError::usage("missing --seeds A..B"))?;
    let range = SeedRange::parse(range).map_err(|e| CliError::usage(format!("--seeds {e}")))?;
    let shard = p
        .value("--shard")
        .map(Shard::parse)
        .transpose()
        .map_err(|e| CliError::usage(format!("--shard {e}")))?;
    let jobs = match p.u64("--jobs")? {
        Some(0) => return Err(CliError::usage("--jobs must be at least 1")),
        Some(n) => n as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let strategy = p.strategy()?;

    let sc = super::load(spec)?;
    let strategy = strategy.unwrap_or_else(|| super::default_strategy(&sc.expected_strategies()));
    let opts = RunOptions {
        trace: None,
        keep_story: false,
    };
    let (_, count) = shard.unwrap_or(Shard::ALL).seeds(range);

    let counters = Counters::default();
    let progress = Progress::new(count);
    let finished = AtomicBool::new(false);
    let started = Instant::now();
    let outcomes = std::thread::scope(|scope| {
        if progress.enabled() {
            scope.spawn(|| {
                while !finished.load(Ordering::Relaxed) {
                    progress.draw(
                        counters.done.load(Ordering::Relaxed),
                        counters.failed.load(Ordering::Relaxed),
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
                progress.finish();
            });
        }
        let r = run_seeds(
            range,
            shard.unwrap_or(Shard::ALL),
            jobs,
            &counters,
            |seed| {
                let run = backend::run(&sc, strategy, seed, &opts).map_err(|e| e.to_string())?;
                let r = run.report;
                let failed = r.failed();
                Ok(SeedOutcome {
                    seed,
                    digest: r.trace_digest,
                    failed,
                    reproduce: failed.then_some(r.reproduce),
                })
            },
        );
        finished.store(true, Ordering::Relaxed);
        r
    })
    .map_err(|(seed, e)| CliError::input(format!("{spec} seed {seed}: {e}")))?;
    let secs = started.elapsed().as_secs_f64();

    let (name, st) = (sc.name(), strategy.name());
    let mut summary =
        SweepSummary::new(name, st, outcomes, |seed| reproduce_command(name, st, seed));
    summary.shard = shard.map(|s| s.to_string());
    summary.range = Some(range.to_string());
    summary.seeds_per_second = if secs > 0.0 {
        summary.seeds as f64 / secs
    } else {
        0.0
    };

    if p.has("--json") {
        let json = serde_json::to_string(&summary).map_err(|e| CliError::input(e.to_string()))?;
        emit(&format!("{json}\n"));
    } else {
        emit(&text(&summary));
    }
    Ok(if summary.failed() {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

/// The summary for a person: one line, then each failing seed and how to replay it.
fn text(s: &SweepSummary) -> String {
    let mut out = format!(
        "sweep {} strategy {} seeds {}{}: {} run, {} failed, digest {}, {:.0} seeds/s\n",
        s.scenario,
        s.strategy,
        s.range.as_deref().unwrap_or("?"),
        s.shard
            .as_deref()
            .map(|k| format!(" shard {k}"))
            .unwrap_or_default(),
        s.seeds,
        s.failed_seeds.len(),
        s.digest,
        s.seeds_per_second
    );
    for o in s.per_seed.iter().filter(|o| o.failed) {
        let cmd = o
            .reproduce
            .clone()
            .unwrap_or_else(|| reproduce_command(&s.scenario, &s.strategy, o.seed));
        out.push_str(&format!("FAIL seed {}\n  reproduce: {cmd}\n", o.seed));
    }
    out
}
