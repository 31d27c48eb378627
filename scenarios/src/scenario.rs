//! The scenario language: a TOML file describing a site, its mailboxes, a schedule of steps
//! and what each strategy is expected to show. Every key is documented, with its default,
//! in `scenarios/README.md`. Errors name the file, line and column.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use engine::{Arch, ExpireRule, ExpungeMode, Strategy, Version};

/// A scenario as written: parameters may still be ranges, drawn from the seed at run time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Defaults to the file name without `.toml`.
    pub name: Option<String>,
    #[serde(default)]
    pub site: SiteSpec,
    #[serde(default)]
    pub fs: FsSpec,
    #[serde(default)]
    pub clock: ClockSpec,
    #[serde(default)]
    pub users: UsersSpec,
    #[serde(default, rename = "mailbox")]
    pub mailboxes: Vec<MailboxSpec>,
    #[serde(default, rename = "step")]
    pub steps: Vec<StepSpec>,
    /// Processes of a multi-process world (madsim); empty for a single schedule.
    #[serde(default, rename = "process")]
    pub processes: Vec<crate::world::spec::ProcessSpec>,
    /// How long the multi-process world runs, and its kills and power losses.
    #[serde(default)]
    pub world: crate::world::spec::WorldSpec,
    #[serde(default)]
    pub expect: BTreeMap<StrategyName, Expect>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteSpec {
    pub version: VersionName,
    pub arch: ArchName,
    pub expunge_mode: ModeName,
    pub expire_rule: RuleName,
    /// `cyr_expire -X`.
    pub expunge_days: u32,
    /// 0: the architecture's default.
    pub alloc_limit: u64,
}

