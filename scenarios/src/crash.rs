//! Crash sweeps (`expunge-sim crash`): replay a schedule up to one step, then crash the
//! machine (power loss) or the step's process (kill) at every filesystem call that step
//! makes, one crash per fresh clone of the world. After each crash, recovery as Cyrus 2.3
//! has it: a fresh imapd opens every mailbox, as the next login would (`mailbox_open_index`
//! retries a generation mismatch, then answers IMAP_MAILBOX_BADFORMAT); the administrator
//! runs `reconstruct` (the site version's, without `-k`) on the mailboxes the
//! [`ReconstructPolicy`] names, by default every one, since nothing in 2.3 reports the damage
//! an interrupted delayed expunge leaves; then a crashed cyr_expire runs again, as the next
//! night's cron would. Then the oracles judge the disk, no message lost included.
//!
//! A crash point fails when the recovered state shows a violation that the same step does
//! not show without a crash, nor the world before it: damage the crash caused. What the
//! strategy breaks on its own is reported apart, as `known_violations`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use engine::{CyrusError, NoteKind, Strategy};
use sim::{FaultAction, FaultPlan};

use crate::executor::{Op, RunError, Setup, World};
use crate::report::Violation;
use crate::scenario::Scenario;
use crate::sweep::fnv1a64;

/// How the crash lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// The whole machine loses power: the disk reverts to its durable image.
    Power,
    /// Only the process making the call dies; the page cache, and so every write it made,
    /// survives.
    Kill,
}

impl CrashMode {
    pub fn name(self) -> &'static str {
        match self {
            CrashMode::Power => "power",
            CrashMode::Kill => "kill",
        }
    }

    fn action(self) -> FaultAction {
        match self {
            CrashMode::Power => FaultAction::PowerLoss,
            CrashMode::Kill => FaultAction::Kill,
        }
    }

    /// `power`, `kill` or `both`.
    pub fn parse_modes(s: &str) -> Option<Vec<CrashMode>> {
        match s {
            "power" => Some(vec![CrashMode::Power]),
            "kill" => Some(vec![CrashMode::Kill]),
            "both" => Some(vec![CrashMode::Power, CrashMode::Kill]),
            _ => None,
        }
    }
}

/// Which mailboxes the administrator reconstructs after a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconstructPolicy {
    /// None: recovery is the next open and the next cyr_expire only.
    Never,
    /// Those the next login could not open (BADFORMAT, IOERROR, a crash of imapd).
    Failed,
    /// Every mailbox, as after any unclean shutdown (the default).
    All,
}

impl ReconstructPolicy {
    pub fn name(self) -> &'static str {
        match self {
            ReconstructPolicy::Never => "never",
            ReconstructPolicy::Failed => "failed",
            ReconstructPolicy::All => "all",
        }
    }

    /// `never`, `failed` or `all`.
    pub fn parse(s: &str) -> Option<ReconstructPolicy> {
        match s {
            "never" => Some(ReconstructPolicy::Never),
            "failed" => Some(ReconstructPolicy::Failed),
            "all" => Some(ReconstructPolicy::All),
            _ => None,
        }
    }
}

/// One step of a schedule to replay. A single schedule leaves `at` and `actor` empty; the
/// multi-process world records when each op ran and which process ran it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timed {
    /// The clock (seconds since the epoch) when the op ran.
    pub at: Option<u32>,
    /// The process that ran it.
    pub actor: Option<String>,
    pub op: Op,
}

impl Timed {
    pub fn plain(op: Op) -> Timed {
        Timed {
            at: None,
            actor: None,
            op,
        }
    }

    /// Apply to `w` through the executor.
    pub fn apply(&self, w: &mut World) {
        if let Some(at) = self.at {
            w.now = at;
        }
        w.set_actor(self.actor.as_deref());
        w.apply(&self.op);
        w.set_actor(None);
    }
}

/// What to sweep.
#[derive(Debug, Clone)]
pub struct CrashPlan {
    /// The step (0-based, as in the run report) to crash; default the last cyr_expire.
    pub step: Option<usize>,
    pub modes: Vec<CrashMode>,
    /// Only this call of the step (0-based from the step's first call).
    pub point: Option<u64>,
    /// Which mailboxes the administrator reconstructs after the crash (default: all).
    pub reconstruct: ReconstructPolicy,
    /// Make the whole disk durable before the step, as a kernel's writeback has long done
    /// by the time a cron job runs (default). Without it, a power loss also undoes every
    /// earlier operation Cyrus never fsynced (2.3 never fsyncs a mailbox directory after
    /// a delivery), which the step did not cause.
    pub sync_before: bool,
}

