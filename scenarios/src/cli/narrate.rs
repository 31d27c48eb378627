//! `run` without `--json`: the story of a run as a person reads it. The seed and every
//! parameter first, the story step by step, the damage at the end, and last the command
//! that replays it.

use std::fmt::Write;

use crate::report::RunReport;

/// `1536` -> `1.5 KiB`; below 1 KiB, plain bytes.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// `human` followed by the exact count: `320.0 GiB (343597383680 bytes)`.
pub fn sized(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else {
        format!("{} ({bytes} bytes)", human(bytes))
    }
}

/// The whole narrative.
pub fn story(r: &RunReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "scenario {}  strategy {}  seed {}",
        r.scenario, r.strategy, r.seed
    );
    steps(&mut s, r);
    ending(&mut s, r);
    let _ = writeln!(s, "reproduce: {}", r.reproduce);
    s
}

/// The story lines and events, grouped by step in step order.
fn steps(s: &mut String, r: &RunReport) {
    let last = r
        .story
        .iter()
        .map(|l| l.step)
        .chain(r.events.iter().map(|e| e.step))
        .max();
    let Some(last) = last else {
        let _ = writeln!(s, "(no story recorded)");
        return;
    };
    let width = r
        .story
        .iter()
        .map(|l| l.process.len())
        .chain(r.events.iter().map(|e| e.process.len()))
        .max()
        .unwrap_or(0);
    let mut step = 0;
    while step <= last {
        let lines: Vec<_> = r.story.iter().filter(|l| l.step == step).collect();
        let events: Vec<_> = r.events.iter().filter(|e| e.step == step).collect();
        if lines.is_empty() && events.is_empty() {
            step += 1;
            continue;
        }
        // A run of steps that each only repeat the same schedule line reads as one.
        let mut end = step;
        if events.is_empty() && lines.len() == 1 {
            while end < last && quiet_repeat(r, end + 1, &lines[0].text) {
                end += 1;
            }
        }
        if end > step {
            let _ = writeln!(s, "\nsteps {step}-{end}");
            let _ = writeln!(
                s,
                "  {:width$}  {} (x{})",
                lines[0].process,
                lines[0].text,
                end - step + 1
            );
            step = end + 1;
            continue;
        }
        let _ = writeln!(s, "\nstep {step}");
        for l in lines {
            let _ = writeln!(s, "  {:width$}  {}", l.process, l.text);
        }
        for e in events {
            let _ = writeln!(s, "  {:width$}  !! {} {}", e.process, e.kind, e.detail);
        }
        step += 1;
    }
}

/// Whether `step` holds exactly one story line, `text`, and no event.
fn quiet_repeat(r: &RunReport, step: usize, text: &str) -> bool {
    let mut lines = r.story.iter().filter(|l| l.step == step);
    matches!((lines.next(), lines.next()), (Some(l), None) if l.text == text)
        && !r.events.iter().any(|e| e.step == step)
}

