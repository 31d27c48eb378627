//! `expunge-sim merge FILE...`: one sweep summary from the `--json` outputs of its shards.
//! Always prints JSON; `--json` is accepted for symmetry with `sweep`.

use super::args::switch;
use super::{CliError, EXIT_FAILED, EXIT_OK, emit};
use crate::sweep::{self, SweepSummary};

pub fn main(rest: &[String]) -> Result<i32, CliError> {
    let p = super::parse(rest, &[switch("--json")])?;
    if p.positionals.is_empty() {
        return Err(CliError::usage(
            "missing FILE (the --json output of a sweep shard)",
        ));
    }
    let mut shards = Vec::new();
    for file in &p.positionals {
        let text =
            std::fs::read_to_string(file).map_err(|e| CliError::input(format!("{file}: {e}")))?;
        let shard: SweepSummary = serde_json::from_str(&text)
            .map_err(|e| CliError::input(format!("{file}: not the output of sweep --json: {e}")))?;
        shards.push(shard);
    }
    let merged = sweep::merge(shards).map_err(|e| CliError::input(e.to_string()))?;
    let json = serde_json::to_string(&merged).map_err(|e| CliError::input(e.to_string()))?;
    emit(&format!("{json}\n"));
    Ok(if merged.failed() {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}
