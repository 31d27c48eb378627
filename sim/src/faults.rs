//! Fault plans: which traced call fails, and how.
//!
//! A plan is data: rules written in a scenario (`at_call`, or the nth call of a name) and,
//! optionally, faults drawn from a seed at a rate. Rules are checked before the call takes
//! effect; the first rule that matches wins, then the random draw. `spawn` and `kill` are
//! never faulted (they cannot fail), and `map_read`/`map_len` are not calls at all.

use crate::hash::mix64;

/// What a fault does to the call it hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultAction {
    /// The call fails with `EIO` and does nothing.
    Eio,
    /// A `write`/`pwrite` writes only a prefix, whose length the seed picks (possibly 0),
    /// and returns that count. Other calls are unaffected.
    ShortWrite,
    /// The call fails with `ENOSPC` and does nothing.
    NoSpc,
    /// The calling process is killed before the call takes effect; the call returns
    /// `ESRCH`. Calls without a process (`stat`, `list`) are unaffected.
    Kill,
    /// Power is lost before the call takes effect (see `SimFs::power_loss`); the call
    /// returns `ESRCH`, as every process is dead.
    PowerLoss,
}

impl FaultAction {
    pub fn name(self) -> &'static str {
        match self {
            FaultAction::Eio => "eio",
            FaultAction::ShortWrite => "short_write",
            FaultAction::NoSpc => "enospc",
            FaultAction::Kill => "kill",
            FaultAction::PowerLoss => "power_loss",
        }
    }
}

/// Which call a rule hits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// The traced call with this global sequence number (0-based).
    AtCall(u64),
    /// The `n`th (0-based) call named `call` ("write", "fsync", ...).
    Nth { call: String, n: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FaultRule {
    pub trigger: Trigger,
    pub action: FaultAction,
}

/// Faults drawn from a seed: each eligible call at or after `from_call` is hit with
/// probability `per_million / 1e6`, with an action picked from `actions`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RandomFaults {
    pub seed: u64,
    pub per_million: u32,
    pub actions: Vec<FaultAction>,
    pub from_call: u64,
}

/// A list of rules plus an optional random draw. The default plan injects nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FaultPlan {
    pub rules: Vec<FaultRule>,
    pub random: Option<RandomFaults>,
}

impl FaultPlan {
    /// A plan with one rule: `action` at traced call `at_call`.
    pub fn at(at_call: u64, action: FaultAction) -> Self {
        FaultPlan::default().with(at_call, action)
    }

    /// Add a rule at traced call `at_call`.
    pub fn with(mut self, at_call: u64, action: FaultAction) -> Self {
        self.rules.push(FaultRule {
            trigger: Trigger::AtCall(at_call),
            action,
        });
        self
    }

    /// Add a rule at the `n`th (0-based) call named `call`.
    pub fn with_nth(mut self, call: &str, n: u64, action: FaultAction) -> Self {
        self.rules.push(FaultRule {
            trigger: Trigger::Nth {
                call: call.to_string(),
                n,
            },
            action,
        });
        self
    }

    /// Faults drawn from `seed` at `per_million` calls in a million, among `actions`.
    pub fn random(seed: u64, per_million: u32, actions: &[FaultAction]) -> Self {
        FaultPlan {
            rules: Vec::new(),
            random: Some(RandomFaults {
                seed,
                per_million,
                actions: actions.to_vec(),
                from_call: 0,
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.random.is_none()
    }

    /// The fault for traced call `seq`, the `nth` call named `call`, if any.
    pub fn decide(&self, seq: u64, call: &str, nth: u64) -> Option<FaultAction> {
        let hit = self.rules.iter().find(|r| match &r.trigger {
            Trigger::AtCall(at) => *at == seq,
            Trigger::Nth { call: c, n } => c == call && *n == nth,
        });
        if let Some(r) = hit {
            return Some(r.action);
        }
        let r = self.random.as_ref()?;
        if seq < r.from_call || r.actions.is_empty() {
            return None;
        }
        let h = mix64(r.seed ^ mix64(seq.wrapping_add(0x5eed)));
        if h % 1_000_000 < u64::from(r.per_million) {
            let pick = (h >> 32) % r.actions.len() as u64;
            r.actions.get(pick as usize).copied()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_hit_exactly_their_call() {
        let plan = FaultPlan::at(5, FaultAction::Eio).with_nth("fsync", 1, FaultAction::PowerLoss);
        assert_eq!(plan.decide(5, "write", 0), Some(FaultAction::Eio));
        assert_eq!(plan.decide(4, "write", 0), None);
        assert_eq!(plan.decide(9, "fsync", 0), None);
        assert_eq!(plan.decide(9, "fsync", 1), Some(FaultAction::PowerLoss));
    }

    #[test]
    fn random_faults_follow_the_seed_and_roughly_the_rate() {
        let plan = FaultPlan::random(42, 100_000, &[FaultAction::Eio, FaultAction::Kill]);
        let hits: Vec<u64> = (0..10_000)
            .filter(|&s| plan.decide(s, "write", s).is_some())
            .collect();
        assert!((800..1200).contains(&hits.len()), "{}", hits.len());
        let again: Vec<u64> = (0..10_000)
            .filter(|&s| plan.decide(s, "write", s).is_some())
            .collect();
        assert_eq!(hits, again);
        let other = FaultPlan::random(43, 100_000, &[FaultAction::Eio]);
        let theirs: Vec<u64> = (0..10_000)
            .filter(|&s| other.decide(s, "x", 0).is_some())
            .collect();
        assert_ne!(hits, theirs);
        assert!(FaultPlan::default().decide(0, "open", 0).is_none());
    }
}
