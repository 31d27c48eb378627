//! The multi-process madsim world: determinism, kills and power losses, and the world as a
//! schedule the executor replays exactly.
#![cfg(madsim)]

mod cli_support;

use cli_support::{expunge_sim, fresh_dir, path_str};
use engine::Strategy;
use scenarios::crash::Timed;
use scenarios::executor::World;
use scenarios::{RunOptions, Scenario, run};

/// Three users over five days, with two kills and a power loss: small and quick.
const SMALL: &str = r#"
[site]
version = "2.3.7"
expire_rule = "internaldate"
expunge_days = 2

[users]
count = 3

[[mailbox]]
name = "user.{user}"

[[mailbox]]
name = "user.{user}.Spam"
expire_days = 2

[world]
days = 5
kills = 2
power_losses = 1

[[process]]
name = "lmtpd"
program = "lmtpd"
mailboxes = ["user.{user}.Spam", "user.{user}"]
every_minutes = "30..90"

[[process]]
name = "imapd-{user}"
program = "imapd"
mailboxes = ["user.{user}.Spam"]
every_minutes = "300..600"

[[process]]
name = "cyr_expire"
program = "cyr_expire"
"#;

fn small() -> Scenario {
    scenarios::scenario::parse(SMALL, "small.toml", "small").unwrap()
}

fn digest(seed: u64) -> String {
    run(
        &small(),
        Strategy::Fix1Complete,
        seed,
        &RunOptions::default(),
    )
    .unwrap()
    .report
    .trace_digest
}

#[test]
fn the_same_seed_gives_the_same_trace_and_another_seed_another() {
    assert_eq!(digest(7), digest(7));
    assert_ne!(digest(7), digest(8));
}

#[test]
fn every_process_is_a_node_and_kills_and_the_power_loss_land_and_are_survived() {
    let r = run(&small(), Strategy::Fix1Complete, 3, &RunOptions::default())
        .unwrap()
        .report;
    for p in ["lmtpd", "imapd-u1", "imapd-u3", "cyr_expire"] {
        assert!(
            r.processes.iter().any(|x| x == p),
            "{p} in {:?}",
            r.processes
        );
    }
    let kinds: Vec<&str> = r.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "killed").count(),
        2,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"power_loss"), "{kinds:?}");
    assert!(r.story.iter().any(|l| l.text.contains("restarted")));
    // Five days of clock went by: five nights of cyr_expire.
    let nights = r
        .story
        .iter()
        .filter(|l| l.process == "cyr_expire" && l.text.contains("cyr_expire runs"))
        .count();
    assert_eq!(nights, 5);
}

#[test]
fn the_world_is_a_schedule_the_executor_replays_to_the_same_trace() {
    let sc = small();
    let (setup, steps) = scenarios::crash::schedule(&sc, Strategy::Cyrus237, 5).unwrap();
    let mut w = World::new(&setup, Strategy::Cyrus237, 5);
    steps.iter().for_each(|t: &Timed| t.apply(&mut w));
    let world = run(&sc, Strategy::Cyrus237, 5, &RunOptions::default()).unwrap();
    assert_eq!(
        format!("{:016x}", w.fs.trace_digest()),
        world.report.trace_digest
    );
}

#[test]
fn two_processes_of_the_cli_give_the_same_digest() {
    let dir = fresh_dir("world-determinism");
    let file = dir.join("small.toml");
    std::fs::write(&file, SMALL).unwrap();
    let args = ["run", path_str(&file), "--seed", "11", "--json"];
    let a = expunge_sim(&args);
    let b = expunge_sim(&args);
    assert_eq!(a.json()["trace_digest"], b.json()["trace_digest"], "{a:?}");
    assert!(a.json()["sim_calls"].as_u64().unwrap() > 1000);
}

#[test]
fn madsim_sees_the_same_random_draws_twice() {
    // madsim runs the world twice with the same seed and compares every random draw.
    madsim::runtime::Runtime::check_determinism(21, madsim::Config::default(), || async {
        let sc = small();
        let out = scenarios::world::drive(&sc, Strategy::Cyrus237, 21, &RunOptions::default())
            .await
            .unwrap();
        out.world.fs.trace_digest()
    });
}

/// Honours MADSIM_TEST_SEED, MADSIM_TEST_NUM and MADSIM_TEST_CHECK_DETERMINISM=1.
#[madsim::test]
async fn the_world_runs_under_madsim_test() {
    let sc = small();
    let seed = madsim::runtime::Handle::current().seed();
    let out = scenarios::world::drive(
        &sc,
        Strategy::Fix2DelayedThenCleanup,
        seed,
        &RunOptions::default(),
    )
    .await
    .unwrap();
    assert!(out.log.len() > 50);
}
