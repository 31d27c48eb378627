//! The executor judges again only the mailbox an op touched: that must never change what
//! the oracles say. At every step of these scenarios the incremental verdict equals a full
//! run of every oracle over every mailbox. The index a user sees (which the executor keeps
//! from the oracles' last read while no file changed) equals a fresh read, before and after
//! the oracles run.

use scenarios::{load, plan};
use sim::EventKind;

fn same_verdicts(name: &str, strategy: engine::Strategy, seeds: std::ops::Range<u64>) {
    let sc = load(name).unwrap();
    for seed in seeds {
        let setup = plan::setup(&sc, seed);
        let ops = plan::ops(&sc, seed).unwrap();
        let mut w = scenarios::executor::World::new(&setup, strategy, seed);
        let mut events_seen = 0;
        for (step, op) in ops.iter().enumerate() {
            w.apply(op);
            same_index(&w, name, seed, step);
            let everything =
                w.fs.events_since(events_seen)
                    .iter()
                    .any(|e| matches!(e.kind, EventKind::PowerLoss | EventKind::Killed));
            events_seen = w.fs.events().len();
            let incremental = w.check_after(op, everything);
            let full = w.check();
            assert_eq!(incremental, full, "{name} seed {seed} step {step}: {op:?}");
            same_index(&w, name, seed, step);
        }
    }
}

fn same_index(w: &scenarios::executor::World, name: &str, seed: u64, step: usize) {
    for m in w.ghost.mailboxes.keys() {
        let fresh = engine::oracle::index_uids(&mut w.fs.snapshot(), m);
        assert_eq!(
            w.index_uids(m),
            fresh,
            "{name} seed {seed} step {step}: {m}"
        );
    }
}

#[test]
fn incremental_oracles_agree_with_full_ones_on_the_wrap() {
    same_verdicts("stale-map", engine::Strategy::Cyrus237, 0..1);
    same_verdicts("spam-folder-growth", engine::Strategy::Cyrus2312, 0..1);
}

#[test]
fn incremental_oracles_agree_with_full_ones_across_kills() {
    same_verdicts("crash-mid-expire", engine::Strategy::Fix1Complete, 0..20);
}

#[test]
fn incremental_oracles_agree_with_full_ones_over_many_mailboxes() {
    same_verdicts("blair-2008", engine::Strategy::Fix2DelayedThenCleanup, 0..1);
}
