//! What a run records step by step, whichever schedule source drives it: the story, the
//! events, the violations, the size series, and at the end the run report.

use std::collections::BTreeMap;

use engine::Strategy;
use engine::oracle::Verdict;
use sim::SimFs;

use crate::executor::{Op, Run, RunError, Setup, World, clock};
use crate::report::*;

/// What a run records step by step: the story, the events, the violations (each (check,
/// file) once), and the call count at each step's end. Every schedule source drives one.
pub struct Recorder {
    start: u32,
    step: usize,
    violations: Vec<Violation>,
    seen: BTreeMap<(String, String), ()>,
    story: Vec<StoryLine>,
    events: Vec<Event>,
    boundaries: Vec<u64>,
    verdict: Verdict,
    sim_events_seen: usize,
}

impl Recorder {
    pub fn new(start: u32) -> Recorder {
        Recorder {
            start,
            step: 0,
            violations: Vec::new(),
            seen: BTreeMap::new(),
            story: Vec::new(),
            events: Vec::new(),
            boundaries: Vec::new(),
            verdict: Verdict::default(),
            sim_events_seen: 0,
        }
    }

    /// Steps recorded so far.
    pub fn steps(&self) -> usize {
        self.step
    }

    /// Apply `op` to `w` as one step told by `who` ("schedule", or the process that asked
    /// for it), then run the oracles. Returns the notes the op produced.
    pub fn step(&mut self, w: &mut World, op: &Op, who: &str) -> Vec<engine::Note> {
        let step = self.step;
        self.step += 1;
        let before = w.log.notes.len();
        self.story.push(StoryLine {
            step,
            process: who.to_string(),
            text: format!(
                "[{}] {}",
                clock(w.now.saturating_sub(self.start)),
                op.describe()
            ),
        });
        w.apply(op);
        let notes = w.log.notes[before..].to_vec();
        for n in &notes {
            match n.kind.event_name() {
                Some(kind) => self.events.push(Event {
                    kind: kind.to_string(),
                    step,
                    process: n.process.clone(),
                    detail: n.detail.clone(),
                }),
                None => self.story.push(StoryLine {
                    step,
                    process: n.process.clone(),
                    text: n.detail.clone(),
                }),
            }
        }
        // Faults the filesystem raised that no Cyrus process reported (a read past a map).
        for e in w.fs.events_since(self.sim_events_seen) {
            if matches!(e.kind, sim::EventKind::Segv | sim::EventKind::MapTail) {
                let key = ("map-read-past-length".to_string(), e.detail.clone());
                if self.seen.insert(key, ()).is_none() {
                    self.violations.push(Violation {
                        check: "map-read-past-length".to_string(),
                        step,
                        detail: e.detail.clone(),
                    });
                }
            }
        }
        let everything =
            crate::executor::changes_every_mailbox(w.fs.events_since(self.sim_events_seen));
        self.sim_events_seen = w.fs.events().len();
        self.verdict = w.check_after(op, everything);
        for f in &self.verdict.findings {
            let key = (f.check.clone(), f.file.clone());
            if self.seen.insert(key, ()).is_none() {
                self.violations.push(Violation {
                    check: f.check.clone(),
                    step,
                    detail: format!("{}: {}", f.file, f.detail),
                });
            }
        }
        self.boundaries.push(w.fs.calls());
        notes
    }

    /// A line of the story that is not an op (a node restarted, a process waits).
    pub fn tell(&mut self, w: &World, process: &str, text: String) {
        self.story.push(StoryLine {
            step: self.step.saturating_sub(1),
            process: process.to_string(),
            text: format!("[{}] {text}", clock(w.now.saturating_sub(self.start))),
        });
    }

    /// The report of the run that ended with `w`.
    pub fn finish(
        self,
        mut w: World,
        setup: &Setup,
        strategy: Strategy,
        seed: u64,
        started: std::time::Instant,
    ) -> Result<Run, RunError> {
        w.fs.flush_trace()
            .map_err(|e| RunError(format!("writing the trace: {e}")))?;
        let peaks = w.fs.peaks();
        let (capacity, used) = w.fs.partition();
        let files =
            w.fs.files()
                .into_iter()
                .map(|(p, s)| {
                    (
                        p,
                        FileSize {
                            apparent_bytes: s.size,
                            allocated_bytes: s.allocated,
                        },
                    )
                })
                .collect();
        let verdict = self.verdict;
        let violations_at_end = verdict
            .findings
            .iter()
            .map(|f| {
                let detail = format!("{}: {}", f.file, f.detail);
                let first = self
                    .violations
                    .iter()
                    .find(|v| v.check == f.check && v.detail.starts_with(&f.file))
                    .map_or(self.step.saturating_sub(1), |v| v.step);
                Violation {
                    check: f.check.clone(),
                    step: first,
                    detail,
                }
            })
            .collect();
        let mut report = RunReport {
            scenario: setup.scenario.clone(),
            strategy: strategy.name().to_string(),
            seed,
            trace_digest: format!("{:016x}", w.fs.trace_digest()),
            sim_calls: w.fs.calls(),
            processes: w.processes().to_vec(),
            violations: self.violations,
            violations_at_end,
            events: self.events,
            peak: Peak {
                apparent_bytes: peaks.apparent,
                allocated_bytes: peaks.allocated,
                partition_used_bytes: peaks.partition_used,
            },
            files,
            partition: Partition {
                capacity_bytes: capacity,
                used_bytes: used,
            },
            messages: Messages {
                delivered: verdict.delivered,
                live: verdict.live,
                expunged: verdict.expunged,
                purged: verdict.purged,
                lost: verdict.lost,
            },
            expectations_met: None,
            unmet: Vec::new(),
            reproduce: format!(
                "expunge-sim run {} --strategy {} --seed {seed}",
                setup.scenario,
                strategy.name()
            ),
            series: series_by_step(&w.fs, &self.boundaries),
            story: self.story,
            wall_ms: 0,
        };
        report.wall_ms = started.elapsed().as_millis() as u64;
        Ok(Run { report, fs: w.fs })
    }
}

/// The filesystem's size series, each point labelled with the step it fell in.
fn series_by_step(fs: &SimFs, boundaries: &[u64]) -> Vec<SizePoint> {
    fs.series()
        .into_iter()
        .map(|p| SizePoint {
            call: p.seq,
            step: boundaries.partition_point(|&b| b <= p.seq),
            apparent_bytes: p.largest_apparent,
            allocated_bytes: p.largest_allocated,
            partition_used_bytes: p.partition_used,
        })
        .collect()
}
