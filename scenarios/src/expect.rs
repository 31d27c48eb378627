//! Judge a run against what its scenario expects of the strategy.

use crate::report::RunReport;
use crate::scenario::Expect;

/// The unmet expectations, one line each (empty: all met).
pub fn judge(e: &Expect, r: &RunReport, block_size: u64) -> Vec<String> {
    let mut unmet = Vec::new();
    if let Some(want) = e.violations {
        let have = !r.violations.is_empty();
        if want != have {
            unmet.push(if want {
                "expected violations, found none".to_string()
            } else {
                format!(
                    "expected no violation, found {} (first: {} at step {})",
                    r.violations.len(),
                    r.violations[0].check,
                    r.violations[0].step
                )
            });
        }
    }
    if let Some(want) = e.violations_at_end {
        let end = &r.violations_at_end;
        if want == end.is_empty() {
            unmet.push(if want {
                "expected violations at the end, found none".to_string()
            } else {
                format!(
                    "expected no violation at the end, found {} (first: {}: {})",
                    end.len(),
                    end[0].check,
                    end[0].detail
                )
            });
        }
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
    use crate::report::Violation;

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
