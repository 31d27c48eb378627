//! Differential test: one random trace of `Vfs` calls, run on two implementations, must give
//! the same answers: bytes, sizes, fd numbers, error kinds, and allocated blocks by the rule in
//! [`allocated_agrees`].
//!
//! Two processes, three file names, small buffers at offsets up to ~64 KiB, and every kind of
//! call: open with assorted flags, close, read/write/pread/pwrite, lseek (past EOF and
//! negative), ftruncate, fstat/stat, rename, unlink, locks, mmap/map_read/munmap, fsync, kill.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use sim::{
    Coherence, Errno, Fd, LockKind, MapId, OpenFlags, Pid, RealConfig, RealFs, SimConfig, SimFs,
    Stat, Vfs, Whence,
};

const NAMES: [&str; 3] = ["a", "b", "dir/c"];
const FLAGS: [OpenFlags; 8] = [
    OpenFlags::RDONLY,
    OpenFlags::RDWR,
    OpenFlags::RDWR_CREATE,
    OpenFlags::RDWR_CREATE_TRUNC,
    OpenFlags::RDWR_CREATE_EXCL,
    OpenFlags {
        read: false,
        write: true,
        create: true,
        exclusive: false,
        truncate: false,
        append: false,
    },
    OpenFlags {
        append: true,
        ..OpenFlags::RDWR_CREATE
    },
    OpenFlags {
        append: true,
        ..OpenFlags::RDWR
    },
];

#[derive(Debug, Clone)]
enum Op {
    Open {
        p: usize,
        name: usize,
        flags: usize,
    },
    Close {
        p: usize,
        fd: u32,
    },
    Write {
        p: usize,
        fd: u32,
        len: usize,
        fill: u8,
    },
    Pwrite {
        p: usize,
        fd: u32,
        len: usize,
        fill: u8,
        off: u64,
    },
    Read {
        p: usize,
        fd: u32,
        len: usize,
    },
    Pread {
        p: usize,
        fd: u32,
        len: usize,
        off: u64,
    },
    Lseek {
        p: usize,
        fd: u32,
        off: i64,
        whence: Whence,
    },
    Ftruncate {
        p: usize,
        fd: u32,
        len: u64,
    },
    Fstat {
        p: usize,
        fd: u32,
    },
    Stat {
        name: usize,
    },
    Fsync {
        p: usize,
        fd: u32,
    },
    Rename {
        p: usize,
        from: usize,
        to: usize,
    },
    Unlink {
        p: usize,
        name: usize,
    },
    Lock {
        p: usize,
        fd: u32,
        kind: LockKind,
        wait: bool,
    },
    Unlock {
        p: usize,
        fd: u32,
    },
    Mmap {
        p: usize,
        fd: u32,
        len: u64,
    },
    MapRead {
        p: usize,
        map: usize,
        off: u64,
        len: usize,
    },
    Munmap {
        p: usize,
        map: usize,
    },
    Kill {
        p: usize,
    },
    List,
}

