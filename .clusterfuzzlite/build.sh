#!/bin/bash -eu
# Builds every cargo-fuzz target of expunge-sim into $OUT, with its committed seed corpus and
# libFuzzer options. Run by ClusterFuzzLite (and OSS-Fuzz's helper.py) inside the builder
# image from .clusterfuzzlite/Dockerfile. Untested here: no Docker on the machine it was
# written on (FUZZING.md, "Beyond one machine").

cd "$SRC/expunge-sim/fuzz"

# The image's RUSTFLAGS (sanitizer and coverage flags) replace the repository's
# .cargo/config.toml flags, so `--cfg madsim` is not set: the fuzz targets use none of the
# madsim world. cargo fuzz adds -Cpasses=sancov-module and links libFuzzer itself.
# -O: release mode with debug assertions, as cargo-fuzz's default for `run`.
cargo fuzz build -O --debug-assertions

TARGETS="index_file cache_file schedule fixes_agree sim_model"
BUILD_DIR="target/x86_64-unknown-linux-gnu/release"
for t in $TARGETS; do
    cp "$BUILD_DIR/$t" "$OUT/"
    # The committed, minimised seed corpus, plus every past crash input.
    if compgen -G "seeds/$t/*" > /dev/null || compgen -G "regressions/$t/*" > /dev/null; then
        zip -q -j "$OUT/${t}_seed_corpus.zip" seeds/"$t"/* regressions/"$t"/* 2>/dev/null || true
    fi
done

# Schedules are typed inputs decoded with `arbitrary`: a 40-step schedule needs a few hundred
# bytes, so start at the full length instead of growing it slowly.
for t in schedule fixes_agree; do
    printf '[libfuzzer]\nmax_len = 600\nlen_control = 0\ntimeout = 30\n' > "$OUT/$t.options"
done
