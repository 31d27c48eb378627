//! Fuzz schedules: a typed, bounded [`Arbitrary`] description of a small site and what
//! happens to it, turned into [`Op`]s for THE executor. The logic of the fuzz targets
//! `schedule` and `fixes_agree` lives here so that `cargo test` replays the committed corpus
//! and every past crash without libFuzzer (`scenarios/tests/fuzz_replay.rs`).
//!
//! Bounds: 1 to 3 users, each with `user.uN` and `user.uN.Spam` (the spam folder carries an
//! expire annotation of 1 to 10 days, or none); at most [`MAX_STEPS`] steps, a delivery
//! step at most 8 messages; clock steps of 1 to 72 hours; crashes armed at most
//! [`MAX_CRASH_CALLS`] filesystem calls ahead.

use std::cell::RefCell;
use std::collections::BTreeSet;

use arbitrary::{Arbitrary, Unstructured};
use engine::fsck::{ByteSource, SharedVfs, VfsFile};
use engine::oracle::{index_uids, inventory};
use engine::{ExpireRule, ExpungeMode, Site, Strategy, Version};
use sim::{Coherence, FaultAction, SimConfig, SimFs, Vfs};

use crate::executor::{Op, RunOptions, Setup, execute};

/// Steps of one schedule at most; the rest of a longer input is ignored.
pub const MAX_STEPS: usize = 40;
/// The furthest ahead a kill or power loss may be armed, in filesystem calls.
pub const MAX_CRASH_CALLS: u16 = 400;
/// 2008-09-01 00:00 UTC: the month of the report.
pub const START: u32 = 1_220_227_200;

/// The two complete fixes every schedule is checked under.
pub const COMPLETE_FIXES: [Strategy; 2] =
    [Strategy::Fix1Complete, Strategy::Fix2DelayedThenCleanup];

/// A site and its schedule, as the fuzzer writes it.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub struct FuzzSchedule {
    /// Users: `users % 3 + 1`.
    pub users: u8,
    /// The spam folders' expire annotation: `None`, or `days % 10 + 1`.
    pub spam_expire_days: Option<u8>,
    /// Expire by INTERNALDATE (the 2008 site's local change) rather than the sent date.
    pub internaldate: bool,
    /// `cyr_expire -X`: `expunge_days % 8`.
    pub expunge_days: u8,
    /// Start on 2.3.12 (minor 10) rather than 2.3.7 (minor 9).
    pub start_on_2_3_12: bool,
    /// `coherence % 3`: shared, stupidshared, nommap.
    pub coherence: u8,
    pub steps: Vec<FuzzStep>,
}

/// One step. `user` is taken modulo the number of users; `spam` picks the spam folder.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub enum FuzzStep {
    /// `count % 8 + 1` messages sent `sent_age_days % 15` days ago, of `size % 8192 + 1` bytes.
    Deliver {
        user: u8,
        spam: bool,
        count: u8,
        sent_age_days: u8,
        size: u16,
    },
    /// The user sets \Deleted on `count % 8` messages.
    Delete {
        user: u8,
        spam: bool,
        count: u8,
        random: bool,
    },
    Expunge {
        user: u8,
        spam: bool,
    },
    Open {
        user: u8,
        spam: bool,
    },
    CyrExpire,
    /// `hours % 72 + 1` hours.
    Advance {
        hours: u8,
    },
    /// The spam folder's annotation becomes `None` or `days % 10 + 1`.
    Annotate {
        user: u8,
        days: Option<u8>,
    },
    /// The site upgrades to 2.3.12 (a no-op once there).
    Upgrade,
    /// A kill of whichever process makes the call `after_calls % MAX_CRASH_CALLS + 1` ahead.
    ArmKill {
        after_calls: u16,
    },
    /// A power loss at the call `after_calls % MAX_CRASH_CALLS + 1` ahead.
    ArmPowerLoss {
        after_calls: u16,
    },
    /// Power is lost between two steps.
    PowerLoss,
}

impl FuzzSchedule {
    /// Decodes an input exactly as libFuzzer's typed `fuzz_target!` does.
    pub fn from_bytes(data: &[u8]) -> arbitrary::Result<FuzzSchedule> {
        FuzzSchedule::arbitrary_take_rest(Unstructured::new(data))
    }

    pub fn user_count(&self) -> usize {
        usize::from(self.users % 3) + 1
    }

    /// The steps actually run: the first [`MAX_STEPS`].
    pub fn bounded_steps(&self) -> &[FuzzStep] {
        &self.steps[..self.steps.len().min(MAX_STEPS)]
    }

    /// Whether a kill may strike in the middle of an operation.
    pub fn kills(&self) -> bool {
        self.bounded_steps()
            .iter()
            .any(|s| matches!(s, FuzzStep::ArmKill { .. }))
    }

    /// Whether power is lost at any point, between steps or inside one.
    pub fn loses_power(&self) -> bool {
        self.bounded_steps()
            .iter()
            .any(|s| matches!(s, FuzzStep::ArmPowerLoss { .. } | FuzzStep::PowerLoss))
    }

