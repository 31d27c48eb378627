//! Seed sweeps: run one scenario under many seeds on many threads, and summarise the result
//! so that two sweeps (or the shards of one) can be compared by a single digest.
//!
//! Results never depend on the thread count: every seed's outcome is collected, then sorted
//! by seed, before anything is digested.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// A half-open range of seeds, `A..B` (or `A..=B`, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedRange {
    pub start: u64,
    /// Exclusive end, as u128 so that `0..=u64::MAX` is representable.
    pub end: u128,
}

impl SeedRange {
    /// Parse `A..B` or `A..=B`. `A..A` is empty and allowed; `B < A` is an error.
    pub fn parse(s: &str) -> Result<SeedRange, String> {
        let (a, b, inclusive) = if let Some((a, b)) = s.split_once("..=") {
            (a, b, true)
        } else if let Some((a, b)) = s.split_once("..") {
            (a, b, false)
        } else {
            return Err(format!("{s:?} is not a range like 0..1000 or 0..=999"));
        };
        let num =
            |x: &str| crate::cli::args::parse_u64(x).map_err(|e| format!("{x:?} in {s:?}: {e}"));
        let start = num(a)?;
        let end = u128::from(num(b)?) + u128::from(inclusive);
        if end < u128::from(start) {
            return Err(format!("{s:?} ends before it starts"));
        }
        Ok(SeedRange { start, end })
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// `--shard K/N`: keep the seeds with `seed % N == K`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: u64,
    pub n: u64,
}

impl Shard {
    pub const ALL: Shard = Shard { k: 0, n: 1 };

    pub fn parse(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a shard like 0/4"))?;
        let num =
            |x: &str| crate::cli::args::parse_u64(x).map_err(|e| format!("{x:?} in {s:?}: {e}"));
        let (k, n) = (num(k)?, num(n)?);
        if n == 0 || k >= n {
            return Err(format!("shard {s:?} needs 0 <= K < N"));
        }
        Ok(Shard { k, n })
    }

    /// The seeds of `range` this shard keeps, as an arithmetic sequence: (first, count).
    /// Step is `n`.
    pub fn seeds(self, range: SeedRange) -> (u64, u64) {
        let start = u128::from(range.start);
        let rem = start % u128::from(self.n);
        let k = u128::from(self.k);
        let first = start + (k + u128::from(self.n) - rem) % u128::from(self.n);
        if first >= range.end {
            return (0, 0);
        }
        let count = (range.end - first).div_ceil(u128::from(self.n));
        (first as u64, count as u64)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// What one seed's run gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedOutcome {
    pub seed: u64,
    /// The run's trace digest (hex).
    pub digest: String,
    pub failed: bool,
    /// The command that replays this seed; kept for failures only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproduce: Option<String>,
}

/// The first failing seed and how to replay it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstFailure {
    pub seed: u64,
    pub reproduce: String,
}

/// The `sweep --json` (and `merge`) object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSummary {
    pub scenario: String,
    pub strategy: String,
    /// How many seeds ran.
    pub seeds: u64,
    pub failed_seeds: Vec<u64>,
    pub first_failure: Option<FirstFailure>,
    /// FNV-1a 64 over `"{seed}:{digest}\n"` for every seed in seed order, hex.
    pub digest: String,
    /// `"K/N"`, or null for an unsharded sweep (and for a merge).
    pub shard: Option<String>,
    /// The `--seeds` range as given, normalised to `A..B` (null for a merge).
    #[serde(default)]
    pub range: Option<String>,
    /// Throughput of this sweep; for a merge, the sum over its shards.
    pub seeds_per_second: f64,
    pub per_seed: Vec<SeedOutcome>,
}

/// FNV-1a, 64-bit: small, stable across platforms and releases.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The sweep digest over outcomes already sorted by seed.
pub fn digest(sorted: &[SeedOutcome]) -> String {
    let mut text = String::new();
    for o in sorted {
        text.push_str(&format!("{}:{}\n", o.seed, o.digest));
    }
    format!("{:016x}", fnv1a64(text.as_bytes()))
}

impl SweepSummary {
    /// Build the summary from outcomes in any order. `reproduce` names the command for a
    /// failing seed whose outcome does not carry one.
    pub fn new(
        scenario: &str,
        strategy: &str,
        mut outcomes: Vec<SeedOutcome>,
        reproduce: impl Fn(u64) -> String,
    ) -> SweepSummary {
        outcomes.sort_by_key(|o| o.seed);
        let failed_seeds: Vec<u64> = outcomes
            .iter()
            .filter(|o| o.failed)
            .map(|o| o.seed)
            .collect();
        let first_failure = outcomes.iter().find(|o| o.failed).map(|o| FirstFailure {
            seed: o.seed,
            reproduce: o.reproduce.clone().unwrap_or_else(|| reproduce(o.seed)),
        });
        SweepSummary {
            scenario: scenario.to_string(),
            strategy: strategy.to_string(),
            seeds: outcomes.len() as u64,
            failed_seeds,
            first_failure,
            digest: digest(&outcomes),
            shard: None,
            range: None,
            seeds_per_second: 0.0,
            per_seed: outcomes,
        }
    }

