//! Replays the committed inputs of the `sim_model` fuzz target without libFuzzer: the seed
//! corpus (`fuzz/seeds/sim_model/`) and every past crash (`fuzz/regressions/sim_model/`).
//! `FUZZ_REPLAY_DIR=/abs/path` replays another directory too.

use std::path::{Path, PathBuf};

#[test]
fn sim_model_corpus_and_regressions_replay_cleanly() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut dirs = vec![
        fuzz.join("seeds/sim_model"),
        fuzz.join("regressions/sim_model"),
    ];
    if let Some(d) = std::env::var_os("FUZZ_REPLAY_DIR") {
        dirs.push(PathBuf::from(d));
    }
    let mut n = 0;
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths.into_iter().filter(|p| p.is_file()) {
            eprintln!("replaying {}", p.display());
            sim::testing::sim_model(&std::fs::read(&p).expect("readable input"));
            n += 1;
        }
    }
    assert!(
        n > 0,
        "no inputs found under fuzz/seeds or fuzz/regressions"
    );
}
