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
use sim::{FaultAction, FaultPlan, SimFs};

use crate::report::*;
use crate::untraced::{FsMark, entries_of};

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
    /// `unexpunge -l`: a reader of cyrus.expunge.
    Unexpunge {
        mailbox: String,
    },
    CyrExpire,
    /// An administrator's `reconstruct [-k] MAILBOX`.
    Reconstruct {
        mailbox: String,
        keep: bool,
    },
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
    /// A command of the imapd session `session`, which holds `mailbox` selected across ops
    /// (see [`crate::session`]).
    Session {
        session: String,
        mailbox: String,
        cmd: crate::session::Imap,
    },
}

impl Op {
    /// The one mailbox this op can change, if it is confined to one. `None` for ops that
    /// change no file (the clock, an annotation) or may change any (cyr_expire, power loss).
    fn confined_to(&self) -> Option<&str> {
        match self {
            Op::Create { mailbox, .. }
            | Op::Deliver { mailbox, .. }
            | Op::Delete { mailbox, .. }
            | Op::Expunge { mailbox }
            | Op::Open { mailbox }
            | Op::Unexpunge { mailbox }
            | Op::Reconstruct { mailbox, .. }
            | Op::Session { mailbox, .. } => Some(mailbox),
            _ => None,
        }
    }

    /// Whether the op changes no file at all.
    fn touches_no_file(&self) -> bool {
        matches!(
            self,
            Op::Advance { .. } | Op::Upgrade { .. } | Op::Annotate { .. } | Op::Arm { .. }
        )
    }

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
            Op::Unexpunge { mailbox } => format!("unexpunge -l {mailbox}"),
            Op::CyrExpire => "cyr_expire runs".to_string(),
            Op::Reconstruct { mailbox, keep } => {
                format!("reconstruct{} {mailbox}", if *keep { " -k" } else { "" })
            }
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
            Op::Session {
                session,
                mailbox,
                cmd,
            } => format!("{session}: {} {mailbox}", cmd.describe()),
        }
    }
}