fn offset() -> impl Strategy<Value = u64> {
    prop_oneof![0..256u64, 0..70_000u64, (0..17u64).prop_map(|k| k * 4096)]
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..2usize;
    // A selector, resolved against the fds the process holds when the op runs (see
    // `Tracker::resolve`): mostly a live fd, now and then any number.
    let fd = any::<u8>().prop_map(u32::from);
    let name = 0..NAMES.len();
    let len = 0..64usize;
    let whence = prop_oneof![Just(Whence::Set), Just(Whence::Cur), Just(Whence::End)];
    let kind = prop_oneof![Just(LockKind::Shared), Just(LockKind::Exclusive)];
    prop_oneof![
        6 => (p.clone(), name.clone(), 0..FLAGS.len())
            .prop_map(|(p, name, flags)| Op::Open { p, name, flags }),
        1 => (p.clone(), fd.clone()).prop_map(|(p, fd)| Op::Close { p, fd }),
        3 => (p.clone(), fd.clone(), len.clone(), any::<u8>())
            .prop_map(|(p, fd, len, fill)| Op::Write { p, fd, len, fill }),
        3 => (p.clone(), fd.clone(), len.clone(), any::<u8>(), offset())
            .prop_map(|(p, fd, len, fill, off)| Op::Pwrite { p, fd, len, fill, off }),
        2 => (p.clone(), fd.clone(), 0..128usize).prop_map(|(p, fd, len)| Op::Read { p, fd, len }),
        2 => (p.clone(), fd.clone(), 0..128usize, offset())
            .prop_map(|(p, fd, len, off)| Op::Pread { p, fd, len, off }),
        2 => (p.clone(), fd.clone(), -100..70_000i64, whence)
            .prop_map(|(p, fd, off, whence)| Op::Lseek { p, fd, off, whence }),
        2 => (p.clone(), fd.clone(), offset()).prop_map(|(p, fd, len)| Op::Ftruncate { p, fd, len }),
        1 => (p.clone(), fd.clone()).prop_map(|(p, fd)| Op::Fstat { p, fd }),
        1 => name.clone().prop_map(|name| Op::Stat { name }),
        1 => (p.clone(), fd.clone()).prop_map(|(p, fd)| Op::Fsync { p, fd }),
        1 => (p.clone(), name.clone(), name.clone())
            .prop_map(|(p, from, to)| Op::Rename { p, from, to }),
        1 => (p.clone(), name.clone()).prop_map(|(p, name)| Op::Unlink { p, name }),
        2 => (p.clone(), fd.clone(), kind, any::<bool>())
            .prop_map(|(p, fd, kind, wait)| Op::Lock { p, fd, kind, wait }),
        1 => (p.clone(), fd.clone()).prop_map(|(p, fd)| Op::Unlock { p, fd }),
        3 => (p.clone(), fd.clone(), prop_oneof![0..100u64, 1..3 * 4096u64 + 100])
            .prop_map(|(p, fd, len)| Op::Mmap { p, fd, len }),
        3 => (p.clone(), 0..4usize, offset(), 0..64usize)
            .prop_map(|(p, map, off, len)| Op::MapRead { p, map, off, len }),
        1 => (p.clone(), 0..4usize).prop_map(|(p, map)| Op::Munmap { p, map }),
        1 => p.clone().prop_map(|p| Op::Kill { p }),
        1 => Just(Op::List),
    ]
}

/// What one call returned, with implementation-specific identities (inode numbers, map ids,
/// pids) left out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Err(Errno),
    Unit,
    Fd(Fd),
    Count(usize),
    Pos(u64),
    Bytes(Vec<u8>),
    Stat { size: u64, allocated: u64 },
    Names(Vec<String>),
    Skipped,
}

fn out<T>(r: Result<T, sim::VfsError>, f: impl FnOnce(T) -> Outcome) -> Outcome {
    match r {
        Ok(v) => f(v),
        Err(e) => Outcome::Err(e.errno),
    }
}

fn stat_out(st: Stat) -> Outcome {
    Outcome::Stat {
        size: st.size,
        allocated: st.allocated,
    }
}

/// One implementation under test, with the identities it handed out.
struct Side<'a> {
    fs: &'a mut dyn Vfs,
    pids: [Pid; 2],
    /// Every map made so far, in order (a dead one stays, to test stale ids).
    maps: Vec<(usize, MapId)>,
}

impl<'a> Side<'a> {
    fn new(fs: &'a mut dyn Vfs) -> Self {
        let pids = [fs.spawn("p0"), fs.spawn("p1")];
        Side {
            fs,
            pids,
            maps: Vec::new(),
        }
    }

