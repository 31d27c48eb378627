//! `mailbox_expunge` on SimFs, on RealFs on tmpfs (/dev/shm) and on RealFs on the ordinary
//! disk (under target/), at 10^3, 10^4 and 10^5 messages (10^6 with `BENCH_ENGINE_1M=1`).
//!
//! One criterion group per (operation, size): the three backends inside a group do exactly
//! the same calls on the same mailbox, so the ratios between them are the figures to quote.
//! Throughput is in records (messages), so criterion prints the cost per record.
//!
//! Every iteration starts from a fresh copy of the mailbox (built untimed by
//! `benches::build_mailbox`); the timed part is one process opening and locking the mailbox,
//! `mailbox_expunge`, and closing it.
//!
//! `cargo bench -p benches --bench engine -- --warm-up-time 1 --measurement-time 2`

use std::path::{Path, PathBuf};
use std::time::Duration;

use benches::{ExpungeOp, build_mailbox, check_report, run_expunge};
use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use engine::Log;
use sim::{RealConfig, RealFs, SimFs};

/// Where RealFs runs: tmpfs, and the disk the workspace is on.
fn real_roots() -> Vec<(&'static str, PathBuf)> {
    let pid = std::process::id();
    let disk = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/bench-engine")
        .join(pid.to_string());
    let mut roots = vec![("realfs_disk", disk)];
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        roots.insert(
            0,
            ("realfs_tmpfs", shm.join(format!("expunge-sim-bench-{pid}"))),
        );
    }
    roots
}

fn sizes() -> Vec<u32> {
    let mut s = vec![1_000, 10_000, 100_000];
    if std::env::var_os("BENCH_ENGINE_1M").is_some() {
        s.push(1_000_000);
    }
    s
}

/// A RealFs rooted at an empty `root` holding a fresh benchmark mailbox.
fn fresh_realfs(root: &Path, op: ExpungeOp, n: u32) -> RealFs {
    let _ = std::fs::remove_dir_all(root);
    let mut fs = RealFs::new(
        root,
        RealConfig {
            budget_bytes: 64 << 30,
        },
    )
    .unwrap_or_else(|e| panic!("RealFs at {}: {e}", root.display()));
    build_mailbox(&mut fs, op.spec(n));
    fs
}

fn bench_engine(c: &mut Criterion) {
    let roots = real_roots();
    for op in ExpungeOp::ALL {
        let site = op.site();
        for n in sizes() {
            let mut g = c.benchmark_group(format!("expunge_{}/{n}", op.name()));
            g.throughput(Throughput::Elements(n as u64));
            // The machine is shared: few samples for the big mailboxes (10 is criterion's least).
            if n >= 10_000 {
                g.sample_size(10);
                g.sampling_mode(SamplingMode::Flat);
                g.warm_up_time(Duration::from_millis(500));
            }

            // Setup happens inside each closure so a filtered-out benchmark builds nothing.
            g.bench_function("simfs", |b| {
                // Build once, clone per iteration (blocks are shared, so a clone is cheap).
                let mut template = SimFs::default();
                build_mailbox(&mut template, op.spec(n));
                let r = run_expunge(&mut template.clone(), op, &site, &mut Log::default())
                    .unwrap_or_else(|e| panic!("{op:?} n={n} on SimFs: {e}"));
                check_report(op, n, &r);
                b.iter_batched(
                    || (template.clone(), Log::default()),
                    |(mut fs, mut log)| {
                        let r = run_expunge(&mut fs, op, &site, &mut log);
                        (fs, log, r)
                    },
                    BatchSize::PerIteration,
                )
            });
            for (name, root) in &roots {
                g.bench_function(*name, |b| {
                    let r = run_expunge(
                        &mut fresh_realfs(root, op, n),
                        op,
                        &site,
                        &mut Log::default(),
                    )
                    .unwrap_or_else(|e| panic!("{op:?} n={n} on {name}: {e}"));
                    check_report(op, n, &r);
                    b.iter_batched(
                        || (fresh_realfs(root, op, n), Log::default()),
                        |(mut fs, mut log)| {
                            let r = run_expunge(&mut fs, op, &site, &mut log);
                            (fs, log, r)
                        },
                        BatchSize::PerIteration,
                    );
                    let _ = std::fs::remove_dir_all(root);
                });
            }
            g.finish();
        }
    }
}

criterion_group!(benches, bench_engine);
criterion_main!(benches);
