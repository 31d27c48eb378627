//! A mistake in a scenario file is reported with the file, line and column.

use scenarios::scenario::parse;

fn err(text: &str) -> String {
    parse(text, "t.toml", "t")
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn an_unknown_step_kind_names_its_line_and_column() {
    let e = err("[[step]]\ndo = \"deliverr\"\nmailbox = \"a\"\n");
    assert!(e.starts_with("t.toml:2:6: "), "{e}");
    assert!(e.contains("deliverr"), "{e}");
}

#[test]
fn an_unknown_version_names_the_value() {
    let e = err("[site]\nversion = \"2.4.0\"\n");
    assert!(e.starts_with("t.toml:2:11: "), "{e}");
    assert!(e.contains("2.4.0"), "{e}");
}

#[test]
fn an_unknown_key_is_refused() {
    let e = err("[fs]\ncapacty = \"1GiB\"\n");
    assert!(e.starts_with("t.toml:2:"), "{e}");
    assert!(e.contains("capacty"), "{e}");
}

#[test]
fn an_empty_range_and_a_bad_unit_are_refused() {
    assert!(err("[users]\ncount = \"5..5\"\n").contains("empty range"));
    assert!(err("[fs]\ncapacity = \"GB\"\n").contains("not a size"));
    assert!(err("[fs]\ncapacity = \"2XB\"\n").contains("unknown unit"));
}

#[test]
fn an_unknown_strategy_in_expectations_is_refused() {
    let e = err("[expect.\"fix3\"]\nviolations = false\n");
    assert!(e.contains("fix3"), "{e}");
}

#[test]
fn ranges_draw_within_bounds_and_replay_from_the_seed() {
    let sc = parse(
        "[users]\ncount = \"2..=4\"\n[[mailbox]]\nname = \"user.{user}\"\nexpire_days = \"1..3\"\n",
        "t.toml",
        "t",
    )
    .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..64 {
        let ops = scenarios::plan::ops(&sc, seed).unwrap();
        assert_eq!(
            ops,
            scenarios::plan::ops(&sc, seed).unwrap(),
            "seed {seed} replays"
        );
        assert!((2..=4).contains(&ops.len()), "{} users", ops.len());
        seen.insert(ops.len());
    }
    assert_eq!(seen.len(), 3, "every user count is drawn: {seen:?}");
}

#[test]
fn an_unknown_session_command_names_its_line_and_column() {
    let e = err(
        "[[process]]\nname = \"i\"\nprogram = \"imapd\"\nmailboxes = [\"m\"]\nsession = true\nsession_commands = [\"noop\", \"fetchh\"]\n",
    );
    assert!(e.starts_with("t.toml:6:"), "{e}");
    assert!(e.contains("fetchh") && e.contains("uid_fetch"), "{e}");
}
