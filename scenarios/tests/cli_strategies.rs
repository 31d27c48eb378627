//! `expunge-sim strategies`: one line per strategy, `name  description`.

mod cli_support;

use cli_support::expunge_sim;
use engine::Strategy;

#[test]
fn every_strategy_is_listed_with_its_description_in_order() {
    let r = expunge_sim(&["strategies"]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), Strategy::ALL.len(), "{r:?}");
    for (line, st) in lines.iter().zip(Strategy::ALL) {
        assert_eq!(*line, format!("{}  {}", st.name(), st.description()));
    }
}

#[test]
fn the_contract_names_are_all_there() {
    let r = expunge_sim(&["strategies"]);
    let names: Vec<&str> = r
        .stdout
        .lines()
        .map(|l| l.split("  ").next().unwrap())
        .collect();
    for name in [
        "cyrus-2.3.7",
        "cyrus-2.3.12",
        "cyrus-2.3.15",
        "fix1-remap",
        "fix1-complete",
        "fix2-two-calls",
        "fix2-delayed-then-cleanup",
    ] {
        assert!(names.contains(&name), "{name}: {r:?}");
    }
}

#[test]
fn strategies_takes_no_arguments() {
    let r = expunge_sim(&["strategies", "extra"]);
    assert_eq!(r.code, 2, "{r:?}");
}
