#!/usr/bin/env bash
# Wall time and peak RSS of the full 2008 reproduction, measured with /usr/bin/time -v, and
# what writing the same kind of bytes to a real filesystem costs.
#
#   benches/scripts/repro_rss.sh [GIB] [REAL_MIB]
#
# GIB       partition size of the engine-level reproduction (default 4)
# REAL_MIB  bytes written to a real file under target/ for the comparison (default 512)
#
# 1. If the CLI builds and knows the scenario, it measures
#      expunge-sim run blair-2008 --strategy cyrus-2.3.7
#    (exit 0 or 1 both count as a run: 1 means the oracles found the 2008 bug).
# 2. Otherwise (the CLI or the scenario is not merged yet) it measures the engine-level
#    reproduction, `repro_2008 sim GIB` (benches/examples/repro_2008.rs): the seed story's
#    second test on a GIB-GiB SimFs partition.
# 3. Either way it then measures `repro_2008 real target/bench-real REAL_MIB`: the upgrade's
#    write pattern (88-byte records through a 4096-byte buffer, then fsync) to a real file.
#
# Budget (DESIGN.md): the full reproduction in seconds (target: under 5 s) with a peak RSS
# under 100 MiB.
set -euo pipefail
cd "$(dirname "$0")/../.."
GIB="${1:-4}"
REAL_MIB="${2:-512}"
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "repro_rss.sh: $TIME not found (apt-get install time)" >&2; exit 2; }

# Runs "$@" under time -v; prints the command's stdout, then "wall_s rss_kib exit".
measure() {
    local out err rc=0
    out=$(mktemp) err=$(mktemp)
    "$TIME" -v "$@" >"$out" 2>"$err" || rc=$?
    cat "$out" >&2
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$err")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$err")
    rm -f "$out" "$err"
    # h:mm:ss or m:ss.cc to seconds
    wall=$(awk -v t="$wall" 'BEGIN { n = split(t, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }')
    echo "$wall $rss $rc"
}

verdict() { # wall_s rss_kib
    awk -v w="$1" -v r="$2" 'BEGIN {
        printf "  wall %.2f s (target < 5 s: %s), peak RSS %.1f MiB (target < 100 MiB: %s)\n",
            w, (w < 5 ? "met" : "MISSED"), r / 1024, (r < 102400 ? "met" : "MISSED") }'
}

echo "== full reproduction"
CLI=target/release/expunge-sim
used_cli=no
if cargo build --release --locked -p scenarios --bin expunge-sim >/dev/null 2>&1 && [ -x "$CLI" ]; then
    read -r wall rss rc < <(measure "$CLI" run blair-2008 --strategy cyrus-2.3.7)
    if [ "$rc" = 0 ] || [ "$rc" = 1 ]; then
        used_cli=yes
        echo "command: $CLI run blair-2008 --strategy cyrus-2.3.7 (exit $rc)"
        verdict "$wall" "$rss"
    else
        echo "expunge-sim run blair-2008 exited $rc (scenario not there yet?); falling back" >&2
    fi
else
    echo "the expunge-sim binary does not build here yet; falling back" >&2
fi

cargo build --quiet --release --locked -p benches --example repro_2008
REPRO=target/release/examples/repro_2008
if [ "$used_cli" = no ]; then
    read -r wall rss rc < <(measure "$REPRO" sim "$GIB")
    [ "$rc" = 0 ] || { echo "repro_2008 sim $GIB failed (exit $rc)" >&2; exit 1; }
    echo "command: $REPRO sim $GIB (engine-level reproduction, ${GIB} GiB partition)"
    verdict "$wall" "$rss"
fi
sim_wall=$wall sim_rss=$rss

echo "== the same write pattern to a real file (${REAL_MIB} MiB, disk under target/)"
read -r rwall rrss rc < <(measure "$REPRO" real target/bench-real "$REAL_MIB")
[ "$rc" = 0 ] || { echo "repro_2008 real failed (exit $rc)" >&2; exit 1; }
echo "command: $REPRO real target/bench-real $REAL_MIB"
awk -v w="$rwall" -v r="$rrss" 'BEGIN { printf "  wall %.2f s, peak RSS %.1f MiB\n", w, r / 1024 }'
if [ "$used_cli" = no ]; then
    awk -v g="$GIB" -v sw="$sim_wall" -v m="$REAL_MIB" -v rw="$rwall" 'BEGIN {
        sim = g * 1024 / sw; real = m / rw;
        printf "ratio: simulated %.0f MiB/s of partition filled vs real %.0f MiB/s written: %.1fx\n",
            sim, real, sim / real }'
fi
