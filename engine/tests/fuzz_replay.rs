//! Replays the committed fuzz inputs of the file-format targets without libFuzzer: the seed
//! corpus (`fuzz/seeds/<target>/`) and every past crash (`fuzz/regressions/<target>/`), through
//! the same functions the targets call. `FUZZ_REPLAY_DIR=/abs/path` replays another directory
//! (e.g. a live campaign's `fuzz/corpus/<target>`) through every target of this file.

use std::path::PathBuf;

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    sim::testing::fuzz_inputs(env!("CARGO_MANIFEST_DIR"), target)
}

fn replay(target: &str, f: fn(&[u8])) -> usize {
    let all = inputs(target);
    for (path, bytes) in &all {
        eprintln!("replaying {}", path.display());
        f(bytes);
    }
    all.len()
}

#[test]
fn index_file_corpus_and_regressions_replay_cleanly() {
    let n = replay("index_file", engine::fuzzing::index_file);
    assert!(
        n > 0,
        "no inputs found under fuzz/seeds or fuzz/regressions"
    );
}

#[test]
fn cache_file_corpus_and_regressions_replay_cleanly() {
    let n = replay("cache_file", engine::fuzzing::cache_file);
    assert!(
        n > 0,
        "no inputs found under fuzz/seeds or fuzz/regressions"
    );
}

/// The first finding of the `index_file` campaign: a header with record_size 0x4242_4242
/// made the fsck allocate its 512-record chunk buffer from that number (569 GB) before
/// reading a byte. The buffer is now sized by the records there are to read.
#[test]
fn a_forged_record_size_does_not_size_the_fsck_buffer() {
    let mut h = engine::format::IndexHeader {
        minor_version: 10,
        start_offset: 96,
        record_size: u32::MAX,
        exists: u32::MAX,
        ..Default::default()
    }
    .to_bytes()
    .to_vec();
    h.extend_from_slice(&[0x42; 200]);
    let mut input = (h.len() as u16).to_be_bytes().to_vec();
    input.extend_from_slice(&h);
    engine::fuzzing::index_file(&input);
}
