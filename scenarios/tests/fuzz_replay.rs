//! Replays the committed inputs of the `schedule` and `fixes_agree` fuzz targets without
//! libFuzzer: the seed corpus (`fuzz/seeds/<target>/`) and every past crash
//! (`fuzz/regressions/<target>/`), decoded exactly as libFuzzer's typed `fuzz_target!` decodes
//! them (`arbitrary_take_rest`). `FUZZ_REPLAY_DIR=/abs/path` replays another directory too.

use std::path::{Path, PathBuf};

use scenarios::fuzzing::{FuzzSchedule, FuzzStep};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    sim::testing::fuzz_inputs(env!("CARGO_MANIFEST_DIR"), target)
}

fn replay(target: &str, f: fn(&FuzzSchedule)) {
    let all = inputs(target);
    assert!(
        !all.is_empty(),
        "no inputs under fuzz/seeds or fuzz/regressions for {target}"
    );
    for (path, bytes) in &all {
        eprintln!("replaying {}", path.display());
        // An input arbitrary cannot decode is skipped by libFuzzer's typed target too.
        if let Ok(s) = FuzzSchedule::from_bytes(bytes) {
            f(&s);
        }
    }
}

#[test]
fn schedule_corpus_and_regressions_replay_cleanly() {
    replay("schedule", scenarios::fuzzing::schedule);
}

#[test]
fn fixes_agree_corpus_and_regressions_replay_cleanly() {
    replay("fixes_agree", scenarios::fuzzing::fixes_agree);
}

/// The 2008 story in miniature, written by hand: spam with an expire annotation, a user
/// expunge, nightly cyr_expire, an upgrade. Both complete fixes pass it and agree.
#[test]
fn a_hand_written_spam_schedule_passes_both_fixes_and_they_agree() {
    let mut steps = Vec::new();
    for night in 0..5u8 {
        steps.push(FuzzStep::Deliver {
            user: night,
            spam: true,
            count: 7,
            sent_age_days: night,
            size: 3000,
        });
        steps.push(FuzzStep::Deliver {
            user: night,
            spam: false,
            count: 1,
            sent_age_days: 0,
            size: 5000,
        });
        steps.push(FuzzStep::Delete {
            user: night,
            spam: true,
            count: 2,
            random: night % 2 == 0,
        });
        steps.push(FuzzStep::Expunge {
            user: night,
            spam: true,
        });
        steps.push(FuzzStep::Advance { hours: 14 });
        steps.push(FuzzStep::CyrExpire);
        steps.push(FuzzStep::Advance { hours: 9 });
    }
    steps.push(FuzzStep::Upgrade);
    steps.push(FuzzStep::Open {
        user: 0,
        spam: true,
    });
    let s = FuzzSchedule {
        users: 1,
        spam_expire_days: Some(5),
        internaldate: true,
        expunge_days: 7,
        start_on_2_3_12: false,
        coherence: 0,
        steps,
    };
    assert!(s.bounded_steps().len() == s.steps.len());
    scenarios::fuzzing::schedule(&s);
    scenarios::fuzzing::fixes_agree(&s);
    let (report, outcome) = scenarios::fuzzing::run(&s, engine::Strategy::Fix1Complete);
    assert!(report.messages.delivered > 0);
    assert!(
        report.messages.expunged + report.messages.purged > 0,
        "{:?}",
        report.messages
    );
    assert_eq!(outcome.delivered, report.messages.delivered);
}

/// The same schedule under 2.3.7 as shipped is caught by the oracles: the check is not vacuous.
#[test]
fn the_oracles_catch_cyrus_2_3_7_on_a_fuzz_schedule() {
    let mut steps = Vec::new();
    for night in 0..4u8 {
        steps.push(FuzzStep::Deliver {
            user: 0,
            spam: true,
            count: 7,
            sent_age_days: night + 6,
            size: 3000,
        });
        steps.push(FuzzStep::Delete {
            user: 0,
            spam: true,
            count: 1,
            random: false,
        });
        steps.push(FuzzStep::Expunge {
            user: 0,
            spam: true,
        });
        steps.push(FuzzStep::Advance { hours: 23 });
        steps.push(FuzzStep::CyrExpire);
    }
    steps.push(FuzzStep::Expunge {
        user: 0,
        spam: true,
    });
    let s = FuzzSchedule {
        users: 0,
        spam_expire_days: Some(2),
        internaldate: false,
        expunge_days: 7,
        start_on_2_3_12: false,
        coherence: 0,
        steps,
    };
    scenarios::fuzzing::schedule(&s);
    let (report, _) = scenarios::fuzzing::run(&s, engine::Strategy::Cyrus237);
    assert!(
        !report.violations.is_empty(),
        "2.3.7 passed: {:?}",
        report.messages
    );
}

