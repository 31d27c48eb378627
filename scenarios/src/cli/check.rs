//! `expunge-sim check [PATH...]`: every scenario under every strategy it states expectations
//! for, one line each. No PATH: the bundled catalog.

use std::path::Path;

use super::backend::{self, RunOptions};
use super::{CliError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, emit};
use crate::report::RunReport;

/// The seed `check` runs each pair with.
const CHECK_SEED: u64 = 0;

pub fn main(rest: &[String]) -> Result<i32, CliError> {
    let p = super::parse(rest, &[])?;
    let specs = if p.positionals.is_empty() {
        backend::catalog_names()
            .into_iter()
            .map(String::from)
            .collect()
    } else {
        let mut v = Vec::new();
        for path in &p.positionals {
            v.extend(expand(path)?);
        }
        v
    };
    if specs.is_empty() {
        return Err(CliError::input("no scenarios to check"));
    }

    let (mut ok, mut failed, mut unreadable) = (0, 0, 0);
    for spec in &specs {
        let sc = match super::load(spec) {
            Ok(sc) => sc,
            Err(CliError::Input(m) | CliError::Usage(m)) => {
                eprintln!("error {spec}: {m}");
                unreadable += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let strategies = sc.expected_strategies();
        if strategies.is_empty() {
            emit(&format!("skip  {}  (states no expectations)\n", sc.name()));
        }
        let opts = RunOptions {
            trace: None,
            keep_story: false,
        };
        for st in strategies {
            match backend::run(&sc, st, CHECK_SEED, &opts) {
                Ok(run) if !run.report.failed() => {
                    ok += 1;
                    emit(&format!("ok    {}  {}\n", sc.name(), st.name()));
                }
                Ok(run) => {
                    failed += 1;
                    emit(&format!(
                        "FAIL  {}  {}  {}\n      reproduce: {}\n",
                        sc.name(),
                        st.name(),
                        reason(&run.report),
                        run.report.reproduce
                    ));
                }
                Err(e) => {
                    eprintln!("error {} {}: {e}", sc.name(), st.name());
                    unreadable += 1;
                }
            }
        }
    }
    emit(&format!(
        "{} checked: {ok} ok, {failed} failed{}\n",
        ok + failed,
        if unreadable > 0 {
            format!(", {unreadable} could not run")
        } else {
            String::new()
        }
    ));
    Ok(if unreadable > 0 {
        EXIT_USAGE
    } else if failed > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

/// A directory stands for its `*.toml` files, sorted; anything else is passed to the loader
/// as it is (a file, or a bundled name).
fn expand(path: &str) -> Result<Vec<String>, CliError> {
    let dir = Path::new(path);
    if !dir.is_dir() {
        return Ok(vec![path.to_string()]);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| CliError::input(format!("{path}: {e}")))?;
    let mut v: Vec<String> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if v.is_empty() {
        return Err(CliError::input(format!(
            "{path}: no *.toml scenario in this directory"
        )));
    }
    v.sort();
    Ok(v)
}

/// Why a pair failed, in one short line.
fn reason(r: &RunReport) -> String {
    if let Some(u) = r.unmet.first() {
        return u.clone();
    }
    match r.violations.first() {
        Some(v) => format!("{} at step {}: {}", v.check, v.step, v.detail),
        None => "expectations not met".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_is_the_first_unmet_expectation_else_the_first_violation() {
        let mut r = super::super::narrate::tests::wrapped_run();
        assert_eq!(reason(&r), "expected no violation");
        r.unmet.clear();
        assert_eq!(
            reason(&r),
            "expunge-exists-mismatch at step 1: exists 4294967295, 2 records present"
        );
    }

    #[test]
    fn a_directory_stands_for_its_toml_files_sorted() {
        let dir = std::env::temp_dir().join(format!("expunge-sim-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["b.toml", "a.toml", "notes.txt"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let v = expand(dir.to_str().unwrap()).unwrap();
        let names: Vec<_> = v.iter().map(|p| p.rsplit('/').next().unwrap()).collect();
        assert_eq!(names, ["a.toml", "b.toml"]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(expand("blair-2008").unwrap(), ["blair-2008"]);
    }
}
