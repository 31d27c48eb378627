//! The one executor. Every schedule, whichever source wrote it (a scenario file, a proptest
//! strategy, a fuzz input, the madsim world), is a list of [`Op`]s applied to a [`World`];
//! the oracles run after every step.

use std::collections::BTreeMap;

use engine::append::{Delivery, deliver, imapd_expunge, set_deleted};
use engine::cyr_expire::{Annotations, annotation_for, cyr_expire};
use engine::ghost::Ghost;
use engine::mailbox::{mailbox_close, mailbox_create, mailbox_open_and_lock};
use engine::oracle::{Verdict, check_all};
use engine::{Cx, CyrusError, ExpungeMode, Log, NoteKind, Site, Strategy};
use sim::{FaultAction, FaultPlan, SimFs, Vfs};

use crate::report::*;

/// One thing that happens to the site. Parameters are already drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Create {
        mailbox: String,
        expire_days: Option<u32>,
    },
    Deliver {
        mailbox: String,
        sent_age_days: u32,
        size: u32,
    },
    Delete {
        mailbox: String,
        count: u32,
        random: bool,
    },
    Expunge {
        mailbox: String,
    },
    Open {
        mailbox: String,
    },
    CyrExpire,
    Advance {
        secs: u32,
    },
    Upgrade {
        version: engine::Version,
    },
    Annotate {
        mailbox: String,
        expire_days: Option<u32>,
    },
    Arm {
        action: FaultAction,
        after_calls: u64,
    },
    PowerLoss,
}

impl Op {
    /// A short description for the story.
    pub fn describe(&self) -> String {
        match self {
            Op::Create {
                mailbox,
                expire_days,
            } => match expire_days {
                Some(d) => format!("create {mailbox} (expire annotation: {d} days)"),
                None => format!("create {mailbox}"),
            },
            Op::Deliver {
                mailbox,
                sent_age_days,
                size,
            } => {
                format!(
                    "lmtpd delivers a {size}-byte message sent {sent_age_days} day(s) ago to {mailbox}"
                )
            }
            Op::Delete { mailbox, count, .. } => {
                format!("the user sets \\Deleted on {count} message(s) in {mailbox}")
            }
            Op::Expunge { mailbox } => format!("imapd EXPUNGE in {mailbox}"),
            Op::Open { mailbox } => format!("imapd SELECT {mailbox}"),
            Op::CyrExpire => "cyr_expire runs".to_string(),
            Op::Advance { secs } => format!("the clock advances {}", human_secs(*secs)),
            Op::Upgrade { version } => format!("the site upgrades to Cyrus {}", version.name()),
            Op::Annotate {
                mailbox,
                expire_days,
            } => format!("expire annotation of {mailbox} set to {expire_days:?}"),
            Op::Arm {
                action,
                after_calls,
            } => format!("a {} is armed {after_calls} call(s) ahead", action.name()),
            Op::PowerLoss => "the machine loses power".to_string(),
        }
    }
}

/// Time since the run started, as `day D HH:MM`.
fn clock(secs: u32) -> String {
    format!(
        "day {} {:02}:{:02}",
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60
    )
}

fn human_secs(s: u32) -> String {
    if s.is_multiple_of(86_400) {
        format!("{} day(s)", s / 86_400)
    } else {
        format!("{} hour(s)", s as f64 / 3600.0)
    }
}

/// Everything a run needs besides the schedule.
#[derive(Debug, Clone)]
pub struct Setup {
    pub scenario: String,
    pub site: Site,
    pub sim: sim::SimConfig,
    pub start: u32,
}

/// The simulated site: the filesystem, Cyrus's configuration, the clock, and ghost state.
pub struct World {
    pub fs: SimFs,
    pub site: Site,
    pub strategy: Strategy,
    pub now: u32,
    pub annotations: Annotations,
    pub mailboxes: Vec<String>,
    pub ghost: Ghost,
    pub log: Log,
    pub rng: crate::scenario::Rng,
    processes: Vec<String>,
}

impl World {
    pub fn new(setup: &Setup, strategy: Strategy, seed: u64) -> World {
        let mut cfg = setup.sim.clone();
        cfg.seed = seed;
        World {
            fs: SimFs::new(cfg),
            site: setup.site.clone(),
            strategy,
            now: setup.start,
            annotations: Annotations::new(),
            mailboxes: Vec::new(),
            ghost: Ghost::new(setup.site.expire_rule),
            log: Log::default(),
            rng: crate::scenario::Rng::new(seed.rotate_left(17)),
            processes: Vec::new(),
        }
    }