/// A crash point whose recovered state the step alone does not explain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashFailure {
    /// The call of the step the crash hit (0 = the step's first call).
    pub point: u64,
    pub mode: String,
    /// The filesystem call that was hit, as the trace names it.
    pub call: String,
    pub violations: Vec<Violation>,
    pub reproduce: String,
}

/// The `crash --json` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashReport {
    pub scenario: String,
    pub strategy: String,
    pub seed: u64,
    pub step: usize,
    /// What the step does.
    pub op: String,
    pub modes: Vec<String>,
    /// The reconstruct policy of the recovery (`never`, `failed`, `all`).
    pub reconstruct: String,
    /// Mailbox reconstructions the recoveries ran, over all points.
    pub reconstructions: u64,
    /// Messages those reconstructions put back in cyrus.index from a bare file (no record
    /// in either file named them: flags lost, new dates), over all points. Mail a crash
    /// between mailbox_expunge's renames and its unlinks left behind comes back this way.
    pub recovered_messages: u64,
    /// Message files those reconstructions purged because cyrus.expunge listed them.
    pub purged_messages: u64,
    /// Filesystem calls the step makes without a crash.
    pub calls: u64,
    /// Crash points tried: calls x modes (or 1 with `--point`).
    pub points: u64,
    pub failures: Vec<CrashFailure>,
    /// Violations before the step, or after it without a crash: the strategy's own.
    pub known_violations: Vec<Violation>,
    /// Crash points after which some mailbox no longer opened at the next login (BADFORMAT,
    /// IOERROR, death), before any reconstruct, whether or not the step alone does the same.
    pub unopenable_points: u64,
    /// FNV-1a 64 over every point's outcome digest, in point order, hex.
    pub digest: String,
    /// One command per failure (at most 20) that replays it.
    pub reproduce: Vec<String>,
}

impl CrashReport {
    /// Exit 1 when a crash point fails, or the step violates an oracle on its own.
    pub fn failed(&self) -> bool {
        !self.failures.is_empty() || !self.known_violations.is_empty()
    }
}

/// The schedule of a scenario as replayable steps, and its setup.
pub fn schedule(
    sc: &Scenario,
    strategy: Strategy,
    seed: u64,
) -> Result<(Setup, Vec<Timed>), RunError> {
    if sc.is_multi_process() {
        #[cfg(madsim)]
        return crate::world::schedule(sc, strategy, seed);
        #[cfg(not(madsim))]
        return Err(RunError(crate::world_refusal(sc.name())));
    }
    let setup = crate::plan::setup(sc, seed);
    let ops = crate::plan::ops(sc, seed).map_err(|e| RunError(format!("{}: {e}", sc.origin)))?;
    let _ = strategy;
    Ok((setup, ops.into_iter().map(Timed::plain).collect()))
}

