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

#[test]
fn a_kill_between_the_two_renames_leaves_a_mailbox_cyrus_cannot_open() {
    // fix1-complete keeps Cyrus's rename of cyrus.index.NEW, then of cyrus.cache.NEW: a
    // kill between them leaves generations that differ, and mailbox_open answers BADFORMAT.
    let r = expunge_sim(&[
        "crash",
        SCENARIO,
        "--strategy",
        "fix1-complete",
        "--mode",
        "both",
        "--json",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    let v = r.json();
    let calls = v["calls"].as_u64().unwrap();
    assert_eq!(
        v["points"].as_u64().unwrap(),
        2 * calls,
        "every call, both modes"
    );
    let failures = v["failures"].as_array().unwrap();
    assert!(!failures.is_empty());
    for f in failures {
        assert_eq!(f["mode"], "kill", "{f}");
        assert_eq!(f["call"], "rename", "{f}");
        assert!(
            f["violations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["check"].as_str().unwrap().contains("generation"))
        );
    }
    let first = v["reproduce"][0].as_str().unwrap();
    assert!(first.starts_with("expunge-sim crash blair-2008 --strategy fix1-complete"));
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
        vec!["crash"],
    ] {
        let r = expunge_sim(&bad);
        assert_eq!(r.code, 2, "{bad:?}: {r:?}");
    }
}