    fn apply(&mut self, op: &Op) -> Outcome {
        let fill = |len: usize, fill: u8| -> Vec<u8> {
            (0..len).map(|i| fill.wrapping_add(i as u8)).collect()
        };
        let fs = &mut *self.fs;
        let pid = |p: usize| self.pids[p];
        match *op {
            Op::Open { p, name, flags } => {
                out(fs.open(pid(p), NAMES[name], FLAGS[flags]), Outcome::Fd)
            }
            Op::Close { p, fd } => out(fs.close(pid(p), Fd(fd)), |_| Outcome::Unit),
            Op::Write {
                p,
                fd,
                len,
                fill: f,
            } => out(fs.write(pid(p), Fd(fd), &fill(len, f)), Outcome::Count),
            Op::Pwrite {
                p,
                fd,
                len,
                fill: f,
                off,
            } => out(
                fs.pwrite(pid(p), Fd(fd), &fill(len, f), off),
                Outcome::Count,
            ),
            Op::Read { p, fd, len } => {
                let mut buf = vec![0xEE; len];
                out(fs.read(pid(p), Fd(fd), &mut buf), |n| {
                    Outcome::Bytes(buf[..n].to_vec())
                })
            }
            Op::Pread { p, fd, len, off } => {
                let mut buf = vec![0xEE; len];
                out(fs.pread(pid(p), Fd(fd), &mut buf, off), |n| {
                    Outcome::Bytes(buf[..n].to_vec())
                })
            }
            Op::Lseek { p, fd, off, whence } => {
                out(fs.lseek(pid(p), Fd(fd), off, whence), Outcome::Pos)
            }
            Op::Ftruncate { p, fd, len } => {
                out(fs.ftruncate(pid(p), Fd(fd), len), |_| Outcome::Unit)
            }
            Op::Fstat { p, fd } => out(fs.fstat(pid(p), Fd(fd)), stat_out),
            Op::Stat { name } => out(fs.stat(NAMES[name]), stat_out),
            Op::Fsync { p, fd } => out(fs.fsync(pid(p), Fd(fd)), |_| Outcome::Unit),
            Op::Rename { p, from, to } => {
                out(fs.rename(pid(p), NAMES[from], NAMES[to]), |_| Outcome::Unit)
            }
            Op::Unlink { p, name } => out(fs.unlink(pid(p), NAMES[name]), |_| Outcome::Unit),
            Op::Lock { p, fd, kind, wait } => {
                out(fs.lock(pid(p), Fd(fd), kind, wait), |_| Outcome::Unit)
            }
            Op::Unlock { p, fd } => out(fs.unlock(pid(p), Fd(fd)), |_| Outcome::Unit),
            Op::Mmap { p, fd, len } => match fs.mmap(pid(p), Fd(fd), len) {
                Ok(id) => {
                    self.maps.push((p, id));
                    Outcome::Unit
                }
                Err(e) => Outcome::Err(e.errno),
            },
            Op::MapRead { p, map, off, len } => {
                let Some(&(owner, id)) = self.maps.get(map) else {
                    return Outcome::Skipped;
                };
                let _ = owner;
                let mut buf = vec![0xEE; len];
                out(fs.map_read(pid(p), id, off, &mut buf), |_| {
                    Outcome::Bytes(buf)
                })
            }
            Op::Munmap { p, map } => {
                let Some(&(_, id)) = self.maps.get(map) else {
                    return Outcome::Skipped;
                };
                out(fs.munmap(pid(p), id), |_| Outcome::Unit)
            }
            Op::Kill { p } => {
                let r = out(fs.kill(pid(p)), |_| Outcome::Unit);
                self.pids[p] = fs.spawn("respawned");
                r
            }
            Op::List => {
                let mut root = fs.list("").map_err(|e| e.errno);
                let dir = fs.list("dir").map_err(|e| e.errno);
                if EMPTY_DIRS_AS_ABSENT
                    && dir.as_ref().is_ok_and(|d| d.is_empty())
                    && let Ok(names) = &mut root
                {
                    names.retain(|n| n != "dir/");
                    return Outcome::Names(vec![format!("{root:?}"), "dir: absent".into()]);
                }
                let dir = match dir {
                    Err(Errno::NoEnt) if EMPTY_DIRS_AS_ABSENT => "dir: absent".to_string(),
                    d => format!("dir: {d:?}"),
                };
                Outcome::Names(vec![format!("{root:?}"), dir])
            }
        }
    }

