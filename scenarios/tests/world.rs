//! The multi-process madsim world: determinism, kills and power losses, imapd sessions that
//! hold their mailbox across operations, and the world as a schedule the executor replays
//! exactly.
#![cfg(madsim)]

mod cli_support;

use cli_support::{expunge_sim, fresh_dir, path_str};
use engine::Strategy;
use engine::imapd::{CHECK_FETCH_GONE, CHECK_VIEW_STALE};
use scenarios::crash::Timed;
use scenarios::executor::{Op, World};
use scenarios::session::Imap;
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

/// SMALL with each user's imapd keeping a session on both its mailboxes, spam expiring
/// after a day, four kills and no power loss, over four days.
fn with_sessions() -> Scenario {
    let text = SMALL
        .replace(
            "mailboxes = [\"user.{user}.Spam\"]\nevery_minutes = \"300..600\"",
            "mailboxes = [\"user.{user}.Spam\", \"user.{user}\"]\nevery_minutes = \"20..90\"\n\
             session = true\nsession_length = \"4..=12\"\ndelete = \"1..=2\"",
        )
        .replace(
            "days = 5\nkills = 2\npower_losses = 1",
            "days = 4\nkills = 4",
        )
        .replace("expire_days = 2", "expire_days = 1");
    assert!(text.contains("session = true") && text.contains("kills = 4"));
    scenarios::scenario::parse(&text, "sessions.toml", "sessions").unwrap()
}

fn digest(sc: &Scenario, seed: u64) -> String {
    run(sc, Strategy::Fix1Complete, seed, &RunOptions::default())
        .unwrap()
        .report
        .trace_digest
}

#[test]
fn the_same_seed_gives_the_same_trace_and_another_seed_another() {
    for sc in [small(), with_sessions()] {
        assert_eq!(digest(&sc, 7), digest(&sc, 7));
        assert_ne!(digest(&sc, 7), digest(&sc, 8));
    }
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
    for sc in [small(), with_sessions()] {
        let (setup, steps) = scenarios::crash::schedule(&sc, Strategy::Cyrus237, 5).unwrap();
        let mut w = World::new(&setup, Strategy::Cyrus237, 5);
        steps.iter().for_each(|t: &Timed| t.apply(&mut w));
        let world = run(&sc, Strategy::Cyrus237, 5, &RunOptions::default()).unwrap();
        assert_eq!(
            format!("{:016x}", w.fs.trace_digest()),
            world.report.trace_digest,
            "{}",
            sc.name
        );
    }
}

#[test]
fn sessions_span_operations_and_see_cyrus_index_after_every_check_despite_kills() {
    let sc = with_sessions();
    let (mut stale_fetches, mut kills) = (0, 0);
    for seed in 0..4 {
        let (_, log) = scenarios::crash::schedule(&sc, Strategy::Cyrus237, seed).unwrap();
        let cmds: Vec<Imap> = log
            .iter()
            .filter_map(|t| match &t.op {
                Op::Session { cmd, .. } => Some(*cmd),
                _ => None,
            })
            .collect();
        // Sessions span ops: SELECT, commands among other processes' operations, LOGOUT.
        assert!(cmds.contains(&Imap::Select), "seed {seed}");
        assert!(cmds.contains(&Imap::Logout), "seed {seed}");
        let fetches = cmds.iter().filter(|c| matches!(c, Imap::Fetch { .. }));
        assert!(fetches.count() > 5, "seed {seed}");
        let r = run(&sc, Strategy::Cyrus237, seed, &RunOptions::default())
            .unwrap()
            .report;
        // (2.3.7's cyr_expire may read past its own map after the wrap: not a session's.)
        for v in &r.violations {
            let sessions_map = v.check == "map-read-past-length" && v.detail.contains("imapd");
            assert!(
                v.check != CHECK_VIEW_STALE && v.check != CHECK_FETCH_GONE && !sessions_map,
                "seed {seed}: {v:?}"
            );
        }
        kills += r.events.iter().filter(|e| e.kind == "killed").count();
        stale_fetches += r
            .story
            .iter()
            .filter(|l| l.text.contains("no longer exists"))
            .count();
    }
    assert!(kills >= 4, "{kills}");
    // 2.3.7's cyr_expire unlinks expired spam that sessions still hold in view.
    assert!(stale_fetches > 0);
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
    async fn digest_of(sc: Scenario) -> u64 {
        let out = scenarios::world::drive(&sc, Strategy::Cyrus237, 21, &RunOptions::default())
            .await
            .unwrap();
        out.world.fs.trace_digest()
    }
    let config = madsim::Config::default;
    madsim::runtime::Runtime::check_determinism(21, config(), || digest_of(small()));
    madsim::runtime::Runtime::check_determinism(21, config(), || digest_of(with_sessions()));
}

/// Honours MADSIM_TEST_SEED, MADSIM_TEST_NUM and MADSIM_TEST_CHECK_DETERMINISM=1.
#[madsim::test]
async fn the_world_runs_under_madsim_test() {
    let seed = madsim::runtime::Handle::current().seed();
    for sc in [small(), with_sessions()] {
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
}

#[test]
fn a_crash_sweep_of_the_world_with_sessions_leaves_the_fixes_no_failure() {
    // The sessions world without its own kills: every crash point of the last nightly
    // cyr_expire, power loss and kill, while the users' imapd sessions hold their maps.
    let text = SMALL
        .replace(
            "mailboxes = [\"user.{user}.Spam\"]\nevery_minutes = \"300..600\"",
            "mailboxes = [\"user.{user}.Spam\", \"user.{user}\"]\nevery_minutes = \"20..90\"\n\
             session = true\nsession_length = \"4..=12\"\ndelete = \"1..=2\"",
        )
        .replace("days = 5\nkills = 2\npower_losses = 1", "days = 3");
    let sc = scenarios::scenario::parse(&text, "crash-world.toml", "crash-world").unwrap();
    let (_, steps) = scenarios::crash::schedule(&sc, Strategy::Fix1Complete, 0).unwrap();
    assert!(
        steps
            .iter()
            .any(|t| matches!(t.op, Op::Session { .. }) && t.actor.is_some()),
        "the world has sessions"
    );
    for strategy in [Strategy::Fix1Complete, Strategy::Fix2DelayedThenCleanup] {
        let plan = scenarios::crash::CrashPlan {
            step: None,
            modes: vec![
                scenarios::crash::CrashMode::Power,
                scenarios::crash::CrashMode::Kill,
            ],
            point: None,
            reconstruct: scenarios::crash::ReconstructPolicy::All,
            sync_before: true,
        };
        let r = scenarios::crash::crash(&sc, strategy, 0, &plan).unwrap();
        assert!(r.points >= 40, "{strategy:?}: {} points", r.points);
        assert!(r.known_violations.is_empty(), "{:?}", r.known_violations);
        assert!(r.failures.is_empty(), "{strategy:?}: {:?}", r.failures);
    }
}