/// Sweep crashes over one step of `sc`.
pub fn crash(
    sc: &Scenario,
    strategy: Strategy,
    seed: u64,
    plan: &CrashPlan,
) -> Result<CrashReport, RunError> {
    let (setup, steps) = schedule(sc, strategy, seed)?;
    let step = match plan.step {
        Some(n) if n < steps.len() => n,
        Some(n) => {
            return Err(RunError(format!(
                "--step {n}: the schedule has {} steps (0..{})",
                steps.len(),
                steps.len()
            )));
        }
        None => steps
            .iter()
            .rposition(|t| t.op == Op::CyrExpire)
            .ok_or_else(|| RunError("the schedule runs no cyr_expire: name a --step".into()))?,
    };
    let mut base = World::new(&setup, strategy, seed);
    for t in &steps[..step] {
        t.apply(&mut base);
    }
    if plan.sync_before {
        sync(&mut base.fs);
    }
    let target = &steps[step];
    let start = base.fs.calls();
    let mut known: Vec<Violation> = violations(&mut base.clone(), step, 0);
    let mut clean = base.clone();
    target.apply(&mut clean);
    let calls = clean.fs.calls() - start;
    let call_names = call_names(&setup, &steps[..=step], strategy, seed, plan.sync_before);
    let clean_recovery = recover(&mut clean, target, step, ReconstructPolicy::Never).violations;
    let mut clean_violations = violations(&mut clean, step, start);
    clean_violations.extend(clean_recovery);
    merge_into(&mut known, clean_violations);
    let known_keys: BTreeSet<(String, String)> = known.iter().map(key).collect();

    let points: Vec<u64> = match plan.point {
        Some(p) if p < calls => vec![p],
        Some(p) => {
            return Err(RunError(format!(
                "--point {p}: step {step} makes {calls} filesystem calls"
            )));
        }
        None => (0..calls).collect(),
    };
    let mut report = CrashReport {
        scenario: setup.scenario.clone(),
        strategy: strategy.name().to_string(),
        seed,
        step,
        op: target.op.describe(),
        modes: plan.modes.iter().map(|m| m.name().to_string()).collect(),
        reconstruct: plan.reconstruct.name().to_string(),
        reconstructions: 0,
        recovered_messages: 0,
        purged_messages: 0,
        calls,
        points: 0,
        failures: Vec::new(),
        known_violations: known,
        unopenable_points: 0,
        digest: String::new(),
        reproduce: Vec::new(),
    };
    let mut digests = String::new();
    for &point in &points {
        for &mode in &plan.modes {
            let mut w = base.clone();
            w.fs.set_fault_plan(FaultPlan::at(start + point, mode.action()));
            target.apply(&mut w);
            w.fs.set_fault_plan(FaultPlan::default());
            let recovery = recover(&mut w, target, step, plan.reconstruct);
            let mut found = violations(&mut w, step, start);
            found.extend(recovery.violations);
            report.points += 1;
            report.unopenable_points += u64::from(recovery.unopenable);
            report.reconstructions += recovery.reconstructed;
            report.recovered_messages += recovery.recovered;
            report.purged_messages += recovery.purged;
            let checks: Vec<String> = found.iter().map(|v| v.check.clone()).collect();
            digests.push_str(&format!(
                "{:016x}\n",
                fnv1a64(
                    format!(
                        "{point}:{}:{:016x}:{}",
                        mode.name(),
                        w.fs.trace_digest(),
                        checks.join(",")
                    )
                    .as_bytes()
                )
            ));
            let new: Vec<Violation> = found
                .into_iter()
                .filter(|v| !known_keys.contains(&key(v)))
                .collect();
            if !new.is_empty() {
                let mut cmd = format!(
                    "expunge-sim crash {} --strategy {} --seed {seed} --step {step} --mode {} --point {point}",
                    report.scenario,
                    report.strategy,
                    mode.name()
                );
                if plan.reconstruct != ReconstructPolicy::All {
                    cmd.push_str(&format!(" --reconstruct {}", plan.reconstruct.name()));
                }
                if !plan.sync_before {
                    cmd.push_str(" --no-sync");
                }
                if report.reproduce.len() < 20 {
                    report.reproduce.push(cmd.clone());
                }
                report.failures.push(CrashFailure {
                    point,
                    mode: mode.name().to_string(),
                    call: call_names.get(point as usize).cloned().unwrap_or_default(),
                    violations: new,
                    reproduce: cmd,
                });
            }
        }
    }
    report.digest = format!("{:016x}", fnv1a64(digests.as_bytes()));
    Ok(report)
}

/// The name of every call of the last of `steps`, from a replay that keeps its trace (the
/// runs themselves keep none: a clone per crash point would copy it).
fn call_names(
    setup: &Setup,
    steps: &[Timed],
    strategy: Strategy,
    seed: u64,
    sync_before: bool,
) -> Vec<String> {
    let mut setup = setup.clone();
    setup.sim.trace_keep = 1 << 20;
    let mut w = World::new(&setup, strategy, seed);
    let (last, before) = steps.split_last().expect("at least the crashed step");
    for t in before {
        t.apply(&mut w);
    }
    if sync_before {
        sync(&mut w.fs);
    }
    let start = w.fs.calls();
    last.apply(&mut w);
    w.fs.trace_entries()
        .filter(|e| e.seq >= start)
        .map(|e| e.call.to_string())
        .collect()
}

/// `sync(1)`: fsync every file and every directory, through the filesystem's own calls.
fn sync(fs: &mut sim::SimFs) {
    use sim::Vfs;
    let pid = fs.spawn("sync");
    let mut dirs = BTreeSet::new();
    for (path, _) in fs.files() {
        if let Ok(fd) = fs.open(pid, &path, sim::OpenFlags::RDONLY) {
            let _ = fs.fsync(pid, fd);
            let _ = fs.close(pid, fd);
        }
        let mut p = path.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            dirs.insert(parent.to_string());
            p = parent;
        }
    }
    // Deepest first, so a directory's own entry is made durable after its contents.
    for d in dirs.iter().rev() {
        let _ = fs.fsync_dir(pid, d);
    }
    let _ = fs.fsync_dir(pid, "");
    let _ = fs.kill(pid);
}