    /// Every name's final contents, read through a fresh process.
    fn contents(&mut self) -> Vec<Option<Vec<u8>>> {
        let pid = self.fs.spawn("checker");
        let mut all = Vec::new();
        for name in NAMES {
            let Ok(fd) = self.fs.open(pid, name, OpenFlags::RDONLY) else {
                all.push(None);
                continue;
            };
            let mut data = vec![0; 256 << 10];
            let n = self.fs.pread(pid, fd, &mut data, 0).unwrap_or(0);
            data.truncate(n);
            all.push(Some(data));
        }
        let _ = self.fs.kill(pid);
        all
    }
}

/// Whether two allocated-bytes figures agree (first side, second side): see [`allocated_agrees`].
/// The flag says whether any read through a map has succeeded so far in the trace.
type AllocRule = fn(a: u64, b: u64, mapped_reads: bool) -> bool;

/// The fds each process holds, as the calls' results say, so that generated ops can name
/// live fds most of the time.
#[derive(Default)]
struct Tracker {
    /// Open fds of each process slot, with the flags they were opened with.
    open: [std::collections::BTreeMap<u32, OpenFlags>; 2],
}

/// Disagreements once found, each with a test below that shows it (ignored while it fails),
/// left out of the random traces while true:
///
/// - `pwrite` on an `O_APPEND` fd: Linux appends at EOF whatever the offset (pwrite(2),
///   BUGS). Settled: SimFs appends too.
const SKIP_PWRITE_ON_APPEND_FD: bool = false;

/// Known disagreement: a directory emptied by unlink or rename. Linux keeps it (`list` shows
/// `dir/`, listing it gives `[]`); SimFs's implicit directories vanish with their last file
/// (`list` omits it, listing it gives ENOENT). While true, `List` reports an empty `dir` as
/// absent on both sides.
const EMPTY_DIRS_AS_ABSENT: bool = true;

/// `mmap` of length 0 on an fd not open for reading: Linux checks the length first (EINVAL).
/// Settled: SimFs does too.
const SKIP_ZERO_LENGTH_MMAP_OF_WRITE_ONLY_FD: bool = false;

impl Tracker {
    /// The op with its fd selector replaced by a concrete fd number: a selector below 224
    /// picks one of the process's open fds (if it has any); the rest name fds 3..=10, open
    /// or not.
    fn resolve(&self, op: &Op) -> Op {
        let pick = |p: usize, sel: u32| -> u32 {
            let live: Vec<u32> = self.open[p].keys().copied().collect();
            if sel < 224 && !live.is_empty() {
                live[sel as usize % live.len()]
            } else {
                3 + sel % 8
            }
        };
        let mut op = op.clone();
        match &mut op {
            Op::Close { p, fd }
            | Op::Write { p, fd, .. }
            | Op::Pwrite { p, fd, .. }
            | Op::Read { p, fd, .. }
            | Op::Pread { p, fd, .. }
            | Op::Lseek { p, fd, .. }
            | Op::Ftruncate { p, fd, .. }
            | Op::Fstat { p, fd }
            | Op::Fsync { p, fd }
            | Op::Lock { p, fd, .. }
            | Op::Unlock { p, fd }
            | Op::Mmap { p, fd, .. } => *fd = pick(*p, *fd),
            _ => {}
        }
        op
    }