    /// Run `f` as a fresh process called `name`, which exits afterwards.
    fn as_process<R>(&mut self, name: &str, f: impl FnOnce(&mut Cx) -> R) -> R {
        if !self.processes.iter().any(|p| p == name) {
            self.processes.push(name.to_string());
        }
        let pid = self.fs.spawn(name);
        let mut cx = Cx {
            fs: &mut self.fs,
            pid,
            name: name.to_string(),
            site: &self.site,
            now: self.now,
            log: &mut self.log,
        };
        let r = f(&mut cx);
        let _ = self.fs.kill(pid);
        r
    }

    pub fn processes(&self) -> &[String] {
        &self.processes
    }

    /// Apply one op. Errors a Cyrus process would log are in the log, not here.
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::Create {
                mailbox,
                expire_days,
            } => {
                let uidvalidity = self.now;
                let r = self.as_process("admin", |cx| mailbox_create(cx, mailbox, uidvalidity));
                if r.is_ok() {
                    self.mailboxes.push(mailbox.clone());
                    self.mailboxes.sort();
                    let immediate = self.site.expunge_mode == ExpungeMode::Immediate;
                    self.ghost.created(mailbox, immediate);
                }
                if let Some(d) = expire_days {
                    self.annotations.insert(mailbox.clone(), *d);
                }
            }
            Op::Deliver {
                mailbox,
                sent_age_days,
                size,
            } => {
                let d = Delivery {
                    sentdate: self.now.saturating_sub(sent_age_days * 86_400),
                    internaldate: self.now,
                    size: *size,
                };
                if let Ok(uid) = self.as_process("lmtpd", |cx| deliver(cx, mailbox, d)) {
                    self.ghost.delivered(mailbox, uid, d);
                }
            }
            Op::Delete {
                mailbox,
                count,
                random,
            } => {
                // The user picks among what the index shows and is not yet \Deleted (read on
                // a copy, so the look is not a call of the run).
                let ghost = self.ghost.mailboxes.get(mailbox);
                let mut candidates: Vec<u32> =
                    engine::oracle::index_uids(&mut self.observer(), mailbox)
                        .into_iter()
                        .filter(|u| {
                            ghost
                                .and_then(|m| m.msgs.get(u))
                                .is_some_and(|g| !g.deleted)
                        })
                        .collect();
                let mut pick = Vec::new();
                while pick.len() < *count as usize && !candidates.is_empty() {
                    let i = if *random {
                        self.rng.below(candidates.len() as u64) as usize
                    } else {
                        0
                    };
                    pick.push(candidates.remove(i));
                }
                if let Ok(flagged) = self.as_process("imapd", |cx| set_deleted(cx, mailbox, &pick))
                {
                    self.ghost.flagged_deleted(mailbox, &flagged);
                }
            }
            Op::Expunge { mailbox } => {
                if self
                    .as_process("imapd", |cx| imapd_expunge(cx, mailbox))
                    .is_ok()
                {
                    self.ghost.user_expunged(mailbox, self.now);
                }
            }
            Op::Open { mailbox } => {
                self.as_process("imapd", |cx| -> Result<(), CyrusError> {
                    let mut mb = mailbox_open_and_lock(cx, mailbox)?;
                    mailbox_close(cx, &mut mb)
                })
                .ok();
            }
            Op::CyrExpire => {
                let mailboxes = self.mailboxes.clone();
                let ann = self.annotations.clone();
                let strategy = self.strategy;
                let now = self.now as i64;
                let expunge_mark = now - self.site.expunge_days as i64 * 86_400;
                for m in &mailboxes {
                    let expire_mark = match annotation_for(&ann, m) {
                        Some(d) if d > 0 => now - d as i64 * 86_400,
                        _ => 0,
                    };
                    self.ghost.expire_ran(m, expire_mark, expunge_mark);
                }
                let _ = self.as_process("cyr_expire", |cx| {
                    cyr_expire(cx, &mailboxes, &ann, strategy)
                });
            }
            Op::Advance { secs } => self.now = self.now.saturating_add(*secs),
            Op::Upgrade { version } => self.site.version = *version,
            Op::Annotate {
                mailbox,
                expire_days,
            } => match expire_days {
                Some(d) => {
                    self.annotations.insert(mailbox.clone(), *d);
                }
                None => {
                    self.annotations.remove(mailbox);
                }
            },
            Op::Arm {
                action,
                after_calls,
            } => {
                let at = self.fs.calls() + after_calls.saturating_sub(1);
                self.fs.set_fault_plan(FaultPlan::at(at, *action));
            }
            Op::PowerLoss => {
                self.fs.power_loss();
                self.log.push(engine::Note {
                    kind: NoteKind::PowerLoss,
                    process: "machine".to_string(),
                    detail: "power lost: the disk reverts to its durable image".to_string(),
                });
            }
        }
    }

    /// Run the oracles on a copy of the filesystem (a cheap clone: blocks are shared), so
    /// that their reads are not calls of the run: not traced, not counted, never faulted.
    pub fn check(&mut self) -> Verdict {
        check_all(&mut self.observer(), &self.ghost)
    }

    /// A copy of the filesystem for looking without acting: its fault plan is cleared, so a
    /// kill or power loss armed for the run can never strike the oracles' own reads (found
    /// by the `schedule` fuzz target: a pending kill killed the fsck and counted every
    /// message lost).
    pub fn observer(&self) -> SimFs {
        let mut fs = self.fs.clone();
        fs.set_fault_plan(FaultPlan::default());
        fs
    }
}

