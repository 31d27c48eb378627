//! Random schedules of calls, sensible and not: nothing panics, the bookkeeping always adds
//! up, file contents match a plain in-memory model, and the same schedule gives the same
//! digest.

use std::collections::BTreeMap;

use proptest::prelude::*;
use sim::{Coherence, Errno, FaultAction, FaultPlan, Fd, LockKind, MapId, OpenFlags, Pid};
use sim::{SimConfig, SimFs, Vfs, Whence};

#[derive(Debug, Clone)]
enum Op {
    Spawn,
    Kill(u8),
    Open(u8, u8, u8),
    Close(u8, u8),
    Write(u8, u8, u16, u8),
    Pwrite(u8, u8, u16, u64),
    Read(u8, u8, u16),
    Seek(u8, u8, i64, u8),
    Truncate(u8, u8, u32),
    Fsync(u8, u8),
    FsyncDir(u8, u8),
    Rename(u8, u8, u8),
    Unlink(u8, u8),
    Lock(u8, u8, bool, bool),
    Mmap(u8, u8, u32),
    MapRead(u8, u8, u32, u16),
    Munmap(u8, u8),
    PowerLoss,
}

const PATHS: [&str; 5] = ["a", "d/b", "d/c", "d/e/f", "/abs"];
const DIRS: [&str; 3] = ["", "d", "d/e"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Spawn),
        any::<u8>().prop_map(Op::Kill),
        (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(p, f, m)| Op::Open(p, f, m)),
        (any::<u8>(), any::<u8>()).prop_map(|(p, f)| Op::Close(p, f)),
        (any::<u8>(), any::<u8>(), 0u16..9000, any::<u8>())
            .prop_map(|(p, f, n, b)| Op::Write(p, f, n, b)),
        (
            any::<u8>(),
            any::<u8>(),
            0u16..9000,
            prop_oneof![0u64..40_000, any::<u64>()]
        )
            .prop_map(|(p, f, n, o)| Op::Pwrite(p, f, n, o)),
        (any::<u8>(), any::<u8>(), 0u16..9000).prop_map(|(p, f, n)| Op::Read(p, f, n)),
        (any::<u8>(), any::<u8>(), any::<i64>(), any::<u8>())
            .prop_map(|(p, f, o, w)| Op::Seek(p, f, o, w)),
        (any::<u8>(), any::<u8>(), 0u32..50_000).prop_map(|(p, f, l)| Op::Truncate(p, f, l)),
        (any::<u8>(), any::<u8>()).prop_map(|(p, f)| Op::Fsync(p, f)),
        (any::<u8>(), any::<u8>()).prop_map(|(p, d)| Op::FsyncDir(p, d)),
        (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(p, a, b)| Op::Rename(p, a, b)),
        (any::<u8>(), any::<u8>()).prop_map(|(p, a)| Op::Unlink(p, a)),
        (any::<u8>(), any::<u8>(), any::<bool>(), any::<bool>())
            .prop_map(|(p, f, x, w)| Op::Lock(p, f, x, w)),
        (any::<u8>(), any::<u8>(), 0u32..40_000).prop_map(|(p, f, l)| Op::Mmap(p, f, l)),
        (any::<u8>(), any::<u8>(), any::<u32>(), 0u16..5000)
            .prop_map(|(p, m, o, n)| Op::MapRead(p, m, o, n)),
        (any::<u8>(), any::<u8>()).prop_map(|(p, m)| Op::Munmap(p, m)),
        Just(Op::PowerLoss),
    ]
}

fn pid(n: u8) -> Pid {
    Pid(u32::from(n % 4))
}

fn fd(n: u8) -> Fd {
    Fd(3 + u32::from(n % 5))
}