    fn is_known_disagreement(&self, op: &Op) -> bool {
        match op {
            Op::Pwrite { p, fd, .. } => {
                SKIP_PWRITE_ON_APPEND_FD && self.open[*p].get(fd).is_some_and(|f| f.append)
            }
            Op::Mmap { p, fd, len: 0 } => {
                SKIP_ZERO_LENGTH_MMAP_OF_WRITE_ONLY_FD
                    && self.open[*p].get(fd).is_some_and(|f| !f.read && f.write)
            }
            _ => false,
        }
    }

    fn record(&mut self, op: &Op, outcome: &Outcome) {
        match (op, outcome) {
            (Op::Open { p, flags, .. }, Outcome::Fd(fd)) => {
                self.open[*p].insert(fd.0, FLAGS[*flags]);
            }
            (Op::Close { p, fd }, Outcome::Unit) => {
                self.open[*p].remove(fd);
            }
            (Op::Kill { p }, _) => self.open[*p].clear(),
            _ => {}
        }
    }
}

/// Run `ops` on both; on the first disagreement, fail with the ops up to it (fds resolved).
fn run_both(ops: &[Op], a: &mut dyn Vfs, b: &mut dyn Vfs, alloc_ok: AllocRule) {
    let mut a = Side::new(a);
    let mut b = Side::new(b);
    let mut tracker = Tracker::default();
    let mut done = Vec::new();
    let mut mapped_reads = false;
    for (i, op) in ops.iter().enumerate() {
        let op = &tracker.resolve(op);
        if tracker.is_known_disagreement(op) {
            continue;
        }
        done.push(op.clone());
        let ra = a.apply(op);
        let rb = b.apply(op);
        tracker.record(op, &ra);
        mapped_reads |=
            matches!((op, &ra), (Op::MapRead { .. }, Outcome::Bytes(b)) if !b.is_empty());
        let agree = match (&ra, &rb) {
            (
                Outcome::Stat {
                    size: sa,
                    allocated: aa,
                },
                Outcome::Stat {
                    size: sb,
                    allocated: ab,
                },
            ) => sa == sb && alloc_ok(*aa, *ab, mapped_reads),
            _ => ra == rb,
        };
        assert!(
            agree,
            "step {i}: {op:?}\n  first:  {ra:?}\n  second: {rb:?}\nops so far: {done:#?}"
        );
    }
    assert_eq!(
        a.contents(),
        b.contents(),
        "final contents differ after {done:#?}"
    );
}

/// A fresh directory, removed on drop.
struct TempRoot(PathBuf);

impl TempRoot {
    fn new(base: &Path, tag: &str) -> TempRoot {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = base.join(format!(
            "realfs-diff-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempRoot(dir)
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn real_on(base: &Path, tag: &str) -> (TempRoot, RealFs) {
    let root = TempRoot::new(base, tag);
    let fs = RealFs::new(&root.0, RealConfig::default()).unwrap();
    (root, fs)
}

fn tmpfs() -> Option<PathBuf> {
    let shm = Path::new("/dev/shm");
    shm.is_dir().then(|| shm.to_path_buf())
}

/// 64 cases, quick enough for every `cargo test`; `PROPTEST_CASES=N` runs a deeper campaign.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/differential.txt"
        )))),
        ..ProptestConfig::default()
    }
}

/// The allocation granularity both sides are compared at: SimFs's block size, and the
/// page and block size of tmpfs and ext4 on x86-64 Linux.
const BLOCK: u64 = 4096;

