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
//! at K <= 10^4 (K = 10^3 in `peers_rename`): its reads scan every pending write, so the
//! pattern costs O(K^2) there.
//!
//! `cargo bench -p benches --bench fs_peers -- --warm-up-time 1 --measurement-time 2`

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{
    BatchSize, BenchmarkGroup, Criterion, SamplingMode, Throughput, measurement::WallTime,
};
use criterion::{criterion_group, criterion_main};
use sim::{OpenFlags, RealConfig, RealFs, SimFs, Vfs};

const REC: usize = 88;
const STDIO_BUF: usize = 4096;
const OLD: &str = "cyrus.expunge";
const NEW: &str = "cyrus.expunge.NEW";

/// Record `i`: its UID in the first 4 bytes, a pattern after it, so no two records (and no
/// two 4 KiB blocks) are alike.
fn record(i: u32) -> [u8; REC] {
    let mut r = [0u8; REC];
    r[..4].copy_from_slice(&(i + 1).to_be_bytes());
    for (j, b) in r[4..].iter_mut().enumerate() {
        *b = (i as usize * 7 + j) as u8;
    }
    r
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadBack {
    Pread,
    Map,
}

/// The pattern on any [`Vfs`]. Returns a checksum of what was read, so nothing is optimised
/// away and a wrong read shows.
fn vfs_pattern(fs: &mut dyn Vfs, k: u32, read: ReadBack, rename: bool) -> u64 {
    let p = fs.spawn("cyr_expire");
    let fd = fs.open(p, OLD, OpenFlags::RDWR_CREATE_TRUNC).expect("open");
    for i in 0..k {
        assert_eq!(fs.write(p, fd, &record(i)).expect("write"), REC);
    }
    let mut sum = 0u64;
    let mut buf = [0u8; REC];
    let mut out = Vec::with_capacity(STDIO_BUF);
    let nfd = fs
        .open(p, NEW, OpenFlags::RDWR_CREATE_TRUNC)
        .expect("open .NEW");
    let map = match read {
        ReadBack::Map => Some(fs.mmap(p, fd, k as u64 * REC as u64).expect("mmap")),
        ReadBack::Pread => None,
    };
    for i in 0..k as u64 {
        let off = i * REC as u64;
        match map {
            Some(m) => fs.map_read(p, m, off, &mut buf).expect("map_read"),
            None => assert_eq!(fs.pread(p, fd, &mut buf, off).expect("pread"), REC),
        }
        sum += u64::from(u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]));
        for &b in &buf {
            out.push(b);
            if out.len() == STDIO_BUF {
                assert_eq!(fs.write(p, nfd, &out).expect("write .NEW"), STDIO_BUF);
                out.clear();
            }
        }
    }
    if !out.is_empty() {
        assert_eq!(fs.write(p, nfd, &out).expect("write .NEW"), out.len());
    }
    fs.fsync(p, nfd).expect("fsync .NEW");
    if rename {
        fs.rename(p, NEW, OLD).expect("rename");
    }
    if let Some(m) = map {
        fs.munmap(p, m).expect("munmap");
    }
    fs.kill(p).expect("kill");
    sum
}

/// The pattern on turmoil-fs, through its std shims, on a fresh `Fs` entered on this thread.
fn turmoil_pattern(fs: &turmoil_fs::Fs, k: u32, rename: bool) -> u64 {
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    use turmoil_fs::shim::std::fs::OpenOptions;
    let _entered = fs.enter();
    let (old, new) = ("/cyrus.expunge", "/cyrus.expunge.NEW");
    let open = |p: &str| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(p)
            .expect("open")
    };
    let mut f = open(old);
    for i in 0..k {
        f.write_all(&record(i)).expect("write");
    }
    let mut nf = open(new);
    let mut sum = 0u64;
    let mut buf = [0u8; REC];
    let mut out = Vec::with_capacity(STDIO_BUF);
    for i in 0..k as u64 {
        assert_eq!(f.read_at(&mut buf, i * REC as u64).expect("pread"), REC);
        sum += u64::from(u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]));
        for &b in &buf {
            out.push(b);
            if out.len() == STDIO_BUF {
                nf.write_all(&out).expect("write .NEW");
                out.clear();
            }
        }
    }
    nf.write_all(&out).expect("write .NEW");
    nf.sync_all().expect("fsync .NEW");
    if rename {
        turmoil_fs::shim::std::fs::rename(new, old).expect("rename");
    }
    sum
}

/// The pattern on madsim's simulated files: appends are `write_all_at` at the running end.
#[cfg(madsim)]
fn madsim_pattern(rt: &madsim::runtime::Runtime, k: u32) -> u64 {
    use madsim::fs::File;
    rt.block_on(async move {
        let f = File::create("cyrus.expunge").await.expect("create");
        for i in 0..k as u64 {
            f.write_all_at(&record(i as u32), i * REC as u64)
                .await
                .expect("write");
        }
        let nf = File::create("cyrus.expunge.NEW")
            .await
            .expect("create .NEW");
        let mut sum = 0u64;
        let mut buf = [0u8; REC];
        let mut out = Vec::with_capacity(STDIO_BUF);
        let mut nlen = 0u64;
        for i in 0..k as u64 {
            assert_eq!(
                f.read_at(&mut buf, i * REC as u64).await.expect("pread"),
                REC
            );
            sum += u64::from(u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]));
            for &b in &buf {
                out.push(b);
                if out.len() == STDIO_BUF {
                    nf.write_all_at(&out, nlen).await.expect("write .NEW");
                    nlen += out.len() as u64;
                    out.clear();
                }
            }
        }
        nf.write_all_at(&out, nlen).await.expect("write .NEW");
        nf.sync_all().await.expect("fsync .NEW");
        sum
    })
}

fn expected_sum(k: u32) -> u64 {
    (1..=k as u64).sum()
}

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
    // O(K^2): 10^4 records already take seconds per iteration; the rename group stops sooner.
    if k > 10_000 || (rename && k > 1_000) {
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