/// Time since the run started, as `day D HH:MM`.
pub(crate) fn clock(secs: u32) -> String {
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
/// Cloning is cheap (the filesystem's blocks are shared): the crash sweep clones a world
/// once per crash point.
#[derive(Clone)]
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
    /// The name the next ops run under instead of their program's ("imapd-u3"): the
    /// multi-process world sets it to the node that applies the op.
    actor: Option<String>,
    /// The oracles' last verdict per mailbox: after an op confined to one mailbox only that
    /// one is judged again (see [`World::check_after`]).
    verdicts: BTreeMap<String, Verdict>,
    /// Logged-in imapd sessions by name, holding their fds and maps across ops.
    pub(crate) sessions: BTreeMap<String, crate::session::Held>,
    /// What the session oracles found, each (check, file) once.
    pub(crate) session_findings: BTreeMap<(String, String), engine::fsck::Finding>,
    /// What cyrus.index held in each mailbox the oracles read at [`FsMark`].
    index_seen: (FsMark, BTreeMap<String, Vec<u32>>),
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
            actor: None,
            verdicts: BTreeMap::new(),
            sessions: BTreeMap::new(),
            session_findings: BTreeMap::new(),
            index_seen: (FsMark::default(), BTreeMap::new()),
        }
    }

    /// Run the following ops as process `name` (None: under their program's name).
    pub fn set_actor(&mut self, name: Option<&str>) {
        self.actor = name.map(str::to_string);
    }

    /// Run `f` as a fresh process called `name`, which exits afterwards.
    fn as_process<R>(&mut self, program: &str, f: impl FnOnce(&mut Cx) -> R) -> R {
        let name = self.actor.clone().unwrap_or_else(|| program.to_string());
        let name = name.as_str();
        if !self.processes.iter().any(|p| p == name) {
            self.processes.push(name.to_string());
        }
        engine::cx::as_process(&mut self.fs, &self.site, self.now, &mut self.log, name, f)
    }

    /// Run `f` in the live process `pid` (an imapd session's), which goes on afterwards.
    pub(crate) fn run_in<R>(
        &mut self,
        pid: sim::Pid,
        name: &str,
        f: impl FnOnce(&mut Cx) -> R,
    ) -> R {
        engine::cx::in_process(
            &mut self.fs,
            &self.site,
            self.now,
            &mut self.log,
            pid,
            name,
            f,
        )
    }

    /// Count `name` among the run's processes.
    pub(crate) fn note_process(&mut self, name: &str) {
        if !self.processes.iter().any(|p| p == name) {
            self.processes.push(name.to_string());
        }
    }

    /// imapd SELECT of `mailbox` by a fresh process (`Op::Open`), with Cyrus's answer: the
    /// crash sweep's recovery needs to know whether the mailbox still opens.
    pub fn open_mailbox(&mut self, mailbox: &str) -> Result<(), CyrusError> {
        self.as_process("imapd", |cx| -> Result<(), CyrusError> {
            let mut mb = mailbox_open_and_lock(cx, mailbox)?;
            mailbox_close(cx, &mut mb)
        })
    }

    /// `reconstruct [-k] mailbox` by a fresh process. The ghost learns which files it
    /// purged: an administrator's tool may remove what was already expunged or expired.
    pub fn reconstruct(
        &mut self,
        mailbox: &str,
        keep: bool,
    ) -> Result<engine::reconstruct::ReconstructReport, CyrusError> {
        let r = self.as_process("reconstruct", |cx| {
            engine::reconstruct::reconstruct(cx, mailbox, keep)
        });
        if let Ok(rep) = &r {
            self.ghost.admin_purged(mailbox, &rep.purged);
        }
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
                let mut candidates: Vec<u32> = self
                    .index_uids(mailbox)
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
                // The user asked: an EXPUNGE that died half-way may have moved any of the
                // \Deleted messages, and that is allowed.
                match self.as_process("imapd", |cx| imapd_expunge(cx, mailbox)) {
                    Ok(_) | Err(CyrusError::Died(..)) => {
                        self.ghost.user_expunged(mailbox, self.now)
                    }
                    Err(_) => {}
                }
            }
            Op::Unexpunge { mailbox } => {
                let _ = self.as_process("unexpunge", |cx| {
                    engine::unexpunge::unexpunge_list(cx, mailbox)
                });
            }
            Op::Open { mailbox } => {
                let _ = self.open_mailbox(mailbox);
            }
            Op::Reconstruct { mailbox, keep } => {
                let _ = self.reconstruct(mailbox, *keep);
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
            Op::Session {
                session,
                mailbox,
                cmd,
            } => crate::session::apply(self, session, mailbox, *cmd),
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

    /// The UIDs cyrus.index of `mailbox` holds, in file order (what a user sees): as the
    /// oracles last read them if no file changed since, else read on a copy.
    pub fn index_uids(&self, mailbox: &str) -> Vec<u32> {
        match self.index_seen.1.get(mailbox) {
            Some(uids) if self.index_seen.0 == FsMark::of(&self.fs) => uids.clone(),
            _ => engine::oracle::index_uids(&mut self.snapshot(), mailbox),
        }
    }

    /// A copy of the filesystem for looking, with no faults armed: a look must never trip
    /// the fault plan meant for the run.
    fn snapshot(&self) -> SimFs {
        self.fs.snapshot()
    }

    /// Run the oracles on a copy of the filesystem (a cheap clone: blocks are shared), so
    /// that their reads are not calls of the run: not traced, not counted, never faulted.
    pub fn check(&mut self) -> Verdict {
        let mut v = check_all(&mut self.snapshot(), &self.ghost);
        v.findings.extend(self.session_findings.values().cloned());
        v
    }

    /// The oracles after `op`, judging again only what the op could have changed: the one
    /// mailbox an op confined to it touched (and any mailbox not judged yet), nothing after
    /// an op that changes no file, everything after the rest or when `everything` (the
    /// machine lost power, or a fault fired). The verdict equals [`World::check`]'s.
    pub fn check_after(&mut self, op: &Op, everything: bool) -> Verdict {
        let names: Vec<String> = self
            .ghost
            .mailboxes
            .keys()
            .filter(|name| {
                everything
                    || !self.verdicts.contains_key(*name)
                    || match op.confined_to() {
                        Some(m) => m == name.as_str(),
                        None => !op.touches_no_file(),
                    }
            })
            .cloned()
            .collect();
        if !names.is_empty() {
            // One reading process for the step; the copy is dropped with it.
            let mut fs = self.snapshot();
            let files = fs.files();
            let mut judge = engine::oracle::Judge::new(&mut fs);
            let mark = FsMark::of(&self.fs);
            if self.index_seen.0 != mark {
                self.index_seen = (mark, BTreeMap::new());
            }
            for name in names {
                let entries = entries_of(&files, &engine::mailbox::mailbox_path(&name));
                let judged = judge.judge(&self.ghost, &name, entries);
                if let Some(uids) = judged.index_uids {
                    self.index_seen.1.insert(name.clone(), uids);
                }
                self.verdicts.insert(name, judged.verdict);
            }
        }
        let mut all = Verdict::default();
        for v in self.verdicts.values() {
            all.absorb(v);
        }
        all.findings.extend(self.session_findings.values().cloned());
        all
    }
}

/// Whether a step whose filesystem raised `events` may have changed files beyond its op's
/// own mailbox: a power loss reverts every file to its durable image. A kill changes no file
/// (it closes fds and drops locks and maps), and every op's process is killed when it
/// exits, so a kill alone must not make the oracles judge every mailbox again.
pub fn changes_every_mailbox(events: &[sim::SimEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e.kind, sim::EventKind::PowerLoss))
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

pub use crate::recorder::Recorder;

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
    set_trace(&mut w, opts)?;
    let mut rec = Recorder::new(setup.start);
    for op in ops {
        rec.step(&mut w, op, "schedule");
    }
    rec.finish(w, setup, strategy, seed, started)
}

/// Send the run's filesystem trace to `opts.trace`, if asked.
pub fn set_trace(w: &mut World, opts: &RunOptions) -> Result<(), RunError> {
    if let Some(path) = &opts.trace {
        let f = std::fs::File::create(path)
            .map_err(|e| RunError(format!("{}: cannot write the trace: {e}", path.display())))?;
        w.fs.set_trace_sink(Some(Box::new(std::io::BufWriter::new(f))));
    }
    Ok(())
}