/// Run `ops`; return the digest and, per live path, the bytes a plain model expects to read
/// (only checked when no power loss happened, as power loss is the seed's business).
fn run(cfg: SimConfig, ops: &[Op]) -> (u64, SimFs) {
    let mut fs = SimFs::new(cfg);
    fs.spawn("first");
    for op in ops {
        match *op {
            Op::Spawn => drop(fs.spawn("p")),
            Op::Kill(p) => drop(fs.kill(pid(p))),
            Op::Open(p, f, m) => {
                let flags = OpenFlags {
                    read: m & 1 != 0 || m & 2 == 0,
                    write: m & 2 != 0,
                    create: m & 4 != 0,
                    exclusive: m & 8 != 0,
                    truncate: m & 16 != 0,
                    append: m & 32 != 0,
                };
                drop(fs.open(pid(p), PATHS[f as usize % PATHS.len()], flags));
            }
            Op::Close(p, f) => drop(fs.close(pid(p), fd(f))),
            Op::Write(p, f, n, b) => drop(fs.write(pid(p), fd(f), &vec![b; n as usize])),
            Op::Pwrite(p, f, n, o) => drop(fs.pwrite(pid(p), fd(f), &vec![7; n as usize], o)),
            Op::Read(p, f, n) => drop(fs.read(pid(p), fd(f), &mut vec![0; n as usize])),
            Op::Seek(p, f, o, w) => {
                let whence = [Whence::Set, Whence::Cur, Whence::End][w as usize % 3];
                drop(fs.lseek(pid(p), fd(f), o, whence));
            }
            Op::Truncate(p, f, l) => drop(fs.ftruncate(pid(p), fd(f), u64::from(l))),
            Op::Fsync(p, f) => drop(fs.fsync(pid(p), fd(f))),
            Op::FsyncDir(p, d) => drop(fs.fsync_dir(pid(p), DIRS[d as usize % DIRS.len()])),
            Op::Rename(p, a, b) => drop(fs.rename(
                pid(p),
                PATHS[a as usize % PATHS.len()],
                PATHS[b as usize % PATHS.len()],
            )),
            Op::Unlink(p, a) => drop(fs.unlink(pid(p), PATHS[a as usize % PATHS.len()])),
            Op::Lock(p, f, x, w) => {
                let kind = if x {
                    LockKind::Exclusive
                } else {
                    LockKind::Shared
                };
                drop(fs.lock(pid(p), fd(f), kind, w));
            }
            Op::Mmap(p, f, l) => drop(fs.mmap(pid(p), fd(f), u64::from(l))),
            Op::MapRead(p, m, o, n) => {
                let r = fs.map_read(
                    pid(p),
                    MapId(u32::from(m % 4)),
                    u64::from(o),
                    &mut vec![0; n as usize],
                );
                if let Err(e) = r {
                    assert!(
                        matches!(
                            e.errno,
                            Errno::Segv | Errno::Bus | Errno::Inval | Errno::Srch
                        ),
                        "{e}"
                    );
                }
            }
            Op::Munmap(p, m) => drop(fs.munmap(pid(p), MapId(u32::from(m % 4)))),
            Op::PowerLoss => fs.power_loss(),
        }
        if let Err(e) = fs.check_invariants() {
            panic!("after {op:?}: {e}");
        }
    }
    (fs.trace_digest(), fs)
}

fn cfg(seed: u64, coherence: u8, capacity: u64, faults: bool) -> SimConfig {
    SimConfig {
        seed,
        coherence: [
            Coherence::Shared,
            Coherence::StupidShared,
            Coherence::NoMmap,
        ][coherence as usize % 3],
        capacity,
        page_staleness: seed.is_multiple_of(2),
        faults: if faults {
            FaultPlan::random(
                seed,
                50_000,
                &[
                    FaultAction::Eio,
                    FaultAction::ShortWrite,
                    FaultAction::Kill,
                    FaultAction::PowerLoss,
                ],
            )
        } else {
            FaultPlan::default()
        },
        ..SimConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_schedule_keeps_the_books_straight_and_replays_to_the_same_digest(
        ops in proptest::collection::vec(op(), 1..60),
        seed in any::<u64>(),
        coherence in any::<u8>(),
        capacity in prop_oneof![Just(1u64 << 40), 0u64..100_000],
        faults in any::<bool>(),
    ) {
        let (d1, fs) = run(cfg(seed, coherence, capacity, faults), &ops);
        let (d2, _) = run(cfg(seed, coherence, capacity, faults), &ops);
        prop_assert_eq!(d1, d2);
        prop_assert!(fs.partition().1 <= fs.partition().0.max(fs.peaks().partition_used));
    }

    /// With a single process, no faults and no power loss, every file reads back exactly as a
    /// plain map of byte vectors says.
    #[test]
    fn contents_match_a_plain_model(
        writes in proptest::collection::vec((0u8..3, 0u64..20_000, 1usize..5000, any::<u8>(), any::<bool>()), 1..40),
    ) {
        let mut fs = SimFs::default();
        let p = fs.spawn("p");
        let mut model: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
        for (f, off, len, byte, truncate) in writes {
            let path = PATHS[f as usize];
            let fd = fs.open(p, path, OpenFlags::RDWR_CREATE).unwrap();
            let m = model.entry(path).or_default();
            if truncate {
                fs.ftruncate(p, fd, off).unwrap();
                m.resize(off as usize, 0);
            } else {
                fs.pwrite(p, fd, &vec![byte; len], off).unwrap();
                let end = off as usize + len;
                if m.len() < end {
                    m.resize(end, 0);
                }
                m[off as usize..end].fill(byte);
            }
            fs.close(p, fd).unwrap();
        }
        for (path, want) in &model {
            let fd = fs.open(p, path, OpenFlags::RDONLY).unwrap();
            let mut got = vec![0u8; want.len() + 10];
            let n = fs.pread(p, fd, &mut got, 0).unwrap();
            prop_assert_eq!(&got[..n], &want[..]);
            let st = fs.fstat(p, fd).unwrap();
            prop_assert!(st.allocated <= (st.size.div_ceil(4096)) * 4096);
            let map = fs.mmap(p, fd, want.len().max(1) as u64).unwrap();
            if !want.is_empty() {
                let mut via_map = vec![0u8; want.len()];
                fs.map_read(p, map, 0, &mut via_map).unwrap();
                prop_assert_eq!(&via_map, want);
            }
            fs.close(p, fd).unwrap();
        }
    }
}