/// A violation's identity across runs: its check and the file it names.
fn key(v: &Violation) -> (String, String) {
    let file = v.detail.split(": ").next().unwrap_or_default().to_string();
    (v.check.clone(), file)
}

fn merge_into(into: &mut Vec<Violation>, more: Vec<Violation>) {
    let mut keys: BTreeSet<(String, String)> = into.iter().map(key).collect();
    for v in more {
        if keys.insert(key(&v)) {
            into.push(v);
        }
    }
}

/// The oracles over `w`, plus reads past a map's length since call `since`.
fn violations(w: &mut World, step: usize, since: u64) -> Vec<Violation> {
    let mut out: Vec<Violation> = w
        .check()
        .findings
        .into_iter()
        .map(|f| Violation {
            check: f.check,
            step,
            detail: format!("{}: {}", f.file, f.detail),
        })
        .collect();
    for e in w.fs.events() {
        if e.kind == sim::EventKind::Segv && e.seq >= since {
            out.push(Violation {
                check: "map-read-past-length".to_string(),
                step,
                detail: format!("map: {}", e.detail),
            });
        }
    }
    let mut seen = BTreeSet::new();
    out.retain(|v| seen.insert(key(v)));
    out
}

/// What one recovery saw and did.
struct Recovery {
    /// Mailboxes that still do not open, as violations.
    violations: Vec<Violation>,
    /// Some mailbox failed the first open, before any reconstruct.
    unopenable: bool,
    /// Mailboxes reconstructed.
    reconstructed: u64,
    /// Messages reconstruct recovered from bare files, and files it purged.
    recovered: u64,
    purged: u64,
}

/// The next login's SELECT of every mailbox: the ones that did not open, as violations.
fn open_all(w: &mut World, step: usize) -> Vec<(String, Violation)> {
    let mut out = Vec::new();
    w.set_actor(Some("imapd (next login)"));
    for m in w.mailboxes.clone() {
        let dir = engine::mailbox::mailbox_path(&m);
        let (check, detail) = match w.open_mailbox(&m) {
            Ok(()) => continue,
            Err(CyrusError::BadFormat(d)) => ("mailbox-badformat", d),
            Err(CyrusError::IoError(d)) => ("mailbox-ioerror", d),
            Err(CyrusError::NonExistent(d)) => ("mailbox-missing", d),
            Err(CyrusError::Locked(d)) => ("mailbox-locked", d),
            Err(CyrusError::Died(kind, d)) => (
                match kind {
                    NoteKind::Segfault => "open-segfault",
                    NoteKind::Sigbus => "open-sigbus",
                    _ => "open-fatal",
                },
                d,
            ),
        };
        out.push((
            m,
            Violation {
                check: check.to_string(),
                step,
                detail: format!("{dir}: {detail}"),
            },
        ));
    }
    w.set_actor(None);
    out
}

/// Recovery as Cyrus 2.3 has it: the next imapd to SELECT each mailbox; `reconstruct` of
/// the mailboxes `policy` names, and a second SELECT of each; then, when the crashed step
/// was cyr_expire, its next run (cron starts it again).
fn recover(w: &mut World, target: &Timed, step: usize, policy: ReconstructPolicy) -> Recovery {
    let failed = open_all(w, step);
    let unopenable = !failed.is_empty();
    let (mut recovered, mut purged) = (0, 0);
    let to_rebuild: Vec<String> = match policy {
        ReconstructPolicy::Never => Vec::new(),
        ReconstructPolicy::Failed => failed.iter().map(|(m, _)| m.clone()).collect(),
        ReconstructPolicy::All => w.mailboxes.clone(),
    };
    let mut out: Vec<Violation> = if to_rebuild.is_empty() {
        failed.into_iter().map(|(_, v)| v).collect()
    } else {
        w.set_actor(Some("reconstruct (administrator)"));
        for m in &to_rebuild {
            if let Ok(rep) = w.reconstruct(m, false) {
                recovered += rep.recovered.len() as u64;
                purged += rep.purged.len() as u64;
            }
        }
        w.set_actor(None);
        open_all(w, step).into_iter().map(|(_, v)| v).collect()
    };
    if target.op == Op::CyrExpire {
        w.set_actor(Some("cyr_expire (next run)"));
        w.apply(&Op::CyrExpire);
        w.set_actor(None);
    }
    out.sort_by(|a, b| a.detail.cmp(&b.detail));
    Recovery {
        violations: out,
        unopenable,
        reconstructed: to_rebuild.len() as u64,
        recovered,
        purged,
    }
}
