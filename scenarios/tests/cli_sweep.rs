//! `expunge-sim sweep`: the summary contract, determinism across --jobs, shards and merge.

mod cli_support;

use cli_support::{expunge_sim, fresh_dir, path_str};
use serde_json::Value;

/// A small scenario whose seeds differ (each kills cyr_expire at another call), under a
/// strategy with no expectations there, so every seed with a violation fails.
const SWEPT: [&str; 4] = ["sweep", "crash-mid-expire", "--strategy", "cyrus-2.3.7"];

fn sweep(extra: &[&str]) -> Value {
    let mut args = SWEPT.to_vec();
    args.push("--json");
    args.extend(extra);
    let r = expunge_sim(&args);
    assert!(r.code == 0 || r.code == 1, "{r:?}");
    let v = r.json();
    let failed = !v["failed_seeds"].as_array().unwrap().is_empty();
    assert_eq!(r.code, i32::from(failed), "exit code follows failed_seeds");
    v
}

#[test]
fn the_summary_has_every_field_of_the_contract() {
    let v = sweep(&["--seeds", "0..8", "--jobs", "2"]);
    assert_eq!(v["seeds"], Value::from(8));
    for s in v["failed_seeds"].as_array().expect("failed_seeds") {
        assert!(s.is_u64(), "{s}");
    }
    match &v["first_failure"] {
        Value::Null => assert!(v["failed_seeds"].as_array().unwrap().is_empty()),
        f => {
            assert_eq!(f["seed"], v["failed_seeds"][0]);
            let cmd = f["reproduce"].as_str().expect("reproduce");
            assert!(
                cmd.starts_with("expunge-sim run ") && cmd.contains("--seed"),
                "{cmd}"
            );
        }
    }
    let digest = v["digest"].as_str().expect("digest");
    assert!(
        digest.len() == 16 && digest.chars().all(|c| c.is_ascii_hexdigit()),
        "{digest}"
    );
    let per_seed = v["per_seed"].as_array().expect("per_seed");
    assert_eq!(per_seed.len(), 8);
    for o in per_seed {
        assert!(
            o["seed"].is_u64() && o["digest"].is_string() && o["failed"].is_boolean(),
            "{o}"
        );
    }
    assert!(v["seeds_per_second"].is_number());
    assert!(v["shard"].is_null());
}

#[test]
fn results_are_identical_for_any_number_of_jobs() {
    let one = sweep(&["--seeds", "0..24", "--jobs", "1"]);
    let four = sweep(&["--seeds", "0..24", "--jobs", "4"]);
    for key in [
        "digest",
        "failed_seeds",
        "first_failure",
        "per_seed",
        "seeds",
    ] {
        assert_eq!(one[key], four[key], "{key}");
    }
}

#[test]
fn inclusive_ranges_include_their_end() {
    let v = sweep(&["--seeds", "3..=5"]);
    let seeds: Vec<u64> = v["per_seed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, [3, 4, 5]);
}

#[test]
fn merged_shards_equal_one_sweep() {
    let whole = sweep(&["--seeds", "0..15"]);
    let dir = fresh_dir("sweep-shards");
    let mut files = Vec::new();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let v = sweep(&["--seeds", "0..15", "--shard", &shard]);
        assert_eq!(v["shard"], Value::from(shard.as_str()));
        for o in v["per_seed"].as_array().unwrap() {
            assert_eq!(o["seed"].as_u64().unwrap() % 3, k);
        }
        let p = dir.join(format!("shard{k}.json"));
        std::fs::write(&p, v.to_string()).unwrap();
        files.push(path_str(&p).to_string());
    }
    let mut args = vec!["merge"];
    args.extend(files.iter().map(String::as_str));
    let merged = expunge_sim(&args).json();
    for key in [
        "digest",
        "failed_seeds",
        "first_failure",
        "seeds",
        "per_seed",
    ] {
        assert_eq!(merged[key], whole[key], "{key}");
    }
}

#[test]
fn no_progress_bar_when_stderr_is_piped() {
    let r = expunge_sim(&[SWEPT.as_slice(), &["--seeds", "0..4"]].concat());
    assert!(
        !r.stderr.contains('\r') && !r.stderr.contains("[#"),
        "{r:?}"
    );
}

#[test]
fn the_text_summary_gives_each_failing_seed_its_reproduce_line() {
    let v = sweep(&["--seeds", "0..10"]);
    let r = expunge_sim(&[SWEPT.as_slice(), &["--seeds", "0..10"]].concat());
    assert!(r.stdout.contains(v["digest"].as_str().unwrap()), "{r:?}");
    for s in v["failed_seeds"].as_array().unwrap() {
        assert!(
            r.stdout.contains(&format!("--seed {s}\n")),
            "seed {s}: {r:?}"
        );
    }
}
