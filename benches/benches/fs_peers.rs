//! Cyrus's file-call pattern on four filesystems: SimFs, RealFs on tmpfs, madsim's simulated
//! files (`madsim::fs`, sim mode) and turmoil-fs 0.1 (standalone, through `Fs::enter`).
//!
//! The pattern is what `mailbox_expunge` does to cyrus.expunge: create it, append K 88-byte
//! records with one write() each (no fsync: Cyrus never syncs those appends), read them back
//! (pread, or through a map), copy them to `cyrus.expunge.NEW` through a 4096-byte stdio
//! buffer, fsync the .NEW file and rename it over the old one.
//!
//! Each group holds only backends that can do every call in it:
//! - `peers_common/K`: append, pread, .NEW, fsync. All four (madsim::fs has no rename, no
//!   mmap, no append mode: its appends are `write_all_at` at the running end).
//! - `peers_rename/K`: the same plus the rename. SimFs, RealFs, turmoil-fs.
//! - `peers_map/K`: read back through a map instead of pread, plus the rename. SimFs, RealFs.
//!
//! Every iteration starts on a fresh, empty filesystem (made untimed). turmoil-fs runs only
//! at K = 10^3: its reads scan every pending write, so the pattern is superlinear there
//! (one iteration at K = 10^4 takes about 30 s).
//!
//! `cargo bench -p benches --bench fs_peers -- --warm-up-time 1 --measurement-time 2`

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{
    BatchSize, BenchmarkGroup, Criterion, SamplingMode, Throughput, measurement::WallTime,
};
use criterion::{criterion_group, criterion_main};
use sim::{RealConfig, RealFs, SimFs};

#[cfg(madsim)]
use benches::peers::madsim_pattern;
use benches::peers::{ReadBack, expected_sum, turmoil_pattern, vfs_pattern};

fn tmpfs_root() -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    base.join(format!("expunge-sim-peers-{}", std::process::id()))
}

fn fresh_realfs(root: &Path) -> RealFs {
    let _ = std::fs::remove_dir_all(root);
    RealFs::new(root, RealConfig::default())
        .unwrap_or_else(|e| panic!("RealFs at {}: {e}", root.display()))
}

fn bench_vfs(g: &mut BenchmarkGroup<WallTime>, k: u32, read: ReadBack, rename: bool) {
    g.bench_function("simfs", |b| {
        let s = vfs_pattern(&mut SimFs::default(), k, read, rename);
        assert_eq!(s, expected_sum(k));
        b.iter_batched(
            SimFs::default,
            |mut fs| {
                let s = vfs_pattern(&mut fs, k, read, rename);
                (fs, s)
            },
            BatchSize::PerIteration,
        )
    });
    let root = tmpfs_root();
    g.bench_function("realfs_tmpfs", |b| {
        let s = vfs_pattern(&mut fresh_realfs(&root), k, read, rename);
        assert_eq!(s, expected_sum(k));
        b.iter_batched(
            || fresh_realfs(&root),
            |mut fs| {
                let s = vfs_pattern(&mut fs, k, read, rename);
                (fs, s)
            },
            BatchSize::PerIteration,
        )
    });
    let _ = std::fs::remove_dir_all(&root);
}

fn bench_turmoil(g: &mut BenchmarkGroup<WallTime>, k: u32, rename: bool) {
    // Superlinear: one iteration at K = 10^4 takes about 30 s (see BENCHMARKS.md).
    if k > 1_000 {
        return;
    }
    let fresh = || turmoil_fs::Fs::builder().seed(1).build();
    g.bench_function("turmoil_fs", |b| {
        assert_eq!(turmoil_pattern(&fresh(), k, rename), expected_sum(k));
        b.iter_batched(
            fresh,
            |fs| {
                let s = turmoil_pattern(&fs, k, rename);
                (fs, s)
            },
            BatchSize::PerIteration,
        )
    });
}

#[cfg(madsim)]
fn bench_madsim(g: &mut BenchmarkGroup<WallTime>, k: u32) {
    use madsim::runtime::Runtime;
    g.bench_function("madsim_fs", |b| {
        assert_eq!(madsim_pattern(&Runtime::new(), k), expected_sum(k));
        b.iter_batched(
            Runtime::new,
            |rt| {
                let s = madsim_pattern(&rt, k);
                (rt, s)
            },
            BatchSize::PerIteration,
        )
    });
}

#[cfg(not(madsim))]
fn bench_madsim(_g: &mut BenchmarkGroup<WallTime>, _k: u32) {
    eprintln!("madsim_fs skipped: madsim::fs is simulated only when built with --cfg madsim");
}

fn bench_peers(c: &mut Criterion) {
    for k in [1_000u32, 10_000, 100_000] {
        let tune = |g: &mut BenchmarkGroup<WallTime>| {
            g.throughput(Throughput::Elements(k as u64));
            if k >= 10_000 {
                g.sample_size(10);
                g.sampling_mode(SamplingMode::Flat);
                g.warm_up_time(Duration::from_millis(500));
            }
        };
        let mut g = c.benchmark_group(format!("peers_common/{k}"));
        tune(&mut g);
        bench_vfs(&mut g, k, ReadBack::Pread, false);
        bench_madsim(&mut g, k);
        bench_turmoil(&mut g, k, false);
        g.finish();

        let mut g = c.benchmark_group(format!("peers_rename/{k}"));
        tune(&mut g);
        bench_vfs(&mut g, k, ReadBack::Pread, true);
        bench_turmoil(&mut g, k, true);
        g.finish();

        let mut g = c.benchmark_group(format!("peers_map/{k}"));
        tune(&mut g);
        bench_vfs(&mut g, k, ReadBack::Map, true);
        g.finish();
    }
}

criterion_group!(benches, bench_peers);
criterion_main!(benches);