/// Reads a whole file of the simulated site (sparse files are skipped: a seed must be small).
fn read_file(fs: &mut sim::SimFs, path: &str) -> Option<Vec<u8>> {
    use sim::Vfs;
    let pid = fs.spawn("seed-writer");
    let fd = fs.open(pid, path, sim::OpenFlags::RDONLY).ok()?;
    let size = fs.fstat(pid, fd).ok()?.size;
    let mut buf = vec![0u8; usize::try_from(size).ok().filter(|&s| s <= 1 << 16)?];
    let n = fs.pread(pid, fd, &mut buf, 0).ok()?;
    buf.truncate(n);
    let _ = fs.kill(pid);
    Some(buf)
}

/// Writes seeds for the file-format targets from real engine output: the files of the spam
/// folder after a fuzz schedule under every strategy (2.3.7's damaged ones included), in
/// each target's input layout. Run by hand:
/// `cargo test -p scenarios --test fuzz_replay -- --ignored write_format_seeds`.
#[test]
#[ignore]
fn write_format_seeds() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let mut steps = Vec::new();
    for night in 0..4u8 {
        steps.push(FuzzStep::Deliver {
            user: 0,
            spam: true,
            count: 5,
            sent_age_days: night + 6,
            size: 300,
        });
        steps.push(FuzzStep::Delete {
            user: 0,
            spam: true,
            count: 1,
            random: false,
        });
        steps.push(FuzzStep::Expunge {
            user: 0,
            spam: true,
        });
        steps.push(FuzzStep::Advance { hours: 23 });
        steps.push(FuzzStep::CyrExpire);
    }
    for strategy in engine::Strategy::ALL {
        for v12 in [false, true] {
            let s = FuzzSchedule {
                users: 0,
                spam_expire_days: Some(2),
                internaldate: false,
                expunge_days: 7,
                start_on_2_3_12: v12,
                coherence: 0,
                steps: steps.clone(),
            };
            let run = scenarios::executor::execute(
                &s.setup(),
                &s.ops(),
                strategy,
                0,
                &Default::default(),
            )
            .unwrap();
            let mut fs = run.fs;
            let dir = engine::mailbox::mailbox_path("user.u1.Spam");
            let index = read_file(&mut fs, &format!("{dir}/cyrus.index")).unwrap_or_default();
            let expunge = read_file(&mut fs, &format!("{dir}/cyrus.expunge")).unwrap_or_default();
            let cache = read_file(&mut fs, &format!("{dir}/cyrus.cache")).unwrap_or_default();
            let tag = format!(
                "gen-{}-{}",
                strategy.name(),
                if v12 { "2.3.12" } else { "2.3.7" }
            );
            let mut input = (index.len() as u16).to_be_bytes().to_vec();
            input.extend_from_slice(&index);
            input.extend_from_slice(&expunge);
            std::fs::create_dir_all(fuzz.join("index_file")).unwrap();
            std::fs::write(fuzz.join("index_file").join(&tag), &input).unwrap();
            // cache_file: the cache offsets of the first records, then the cache.
            let geo = engine::format::IndexHeader::from_bytes(&index)
                .and_then(|h| engine::format::checked::Geometry::from_header(&h).ok());
            let mut offsets: Vec<u32> = (1..=8)
                .filter_map(|m| geo.and_then(|g| g.read_record(&index, m)))
                .map(|r| r.cache_offset)
                .collect();
            if offsets.is_empty() {
                offsets.push(4);
            }
            let mut input = vec![(offsets.len() - 1) as u8];
            for o in &offsets {
                input.extend_from_slice(&o.to_be_bytes());
            }
            input.extend_from_slice(&cache);
            std::fs::create_dir_all(fuzz.join("cache_file")).unwrap();
            std::fs::write(fuzz.join("cache_file").join(&tag), &input).unwrap();
        }
    }
}

/// Found by the `schedule` target: a kill armed for the run, and not reached by it, struck the
/// oracles' own reads on their copy of the filesystem, so every message counted as lost. The
/// oracles (and the user's look before a delete) now read a copy with no fault plan.
#[test]
fn an_armed_kill_the_run_never_reaches_does_not_strike_the_oracles() {
    use scenarios::executor::{Op, RunOptions, execute};
    let s = FuzzSchedule {
        users: 0,
        spam_expire_days: None,
        internaldate: false,
        expunge_days: 0,
        start_on_2_3_12: true,
        coherence: 0,
        steps: vec![],
    };
    // Wherever among the oracles' reads the kill falls, nothing changes.
    for after_calls in 1..40 {
        let ops = vec![
            Op::Create {
                mailbox: "user.u1".into(),
                expire_days: None,
            },
            Op::Deliver {
                mailbox: "user.u1".into(),
                sent_age_days: 0,
                size: 100,
            },
            // The run makes no filesystem call after this: only the oracles would.
            Op::Arm {
                action: sim::FaultAction::Kill,
                after_calls,
            },
            Op::Advance { secs: 3600 },
        ];
        let run = execute(
            &s.setup(),
            &ops,
            engine::Strategy::Fix1Complete,
            0,
            &RunOptions::default(),
        )
        .unwrap();
        let r = &run.report;
        assert!(r.violations.is_empty(), "{after_calls}: {:?}", r.violations);
        assert_eq!((r.messages.lost, r.messages.live), (0, 1), "{after_calls}");
    }
}