/// How a run is driven.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Write every filesystem call as a line of text here.
    pub trace: Option<std::path::PathBuf>,
    /// Keep the narration (always kept; kept for the CLI's contract).
    pub keep_story: bool,
}

/// A finished run: its report and the final filesystem.
pub struct Run {
    pub report: RunReport,
    pub fs: SimFs,
}

/// Why a run could not be made at all (not a finding: the harness itself failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

/// Apply `ops` in order, checking after each, and report.
pub fn execute(
    setup: &Setup,
    ops: &[Op],
    strategy: Strategy,
    seed: u64,
    opts: &RunOptions,
) -> Result<Run, RunError> {
    let started = std::time::Instant::now();
    let mut w = World::new(setup, strategy, seed);
    if let Some(path) = &opts.trace {
        let f = std::fs::File::create(path)
            .map_err(|e| RunError(format!("{}: cannot write the trace: {e}", path.display())))?;
        w.fs.set_trace_sink(Some(Box::new(std::io::BufWriter::new(f))));
    }
    let mut violations: Vec<Violation> = Vec::new();
    let mut seen: BTreeMap<(String, String), ()> = BTreeMap::new();
    let mut story = Vec::new();
    let mut events = Vec::new();
    let mut boundaries = Vec::new();
    let mut verdict = Verdict::default();
    let mut sim_events_seen = 0usize;
    for (step, op) in ops.iter().enumerate() {
        let before = w.log.notes.len();
        story.push(StoryLine {
            step,
            process: "schedule".to_string(),
            text: format!("[{}] {}", clock(w.now - setup.start), op.describe()),
        });
        w.apply(op);
        for n in &w.log.notes[before..] {
            match n.kind.event_name() {
                Some(kind) => events.push(Event {
                    kind: kind.to_string(),
                    step,
                    process: n.process.clone(),
                    detail: n.detail.clone(),
                }),
                None => story.push(StoryLine {
                    step,
                    process: n.process.clone(),
                    text: n.detail.clone(),
                }),
            }
        }
        // Faults the filesystem raised that no Cyrus process reported (a read past a map).
        for e in w.fs.events_since(sim_events_seen) {
            if e.kind == sim::EventKind::Segv {
                let key = ("map-read-past-length".to_string(), e.detail.clone());
                if seen.insert(key, ()).is_none() {
                    violations.push(Violation {
                        check: "map-read-past-length".to_string(),
                        step,
                        detail: e.detail.clone(),
                    });
                }
            }
        }
        sim_events_seen = w.fs.events().len();
        verdict = w.check();
        for f in &verdict.findings {
            let key = (f.check.clone(), f.file.clone());
            if seen.insert(key, ()).is_none() {
                violations.push(Violation {
                    check: f.check.clone(),
                    step,
                    detail: format!("{}: {}", f.file, f.detail),
                });
            }
        }
        boundaries.push(w.fs.calls());
    }
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
    let mut report = RunReport {
        scenario: setup.scenario.clone(),
        strategy: strategy.name().to_string(),
        seed,
        trace_digest: format!("{:016x}", w.fs.trace_digest()),
        sim_calls: w.fs.calls(),
        processes: w.processes().to_vec(),
        violations,
        events,
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
        series: series_by_step(&w.fs, &boundaries),
        story,
        wall_ms: 0,
    };
    report.wall_ms = started.elapsed().as_millis() as u64;
    Ok(Run { report, fs: w.fs })
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
