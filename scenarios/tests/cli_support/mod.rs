//! Driving the `expunge-sim` binary from tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What one invocation gave.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// The stdout parsed as one JSON value.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub fn expunge_sim(args: &[&str]) -> Ran {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_expunge-sim"))
        .args(args)
        .output()
        .expect("run expunge-sim");
    Ran {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// A fresh, empty directory for one test.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// A bundled scenario every test of run, sweep and check may use.
pub const SCENARIO: &str = "blair-2008";

/// Whether a run's JSON says it failed, by the rule of the exit codes: an unmet
/// expectation, or with none stated, any violation.
pub fn run_failed(v: &serde_json::Value) -> bool {
    match v["expectations_met"].as_bool() {
        Some(met) => !met,
        None => !v["violations"].as_array().expect("violations").is_empty(),
    }
}
