//! Judge a run against what its scenario expects of the strategy.

use crate::report::{RunReport, Violation};
use crate::scenario::Expect;

/// Whether `found` has a violation as `want` says (`when`: which ones, for the message).
fn violations_unmet(want: bool, found: &[Violation], when: &str) -> Option<String> {
    match (want, found.first()) {
        (true, None) => Some(format!("expected violations{when}, found none")),
        (false, Some(v)) => Some(format!(
            "expected no violation{when}, found {} (first: {} at step {})",
            found.len(),
            v.check,
            v.step
        )),
        _ => None,
    }
}

/// The unmet expectations, one line each (empty: all met).
pub fn judge(e: &Expect, r: &RunReport, block_size: u64) -> Vec<String> {
    let mut unmet = Vec::new();
    if let Some(want) = e.violations {
        unmet.extend(violations_unmet(want, &r.violations, ""));
    }
    if let Some(want) = e.violations_at_end {
        unmet.extend(violations_unmet(want, &r.violations_at_end, " at the end"));
    }
    for c in &e.checks {
        if !r.violations.iter().any(|v| &v.check == c) {
            unmet.push(format!("expected a `{c}` violation"));
        }
    }
    for c in &e.absent_checks {
        if let Some(v) = r.violations.iter().find(|v| &v.check == c) {
            unmet.push(format!("unexpected `{c}` at step {}: {}", v.step, v.detail));
        }
    }
    for k in &e.events {
        if !r.events.iter().any(|ev| &ev.kind == k) {
            unmet.push(format!("expected a `{k}` event"));
        }
    }
    for k in &e.absent_events {
        if let Some(ev) = r.events.iter().find(|ev| &ev.kind == k) {
            unmet.push(format!(
                "unexpected `{k}` event at step {} ({}): {}",
                ev.step, ev.process, ev.detail
            ));
        }
    }
    let p = &r.peak;
    if let Some(min) = e.min_peak_apparent_bytes
        && p.apparent_bytes < min.0
    {
        unmet.push(format!(
            "peak apparent size {} < {}",
            p.apparent_bytes, min.0
        ));
    }
    if let Some(max) = e.max_peak_apparent_bytes
        && p.apparent_bytes > max.0
    {
        unmet.push(format!(
            "peak apparent size {} > {}",
            p.apparent_bytes, max.0
        ));
    }
    if let Some(max) = e.max_peak_allocated_bytes
        && p.allocated_bytes > max.0
    {
        unmet.push(format!(
            "peak allocated size {} > {}",
            p.allocated_bytes, max.0
        ));
    }
    if let Some(want) = e.partition_full {
        let full = p.partition_used_bytes + block_size >= r.partition.capacity_bytes;
        if want != full {
            unmet.push(format!(
                "expected the partition {}full; peak use {} of {}",
                if want { "" } else { "not " },
                p.partition_used_bytes,
                r.partition.capacity_bytes
            ));
        }
    }
    if let Some(max) = e.max_lost
        && r.messages.lost > max
    {
        unmet.push(format!(
            "{} message(s) lost, at most {max} expected",
            r.messages.lost
        ));
    }
    if let Some(min) = e.min_lost
        && r.messages.lost < min
    {
        unmet.push(format!(
            "{} message(s) lost, at least {min} expected",
            r.messages.lost
        ));
    }
    if let Some(min) = e.min_expunged
        && r.messages.expunged < min
    {
        unmet.push(format!(
            "{} message(s) in cyrus.expunge, at least {min} expected",
            r.messages.expunged
        ));
    }
    if let Some(max) = e.max_expunged
        && r.messages.expunged > max
    {
        unmet.push(format!(
            "{} message(s) in cyrus.expunge, at most {max} expected",
            r.messages.expunged
        ));
    }
    unmet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_at_end_judges_only_the_final_state() {
        let mut r = crate::cli::narrate::tests::wrapped_run();
        let e = Expect {
            violations_at_end: Some(false),
            ..Expect::default()
        };
        // Damage on the way, repaired by the end: met.
        assert!(!r.violations.is_empty());
        assert!(judge(&e, &r, 4096).is_empty());
        r.violations_at_end.push(Violation {
            check: "uid-duplicate".into(),
            step: 3,
            detail: "user/bob/Spam/cyrus.expunge: 1 record repeats".into(),
        });
        let unmet = judge(&e, &r, 4096);
        assert_eq!(unmet.len(), 1);
        assert!(unmet[0].contains("uid-duplicate"), "{unmet:?}");
        let want = Expect {
            violations_at_end: Some(true),
            ..Expect::default()
        };
        assert!(judge(&want, &r, 4096).is_empty());
    }
}
