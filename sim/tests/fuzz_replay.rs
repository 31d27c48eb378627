//! Replays the committed inputs of the `sim_model` fuzz target without libFuzzer: the seed
//! corpus (`fuzz/seeds/sim_model/`) and every past crash (`fuzz/regressions/sim_model/`).
//! `FUZZ_REPLAY_DIR=/abs/path` replays another directory too.

#[test]
fn sim_model_corpus_and_regressions_replay_cleanly() {
    let mut n = 0;
    for (path, bytes) in sim::testing::fuzz_inputs(env!("CARGO_MANIFEST_DIR"), "sim_model") {
        eprintln!("replaying {}", path.display());
        sim::testing::sim_model(&bytes);
        n += 1;
    }
    assert!(
        n > 0,
        "no inputs found under fuzz/seeds or fuzz/regressions"
    );
}