    pub fn failed(&self) -> bool {
        !self.failed_seeds.is_empty()
    }
}

/// The command that replays one seed of a sweep.
pub fn reproduce_command(scenario: &str, strategy: &str, seed: u64) -> String {
    format!("expunge-sim run {scenario} --strategy {strategy} --seed {seed}")
}

/// Why shards cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeError {
    Empty,
    Mismatch {
        what: &'static str,
        a: String,
        b: String,
    },
    Conflict {
        seed: u64,
        a: String,
        b: String,
    },
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::Empty => write!(f, "nothing to merge"),
            MergeError::Mismatch { what, a, b } => {
                write!(f, "shards of different sweeps: {what} {a:?} and {b:?}")
            }
            MergeError::Conflict { seed, a, b } => write!(
                f,
                "seed {seed} has digest {a} in one shard and {b} in another (nondeterminism?)"
            ),
        }
    }
}

/// Combine shard summaries into the summary one sweep over all their seeds would give.
/// A seed present in several shards counts once; its digests must agree.
pub fn merge(shards: Vec<SweepSummary>) -> Result<SweepSummary, MergeError> {
    let first = shards.first().ok_or(MergeError::Empty)?;
    let (scenario, strategy) = (first.scenario.clone(), first.strategy.clone());
    let mut all: Vec<SeedOutcome> = Vec::new();
    let mut throughput = 0.0;
    for s in shards {
        for (what, a, b) in [
            ("scenario", &scenario, &s.scenario),
            ("strategy", &strategy, &s.strategy),
        ] {
            if a != b {
                return Err(MergeError::Mismatch {
                    what,
                    a: a.clone(),
                    b: b.clone(),
                });
            }
        }
        throughput += s.seeds_per_second;
        all.extend(s.per_seed);
    }
    all.sort_by_key(|o| o.seed);
    let mut deduped: Vec<SeedOutcome> = Vec::with_capacity(all.len());
    for o in all {
        match deduped.last() {
            Some(prev) if prev.seed == o.seed => {
                if prev.digest != o.digest || prev.failed != o.failed {
                    return Err(MergeError::Conflict {
                        seed: o.seed,
                        a: prev.digest.clone(),
                        b: o.digest,
                    });
                }
            }
            _ => deduped.push(o),
        }
    }
    let mut out = SweepSummary::new(&scenario, &strategy, deduped, |seed| {
        reproduce_command(&scenario, &strategy, seed)
    });
    out.seeds_per_second = throughput;
    Ok(out)
}

/// Run `run_seed` for every seed of `shard` within `range` on `jobs` threads. Threads take
/// the next seed from a shared counter, so a slow seed never idles the others. `done` counts
/// finished seeds (for a progress bar); `failed` counts failing ones. The first error stops
/// the sweep and is returned with its seed.
pub fn run_seeds<F>(
    range: SeedRange,
    shard: Shard,
    jobs: usize,
    counters: &Counters,
    run_seed: F,
) -> Result<Vec<SeedOutcome>, (u64, String)>
where
    F: Fn(u64) -> Result<SeedOutcome, String> + Sync,
{
    let (first, count) = shard.seeds(range);
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let results = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            break;
                        }
                        let seed = first + i * shard.n;
                        match run_seed(seed) {
                            Ok(o) => {
                                if o.failed {
                                    counters.failed.fetch_add(1, Ordering::Relaxed);
                                }
                                mine.push(o);
                                counters.done.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                return Err((seed, e));
                            }
                        }
                    }
                    Ok(mine)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a sweep worker panicked"))
            .collect::<Vec<_>>()
    });
    let mut all = Vec::with_capacity(count as usize);
    let mut error: Option<(u64, String)> = None;
    for r in results {
        match r {
            Ok(v) => all.extend(v),
            // Report the lowest failing seed, whatever thread found it first.
            Err(e) if error.as_ref().is_none_or(|x| e.0 < x.0) => error = Some(e),
            Err(_) => {}
        }
    }
    match error {
        Some(e) => Err(e),
        None => {
            all.sort_by_key(|o| o.seed);
            Ok(all)
        }
    }
}