/// Whether `model`'s allocated bytes (SimFs, or tmpfs as a reference) honestly match what a
/// real filesystem reported for the same file.
///
/// - tmpfs: exactly equal until a map has been read. tmpfs charges `st_blocks` for the
///   pages that hold data and nothing else: a page per 4 KiB block written (zeros included),
///   none for holes, the partial last page kept by a truncate in its middle. But a read
///   fault through a shared map on a hole ALLOCATES the page on tmpfs (seen: ftruncate to 1
///   byte, st_blocks 0; read byte 0 through a map, st_blocks 8), which SimFs (an extent
///   filesystem's model) and ext4 do not. After any map read, tmpfs may exceed the model by
///   whole pages, never fall below it.
/// - a disk filesystem (ext4 here): the same data blocks, plus at most ONE block more. ext4
///   counts its extent-tree blocks in `st_blocks`: once a file has more than 4 extents (4
///   fit in the inode) and has been written back (`fsync`), an index block appears, and it
///   stays after a truncate that leaves any extent (seen: data blocks 4096 + index 4096 =
///   8192 after a truncate to 5000 bytes). A file without data blocks has no extent tree,
///   so zero stays zero both ways. Delayed allocation does not show: before writeback
///   ext4 reports the reserved data blocks, which are the same count. Preallocation by
///   mballoc is not charged to the inode.
fn allocated_agrees(model: u64, real: u64, real_fs: RealKind, mapped_reads: bool) -> bool {
    match real_fs {
        RealKind::Tmpfs if mapped_reads => real >= model && (real - model).is_multiple_of(BLOCK),
        RealKind::Tmpfs => model == real,
        RealKind::Disk => {
            model.is_multiple_of(BLOCK)
                && real >= model
                && real - model <= BLOCK
                && (model == 0) == (real == 0)
        }
    }
}

/// Where a RealFs under test lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RealKind {
    /// `std::env::temp_dir()`: a disk filesystem (ext4 on the machines this was written on).
    Disk,
    /// `/dev/shm`.
    Tmpfs,
}

/// SimFs as the differential test runs it: Linux coherence (`Shared`), Linux's page and
/// block sizes, a partition far larger than any trace can fill, no faults.
fn sim() -> SimFs {
    let cfg = SimConfig {
        coherence: Coherence::Shared,
        page_size: BLOCK,
        block_size: BLOCK,
        capacity: 1 << 40,
        ..SimConfig::default()
    };
    SimFs::new(cfg)
}

proptest! {
    #![proptest_config(config())]

    /// SimFs against the kernel on the temp dir's filesystem (ext4 here).
    #[test]
    fn simfs_agrees_with_realfs_on_disk(ops in proptest::collection::vec(op(), 0..60)) {
        let (_root, mut real) = real_on(&std::env::temp_dir(), "sim-disk");
        let mut model = sim();
        run_both(&ops, &mut model, &mut real, |m, r, mapped| allocated_agrees(m, r, RealKind::Disk, mapped));
    }

    /// SimFs against the kernel on tmpfs, where allocation must match exactly.
    #[test]
    fn simfs_agrees_with_realfs_on_tmpfs(ops in proptest::collection::vec(op(), 0..60)) {
        let Some(shm) = tmpfs() else { return Ok(()); };
        let (_root, mut real) = real_on(&shm, "sim-tmpfs");
        let mut model = sim();
        run_both(&ops, &mut model, &mut real, |m, r, mapped| allocated_agrees(m, r, RealKind::Tmpfs, mapped));
    }

    /// RealFs on the temp dir's filesystem (ext4 here) and on tmpfs: a check of RealFs itself
    /// and of what a filesystem may change (allocation only).
    #[test]
    fn realfs_on_disk_agrees_with_realfs_on_tmpfs(ops in proptest::collection::vec(op(), 0..60)) {
        let Some(shm) = tmpfs() else { return Ok(()); };
        let (_r1, mut disk) = real_on(&std::env::temp_dir(), "disk");
        let (_r2, mut mem) = real_on(&shm, "tmpfs");
        // tmpfs is exact, so it stands in for the model against the disk, until a map read
        // a hole: then tmpfs has pages that ext4 does not (see `allocated_agrees`).
        run_both(&ops, &mut mem, &mut disk, |m, r, mapped| {
            mapped || allocated_agrees(m, r, RealKind::Disk, false)
        });
    }
}

