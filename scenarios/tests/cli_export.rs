//! `run --export`: sparse files stay sparse, limits are checked before anything is written,
//! and no path escapes the target directory. Driven through the library on a fake sparse
//! filesystem and on SimFs.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;

use scenarios::export::{DEFAULT_BUDGET, ExportError, MAX_APPARENT, Source, check_limits, export};
use sim::{
    Errno, Fd, LockKind, MapId, OpenFlags, Pid, SimConfig, SimFs, Stat, Vfs, VfsError, VfsResult,
    Whence,
};

/// The export's read size, restated: tests place data around chunk edges.
const CHUNK: u64 = 1 << 20;
const BLOCK: u64 = 4096;

/// A file of the fake: path, apparent size, extents of data (offset, bytes).
type SparseFile = (String, u64, Vec<(u64, Vec<u8>)>);

/// A read-only sparse filesystem: each file is a size and some extents of data.
struct Sparse {
    files: Vec<SparseFile>,
    open: Vec<usize>,
    hint: bool,
    preads: u64,
}

impl Sparse {
    fn file(&self, fd: Fd) -> VfsResult<&SparseFile> {
        let i = *self
            .open
            .get(fd.0 as usize)
            .ok_or(VfsError::new(Errno::BadF, "fd"))?;
        Ok(&self.files[i])
    }
    fn source(&mut self, block_size: Option<u64>) -> Source<'_> {
        Source {
            files: self.listing(),
            block_size,
            vfs: self,
        }
    }
    fn listing(&self) -> Vec<(String, Stat)> {
        let st = |size, ext: &Vec<(u64, Vec<u8>)>| Stat {
            ino: 0,
            size,
            allocated: ext
                .iter()
                .map(|(at, d)| (at + d.len() as u64).div_ceil(4096) - at / 4096)
                .sum::<u64>()
                * 4096,
        };
        self.files
            .iter()
            .map(|(p, s, e)| (p.clone(), st(*s, e)))
            .collect()
    }
}

fn nope<T>() -> VfsResult<T> {
    Err(VfsError::new(Errno::Inval, "not in this fake"))
}

