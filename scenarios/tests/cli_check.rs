//! `expunge-sim check`: one line per scenario and strategy, exit 0 only if all are met.

mod cli_support;

use cli_support::expunge_sim;

#[test]
fn the_catalog_gives_a_line_per_pair_and_an_honest_exit_code() {
    let r = expunge_sim(&["check"]);
    assert!(r.code == 0 || r.code == 1, "{r:?}");
    let mut failed = 0;
    let mut pairs = 0;
    let mut lines = r.stdout.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("FAIL  ") {
            failed += 1;
            pairs += 1;
            let next = lines.next().unwrap_or_default();
            assert!(
                next.trim_start().starts_with("reproduce: expunge-sim run "),
                "{next}"
            );
        } else if line.starts_with("ok    ") {
            pairs += 1;
        }
    }
    assert!(pairs > 0, "{r:?}");
    assert_eq!(r.code, i32::from(failed > 0), "{r:?}");
}