    /// The same schedule with every kill and power loss left out.
    pub fn without_crashes(&self) -> FuzzSchedule {
        let mut s = self.clone();
        s.steps = self
            .bounded_steps()
            .iter()
            .filter(|s| {
                !matches!(
                    s,
                    FuzzStep::ArmKill { .. } | FuzzStep::ArmPowerLoss { .. } | FuzzStep::PowerLoss
                )
            })
            .cloned()
            .collect();
        s
    }

    /// Every mailbox of the site.
    pub fn mailboxes(&self) -> Vec<String> {
        (1..=self.user_count())
            .flat_map(|u| [format!("user.u{u}"), format!("user.u{u}.Spam")])
            .collect()
    }

    /// The setup: a delayed-expunge site, as in 2008.
    pub fn setup(&self) -> Setup {
        let version = if self.start_on_2_3_12 {
            Version::V2_3_12
        } else {
            Version::V2_3_7
        };
        let mut site = Site::new(version);
        site.expunge_mode = ExpungeMode::Delayed;
        site.expire_rule = if self.internaldate {
            ExpireRule::InternalDate
        } else {
            ExpireRule::SentDate
        };
        site.expunge_days = u32::from(self.expunge_days % 8);
        let (coherence, variant) = match self.coherence % 3 {
            0 => (Coherence::Shared, engine::MapVariant::Shared),
            1 => (Coherence::StupidShared, engine::MapVariant::StupidShared),
            _ => (Coherence::NoMmap, engine::MapVariant::NoMmap),
        };
        site.map_variant = variant;
        Setup {
            scenario: "fuzz-schedule".to_string(),
            site,
            sim: SimConfig {
                coherence,
                ..SimConfig::default()
            },
            start: START,
        }
    }

    /// The executor's ops: the mailboxes first, then the steps.
    pub fn ops(&self) -> Vec<Op> {
        let users = self.user_count();
        let name = |user: u8, spam: bool| {
            let u = usize::from(user) % users + 1;
            if spam {
                format!("user.u{u}.Spam")
            } else {
                format!("user.u{u}")
            }
        };
        let days = |d: Option<u8>| d.map(|d| u32::from(d % 10) + 1);
        let mut ops = Vec::new();
        for u in 1..=users {
            ops.push(Op::Create {
                mailbox: format!("user.u{u}"),
                expire_days: None,
            });
            ops.push(Op::Create {
                mailbox: format!("user.u{u}.Spam"),
                expire_days: days(self.spam_expire_days),
            });
        }
        let after = |c: u16| u64::from(c % MAX_CRASH_CALLS) + 1;
        for s in self.bounded_steps() {
            match *s {
                FuzzStep::Deliver {
                    user,
                    spam,
                    count,
                    sent_age_days,
                    size,
                } => {
                    for _ in 0..=count % 8 {
                        ops.push(Op::Deliver {
                            mailbox: name(user, spam),
                            sent_age_days: u32::from(sent_age_days % 15),
                            size: u32::from(size % 8192) + 1,
                        });
                    }
                }
                FuzzStep::Delete {
                    user,
                    spam,
                    count,
                    random,
                } => ops.push(Op::Delete {
                    mailbox: name(user, spam),
                    count: u32::from(count % 8),
                    random,
                }),
                FuzzStep::Expunge { user, spam } => ops.push(Op::Expunge {
                    mailbox: name(user, spam),
                }),
                FuzzStep::Open { user, spam } => ops.push(Op::Open {
                    mailbox: name(user, spam),
                }),
                FuzzStep::CyrExpire => ops.push(Op::CyrExpire),
                FuzzStep::Advance { hours } => ops.push(Op::Advance {
                    secs: (u32::from(hours % 72) + 1) * 3600,
                }),
                FuzzStep::Annotate { user, days: d } => ops.push(Op::Annotate {
                    mailbox: name(user, true),
                    expire_days: days(d),
                }),
                FuzzStep::Upgrade => ops.push(Op::Upgrade {
                    version: Version::V2_3_12,
                }),
                FuzzStep::ArmKill { after_calls } => ops.push(Op::Arm {
                    action: FaultAction::Kill,
                    after_calls: after(after_calls),
                }),
                FuzzStep::ArmPowerLoss { after_calls } => ops.push(Op::Arm {
                    action: FaultAction::PowerLoss,
                    after_calls: after(after_calls),
                }),
                FuzzStep::PowerLoss => ops.push(Op::PowerLoss),
            }
        }
        ops
    }
}

/// What one run ended with, per mailbox: the UIDs live in cyrus.index and those in
/// cyrus.expunge (each only if its message file exists), and the messages delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub mailboxes: Vec<(String, BTreeSet<u32>, BTreeSet<u32>)>,
    pub delivered: u64,
}