#[test]
fn allocation_rule_accepts_what_ext4_and_tmpfs_were_seen_to_do_and_nothing_else() {
    // 10 one-byte writes 8 KiB apart, fsync: ext4 40960 + an extent index block.
    assert!(allocated_agrees(40960, 45056, RealKind::Disk, false));
    assert!(!allocated_agrees(40960, 45056, RealKind::Tmpfs, false));
    assert!(allocated_agrees(40960, 40960, RealKind::Tmpfs, false));
    // Truncated to 5000 bytes: one data block, and the index block stays on ext4.
    assert!(allocated_agrees(4096, 8192, RealKind::Disk, false));
    // Never less than the data, never two blocks more, and zero stays zero.
    assert!(!allocated_agrees(8192, 4096, RealKind::Disk, false));
    assert!(!allocated_agrees(4096, 12288, RealKind::Disk, false));
    assert!(!allocated_agrees(0, 4096, RealKind::Disk, false));
    assert!(!allocated_agrees(100, 4096, RealKind::Disk, false));
    // tmpfs after a map read of a hole: more pages, never fewer.
    assert!(allocated_agrees(0, 4096, RealKind::Tmpfs, true));
    assert!(!allocated_agrees(0, 4096, RealKind::Tmpfs, false));
    assert!(!allocated_agrees(8192, 4096, RealKind::Tmpfs, true));
}

/// Known disagreement (see [`SKIP_PWRITE_ON_APPEND_FD`]): on Linux, `pwrite` through an
/// `O_APPEND` fd appends at EOF and ignores the offset.
#[test]
fn pwrite_on_an_append_fd_appends_on_linux() {
    let ops = [
        Op::Open {
            p: 1,
            name: 0,
            flags: 6,
        },
        Op::Pwrite {
            p: 1,
            fd: 3,
            len: 1,
            fill: 0,
            off: 1,
        },
        Op::Fstat { p: 1, fd: 3 },
    ];
    let Some(shm) = tmpfs() else { return };
    let (_root, mut real) = real_on(&shm, "known-append");
    let mut model = sim();
    let mut a = Side::new(&mut model);
    let mut b = Side::new(&mut real);
    for op in &ops {
        assert_eq!(a.apply(op), b.apply(op), "{op:?}");
    }
}

/// Known disagreement (see [`EMPTY_DIRS_AS_ABSENT`]): Linux keeps a directory when its last
/// file goes.
#[test]
#[ignore = "SimFs drops an implicit directory with its last file; Linux keeps it"]
fn an_emptied_directory_stays_on_linux() {
    let Some(shm) = tmpfs() else { return };
    let (_root, mut real) = real_on(&shm, "known-dir");
    let mut model = sim();
    for fs in [&mut model as &mut dyn Vfs, &mut real] {
        let p = fs.spawn("p");
        let fd = fs.open(p, "dir/c", OpenFlags::RDWR_CREATE).unwrap();
        fs.close(p, fd).unwrap();
        fs.unlink(p, "dir/c").unwrap();
    }
    assert_eq!(model.list(""), real.list(""));
    assert_eq!(model.list("dir"), real.list("dir"));
}

/// Known disagreement (see [`SKIP_ZERO_LENGTH_MMAP_OF_WRITE_ONLY_FD`]).
#[test]
fn zero_length_mmap_of_a_write_only_fd_is_einval_on_linux() {
    let Some(shm) = tmpfs() else { return };
    let (_root, mut real) = real_on(&shm, "known-mmap0");
    let mut model = sim();
    let write_only = FLAGS[5];
    let mut errs = Vec::new();
    for fs in [&mut model as &mut dyn Vfs, &mut real] {
        let p = fs.spawn("p");
        let fd = fs.open(p, "a", write_only).unwrap();
        errs.push(fs.mmap(p, fd, 0).unwrap_err().errno);
    }
    assert_eq!(errs[0], errs[1]);
}
