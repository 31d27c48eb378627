#!/usr/bin/env bash
# Turns the criterion estimates of the last `cargo bench -p benches` run into the tables of
# BENCHMARKS.md (per-record costs and ratios between backends measured in the same run) and
# the SVG plot of engine cost per record against mailbox size.
#
#   benches/scripts/report.sh [SVG_OUT]     (default: benches/engine_cost.svg)
#
# Reads $CARGO_TARGET_DIR/criterion/*/*/new/estimates.json (target/ when CARGO_TARGET_DIR is
# unset; median of the sample, in ns per iteration). Needs python3 (standard library only).
set -euo pipefail
cd "$(dirname "$0")/../.."
SVG="${1:-benches/engine_cost.svg}"
python3 - "$SVG" "${CARGO_TARGET_DIR:-target}/criterion" <<'EOF'
import json, math, os, sys

root = sys.argv[2]
svg_out = sys.argv[1]

def median_ns(group, bench):
    p = os.path.join(root, group, bench, "new", "estimates.json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)["median"]["point_estimate"]

def fmt(x):
    return "-" if x is None else (f"{x:.0f}" if x >= 100 else f"{x:.1f}")

def ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}"

ops = ["delayed", "cleanup", "force_cleanup_2.3.7"]
sizes = [1000, 10000, 100000, 1000000]
backs = ["simfs", "realfs_tmpfs", "realfs_disk"]
per = {}  # (op, backend) -> [(n, ns per record)]

print("### Engine: ns per record (median), and ratios to SimFs in the same run\n")
print("| op | messages | SimFs | RealFs tmpfs | RealFs disk | tmpfs / SimFs | disk / SimFs |")
print("|---|---:|---:|---:|---:|---:|---:|")
for op in ops:
    for n in sizes:
        g = f"expunge_{op}_{n}"
        v = {b: median_ns(g, b) for b in backs}
        v = {b: (x / n if x is not None else None) for b, x in v.items()}
        if all(x is None for x in v.values()):
            continue
        for b, x in v.items():
            if x is not None:
                per.setdefault((op, b), []).append((n, x))
        print(f"| {op} | {n} | {fmt(v['simfs'])} | {fmt(v['realfs_tmpfs'])} | {fmt(v['realfs_disk'])} "
              f"| {ratio(v['realfs_tmpfs'], v['simfs'])} | {ratio(v['realfs_disk'], v['simfs'])} |")

print("\n### Engine linearity: cost per record at 10^5 and at 10^6 / at 10^3 (1.00 is linear)\n")
print("| op | backend | ns/record at 10^3 | at 10^5 | at 10^6 | 10^5 / 10^3 | 10^6 / 10^3 |")
print("|---|---|---:|---:|---:|---:|---:|")
for op in ops:
    for b in backs:
        c = dict(per.get((op, b), []))
        if 1000 not in c:
            continue
        c0, c5, c6 = c[1000], c.get(100000), c.get(1000000)
        print(f"| {op} | {b} | {fmt(c0)} | {fmt(c5)} | {fmt(c6)} | {ratio(c5, c0)} | {ratio(c6, c0)} |")

print("\n### fs_peers: ns per record (median), and ratios to SimFs in the same run\n")
pb = ["simfs", "realfs_tmpfs", "madsim_fs", "turmoil_fs"]
print("| group | K | SimFs | RealFs tmpfs | madsim::fs | turmoil-fs | tmpfs / SimFs | madsim / SimFs | turmoil / SimFs |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for grp in ["peers_common", "peers_rename", "peers_map"]:
    for k in [1000, 10000, 100000]:
        g = f"{grp}_{k}"
        v = {b: median_ns(g, b) for b in pb}
        v = {b: (x / k if x is not None else None) for b, x in v.items()}
        if all(x is None for x in v.values()):
            continue
        print(f"| {grp} | {k} | {fmt(v['simfs'])} | {fmt(v['realfs_tmpfs'])} | {fmt(v['madsim_fs'])} "
              f"| {fmt(v['turmoil_fs'])} | {ratio(v['realfs_tmpfs'], v['simfs'])} "
              f"| {ratio(v['madsim_fs'], v['simfs'])} | {ratio(v['turmoil_fs'], v['simfs'])} |")

# The plot: one panel per op, log-log, ns per record against messages, a line per backend.
W, H, PW, PH, ML, MT = 720, 260, 200, 170, 50, 40
colors = {"simfs": "#1f77b4", "realfs_tmpfs": "#ff7f0e", "realfs_disk": "#2ca02c"}
allc = [c for pts in per.values() for _, c in pts]
if not allc:
    sys.exit("no engine estimates under " + root + ": run the engine bench first")
ylo = 10 ** math.floor(math.log10(min(allc)))
yhi = 10 ** math.ceil(math.log10(max(allc)))
xlo, xhi = 1e3, 1e6 if any(n == 1000000 for pts in per.values() for n, _ in pts) else 1e5
def X(n, i):
    return ML + i * (PW + 40) + (math.log10(n) - math.log10(xlo)) / (math.log10(xhi) - math.log10(xlo)) * PW
def Y(c):
    return MT + PH - (math.log10(c) - math.log10(ylo)) / (math.log10(yhi) - math.log10(ylo)) * PH
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="10">',
       f'<text x="{W/2}" y="14" text-anchor="middle" font-size="12">mailbox_expunge: ns per record (median) against messages, log-log</text>']
for i, op in enumerate(ops):
    x0 = ML + i * (PW + 40)
    out.append(f'<rect x="{x0}" y="{MT}" width="{PW}" height="{PH}" fill="none" stroke="#888"/>')
    out.append(f'<text x="{x0 + PW/2}" y="{MT - 6}" text-anchor="middle">{op}</text>')
    e = int(math.log10(ylo))
    while 10 ** e <= yhi:
        y = Y(10 ** e)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + PW}" y2="{y:.1f}" stroke="#ddd"/>')
        if i == 0:
            out.append(f'<text x="{x0 - 4}" y="{y + 3:.1f}" text-anchor="end">{10 ** e:g}</text>')
        e += 1
    n = xlo
    while n <= xhi:
        out.append(f'<text x="{X(n, i):.1f}" y="{MT + PH + 12}" text-anchor="middle">10^{int(math.log10(n))}</text>')
        n *= 10
    for b in backs:
        pts = sorted(per.get((op, b), []))
        if not pts:
            continue
        path = " ".join(f"{X(n, i):.1f},{Y(c):.1f}" for n, c in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colors[b]}" stroke-width="2"/>')
        for n, c in pts:
            out.append(f'<circle cx="{X(n, i):.1f}" cy="{Y(c):.1f}" r="2.5" fill="{colors[b]}"/>')
for j, b in enumerate(backs):
    x = ML + j * 150
    out.append(f'<line x1="{x}" y1="{H - 18}" x2="{x + 20}" y2="{H - 18}" stroke="{colors[b]}" stroke-width="2"/>')
    out.append(f'<text x="{x + 25}" y="{H - 15}">{b}</text>')
out.append(f'<text x="{W - 10}" y="{H - 15}" text-anchor="end">messages</text>')
out.append("</svg>")
with open(svg_out, "w") as f:
    f.write("\n".join(out) + "\n")
print(f"\n(plot written to {svg_out})")
EOF
