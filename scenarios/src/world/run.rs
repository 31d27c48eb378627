//! The supervisor: builds the world, starts one node per process, injects the kills and
//! power losses the scenario asks for, restarts what died, and ends the run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::rand::{Rng as _, thread_rng};
use madsim::runtime::{Handle, Runtime};
use madsim::task::NodeId;
use madsim::time::{Instant, sleep};

use engine::Strategy;

use super::node::{Shared, State, draw, process_loop};
use super::spec::{Proc, expand, users};
use crate::crash::Timed;
use crate::executor::{Recorder, Run, RunError, RunOptions, Setup, World, set_trace};
use crate::plan;
use crate::scenario::Scenario;

/// How often the supervisor looks for dead processes (virtual time).
const WATCH: Duration = Duration::from_secs(60);

/// A finished world: its final state, its recorder, and every op it applied.
pub struct Outcome {
    pub setup: Setup,
    pub world: World,
    pub rec: Recorder,
    pub log: Vec<Timed>,
}

/// Run the world of `sc` inside the current madsim runtime (a `#[madsim::test]`, or
/// [`run`]'s own runtime).
pub async fn drive(
    sc: &Scenario,
    strategy: Strategy,
    seed: u64,
    opts: &RunOptions,
) -> Result<Outcome, RunError> {
    let setup = plan::setup(sc, seed);
    let procs = expand(&sc.file.processes, &users(sc.file.users.count, seed))
        .map_err(|e| RunError(format!("{}: {e}", sc.origin)))?;
    let ops = plan::ops(sc, seed).map_err(|e| RunError(format!("{}: {e}", sc.origin)))?;
    let mut world = World::new(&setup, strategy, seed);
    set_trace(&mut world, opts)?;
    let mut rec = Recorder::new(setup.start);
    let mut log = Vec::new();
    // The scenario's own steps (mailbox creation, a first delivery) run before any process.
    for op in ops {
        rec.step(&mut world, &op, "schedule");
        log.push(Timed::plain(op));
    }
    let clock_at_start = world.now;
    let shared: Shared = Arc::new(Mutex::new(Some(State {
        world,
        rec,
        log,
        started: Instant::now(),
        clock_at_start,
        kill_next: None,
        power_next: false,
        dead: Vec::new(),
        power_lost: false,
    })));

    let handle = Handle::current();
    let nodes: Vec<(String, NodeId)> = procs
        .iter()
        .map(|p| {
            let (sh, p2) = (shared.clone(), p.clone());
            let node = handle
                .create_node()
                .name(p.name.clone())
                .init(move || process_loop(sh.clone(), p2.clone()))
                .build();
            (p.name.clone(), node.id())
        })
        .collect();

    let w = &sc.file.world;
    let span = u64::from(w.days) * 86_400;
    let downtime = u64::from(w.downtime_minutes.max(1)) * 60;
    let mut chaos: Vec<(u64, bool)> = Vec::new();
    for _ in 0..draw(w.kills) {
        chaos.push((thread_rng().gen_range(0..span.max(1)), false));
    }
    for _ in 0..draw(w.power_losses) {
        chaos.push((thread_rng().gen_range(0..span.max(1)), true));
    }
    chaos.sort_unstable();
    supervise(&shared, &handle, &nodes, &procs, &chaos, span, downtime).await;

    let state = shared
        .lock()
        .expect("world lock")
        .take()
        .expect("the supervisor takes the state once");
    Ok(Outcome {
        setup,
        world: state.world,
        rec: state.rec,
        log: state.log,
    })
}

/// Watch the world until `span` seconds have passed: arm the chaos at its times, restart
/// dead processes after `downtime`, reboot after a power loss.
async fn supervise(
    shared: &Shared,
    handle: &Handle,
    nodes: &[(String, NodeId)],
    procs: &[Proc],
    chaos: &[(u64, bool)],
    span: u64,
    downtime: u64,
) {
    let begin = Instant::now();
    let mut next_chaos = 0;
    // (restart at, node) for processes that are down.
    let mut down: Vec<(u64, String)> = Vec::new();
    loop {
        let t = begin.elapsed().as_secs();
        if t >= span {
            return;
        }
        {
            let mut guard = shared.lock().expect("world lock");
            let s = guard.as_mut().expect("state present while supervising");
            while next_chaos < chaos.len() && chaos[next_chaos].0 <= t {
                if chaos[next_chaos].1 {
                    s.power_next = true;
                } else {
                    s.kill_next = Some(procs[thread_rng().gen_range(0..procs.len())].name.clone());
                }
                next_chaos += 1;
            }
            for name in s.dead.drain(..) {
                if let Some((_, id)) = nodes.iter().find(|(n, _)| *n == name) {
                    handle.kill(*id);
                }
                down.push((t + downtime, name));
            }
            if s.power_lost {
                s.power_lost = false;
                let now = s.world.now;
                s.rec.tell(
                    &s.world,
                    "machine",
                    format!("power lost at {now}: every process is down until the reboot"),
                );
                for (name, id) in nodes {
                    handle.kill(*id);
                    down.retain(|(_, n)| n != name);
                    down.push((t + downtime, name.clone()));
                }
            }
            down.sort();
            while let Some((at, _)) = down.first() {
                if *at > t {
                    break;
                }
                let (_, name) = down.remove(0);
                if let Some((_, id)) = nodes.iter().find(|(n, _)| *n == name) {
                    handle.restart(*id);
                    s.rec
                        .tell(&s.world, "supervisor", format!("{name} restarted"));
                }
            }
        }
        sleep(WATCH).await;
    }
}

/// Run the world of `sc` in a fresh madsim runtime seeded with `seed`, and report it like
/// any run.
pub fn run(
    sc: &Scenario,
    strategy: Strategy,
    seed: u64,
    opts: &RunOptions,
) -> Result<Run, RunError> {
    let started = std::time::Instant::now();
    let out = in_runtime(sc, strategy, seed, opts)?;
    out.rec
        .finish(out.world, &out.setup, strategy, seed, started)
}

/// The world of `sc` as a replayable schedule: every op it applied, with its time and
/// process (for `expunge-sim crash`).
pub fn schedule(
    sc: &Scenario,
    strategy: Strategy,
    seed: u64,
) -> Result<(Setup, Vec<Timed>), RunError> {
    let out = in_runtime(sc, strategy, seed, &RunOptions::default())?;
    Ok((out.setup, out.log))
}

fn in_runtime(
    sc: &Scenario,
    strategy: Strategy,
    seed: u64,
    opts: &RunOptions,
) -> Result<Outcome, RunError> {
    let rt = Runtime::with_seed_and_config(seed, madsim::Config::default());
    rt.block_on(drive(sc, strategy, seed, opts))
}
