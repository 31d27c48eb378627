//! The block map of one file: which blocks are allocated, and their contents.
//!
//! Stored as runs of consecutive allocated blocks (an extent tree, as ext4 and XFS keep), each
//! run a vector of 8-byte block references: a 4 GiB file of real data costs 8 MiB of
//! references here instead of a B-tree node entry per block. Runs are capped at
//! [`RUN_CAP`] blocks so that an insertion or removal in the middle stays cheap.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::blocks::Buf;

/// Most blocks in one run.
pub const RUN_CAP: usize = 4096;

/// One block: `None` is allocated zeros, `Some` a shared buffer.
pub type Entry = Option<Buf>;

#[derive(Debug, Default)]
pub struct BlockMap {
    runs: BTreeMap<u64, Vec<Entry>>,
    blocks: u64,
    /// One more than the start of the run the last searched lookup found (0: none), tried
    /// before searching again: reads walk a file in order, so they stay in one run for up to
    /// [`RUN_CAP`] blocks. Only a guess: a lookup checks the run still holds the block, so
    /// a stale hint costs one probe.
    hint: AtomicU64,
}

impl Clone for BlockMap {
    fn clone(&self) -> BlockMap {
        BlockMap {
            runs: self.runs.clone(),
            blocks: self.blocks,
            hint: AtomicU64::new(self.hint.load(Ordering::Relaxed)),
        }
    }
}

impl BlockMap {
    /// Allocated blocks.
    pub fn len(&self) -> u64 {
        self.blocks
    }

    pub fn is_empty(&self) -> bool {
        self.blocks == 0
    }

    /// Runs (for memory accounting).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// The run holding `idx`, as (start, run).
    #[inline]
    fn run_of(&self, idx: u64) -> Option<(u64, &Vec<Entry>)> {
        // Appends and reads near the end of a file, the common case, land in the last run;
        // finding it is cheaper than a range search.
        if let Some((&s, r)) = self.runs.last_key_value()
            && idx >= s
        {
            return (idx - s < r.len() as u64).then_some((s, r));
        }
        if self.runs.len() < 2 {
            return None;
        }
        self.run_before_last(idx)
    }

    /// [`BlockMap::run_of`] for a block before the last run: the hinted run, else a search.
    #[inline(never)]
    fn run_before_last(&self, idx: u64) -> Option<(u64, &Vec<Entry>)> {
        if let Some(h) = self.hint.load(Ordering::Relaxed).checked_sub(1)
            && h <= idx
            && let Some(r) = self.runs.get(&h)
            && idx - h < r.len() as u64
        {
            return Some((h, r));
        }
        let (&s, r) = self.runs.range(..=idx).next_back()?;
        if idx - s < r.len() as u64 {
            self.hint.store(s + 1, Ordering::Relaxed);
            return Some((s, r));
        }
        None
    }

    pub fn get(&self, idx: u64) -> Option<&Entry> {
        let (s, r) = self.run_of(idx)?;
        r.get((idx - s) as usize)
    }

    pub fn contains(&self, idx: u64) -> bool {
        self.run_of(idx).is_some()
    }

    /// Set block `idx`, allocating it if needed.
    pub fn insert(&mut self, idx: u64, v: Entry) {
        // At or after the last run's start (appends, rewrites near EOF): no range search,
        // and no later run to merge with.
        if let Some(mut last) = self.runs.last_entry()
            && idx >= *last.key()
        {
            let at = idx - *last.key();
            let r = last.get_mut();
            if at < r.len() as u64 {
                r[at as usize] = v;
                return;
            }
            self.blocks += 1;
            if at == r.len() as u64 && r.len() < RUN_CAP {
                r.push(v);
            } else {
                self.runs.insert(idx, vec![v]);
            }
            return;
        }
        if let Some((&s, r)) = self.runs.range_mut(..=idx).next_back() {
            let at = idx - s;
            if at < r.len() as u64 {
                r[at as usize] = v;
                return;
            }
            if at == r.len() as u64 && r.len() < RUN_CAP {
                r.push(v);
                self.blocks += 1;
                self.merge_after(s);
                return;
            }
        }
        self.blocks += 1;
        match idx.checked_add(1).and_then(|n| self.runs.remove(&n)) {
            Some(next) if next.len() < RUN_CAP => {
                let mut run = Vec::with_capacity(next.len() + 1);
                run.push(v);
                run.extend(next);
                self.runs.insert(idx, run);
            }
            Some(next) => {
                self.runs.insert(idx + 1, next);
                self.runs.insert(idx, vec![v]);
            }
            None => {
                self.runs.insert(idx, vec![v]);
            }
        }
    }