impl Default for SiteSpec {
    fn default() -> Self {
        SiteSpec {
            version: VersionName(Version::V2_3_7),
            arch: ArchName(Arch::Lp64),
            expunge_mode: ModeName(ExpungeMode::Delayed),
            expire_rule: RuleName(ExpireRule::SentDate),
            expunge_days: 0,
            alloc_limit: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoherenceName {
    Shared,
    Stupidshared,
    Nommap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MapTailName {
    Fault,
    Page,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FsSpec {
    pub coherence: CoherenceName,
    /// A read past a map's length inside its last page: `fault` (default) or `page` (reads
    /// the file there, as a real kernel does).
    pub map_tail: MapTailName,
    pub page_size: u64,
    pub block_size: u64,
    pub capacity: Bytes,
    pub page_staleness: bool,
    pub short_write_on_enospc: bool,
    /// Scripted faults: `{ at_call = N, action = "eio" | "short_write" | "enospc" | "kill" | "power_loss" }`.
    pub faults: Vec<FaultSpec>,
    /// Random faults per million calls, drawn from the seed (actions: eio, short_write).
    pub fault_rate: u32,
}

impl Default for FsSpec {
    fn default() -> Self {
        FsSpec {
            coherence: CoherenceName::Shared,
            map_tail: MapTailName::Fault,
            page_size: 4096,
            block_size: 4096,
            capacity: Bytes(1 << 40),
            page_staleness: false,
            short_write_on_enospc: true,
            faults: Vec::new(),
            fault_rate: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultName {
    Eio,
    ShortWrite,
    Enospc,
    Kill,
    PowerLoss,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub at_call: u64,
    pub action: FaultName,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockSpec {
    /// Seconds since the epoch when the run starts (default 2008-09-01 00:00 UTC).
    pub start: u32,
}

impl Default for ClockSpec {
    fn default() -> Self {
        ClockSpec {
            start: 1_220_227_200,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsersSpec {
    /// How many users `{user}` expands to (u1, u2, ...). Default 1.
    pub count: Param,
}

impl Default for UsersSpec {
    fn default() -> Self {
        UsersSpec {
            count: Param::Fixed(1),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxSpec {
    /// A mailbox name; `{user}` expands to every user.
    pub name: String,
    /// The expire annotation in days (`/vendor/cmu/cyrus-imapd/expire`); none by default.
    pub expire_days: Option<Param>,
}

/// One step of the schedule, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepSpec {
    /// lmtpd delivers `count` messages sent `sent_age_days` ago, of `size` bytes.
    Deliver {
        mailbox: String,
        #[serde(default = "one")]
        count: Param,
        #[serde(default)]
        sent_age_days: Param,
        #[serde(default = "default_size")]
        size: Param,
    },
    /// The user sets \Deleted on `count` live messages (the oldest first, or at random).
    Delete {
        mailbox: String,
        #[serde(default = "one")]
        count: Param,
        #[serde(default)]
        random: bool,
    },
    /// imapd EXPUNGE.
    Expunge { mailbox: String },
    /// imapd SELECT: open and lock the mailbox (a 2.3.10+ binary upgrades it here).
    Open { mailbox: String },
    /// The nightly cyr_expire over every mailbox.
    CyrExpire {},
    /// An administrator runs `reconstruct` on the mailbox (`keep = true` is `-k`, 2.3.12 on:
    /// keep what cyrus.expunge lists instead of purging it; default false).
    Reconstruct {
        mailbox: String,
        #[serde(default)]
        keep: bool,
    },
    /// The clock moves on.
    Advance {
        #[serde(default)]
        days: Param,
        #[serde(default)]
        hours: Param,
    },
    /// The site installs another Cyrus release.
    Upgrade { version: VersionName },
    /// Change a mailbox's expire annotation (none removes it).
    Annotate {
        mailbox: String,
        expire_days: Option<Param>,
    },
    /// Arm a fault: the `after_calls`-th filesystem call from now kills its process or
    /// loses power.
    Arm {
        action: FaultName,
        after_calls: Param,
    },
    /// The machine loses power now.
    PowerLoss {},
    /// Run `steps` `times` times.
    Repeat { times: Param, steps: Vec<StepSpec> },
}

fn one() -> Param {
    Param::Fixed(1)
}

fn default_size() -> Param {
    Param::Fixed(2048)
}

/// What a run under one strategy must show.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// true: at least one violation; false: none.
    pub violations: Option<bool>,
    /// Like `violations`, judged on the final state only: false means whatever broke on
    /// the way was repaired by the end.
    pub violations_at_end: Option<bool>,
    /// Check names that must be among the violations.
    #[serde(default)]
    pub checks: Vec<String>,
    /// Check names that must not be.
    #[serde(default)]
    pub absent_checks: Vec<String>,
    /// Event kinds that must occur.
    #[serde(default)]
    pub events: Vec<String>,
    /// Event kinds that must not.
    #[serde(default)]
    pub absent_events: Vec<String>,
    pub min_peak_apparent_bytes: Option<Bytes>,
    pub max_peak_apparent_bytes: Option<Bytes>,
    pub max_peak_allocated_bytes: Option<Bytes>,
    /// The partition ends (or ended) full: used within one block of capacity at the peak.
    pub partition_full: Option<bool>,
    pub max_lost: Option<u64>,
    pub min_lost: Option<u64>,
    /// Bounds on the messages left in cyrus.expunge files at the end.
    pub min_expunged: Option<u64>,
    pub max_expunged: Option<u64>,
}

/// An integer, or a range `"a..b"` / `"a..=b"` drawn from the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    Fixed(u64),
    Range(u64, u64),
}

impl Default for Param {
    fn default() -> Self {
        Param::Fixed(0)
    }
}

impl Param {
    pub fn draw(self, rng: &mut Rng) -> u64 {
        match self {
            Param::Fixed(v) => v,
            Param::Range(a, b) => a + rng.below(b - a + 1),
        }
    }
}

fn parse_range(s: &str) -> Result<Param, String> {
    let (a, b, inclusive) = if let Some((a, b)) = s.split_once("..=") {
        (a, b, true)
    } else if let Some((a, b)) = s.split_once("..") {
        (a, b, false)
    } else {
        return s
            .trim()
            .parse()
            .map(Param::Fixed)
            .map_err(|_| format!("`{s}` is neither a number nor a range like \"2..5\""));
    };
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("bad range start in `{s}`"))?;
    let b: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("bad range end in `{s}`"))?;
    let hi = if inclusive {
        b
    } else {
        b.checked_sub(1).ok_or("empty range")?
    };
    if hi < a {
        return Err(format!("empty range `{s}`"));
    }
    Ok(if a == hi {
        Param::Fixed(a)
    } else {
        Param::Range(a, hi)
    })
}

impl<'de> Deserialize<'de> for Param {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            I(i64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::I(i) if i >= 0 => Ok(Param::Fixed(i as u64)),
            Raw::I(i) => Err(de::Error::custom(format!("{i} is negative"))),
            Raw::S(s) => parse_range(&s).map_err(de::Error::custom),
        }
    }
}

/// A byte count: an integer, a float like `3.4e11`, or a string like `"2GiB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            I(i64),
            F(f64),
            S(String),
        }
        let v = match Raw::deserialize(d)? {
            Raw::I(i) if i >= 0 => i as u64,
            Raw::F(f) if (0.0..1.8e19).contains(&f) => f as u64,
            Raw::S(s) => parse_bytes(&s).map_err(de::Error::custom)?,
            _ => return Err(de::Error::custom("a byte count must not be negative")),
        };
        Ok(Bytes(v))
    }
}

fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a size like \"2GiB\""))?;
    let mult: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" | "kB" => 1000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{s}` (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"
            ));
        }
    };
    Ok((n * mult as f64) as u64)
}

