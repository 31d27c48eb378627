//! `expunge-sim inspect DIR`: the fsck of a real Cyrus 2.3 mailbox directory.

use std::path::Path;

use super::args::switch;
use super::{CliError, EXIT_FAILED, EXIT_OK, emit};

pub fn main(rest: &[String]) -> Result<i32, CliError> {
    let p = super::parse(rest, &[switch("--json")])?;
    let dir = &p.exactly(1, "DIR")?[0];
    let report =
        engine::fsck::inspect_dir(Path::new(dir)).map_err(|e| CliError::input(e.to_string()))?;
    if p.has("--json") {
        emit(&format!("{}\n", report.to_json()));
    } else {
        emit(&report.to_string());
    }
    Ok(if report.is_clean() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}
