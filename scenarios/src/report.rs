//! The result of one run: the `run --json` contract of DESIGN.md, plus the story.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// A stable check name (the fsck's, or the ghost oracle's: "message-lost", ...).
    pub check: String,
    /// The schedule step after which the oracle found it (0-based).
    pub step: usize,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// segfault, sigbus, enospc, ioerror, fatal, killed, power_loss, lock_wait.
    pub kind: String,
    pub step: usize,
    pub process: String,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peak {
    pub apparent_bytes: u64,
    pub allocated_bytes: u64,
    pub partition_used_bytes: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSize {
    pub apparent_bytes: u64,
    pub allocated_bytes: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    pub capacity_bytes: u64,
    pub used_bytes: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Messages {
    pub delivered: u64,
    pub live: u64,
    /// Records in cyrus.expunge files whose message is still there.
    pub expunged: u64,
    pub purged: u64,
    pub lost: u64,
}

/// One point of the size time series, for `--plot`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizePoint {
    /// Filesystem call number.
    pub call: u64,
    pub step: usize,
    /// The largest apparent size of any one file.
    pub apparent_bytes: u64,
    /// The largest allocation of any one file.
    pub allocated_bytes: u64,
    pub partition_used_bytes: u64,
}

/// A line of the story `run` tells without `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoryLine {
    pub step: usize,
    pub process: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub scenario: String,
    pub strategy: String,
    pub seed: u64,
    /// Hex of the SimFs trace digest.
    pub trace_digest: String,
    pub sim_calls: u64,
    pub processes: Vec<String>,
    pub violations: Vec<Violation>,
    /// The oracles' findings on the final state only (what a repair such as reconstruct
    /// left standing), each with the step it was first seen at.
    #[serde(default)]
    pub violations_at_end: Vec<Violation>,
    pub events: Vec<Event>,
    pub peak: Peak,
    pub files: BTreeMap<String, FileSize>,
    pub partition: Partition,
    pub messages: Messages,
    /// None when the scenario states no expectations for this strategy.
    pub expectations_met: Option<bool>,
    /// Why expectations were not met, one line each.
    #[serde(default)]
    pub unmet: Vec<String>,
    /// The exact command that reproduces this run.
    pub reproduce: String,
    #[serde(default)]
    pub story: Vec<StoryLine>,
    #[serde(default)]
    pub series: Vec<SizePoint>,
    /// Wall-clock milliseconds the run took (not part of any digest).
    #[serde(default)]
    pub wall_ms: u64,
}

impl RunReport {
    /// Whether this run is a failure for exit codes: an unmet expectation, or, where the
    /// scenario expects nothing of this strategy, any violation.
    pub fn failed(&self) -> bool {
        match self.expectations_met {
            Some(met) => !met,
            None => !self.violations.is_empty(),
        }
    }
}