/// Runs `s` under `strategy` through the executor; returns the report and the outcome.
pub fn run(s: &FuzzSchedule, strategy: Strategy) -> (crate::report::RunReport, Outcome) {
    let run = execute(&s.setup(), &s.ops(), strategy, 0, &RunOptions::default())
        .expect("the executor runs without a trace file");
    // Looking must not trip a kill or power loss the schedule armed and never reached.
    let mut fs = run.fs;
    fs.set_fault_plan(sim::FaultPlan::default());
    let mailboxes = s
        .mailboxes()
        .into_iter()
        .map(|m| {
            let (live, expunged) = uid_sets(&mut fs, &m);
            (m, live, expunged)
        })
        .collect();
    let outcome = Outcome {
        mailboxes,
        delivered: run.report.messages.delivered,
    };
    (run.report, outcome)
}

/// The live and expunged UIDs of `mailbox` that still have their message file.
pub fn uid_sets(fs: &mut SimFs, mailbox: &str) -> (BTreeSet<u32>, BTreeSet<u32>) {
    let dir = engine::mailbox::mailbox_path(mailbox);
    let files: BTreeSet<u32> = fs
        .list(&dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|n| engine::fsck::message_uid_from_name(n))
        .collect();
    let live: BTreeSet<u32> = index_uids(fs, mailbox)
        .into_iter()
        .filter(|u| files.contains(u))
        .collect();
    let pid = fs.spawn("fuzz-inventory");
    let expunged: BTreeSet<u32> = {
        let shared: SharedVfs = RefCell::new(&mut *fs);
        let open = |p: &str| VfsFile::open(&shared, pid, p).ok();
        let header = |f: &mut VfsFile| {
            let mut h = [0u8; engine::format::INDEX_HEADER_SIZE];
            let n = f.read_at(0, &mut h).ok()?;
            engine::format::IndexHeader::from_bytes(&h[..n])
        };
        let geo = open(&format!("{dir}/cyrus.index"))
            .and_then(|mut f| header(&mut f))
            .and_then(|h| engine::format::checked::Geometry::from_header(&h).ok());
        geo.and_then(|geo| {
            let mut f = open(&format!("{dir}/cyrus.expunge"))?;
            let eh = header(&mut f)?;
            inventory(&mut f, &geo, u64::from(eh.exists)).ok()
        })
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.uid)
        .filter(|u| files.contains(u))
        .collect()
    };
    let _ = fs.kill(pid);
    (live, expunged)
}

/// Target `schedule`: what each complete fix must guarantee, by what the schedule does.
///
/// - No crash: the oracles find nothing and no message is lost.
/// - Kills (a process dies at some filesystem call, the machine stays up): no message is lost.
///   A kill mid-operation may leave damage Cyrus itself needs `reconstruct` for (a stale
///   `cyrus.index.NEW`, counts that disagree), so only loss is judged.
/// - Power loss (between steps or inside one): only that the run completes and the oracles
///   run. Cyrus 2.3 never fsyncs a directory, so on a strictly POSIX filesystem (which SimFs
///   is) a power loss may drop a delivered message's directory entry while its index record
///   survives, under every strategy alike: a property of Cyrus, not of either fix
///   (FUZZING.md, "Findings").
pub fn schedule(s: &FuzzSchedule) {
    for strategy in COMPLETE_FIXES {
        let (report, _) = run(s, strategy);
        let msg = || {
            format!(
                "{} under {}: violations {:#?}\nmessages {:?}\nschedule {s:#?}",
                report.scenario,
                strategy.name(),
                report.violations,
                report.messages
            )
        };
        if s.loses_power() {
            continue;
        }
        assert_eq!(report.messages.lost, 0, "{}", msg());
        if !s.kills() {
            assert!(report.violations.is_empty(), "{}", msg());
        }
    }
}

/// Target `fixes_agree`: on the schedule without its crashes (a crash at call N strikes a
/// different call under each fix, so crashed runs cannot be compared), both complete fixes
/// leave the same UIDs live in every mailbox and the same UIDs gone from the index.
///
/// The documented difference: fix 1 (`EXPUNGE_FORCE|EXPUNGE_CLEANUP` in one call, with the
/// expire mark) purges annotation-expired messages at once, while fix 2 (a delayed move, then
/// a cleanup with no expire mark) keeps them in cyrus.expunge until `cyr_expire -X` days have
/// passed, where `unexpunge` can still restore them. So fix 2's expunged UIDs must contain fix
/// 1's, and what fix 1 purged fix 2 has purged or still holds in cyrus.expunge.
pub fn fixes_agree(s: &FuzzSchedule) {
    let s = s.without_crashes();
    let [a, b] = COMPLETE_FIXES.map(|st| run(&s, st).1);
    let (f1, f2) = (COMPLETE_FIXES[0].name(), COMPLETE_FIXES[1].name());
    assert_eq!(
        a.delivered, b.delivered,
        "{f1} and {f2} delivered differently: {s:#?}"
    );
    for ((m, live1, exp1), (_, live2, exp2)) in a.mailboxes.iter().zip(&b.mailboxes) {
        let ctx = || format!("{m}: {f1} {a:?}\n{f2} {b:?}\nschedule {s:#?}");
        assert_eq!(live1, live2, "live UIDs differ in {}", ctx());
        assert!(
            exp1.is_subset(exp2),
            "{f1} holds expunged UIDs {f2} does not, in {}",
            ctx()
        );
    }
}