    /// Join the run at `s` with the one right after it, if they touch and fit in one run.
    fn merge_after(&mut self, s: u64) {
        let Some(len) = self.runs.get(&s).map(Vec::len) else {
            return;
        };
        let next_start = s + len as u64;
        let fits = self
            .runs
            .get(&next_start)
            .is_some_and(|n| n.len() + len <= RUN_CAP);
        if fits
            && let Some(next) = self.runs.remove(&next_start)
            && let Some(run) = self.runs.get_mut(&s)
        {
            run.extend(next);
        }
    }

    /// Free block `idx` (a hole again).
    pub fn remove(&mut self, idx: u64) {
        let Some((s, r)) = self.run_of(idx) else {
            return;
        };
        let len = r.len() as u64;
        self.blocks -= 1;
        let Some(mut run) = self.runs.remove(&s) else {
            return;
        };
        let at = (idx - s) as usize;
        let tail = run.split_off(at + 1);
        run.truncate(at);
        if !run.is_empty() {
            self.runs.insert(s, run);
        }
        if !tail.is_empty() {
            self.runs.insert(idx + 1, tail);
        }
        debug_assert!(len > 0);
    }

    /// Free every block from `first` on.
    pub fn truncate_from(&mut self, first: u64) {
        let dropped = self.runs.split_off(&first);
        self.blocks -= dropped.values().map(|r| r.len() as u64).sum::<u64>();
        if let Some((&s, r)) = self.runs.range_mut(..first).next_back() {
            let keep = (first - s) as usize;
            if r.len() > keep {
                self.blocks -= (r.len() - keep) as u64;
                r.truncate(keep);
            }
        }
    }

    /// The allocated stretches overlapping `first..=last`, clipped to it, in order.
    pub fn allocated_in(&self, first: u64, last: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        let before = self.runs.range(..first).next_back();
        before
            .into_iter()
            .chain(self.runs.range(first..=last))
            .filter_map(move |(&s, r)| {
                let e = s + r.len() as u64 - 1;
                (e >= first && s <= last).then_some((s.max(first), e.min(last)))
            })
    }

    /// The first allocated block at or after `idx`.
    pub fn next_allocated(&self, idx: u64) -> Option<u64> {
        if self.contains(idx) {
            return Some(idx);
        }
        self.runs.range(idx..).next().map(|(&s, _)| s)
    }

    /// Allocated blocks in `first..=last`.
    pub fn count_in(&self, first: u64, last: u64) -> u64 {
        self.allocated_in(first, last).map(|(a, b)| b - a + 1).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_of(idxs: &[u64]) -> BlockMap {
        let mut m = BlockMap::default();
        for &i in idxs {
            m.insert(i, None);
        }
        m
    }

    #[test]
    fn consecutive_blocks_form_one_run_in_any_insertion_order() {
        let m = map_of(&[5, 6, 7, 4, 9, 8, 3]);
        assert_eq!((m.len(), m.runs()), (7, 1));
        assert_eq!(m.allocated_in(0, 100).collect::<Vec<_>>(), vec![(3, 9)]);
    }

    #[test]
    fn removal_splits_runs_and_truncation_clips_them() {
        let mut m = map_of(&(0..20).collect::<Vec<_>>());
        m.remove(10);
        assert!(!m.contains(10) && m.contains(9) && m.contains(11));
        assert_eq!(
            m.allocated_in(0, 30).collect::<Vec<_>>(),
            vec![(0, 9), (11, 19)]
        );
        m.truncate_from(5);
        assert_eq!(m.len(), 5);
        assert_eq!(m.allocated_in(0, 30).collect::<Vec<_>>(), vec![(0, 4)]);
        assert_eq!(m.count_in(3, 100), 2);
        m.remove(0);
        assert_eq!(m.allocated_in(0, 30).collect::<Vec<_>>(), vec![(1, 4)]);
    }

    #[test]
    fn runs_are_capped() {
        let m = map_of(&(0..(RUN_CAP as u64 * 2 + 5)).collect::<Vec<_>>());
        assert_eq!(m.runs(), 3);
        assert_eq!(m.count_in(0, u64::MAX - 1), RUN_CAP as u64 * 2 + 5);
    }
}
