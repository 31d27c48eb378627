//! Usage and exit code 2: every malformed command line is refused with a message on stderr
//! that names what was wrong, and usage. Nothing here needs a scenario to exist.

mod cli_support;

use cli_support::expunge_sim;

#[test]
fn no_arguments_prints_usage_and_exits_2() {
    let r = expunge_sim(&[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("usage:"), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
}

#[test]
fn help_prints_usage_with_every_command_and_exits_0() {
    let r = expunge_sim(&["--help"]);
    assert_eq!(r.code, 0, "{r:?}");
    for cmd in ["run", "check", "sweep", "merge", "inspect", "strategies"] {
        assert!(
            r.stdout.contains(&format!("expunge-sim {cmd}")),
            "{cmd}: {r:?}"
        );
    }
    for flag in [
        "--strategy",
        "--seed",
        "--json",
        "--trace",
        "--plot",
        "--export",
        "--seeds",
        "--jobs",
        "--shard",
    ] {
        assert!(r.stdout.contains(flag), "{flag}: {r:?}");
    }
}

#[test]
fn a_command_help_prints_its_usage_and_exits_0() {
    let r = expunge_sim(&["sweep", "--help"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("expunge-sim sweep SCENARIO --seeds A..B"),
        "{r:?}"
    );
}

/// Exit 2, with every `needles` in stderr.
fn refused(args: &[&str], needles: &[&str]) {
    let r = expunge_sim(args);
    assert_eq!(r.code, 2, "{args:?}: {r:?}");
    for n in needles {
        assert!(r.stderr.contains(n), "{args:?}: stderr lacks {n:?}: {r:?}");
    }
    assert!(r.stdout.is_empty(), "{args:?}: {r:?}");
}

#[test]
fn an_unknown_command_is_refused() {
    refused(
        &["frobnicate"],
        &["unknown command", "frobnicate", "usage:"],
    );
}

#[test]
fn crash_refuses_an_unknown_mode_with_its_usage() {
    refused(
        &["crash", "blair-2008", "--mode", "melt"],
        &["power, kill or both", "usage: expunge-sim crash"],
    );
}

#[test]
fn unknown_flags_are_refused_by_name() {
    refused(
        &["run", "x", "--sed", "3"],
        &["unknown flag --sed", "usage: expunge-sim run"],
    );
    refused(&["inspect", "d", "--verbose"], &["--verbose"]);
    refused(&["strategies", "--all"], &["--all"]);
}

#[test]
fn missing_values_are_refused_by_flag() {
    refused(&["run", "x", "--seed"], &["--seed needs a value"]);
    refused(
        &["run", "x", "--strategy", "--json"],
        &["--strategy needs a value"],
    );
}

#[test]
fn bad_numbers_are_refused_by_flag() {
    refused(&["run", "x", "--seed", "-1"], &["--seed"]);
    refused(&["run", "x", "--seed", "ten"], &["--seed"]);
    refused(
        &["sweep", "x", "--seeds", "0..4", "--jobs", "0"],
        &["--jobs"],
    );
}

#[test]
fn unknown_strategies_are_refused_with_the_known_names() {
    refused(
        &["run", "x", "--strategy", "fix3"],
        &["unknown strategy", "fix3", "fix1-remap"],
    );
    refused(
        &["sweep", "x", "--seeds", "0..2", "--strategy", "nope"],
        &["unknown strategy"],
    );
}

#[test]
fn bad_seed_ranges_are_refused() {
    for bad in ["5..3", "7", "a..b", "0..x", "1...4"] {
        refused(&["sweep", "x", "--seeds", bad], &["--seeds"]);
    }
    refused(&["sweep", "x"], &["missing --seeds"]);
}

#[test]
fn bad_shards_are_refused() {
    for bad in ["4/4", "1/0", "2", "a/b"] {
        refused(
            &["sweep", "x", "--seeds", "0..4", "--shard", bad],
            &["--shard"],
        );
    }
}

#[test]
fn missing_and_extra_positionals_are_refused() {
    refused(&["run"], &["missing SCENARIO"]);
    refused(&["run", "a", "b"], &["unexpected argument", "\"b\""]);
    refused(&["inspect"], &["missing DIR"]);
    refused(&["merge"], &["missing FILE"]);
    refused(&["sweep", "--seeds", "0..3"], &["missing SCENARIO"]);
}

#[test]
fn an_export_budget_without_export_is_refused() {
    refused(
        &["run", "x", "--export-budget", "10"],
        &["--export-budget needs --export"],
    );
}

#[test]
fn an_unreadable_scenario_is_refused_naming_it() {
    refused(
        &["run", "/no/such/scenario.toml"],
        &["/no/such/scenario.toml"],
    );
    refused(
        &["sweep", "/no/such/scenario.toml", "--seeds", "0..2"],
        &["/no/such/scenario.toml"],
    );
    // check goes on past a scenario it cannot load, then exits 2 with its tally.
    let r = expunge_sim(&["check", "/no/such/scenario.toml"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("/no/such/scenario.toml"), "{r:?}");
    assert!(r.stdout.contains("1 could not run"), "{r:?}");
}

#[test]
fn a_directory_without_scenarios_is_refused_by_check() {
    let dir = cli_support::fresh_dir("check-empty");
    let d = cli_support::path_str(&dir);
    refused(&["check", d], &[d, "no *.toml"]);
}