impl Vfs for Sparse {
    fn spawn(&mut self, _: &str) -> Pid {
        Pid(1)
    }
    fn kill(&mut self, _: Pid) -> VfsResult<()> {
        Ok(())
    }
    fn open(&mut self, _: Pid, path: &str, _: OpenFlags) -> VfsResult<Fd> {
        let i = self.files.iter().position(|f| f.0 == path);
        self.open.push(i.ok_or(VfsError::new(Errno::NoEnt, path))?);
        Ok(Fd(self.open.len() as u32 - 1))
    }
    fn close(&mut self, _: Pid, _: Fd) -> VfsResult<()> {
        Ok(())
    }
    fn read(&mut self, _: Pid, _: Fd, _: &mut [u8]) -> VfsResult<usize> {
        nope()
    }
    fn write(&mut self, _: Pid, _: Fd, _: &[u8]) -> VfsResult<usize> {
        nope()
    }
    fn pread(&mut self, _: Pid, fd: Fd, buf: &mut [u8], off: u64) -> VfsResult<usize> {
        self.preads += 1;
        let (_, size, ext) = self.file(fd)?;
        let n = buf.len().min(size.saturating_sub(off) as usize);
        buf[..n].fill(0);
        for (at, data) in ext {
            for (i, b) in data.iter().enumerate() {
                let p = at + i as u64;
                if p >= off && p < off + n as u64 {
                    buf[(p - off) as usize] = *b;
                }
            }
        }
        Ok(n)
    }
    fn pwrite(&mut self, _: Pid, _: Fd, _: &[u8], _: u64) -> VfsResult<usize> {
        nope()
    }
    fn lseek(&mut self, _: Pid, _: Fd, _: i64, _: Whence) -> VfsResult<u64> {
        nope()
    }
    fn fstat(&mut self, _: Pid, _: Fd) -> VfsResult<Stat> {
        nope()
    }
    fn stat(&mut self, _: &str) -> VfsResult<Stat> {
        nope()
    }
    fn ftruncate(&mut self, _: Pid, _: Fd, _: u64) -> VfsResult<()> {
        nope()
    }
    fn fsync(&mut self, _: Pid, _: Fd) -> VfsResult<()> {
        nope()
    }
    fn fsync_dir(&mut self, _: Pid, _: &str) -> VfsResult<()> {
        nope()
    }
    fn rename(&mut self, _: Pid, _: &str, _: &str) -> VfsResult<()> {
        nope()
    }
    fn unlink(&mut self, _: Pid, _: &str) -> VfsResult<()> {
        nope()
    }
    fn list(&mut self, _: &str) -> VfsResult<Vec<String>> {
        nope()
    }
    fn lock(&mut self, _: Pid, _: Fd, _: LockKind, _: bool) -> VfsResult<()> {
        nope()
    }
    fn unlock(&mut self, _: Pid, _: Fd) -> VfsResult<()> {
        nope()
    }
    fn mmap(&mut self, _: Pid, fd: Fd, _: u64) -> VfsResult<MapId> {
        Ok(MapId(fd.0))
    }
    fn map_read(&mut self, _: Pid, _: MapId, _: u64, _: &mut [u8]) -> VfsResult<()> {
        nope()
    }
    fn map_len(&self, _: Pid, _: MapId) -> VfsResult<u64> {
        nope()
    }
    fn munmap(&mut self, _: Pid, _: MapId) -> VfsResult<()> {
        Ok(())
    }
    fn map_next_data(&mut self, _: Pid, m: MapId, off: u64) -> VfsResult<u64> {
        if !self.hint {
            return Ok(off);
        }
        let (_, size, ext) = self.file(Fd(m.0))?;
        Ok(ext
            .iter()
            .filter(|(at, d)| at + d.len() as u64 > off)
            .map(|(at, _)| (*at).max(off))
            .min()
            .unwrap_or(*size))
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("export-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    d
}

const SPARSE_SIZE: u64 = 340_000_000_000;

fn wrapped_expunge(hint: bool) -> Sparse {
    Sparse {
        files: vec![
            (
                "user/blair/cyrus.expunge".into(),
                SPARSE_SIZE,
                vec![(0, vec![7; 96]), (SPARSE_SIZE - 200, vec![9; 200])],
            ),
            ("user/blair/1.".into(), 3, vec![(0, b"abc".to_vec())]),
            ("empty".into(), 0, vec![]),
        ],
        open: vec![],
        hint,
        preads: 0,
    }
}

#[test]
fn sparse_files_stay_sparse_and_keep_their_bytes() {
    let dir = temp_dir("sparse");
    let mut fs = wrapped_expunge(true);
    let out = export(fs.source(None), &dir, DEFAULT_BUDGET).unwrap();
    assert_eq!(out.files, 3);
    let big = dir.join("user/blair/cyrus.expunge");
    let meta = std::fs::metadata(&big).unwrap();
    assert_eq!(meta.len(), SPARSE_SIZE);
    assert!(
        meta.blocks() * 512 < 1 << 20,
        "allocated {}",
        meta.blocks() * 512
    );
    let f = File::open(&big).unwrap();
    let mut tail = [0u8; 201];
    f.read_exact_at(&mut tail, SPARSE_SIZE - 201).unwrap();
    assert_eq!(tail[0], 0);
    assert!(tail[1..].iter().all(|&b| b == 9));
    assert_eq!(std::fs::read(dir.join("user/blair/1.")).unwrap(), b"abc");
    assert_eq!(std::fs::metadata(dir.join("empty")).unwrap().len(), 0);
    // The hint let the copy jump the hole: a handful of reads, not 300 thousand.
    assert!(fs.preads < 10, "{} preads", fs.preads);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_a_hint_zero_blocks_become_holes() {
    let dir = temp_dir("nohint");
    let mut fs = Sparse {
        files: vec![(
            "f".into(),
            5 * CHUNK + 10,
            vec![(3 * CHUNK + 5, vec![1; 10])],
        )],
        open: vec![],
        hint: false,
        preads: 0,
    };
    let out = export(fs.source(None), &dir, DEFAULT_BUDGET).unwrap();
    assert_eq!(out.data_bytes, BLOCK, "one block of data written");
    let meta = std::fs::metadata(dir.join("f")).unwrap();
    assert_eq!(meta.len(), 5 * CHUNK + 10);
    assert!(meta.blocks() * 512 <= 64 * 1024);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn over_budget_and_over_one_tib_are_refused_before_writing() {
    let dir = temp_dir("refused");
    let mut fs = wrapped_expunge(true);
    let err = export(fs.source(None), &dir, 100).unwrap_err();
    assert!(matches!(
        err,
        ExportError::OverBudget {
            allocated: 12288,
            budget: 100
        }
    ));
    assert!(err.to_string().contains("--export-budget"));
    assert!(!dir.exists(), "nothing written");
    let huge = vec![(
        "big".to_string(),
        Stat {
            ino: 1,
            size: MAX_APPARENT + 1,
            allocated: 0,
        },
    )];
    let err = check_limits(&huge, DEFAULT_BUDGET).unwrap_err();
    assert!(matches!(err, ExportError::TooLarge { .. }));
    assert!(err.to_string().contains("--export-budget"));
}

#[test]
fn paths_that_escape_dir_are_refused() {
    for bad in ["../x", "/etc/passwd", "a/../../b", ""] {
        let files = vec![(bad.to_string(), Stat::default())];
        assert!(
            matches!(check_limits(&files, 0), Err(ExportError::BadPath(_))),
            "{bad}"
        );
    }
}

/// A SimFs with one file of `size` bytes and data at each `(offset, byte, len)`.
fn sim_with(size: u64, data: &[(u64, u8, usize)]) -> SimFs {
    let mut fs = SimFs::new(SimConfig::default());
    let pid = fs.spawn("writer");
    let fd = fs
        .open(pid, "user/blair/cyrus.expunge", OpenFlags::RDWR_CREATE)
        .unwrap();
    for &(at, b, len) in data {
        fs.pwrite(pid, fd, &vec![b; len], at).unwrap();
    }
    fs.ftruncate(pid, fd, size).unwrap();
    fs.close(pid, fd).unwrap();
    fs
}

#[test]
fn the_wrapped_expunge_file_exports_in_a_few_reads() {
    // Header and records at the front, the wrapped append at the very end: the
    // front/back scan sees every allocated block after two chunks and stops.
    let size = 343_597_383_680;
    let mut fs = sim_with(size, &[(0, 7, 96 + 3 * 88), (size - 88, 9, 88)]);
    let calls = fs.calls();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("export-sim");
    export(Source::sim(&mut fs), &dir, DEFAULT_BUDGET).unwrap();
    assert!(fs.calls() - calls < 20, "{} calls", fs.calls() - calls);
    let meta = std::fs::metadata(dir.join("user/blair/cyrus.expunge")).unwrap();
    assert_eq!(meta.len(), size);
    assert!(meta.blocks() * 512 <= 64 * 1024);
    let f = File::open(dir.join("user/blair/cyrus.expunge")).unwrap();
    let mut end = [0u8; 89];
    f.read_exact_at(&mut end, size - 89).unwrap();
    assert_eq!((end[0], end[1], end[88]), (0, 9, 9));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn data_in_the_middle_is_found() {
    let size = 9 * CHUNK + 5;
    let mut fs = sim_with(
        size,
        &[(0, 1, 10), (4 * CHUNK + 4095, 2, 2), (size - 1, 3, 1)],
    );
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("export-mid");
    export(Source::sim(&mut fs), &dir, DEFAULT_BUDGET).unwrap();
    let bytes = std::fs::read(dir.join("user/blair/cyrus.expunge")).unwrap();
    assert_eq!(bytes.len() as u64, size);
    let at = (4 * CHUNK + 4095) as usize;
    assert_eq!(&bytes[at - 1..at + 3], &[0, 2, 2, 0]);
    assert_eq!(bytes.iter().filter(|&&b| b != 0).count(), 13);
    std::fs::remove_dir_all(&dir).unwrap();
}