fn ending(s: &mut String, r: &RunReport) {
    let _ = writeln!(s, "\nfiles at the end ({}):", r.files.len());
    let width = r.files.keys().map(String::len).max().unwrap_or(0);
    for (path, f) in &r.files {
        let sparse = if f.apparent_bytes > f.allocated_bytes.saturating_mul(2)
            && f.apparent_bytes > 1 << 20
        {
            "  sparse"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "  {path:width$}  apparent {}  allocated {}{sparse}",
            sized(f.apparent_bytes),
            sized(f.allocated_bytes)
        );
    }
    let p = &r.partition;
    let pct = if p.capacity_bytes > 0 {
        format!(
            " ({:.1}%)",
            p.used_bytes as f64 * 100.0 / p.capacity_bytes as f64
        )
    } else {
        String::new()
    };
    let full = if p.capacity_bytes > 0 && p.used_bytes >= p.capacity_bytes {
        "  FULL"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "partition: used {} of {}{pct}{full}",
        sized(p.used_bytes),
        sized(p.capacity_bytes)
    );
    let _ = writeln!(
        s,
        "peak: apparent {}, allocated {}, partition used {}",
        sized(r.peak.apparent_bytes),
        sized(r.peak.allocated_bytes),
        sized(r.peak.partition_used_bytes)
    );
    let m = &r.messages;
    let _ = writeln!(
        s,
        "messages: delivered {}, live {}, expunged {}, purged {}, lost {}",
        m.delivered, m.live, m.expunged, m.purged, m.lost
    );
    if r.violations.is_empty() {
        let _ = writeln!(s, "violations: none");
    } else {
        let _ = writeln!(s, "violations ({}):", r.violations.len());
        for v in &r.violations {
            let _ = writeln!(s, "  step {}: {}: {}", v.step, v.check, v.detail);
        }
        let _ = writeln!(
            s,
            "violations standing at the end: {}",
            r.violations_at_end.len()
        );
    }
    match r.expectations_met {
        Some(true) => {
            let _ = writeln!(s, "expectations: met");
        }
        Some(false) => {
            let _ = writeln!(s, "expectations: NOT MET");
            for u in &r.unmet {
                let _ = writeln!(s, "  {u}");
            }
        }
        None => {
            let _ = writeln!(
                s,
                "expectations: none stated for {} (judged by violations: {})",
                r.strategy,
                if r.violations.is_empty() {
                    "none"
                } else {
                    "FAIL"
                }
            );
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::{Event, FileSize, Partition, StoryLine, Violation};

    /// A run of the 2.3.7 wrap, shaped the way the executor reports it.
    pub(crate) fn wrapped_run() -> RunReport {
        RunReport {
            scenario: "blair-2008".into(),
            strategy: "cyrus-2.3.7".into(),
            seed: 8812,
            trace_digest: "00ff".into(),
            sim_calls: 120,
            processes: vec!["lmtpd".into(), "cyr_expire".into()],
            violations: vec![Violation {
                check: "expunge-exists-mismatch".into(),
                step: 1,
                detail: "exists 4294967295, 2 records present".into(),
            }],
            violations_at_end: Vec::new(),
            events: vec![Event {
                kind: "enospc".into(),
                step: 2,
                process: "imapd".into(),
                detail: "write cyrus.expunge.NEW".into(),
            }],
            peak: Default::default(),
            files: [(
                "user/blair/cyrus.expunge".to_string(),
                FileSize {
                    apparent_bytes: 343_597_383_680,
                    allocated_bytes: 8192,
                },
            )]
            .into(),
            partition: Partition {
                capacity_bytes: 1 << 30,
                used_bytes: 1 << 30,
            },
            messages: Default::default(),
            expectations_met: Some(false),
            unmet: vec!["expected no violation".into()],
            reproduce: "expunge-sim run blair-2008 --strategy cyrus-2.3.7 --seed 8812".into(),
            story: vec![
                StoryLine {
                    step: 0,
                    process: "lmtpd".into(),
                    text: "delivers UID 1".into(),
                },
                StoryLine {
                    step: 1,
                    process: "cyr_expire".into(),
                    text: "exists wraps to 4294967295".into(),
                },
            ],
            series: vec![],
            wall_ms: 3,
        }
    }

    #[test]
    fn human_units_are_binary() {
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(343_597_383_680), "320.0 GiB");
        assert_eq!(sized(343_597_383_680), "320.0 GiB (343597383680 bytes)");
    }

    #[test]
    fn the_story_goes_header_steps_damage_reproduce() {
        let text = story(&wrapped_run());
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            "scenario blair-2008  strategy cyrus-2.3.7  seed 8812"
        );
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle} in\n{text}"))
        };
        assert!(at("step 0") < at("delivers UID 1"));
        assert!(at("step 1") < at("exists wraps") && at("exists wraps") < at("step 2"));
        assert!(at("!! enospc write cyrus.expunge.NEW") > at("step 2"));
        assert!(at("320.0 GiB (343597383680 bytes)") > at("files at the end"));
        assert!(text.contains("allocated 8.0 KiB (8192 bytes)  sparse"));
        assert!(text.contains("(100.0%)  FULL"));
        assert!(text.contains("step 1: expunge-exists-mismatch: exists 4294967295"));
        assert!(text.contains("expectations: NOT MET\n  expected no violation"));
        assert_eq!(
            text.lines().last().unwrap(),
            "reproduce: expunge-sim run blair-2008 --strategy cyrus-2.3.7 --seed 8812"
        );
    }

    #[test]
    fn a_passing_run_also_ends_with_reproduce() {
        let mut r = wrapped_run();
        r.violations.clear();
        r.expectations_met = Some(true);
        let text = story(&r);
        assert!(text.contains("violations: none\nexpectations: met\n"));
        assert!(
            text.trim_end()
                .ends_with(&format!("reproduce: {}", r.reproduce))
        );
    }
}
