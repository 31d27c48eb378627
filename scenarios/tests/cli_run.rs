//! `expunge-sim run`: the report JSON contract, the story, plot, trace and export.

mod cli_support;

use cli_support::{SCENARIO, expunge_sim, fresh_dir, path_str, run_failed};
use serde_json::Value;

const EVENT_KINDS: [&str; 8] = [
    "segfault",
    "sigbus",
    "enospc",
    "ioerror",
    "fatal",
    "killed",
    "power_loss",
    "lock_wait",
];

fn is_u64(v: &Value, key: &str) {
    assert!(v[key].is_u64(), "{key} is not a u64 in {v}");
}

fn is_str(v: &Value, key: &str) {
    assert!(v[key].is_string(), "{key} is not a string in {v}");
}

#[test]
fn run_json_has_every_field_of_the_contract() {
    let r = expunge_sim(&["run", SCENARIO, "--json", "--seed", "3"]);
    assert!(r.code == 0 || r.code == 1, "{r:?}");
    let v = r.json();
    is_str(&v, "scenario");
    is_str(&v, "strategy");
    assert_eq!(v["seed"], Value::from(3));
    let digest = v["trace_digest"].as_str().expect("trace_digest");
    assert!(
        !digest.is_empty() && digest.chars().all(|c| c.is_ascii_hexdigit()),
        "{digest}"
    );
    is_u64(&v, "sim_calls");
    for p in v["processes"].as_array().expect("processes") {
        assert!(p.is_string(), "{p}");
    }
    for x in v["violations"].as_array().expect("violations") {
        is_str(x, "check");
        is_u64(x, "step");
        is_str(x, "detail");
    }
    for e in v["events"].as_array().expect("events") {
        assert!(
            EVENT_KINDS.contains(&e["kind"].as_str().expect("kind")),
            "{e}"
        );
        is_u64(e, "step");
        is_str(e, "process");
        is_str(e, "detail");
    }
    for key in ["apparent_bytes", "allocated_bytes", "partition_used_bytes"] {
        is_u64(&v["peak"], key);
    }
    for (path, f) in v["files"].as_object().expect("files") {
        assert!(
            !path.starts_with('/'),
            "{path} is relative to the partition"
        );
        is_u64(f, "apparent_bytes");
        is_u64(f, "allocated_bytes");
    }
    is_u64(&v["partition"], "capacity_bytes");
    is_u64(&v["partition"], "used_bytes");
    for key in ["delivered", "live", "expunged", "purged", "lost"] {
        is_u64(&v["messages"], key);
    }
    assert!(
        v["expectations_met"].is_boolean() || v["expectations_met"].is_null(),
        "{v}"
    );
    assert_eq!(
        r.code,
        i32::from(run_failed(&v)),
        "exit code follows the report"
    );
}

#[test]
fn the_same_seed_gives_the_same_trace_digest() {
    let a = expunge_sim(&["run", SCENARIO, "--json", "--seed", "5"]).json();
    let b = expunge_sim(&["run", SCENARIO, "--json", "--seed", "5"]).json();
    assert_eq!(a["trace_digest"], b["trace_digest"]);
}

#[test]
fn the_story_opens_with_the_parameters_and_ends_with_reproduce() {
    let json = expunge_sim(&["run", SCENARIO, "--json", "--seed", "9"]).json();
    let r = expunge_sim(&["run", SCENARIO, "--seed", "9"]);
    assert!(r.code == 0 || r.code == 1, "{r:?}");
    let first = r.stdout.lines().next().unwrap();
    assert!(
        first.contains(SCENARIO) && first.contains("seed 9"),
        "{first}"
    );
    assert!(
        first.contains(json["strategy"].as_str().unwrap()),
        "{first}"
    );
    let last = r.stdout.lines().last().unwrap();
    assert_eq!(
        last,
        format!("reproduce: {}", json["reproduce"].as_str().unwrap())
    );
    assert!(last.contains("--seed 9"), "{last}");
    assert!(r.stdout.contains("files at the end"), "{r:?}");
}

#[test]
fn plot_writes_an_svg_with_a_line_per_series() {
    let dir = fresh_dir("run-plot");
    let svg = dir.join("sizes.svg");
    let r = expunge_sim(&["run", SCENARIO, "--plot", path_str(&svg)]);
    assert!(r.code == 0 || r.code == 1, "{r:?}");
    let doc = std::fs::read_to_string(&svg).unwrap();
    assert!(doc.starts_with("<svg") && doc.trim_end().ends_with("</svg>"));
    assert_eq!(doc.matches("<polyline").count(), 3);
    assert!(doc.contains("log scale"));
}

#[test]
fn trace_writes_the_calls_to_a_file() {
    let dir = fresh_dir("run-trace");
    let trace = dir.join("trace.txt");
    let json = expunge_sim(&["run", SCENARIO, "--json", "--trace", path_str(&trace)]).json();
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(text.lines().count() as u64 >= json["sim_calls"].as_u64().unwrap().min(1));
}

#[test]
fn export_writes_the_files_with_their_apparent_sizes() {
    let dir = fresh_dir("run-export");
    // Under the complete fix the files stay small (the 2.3.7 run leaves 2 GiB behind).
    let r = expunge_sim(&[
        "run",
        SCENARIO,
        "--strategy",
        "fix1-complete",
        "--json",
        "--export",
        path_str(&dir),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    for (path, f) in r.json()["files"].as_object().unwrap() {
        let meta = std::fs::metadata(dir.join(path)).unwrap();
        assert_eq!(meta.len(), f["apparent_bytes"].as_u64().unwrap(), "{path}");
    }
}

#[test]
fn export_over_budget_is_refused_naming_the_flag() {
    let dir = fresh_dir("run-export-budget");
    let target = dir.join("out");
    let r = expunge_sim(&[
        "run",
        SCENARIO,
        "--export",
        path_str(&target),
        "--export-budget",
        "1",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--export-budget"), "{r:?}");
    assert!(!target.exists(), "nothing written");
}