macro_rules! named {
    ($name:ident, $ty:ty, $parse:expr, $what:literal) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub struct $name(pub $ty);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                let f: fn(&str) -> Option<$ty> = $parse;
                f(&s).map($name).ok_or_else(|| {
                    de::Error::custom(format!(concat!("unknown ", $what, " `{}`"), s))
                })
            }
        }
    };
}

named!(
    VersionName,
    Version,
    Version::parse,
    "Cyrus version (2.3.7 .. 2.3.16)"
);
named!(
    StrategyName,
    Strategy,
    Strategy::parse,
    "strategy (see `expunge-sim strategies`)"
);
named!(
    ArchName,
    Arch,
    |s| match s {
        "lp64" => Some(Arch::Lp64),
        "ilp32" => Some(Arch::Ilp32),
        _ => None,
    },
    "arch (lp64 or ilp32)"
);
named!(
    ModeName,
    ExpungeMode,
    |s| match s {
        "delayed" => Some(ExpungeMode::Delayed),
        "immediate" => Some(ExpungeMode::Immediate),
        _ => None,
    },
    "expunge_mode (delayed or immediate)"
);
named!(
    RuleName,
    ExpireRule,
    |s| match s {
        "sentdate" => Some(ExpireRule::SentDate),
        "internaldate" => Some(ExpireRule::InternalDate),
        _ => None,
    },
    "expire_rule (sentdate or internaldate)"
);

/// splitmix64: the scenario's own random numbers, from the seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

/// A loaded scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    /// Where it came from: a path, or `catalog:NAME`.
    pub origin: String,
    pub file: ScenarioFile,
}

impl Scenario {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Strategies the scenario states expectations for, in the order of `Strategy::ALL`.
    pub fn expected_strategies(&self) -> Vec<Strategy> {
        self.file.expect.keys().map(|k| k.0).collect()
    }

    pub fn is_multi_process(&self) -> bool {
        !self.file.processes.is_empty()
    }

    pub fn expectation(&self, s: Strategy) -> Option<&Expect> {
        self.file.expect.get(&StrategyName(s))
    }
}

/// A scenario that cannot be read: the file, and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for ScenarioError {}

/// Line and column (1-based) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Parse scenario text; `file` names it in errors, `stem` is the default name.
pub fn parse(text: &str, file: &str, stem: &str) -> Result<Scenario, ScenarioError> {
    let parsed: ScenarioFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
        ScenarioError {
            file: file.to_string(),
            line,
            column,
            message: e.message().to_string(),
        }
    })?;
    let name = parsed.name.clone().unwrap_or_else(|| stem.to_string());
    Ok(Scenario {
        name,
        origin: file.to_string(),
        file: parsed,
    })
}
