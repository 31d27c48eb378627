//! `expunge-sim crash`: a crash at every filesystem call of a step, recovery, the oracles.

mod cli_support;

use cli_support::{SCENARIO, expunge_sim};

#[test]
fn a_single_benign_crash_point_exits_0_with_the_contract_fields() {
    let r = expunge_sim(&[
        "crash",
        SCENARIO,
        "--strategy",
        "fix1-complete",
        "--mode",
        "kill",
        "--point",
        "0",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["points"], 1);
    assert!(v["failures"].as_array().unwrap().is_empty());
    assert_eq!(v["digest"].as_str().unwrap().len(), 16);
    assert_eq!(
        v["op"], "cyr_expire runs",
        "the default step is the last cyr_expire"
    );
    assert!(v["calls"].as_u64().unwrap() > 100);
}

/// `crash blair-2008 --strategy S --mode both --json` with extra arguments.
fn sweep(strategy: &str, extra: &[&str]) -> cli_support::Ran {
    let mut args = vec![
        "crash",
        SCENARIO,
        "--strategy",
        strategy,
        "--mode",
        "both",
        "--json",
    ];
    args.extend_from_slice(extra);
    expunge_sim(&args)
}

#[test]
fn both_fixes_survive_every_crash_point_with_reconstruct_as_recovery() {
    for strategy in ["fix1-complete", "fix2-delayed-then-cleanup"] {
        let r = sweep(strategy, &[]);
        assert_eq!(r.code, 0, "{strategy}: {r:?}");
        let v = r.json();
        let calls = v["calls"].as_u64().unwrap();
        assert!(calls >= 100, "{strategy}: {calls} calls");
        assert_eq!(
            v["points"].as_u64().unwrap(),
            2 * calls,
            "every call, both modes"
        );
        assert!(
            v["failures"].as_array().unwrap().is_empty(),
            "{strategy}: {v}"
        );
        assert!(v["known_violations"].as_array().unwrap().is_empty());
        assert_eq!(v["reconstruct"], "all");
        // The crashes did damage that needed the repair.
        assert!(v["unopenable_points"].as_u64().unwrap() > 0, "{strategy}");
        assert_eq!(
            v["reconstructions"].as_u64().unwrap(),
            v["points"].as_u64().unwrap() * 4,
            "four mailboxes reconstructed after every crash"
        );
    }
}

#[test]
fn without_reconstruct_a_kill_between_the_renames_leaves_a_mailbox_cyrus_cannot_open() {
    // fix1-complete keeps Cyrus's rename of cyrus.index.NEW, then of cyrus.cache.NEW: a
    // kill between them leaves generations that differ, and mailbox_open answers BADFORMAT.
    let r = sweep("fix1-complete", &["--reconstruct", "never"]);
    assert_eq!(r.code, 1, "{r:?}");
    let v = r.json();
    let failures = v["failures"].as_array().unwrap();
    let checks_of = |f: &serde_json::Value| -> Vec<String> {
        f["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["check"].as_str().unwrap().to_string())
            .collect()
    };
    let mut renames = 0;
    for f in failures {
        assert_eq!(f["mode"], "kill", "{f}");
        if f["call"] == "rename" && checks_of(f).iter().any(|c| c.contains("generation")) {
            renames += 1;
        } else {
            // Killed after the renames, before the unlinks: files no record names.
            assert_eq!(checks_of(f), vec!["message-file-orphaned"], "{f}");
        }
    }
    assert!(renames > 0, "{failures:?}");
    assert_eq!(v["reconstructions"], 0);
    let first = v["reproduce"][0].as_str().unwrap();
    assert!(first.starts_with("expunge-sim crash blair-2008 --strategy fix1-complete"));
    assert!(first.ends_with("--reconstruct never"), "{first}");
    // The reproduce line replays exactly that failure.
    let args: Vec<&str> = first.split_whitespace().skip(1).collect();
    let mut again = args.clone();
    again.push("--json");
    let one = expunge_sim(&again);
    assert_eq!(one.code, 1, "{one:?}");
    assert_eq!(
        one.json()["failures"][0]["violations"],
        failures[0]["violations"]
    );
}

#[test]
fn reconstructing_only_what_fails_to_open_leaves_fix2s_duplicates() {
    // A delayed expunge that dies after cyrus.expunge is fsynced and before cyrus.index is
    // renamed leaves the moved records in both files; the next run moves them again.
    // Every mailbox still opens, so only a reconstruct of all of them repairs it.
    let v = sweep("fix2-delayed-then-cleanup", &["--reconstruct", "failed"]).json();
    let failures = v["failures"].as_array().unwrap();
    assert!(failures.len() > 10, "{}", failures.len());
    assert!(failures.iter().any(|f| {
        f["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["check"] == "uid-duplicate")
    }));
}

#[test]
fn the_digest_is_the_same_every_time_and_depends_on_the_mode() {
    let args = |mode| {
        vec![
            "crash",
            SCENARIO,
            "--strategy",
            "cyrus-2.3.15",
            "--mode",
            mode,
            "--json",
        ]
    };
    let a = expunge_sim(&args("kill")).json();
    let b = expunge_sim(&args("kill")).json();
    let c = expunge_sim(&args("power")).json();
    assert_eq!(a["digest"], b["digest"]);
    assert_eq!(a["failures"], b["failures"]);
    assert_ne!(a["digest"], c["digest"]);
}

#[test]
fn bad_modes_steps_and_points_are_usage_or_input_errors() {
    for bad in [
        vec!["crash", SCENARIO, "--mode", "melt"],
        vec!["crash", SCENARIO, "--step", "999999"],
        vec!["crash", SCENARIO, "--point", "999999"],
        vec!["crash", SCENARIO, "--reconstruct", "sometimes"],
        vec!["crash"],
    ] {
        let r = expunge_sim(&bad);
        assert_eq!(r.code, 2, "{bad:?}: {r:?}");
    }
}
