//! `expunge-sim check` over the bundled catalog, as a test: every scenario under every
//! strategy it states expectations for meets them.

use scenarios::{RunOptions, catalog_names, load, run};

#[test]
fn every_bundled_scenario_meets_its_expectations() {
    let mut failures = Vec::new();
    for name in catalog_names() {
        let sc = load(name).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !sc.expected_strategies().is_empty(),
            "{name} states no expectations"
        );
        for strategy in sc.expected_strategies() {
            let r = run(&sc, strategy, 0, &RunOptions::default()).unwrap_or_else(|e| panic!("{e}"));
            let report = r.report;
            if report.expectations_met != Some(true) {
                failures.push(format!(
                    "{name} {}: {:?}\n  violations: {:?}\n  events: {:?}\n  reproduce: {}",
                    strategy.name(),
                    report.unmet,
                    report
                        .violations
                        .iter()
                        .map(|v| format!("{}@{}: {}", v.check, v.step, v.detail))
                        .collect::<Vec<_>>(),
                    report
                        .events
                        .iter()
                        .map(|e| format!("{}@{} {}", e.kind, e.step, e.detail))
                        .take(12)
                        .collect::<Vec<_>>(),
                    report.reproduce
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
