//! Each fault action, injected at a chosen call.

use sim::{Errno, EventKind, FaultAction, FaultPlan, OpenFlags, SimConfig, SimFs, Vfs};

/// spawn (call 0), open (1), write (2), fsync (3), fsync_dir (4), write (5).
fn script(plan: FaultPlan, seed: u64) -> (SimFs, Vec<Result<String, Errno>>) {
    let mut fs = SimFs::new(SimConfig {
        seed,
        faults: plan,
        ..SimConfig::default()
    });
    let p = fs.spawn("imapd");
    let mut out = Vec::new();
    let fd = fs.open(p, "d/f", OpenFlags::RDWR_CREATE);
    out.push(fd.as_ref().map(|f| format!("{f:?}")).map_err(|e| e.errno));
    let fd = fd.unwrap_or(sim::Fd(3));
    out.push(
        fs.write(p, fd, &[7; 1000])
            .map(|n| n.to_string())
            .map_err(|e| e.errno),
    );
    out.push(fs.fsync(p, fd).map(|()| "ok".into()).map_err(|e| e.errno));
    out.push(
        fs.fsync_dir(p, "d")
            .map(|()| "ok".into())
            .map_err(|e| e.errno),
    );
    out.push(
        fs.write(p, fd, &[8; 1000])
            .map(|n| n.to_string())
            .map_err(|e| e.errno),
    );
    (fs, out)
}

#[test]
fn eio_fails_the_call_and_changes_nothing() {
    let (mut fs, out) = script(FaultPlan::at(2, FaultAction::Eio), 0);
    assert_eq!(out[1], Err(Errno::Io));
    assert_eq!(out[4], Ok("1000".into()));
    assert_eq!(
        fs.stat("d/f").unwrap().size,
        1000,
        "the failed write wrote nothing"
    );
    assert_eq!(fs.events()[0].kind, EventKind::Io);
    assert!(fs.events()[0].detail.contains("call 2"));
}

#[test]
fn enospc_fault_fails_the_call() {
    let (_, out) = script(FaultPlan::at(5, FaultAction::NoSpc), 0);
    assert_eq!(out[4], Err(Errno::NoSpc));
}

#[test]
fn a_short_write_writes_a_prefix_the_seed_picks() {
    let mut lengths = std::collections::BTreeSet::new();
    for seed in 0..20 {
        let (mut fs, out) = script(FaultPlan::at(2, FaultAction::ShortWrite), seed);
        let n: u64 = out[1].clone().unwrap().parse().unwrap();
        assert!(n < 1000);
        assert_eq!(fs.stat("d/f").unwrap().size, n + 1000);
        assert_eq!(fs.events()[0].kind, EventKind::ShortWrite);
        lengths.insert(n);
    }
    assert!(lengths.len() > 10, "{lengths:?}");
}

#[test]
fn kill_fault_kills_the_caller_before_the_call_takes_effect() {
    let (mut fs, out) = script(FaultPlan::at(2, FaultAction::Kill), 0);
    assert_eq!(
        out[1..],
        [
            Err(Errno::Srch),
            Err(Errno::Srch),
            Err(Errno::Srch),
            Err(Errno::Srch)
        ]
    );
    assert_eq!(fs.stat("d/f").unwrap().size, 0);
    assert_eq!(fs.events()[0].kind, EventKind::Killed);
    assert!(
        fs.events()[0]
            .detail
            .contains("killed by fault plan at call 2")
    );
}

#[test]
fn power_loss_fault_reverts_to_the_durable_state() {
    // Before the fsync_dir: the name was never durable, so the file is gone.
    let (mut fs, out) = script(FaultPlan::at(4, FaultAction::PowerLoss), 0);
    assert_eq!(out[3], Err(Errno::Srch));
    assert_eq!(fs.stat("d/f").unwrap_err().errno, Errno::NoEnt);
    // Before the second write: the first one was synced, name and data.
    let (mut fs, out) = script(FaultPlan::at(5, FaultAction::PowerLoss), 0);
    assert_eq!(out[4], Err(Errno::Srch));
    assert_eq!(fs.stat("d/f").unwrap().size, 1000);
    assert_eq!(
        fs.events().last().map(|e| e.kind),
        Some(EventKind::PowerLoss)
    );
}

#[test]
fn rules_can_name_the_nth_call_of_a_kind() {
    let (_, out) = script(
        FaultPlan::default().with_nth("write", 1, FaultAction::Eio),
        0,
    );
    assert_eq!(out[1], Ok("1000".into()));
    assert_eq!(out[4], Err(Errno::Io));
}

#[test]
fn a_plan_installed_mid_run_applies_from_then_on() {
    let mut fs = SimFs::default();
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "f", OpenFlags::RDWR_CREATE).unwrap();
    let mut forked = fs.clone();
    forked.set_fault_plan(FaultPlan::at(forked.calls(), FaultAction::Eio));
    assert_eq!(forked.write(p, fd, b"x").unwrap_err().errno, Errno::Io);
    assert_eq!(
        fs.write(p, fd, b"x").unwrap(),
        1,
        "the original is untouched"
    );
}

#[test]
fn random_plans_replay_with_their_seed() {
    let run = |seed| {
        let plan = FaultPlan::random(seed, 300_000, &[FaultAction::Eio, FaultAction::ShortWrite]);
        let (fs, out) = script(plan, seed);
        (out, fs.trace_digest())
    };
    assert_eq!(run(3), run(3));
    let distinct: std::collections::BTreeSet<String> =
        (0..10).map(|s| format!("{:?}", run(s).0)).collect();
    assert!(distinct.len() > 1);
}
