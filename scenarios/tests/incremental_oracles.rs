//! The executor judges again only the mailbox an op touched: that must never change what
//! the oracles say. At every step of these scenarios the incremental verdict equals a full
//! run of every oracle over every mailbox. The index a user sees (which the executor keeps
//! from the oracles' last read while no file changed) equals a fresh read, before and after
//! the oracles run.

use scenarios::executor::{Op, changes_every_mailbox};
use scenarios::{load, plan};

fn same_verdicts(name: &str, strategy: engine::Strategy, seeds: std::ops::Range<u64>) {
    let sc = load(name).unwrap();
    for seed in seeds {
        let ops = plan::ops(&sc, seed).unwrap();
        same_verdicts_on(name, &ops, strategy, seed);
    }
}

fn same_verdicts_on(name: &str, ops: &[Op], strategy: engine::Strategy, seed: u64) {
    let setup = plan::setup(&load(name).unwrap(), seed);
    let mut w = scenarios::executor::World::new(&setup, strategy, seed);
    let mut events_seen = 0;
    for (step, op) in ops.iter().enumerate() {
        w.apply(op);
        same_index(&w, name, seed, step);
        let everything = changes_every_mailbox(w.fs.events_since(events_seen));
        events_seen = w.fs.events().len();
        let incremental = w.check_after(op, everything);
        let full = w.check();
        assert_eq!(incremental, full, "{name} seed {seed} step {step}: {op:?}");
        same_index(&w, name, seed, step);
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

/// Where the fault is armed in blair-2008's schedule, and how many calls later it fires.
const POWER_LOSS_AT: usize = 50;
const ARM_CALLS: u64 = 10;

#[test]
fn incremental_oracles_judge_every_mailbox_after_a_power_loss_inside_one() {
    // blair-2008 has four mailboxes. A power loss armed to fire inside a delivery to one of
    // them reverts the files of all four: every one must be judged again, though the op was
    // confined to one.
    let sc = load("blair-2008").unwrap();
    let mut ops = plan::ops(&sc, 0).unwrap();
    ops.truncate(POWER_LOSS_AT + 20);
    let arm = Op::Arm {
        action: sim::FaultAction::PowerLoss,
        after_calls: ARM_CALLS,
    };
    ops.insert(POWER_LOSS_AT, arm);
    same_verdicts_on("blair-2008", &ops, engine::Strategy::Fix1Complete, 0);
}