/// Progress counters shared by the workers and whoever draws them.
#[derive(Debug, Default)]
pub struct Counters {
    pub done: AtomicU64,
    pub failed: AtomicU64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(seed: u64) -> Result<SeedOutcome, String> {
        Ok(SeedOutcome {
            seed,
            digest: format!("{:016x}", fnv1a64(&seed.to_le_bytes())),
            failed: seed % 7 == 3,
            reproduce: None,
        })
    }

    fn sweep(range: &str, shard: Shard, jobs: usize) -> SweepSummary {
        let range = SeedRange::parse(range).unwrap();
        let out = run_seeds(range, shard, jobs, &Counters::default(), fake).unwrap();
        SweepSummary::new("s", "cyrus-2.3.7", out, |seed| {
            reproduce_command("s", "cyrus-2.3.7", seed)
        })
    }

    #[test]
    fn ranges_are_half_open_unless_inclusive() {
        assert_eq!(SeedRange::parse("3..5").unwrap().end, 5);
        assert_eq!(SeedRange::parse("3..=5").unwrap().end, 6);
        assert_eq!(SeedRange::parse("3..3").unwrap().end, 3);
        assert_eq!(
            SeedRange::parse("0..=18446744073709551615").unwrap().end,
            1 << 64
        );
        for bad in ["5..3", "5", "a..b", "..4", "1..-2", "1...3"] {
            assert!(SeedRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_partition_the_range() {
        let range = SeedRange::parse("5..103").unwrap();
        let mut seen = Vec::new();
        for k in 0..4 {
            let (first, count) = Shard { k, n: 4 }.seeds(range);
            for i in 0..count {
                let s = first + i * 4;
                assert_eq!(s % 4, k);
                seen.push(s);
            }
        }
        seen.sort();
        assert_eq!(seen, (5..103).collect::<Vec<_>>());
        assert_eq!(
            Shard { k: 3, n: 4 }
                .seeds(SeedRange::parse("0..3").unwrap())
                .1,
            0
        );
    }

    #[test]
    fn bad_shards_are_refused() {
        for bad in ["4/4", "0/0", "1", "a/2", "1/2/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Shard::parse("3/8"), Ok(Shard { k: 3, n: 8 }));
    }

    #[test]
    fn results_do_not_depend_on_jobs() {
        let one = sweep("0..200", Shard::ALL, 1);
        let many = sweep("0..200", Shard::ALL, 8);
        assert_eq!(one, many);
        assert_eq!(one.seeds, 200);
        assert_eq!(one.first_failure.as_ref().unwrap().seed, 3);
        assert_eq!(
            one.first_failure.unwrap().reproduce,
            "expunge-sim run s --strategy cyrus-2.3.7 --seed 3"
        );
    }

    #[test]
    fn merged_shards_equal_one_sweep() {
        let whole = sweep("10..250", Shard::ALL, 3);
        let shards: Vec<_> = (0..3)
            .map(|k| sweep("10..250", Shard { k, n: 3 }, 2))
            .collect();
        let mut again = shards.clone();
        again.push(shards[1].clone()); // a shard given twice counts once
        let merged = merge(again).unwrap();
        assert_eq!(merged.digest, whole.digest);
        assert_eq!(merged.failed_seeds, whole.failed_seeds);
        assert_eq!(merged.first_failure, whole.first_failure);
        assert_eq!(merged.seeds, whole.seeds);
    }

    #[test]
    fn merge_refuses_conflicts_and_other_sweeps() {
        let a = sweep("0..10", Shard::ALL, 1);
        let mut b = a.clone();
        b.per_seed[4].digest = "0".into();
        assert!(matches!(
            merge(vec![a.clone(), b]),
            Err(MergeError::Conflict { seed: 4, .. })
        ));
        let mut c = a.clone();
        c.strategy = "fix1-remap".into();
        assert!(matches!(
            merge(vec![a, c]),
            Err(MergeError::Mismatch { .. })
        ));
        assert_eq!(merge(vec![]), Err(MergeError::Empty));
    }

    #[test]
    fn digest_is_fnv1a_over_seed_lines() {
        // FNV-1a 64 of the empty string is the offset basis.
        assert_eq!(digest(&[]), "cbf29ce484222325");
        let o = SeedOutcome {
            seed: 1,
            digest: "ab".into(),
            failed: false,
            reproduce: None,
        };
        assert_eq!(
            digest(std::slice::from_ref(&o)),
            format!("{:016x}", fnv1a64(b"1:ab\n"))
        );
        // Known vector: FNV-1a 64 of "a".
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn the_first_error_stops_the_sweep_and_names_its_seed() {
        let range = SeedRange::parse("0..100").unwrap();
        let err = run_seeds(range, Shard::ALL, 1, &Counters::default(), |s| {
            if s == 17 { Err("boom".into()) } else { fake(s) }
        })
        .unwrap_err();
        assert_eq!(err, (17, "boom".to_string()));
    }
}
