//! Strategies: what cyr_expire and mailbox_expunge do to a folder, by name. The names are a
//! contract (DESIGN.md); more may be added.

use crate::expunge::ExpungeFix;
use crate::process_records::{EXPUNGE_CLEANUP, EXPUNGE_FORCE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    Cyrus237,
    Cyrus2312,
    Cyrus2315,
    Fix1Remap,
    Fix1Complete,
    Fix2TwoCalls,
    Fix2DelayedThenCleanup,
}

/// One `mailbox_expunge` call cyr_expire makes on a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub flags: u32,
    pub fix: ExpungeFix,
    /// Whether the rock carries the folder's expire mark (false: expire_mark = 0).
    pub expire: bool,
}

impl Strategy {
    pub const ALL: [Strategy; 7] = [
        Strategy::Cyrus237,
        Strategy::Cyrus2312,
        Strategy::Cyrus2315,
        Strategy::Fix1Remap,
        Strategy::Fix1Complete,
        Strategy::Fix2TwoCalls,
        Strategy::Fix2DelayedThenCleanup,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Cyrus237 => "cyrus-2.3.7",
            Strategy::Cyrus2312 => "cyrus-2.3.12",
            Strategy::Cyrus2315 => "cyrus-2.3.15",
            Strategy::Fix1Remap => "fix1-remap",
            Strategy::Fix1Complete => "fix1-complete",
            Strategy::Fix2TwoCalls => "fix2-two-calls",
            Strategy::Fix2DelayedThenCleanup => "fix2-delayed-then-cleanup",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Strategy::Cyrus237 => {
                "as shipped in 2.3.7: one call with EXPUNGE_FORCE|EXPUNGE_CLEANUP on annotated folders"
            }
            Strategy::Cyrus2312 => {
                "2.3.8 to 2.3.14: EXPUNGE_FORCE only on annotated folders, EXPUNGE_CLEANUP only on the rest"
            }
            Strategy::Cyrus2315 => {
                "2.3.15: flags 0 on annotated folders (EXPUNGE_FORCE removed), EXPUNGE_CLEANUP on the rest"
            }
            Strategy::Fix1Remap => {
                "fix 1 as proposed: both flags, and an unmap/remap of cyrus.expunge after the first process_records"
            }
            Strategy::Fix1Complete => {
                "fix 1 completed: remap, count the pass-1 appends, per-pass counters, keep the files of moved records"
            }
            Strategy::Fix2TwoCalls => {
                "fix 2 as proposed: EXPUNGE_FORCE to expire, then EXPUNGE_CLEANUP, on annotated folders"
            }
            Strategy::Fix2DelayedThenCleanup => {
                "fix 2 with a delayed first call: flags 0 (move expired to cyrus.expunge), then EXPUNGE_CLEANUP with no expire mark"
            }
        }
    }

    pub fn parse(s: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|x| x.name() == s)
    }

    /// The calls cyr_expire makes on a folder. `annotated`: an expire annotation applies;
    /// `delayed`: expunge_mode is delayed; `has_expunge`: cyrus.expunge exists (2.3.8+
    /// stat()s it before a cleanup-only call).
    pub fn calls(self, annotated: bool, delayed: bool, has_expunge: bool) -> Vec<Call> {
        let call = |flags, fix, expire| Call { flags, fix, expire };
        let plain = ExpungeFix::default();
        let cleanup_only = |v: &mut Vec<Call>| {
            if delayed && has_expunge {
                v.push(call(EXPUNGE_CLEANUP, plain, false));
            }
        };
        let mut v = Vec::new();
        match self {
            Strategy::Cyrus237 | Strategy::Fix1Remap | Strategy::Fix1Complete => {
                let fix = match self {
                    Strategy::Fix1Remap => ExpungeFix {
                        remap_after_pass1: true,
                        ..plain
                    },
                    Strategy::Fix1Complete => ExpungeFix {
                        remap_after_pass1: true,
                        count_pass1_appends: true,
                        per_pass_counters: true,
                        keep_pass1_files: true,
                    },
                    _ => plain,
                };
                // cyr_expire.c T7:199-224: the annotation sets FORCE, delayed mode CLEANUP.
                let mut flags = 0;
                if annotated {
                    flags |= EXPUNGE_FORCE;
                }
                if delayed {
                    flags |= EXPUNGE_CLEANUP;
                }
                if annotated || delayed {
                    v.push(call(flags, fix, annotated));
                }
            }
            Strategy::Cyrus2312 => {
                if annotated {
                    v.push(call(EXPUNGE_FORCE, plain, true));
                } else {
                    cleanup_only(&mut v);
                }
            }
            Strategy::Cyrus2315 => {
                if annotated {
                    v.push(call(0, plain, true));
                } else {
                    cleanup_only(&mut v);
                }
            }
            Strategy::Fix2TwoCalls => {
                if annotated {
                    v.push(call(EXPUNGE_FORCE, plain, true));
                    if delayed {
                        v.push(call(EXPUNGE_CLEANUP, plain, true));
                    }
                } else {
                    cleanup_only(&mut v);
                }
            }
            Strategy::Fix2DelayedThenCleanup => {
                if annotated {
                    v.push(call(0, plain, true));
                    if delayed {
                        v.push(call(EXPUNGE_CLEANUP, plain, false));
                    }
                } else {
                    cleanup_only(&mut v);
                }
            }
        }
        v
    }
}
