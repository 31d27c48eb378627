//! `run --export DIR`: copy the files of a finished simulation onto the real disk, keeping
//! sparse files sparse, so real tools (`ls -ls`, `du`, `inspect`) can look at them.
//!
//! Everything is read through the [`Vfs`] trait. Holes are skipped with
//! [`Vfs::map_next_data`] where the filesystem knows its extents, and by finding all-zero
//! blocks otherwise; only non-zero blocks are written, and `set_len` gives each file its
//! apparent size. Nothing is written until the whole export is known to fit its budget.

use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

use sim::{OpenFlags, Pid, Stat, Vfs, VfsError};

/// Default `--export-budget`: the allocated bytes an export may write.
pub const DEFAULT_BUDGET: u64 = 1 << 30;
/// No file with a larger apparent size is exported, whatever the budget.
pub const MAX_APPARENT: u64 = 1 << 40;

/// Bytes read per `pread`.
const CHUNK: u64 = 1 << 20;
/// Granularity of the zero check: a block of zeros is left as a hole.
const BLOCK: usize = 4096;

#[derive(Debug)]
pub enum ExportError {
    /// The files' allocated bytes exceed the budget.
    OverBudget {
        allocated: u64,
        budget: u64,
    },
    /// One file's apparent size exceeds [`MAX_APPARENT`].
    TooLarge {
        path: String,
        apparent: u64,
    },
    /// A simulated path that would land outside DIR.
    BadPath(String),
    Sim {
        path: String,
        error: VfsError,
    },
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::OverBudget { allocated, budget } => write!(
                f,
                "export refused: the files hold {allocated} allocated bytes, over the budget of \
                 {budget} bytes (raise it with --export-budget BYTES)"
            ),
            ExportError::TooLarge { path, apparent } => write!(
                f,
                "export refused: {path} has an apparent size of {apparent} bytes, over the \
                 {MAX_APPARENT}-byte limit for one file (--export-budget does not lift it)"
            ),
            ExportError::BadPath(p) => write!(f, "export refused: unsafe path {p:?}"),
            ExportError::Sim { path, error } => write!(f, "export: reading {path}: {error}"),
            ExportError::Io { path, error } => {
                write!(f, "export: writing {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for ExportError {}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    pub files: usize,
    /// Bytes of data written (holes and zero blocks excluded).
    pub data_bytes: u64,
}

/// Check `files` against the limits without writing anything.
pub fn check_limits(files: &[(String, Stat)], budget: u64) -> Result<(), ExportError> {
    for (path, st) in files {
        if st.size > MAX_APPARENT {
            return Err(ExportError::TooLarge {
                path: path.clone(),
                apparent: st.size,
            });
        }
        safe_relative(path)?;
    }
    let allocated = files
        .iter()
        .fold(0u64, |a, (_, st)| a.saturating_add(st.allocated));
    if allocated > budget {
        return Err(ExportError::OverBudget { allocated, budget });
    }
    Ok(())
}

/// The filesystem to export from.
pub struct Source<'a> {
    pub vfs: &'a mut dyn Vfs,
    /// Every file, with its sizes (paths relative to the simulated root).
    pub files: Vec<(String, Stat)>,
    /// The filesystem's allocation unit, when known. With it a scan stops as soon as every
    /// allocated block has been seen holding data: the rest of the file is holes.
    pub block_size: Option<u64>,
}

impl<'a> Source<'a> {
    pub fn sim(fs: &'a mut sim::SimFs) -> Source<'a> {
        Source {
            block_size: Some(fs.config().block_size),
            files: fs.files(),
            vfs: fs,
        }
    }
}

/// Write every file of `src` under `dir`.
pub fn export(src: Source<'_>, dir: &Path, budget: u64) -> Result<Exported, ExportError> {
    check_limits(&src.files, budget)?;
    // Counting blocks needs every chunk boundary on a block boundary.
    let granule = src
        .block_size
        .filter(|b| b.is_power_of_two() && *b <= CHUNK)
        .map(|b| b.max(BLOCK as u64));
    let pid = src.vfs.spawn("export");
    let mut out = Exported::default();
    for (path, st) in &src.files {
        let target = dir.join(safe_relative(path)?);
        let mut copy = Copy::open(src.vfs, pid, path, &target)?;
        copy.granule = granule;
        copy.block_size = src.block_size.unwrap_or(1);
        copy.run(*st)?;
        out.data_bytes += copy.written;
        out.files += 1;
    }
    let _ = src.vfs.kill(pid);
    Ok(out)
}

fn safe_relative(path: &str) -> Result<PathBuf, ExportError> {
    let p = Path::new(path);
    if path.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(ExportError::BadPath(path.to_string()));
    }
    Ok(p.to_path_buf())
}

/// The copy of one file.
struct Copy<'v, 'p> {
    vfs: &'v mut dyn Vfs,
    pid: Pid,
    fd: sim::Fd,
    path: &'p str,
    real: File,
    target: &'p Path,
    buf: Vec<u8>,
    /// Chunk boundaries are multiples of this when blocks are counted.
    granule: Option<u64>,
    block_size: u64,
    /// Filesystem blocks seen holding a non-zero byte.
    data_blocks: u64,
    written: u64,
}

impl<'v, 'p> Copy<'v, 'p> {
    fn open(
        vfs: &'v mut dyn Vfs,
        pid: Pid,
        path: &'p str,
        target: &'p Path,
    ) -> Result<Copy<'v, 'p>, ExportError> {
        let io_err = |error| ExportError::Io {
            path: target.to_path_buf(),
            error,
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io_err)?;
        }
        let real = File::create(target).map_err(io_err)?;
        let fd = vfs
            .open(pid, path, OpenFlags::RDONLY)
            .map_err(|error| ExportError::Sim {
                path: path.to_string(),
                error,
            })?;
        Ok(Copy {
            vfs,
            pid,
            fd,
            path,
            real,
            target,
            buf: vec![0; CHUNK as usize],
            granule: None,
            block_size: 1,
            data_blocks: 0,
            written: 0,
        })
    }

    fn sim_err(&self, error: VfsError) -> ExportError {
        ExportError::Sim {
            path: self.path.to_string(),
            error,
        }
    }

    /// Copy chunks alternately from the front (skipping holes the map hint reports) and from
    /// the back, until the cursors meet or every allocated block has been seen.
    fn run(&mut self, st: Stat) -> Result<(), ExportError> {
        let size = st.size;
        let map = if size > 0 {
            self.vfs.mmap(self.pid, self.fd, size).ok()
        } else {
            None
        };
        let align = self.granule.unwrap_or(BLOCK as u64);
        let all_seen =
            |c: &Copy| c.granule.is_some() && c.data_blocks * c.block_size >= st.allocated;
        let (mut lo, mut hi) = (0, size);
        while lo < hi && !all_seen(self) {
            if let Some(m) = map {
                let next = self
                    .vfs
                    .map_next_data(self.pid, m, lo)
                    .map_err(|e| self.sim_err(e))?;
                lo = lo.max(next / align * align).min(hi);
            }
            if lo < hi {
                let end = hi.min(lo + CHUNK);
                self.chunk(lo, end)?;
                lo = end;
            }
            if lo < hi && !all_seen(self) {
                let start = lo.max((hi - 1) / CHUNK * CHUNK);
                self.chunk(start, hi)?;
                hi = start;
            }
        }
        if let Some(m) = map {
            let _ = self.vfs.munmap(self.pid, m);
        }
        let _ = self.vfs.close(self.pid, self.fd);
        self.real.set_len(size).map_err(|error| ExportError::Io {
            path: self.target.to_path_buf(),
            error,
        })
    }

    /// Copy `[start, end)`: write its non-zero blocks, count the filesystem blocks with data.
    fn chunk(&mut self, start: u64, end: u64) -> Result<(), ExportError> {
        let n = (end - start) as usize;
        let mut buf = std::mem::take(&mut self.buf);
        let got = self
            .vfs
            .pread(self.pid, self.fd, &mut buf[..n], start)
            .map_err(|e| self.sim_err(e))?;
        // A short read means the file shrank under us: the rest reads as zeros.
        buf[got..n].fill(0);
        for (i, block) in buf[..n].chunks(BLOCK).enumerate() {
            if block.iter().any(|&b| b != 0) {
                let at = start + (i * BLOCK) as u64;
                self.real
                    .write_all_at(block, at)
                    .map_err(|error| ExportError::Io {
                        path: self.target.to_path_buf(),
                        error,
                    })?;
                self.written += block.len() as u64;
            }
        }
        if self.granule.is_some() {
            let bs = self.block_size as usize;
            self.data_blocks += buf[..n]
                .chunks(bs)
                .filter(|b| b.iter().any(|&x| x != 0))
                .count() as u64;
        }
        self.buf = buf;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::{Errno, Fd, LockKind, MapId, VfsResult, Whence};
    use std::os::unix::fs::MetadataExt;

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
        let d =
            std::env::temp_dir().join(format!("expunge-sim-export-{name}-{}", std::process::id()));
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
        assert_eq!(out.data_bytes, BLOCK as u64, "one block of data written");
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
}

#[cfg(test)]
mod simfs_tests {
    use super::*;
    use sim::{SimConfig, SimFs};
    use std::os::unix::fs::MetadataExt;

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
        let dir =
            std::env::temp_dir().join(format!("expunge-sim-export-sim-{}", std::process::id()));
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
        let dir =
            std::env::temp_dir().join(format!("expunge-sim-export-mid-{}", std::process::id()));
        export(Source::sim(&mut fs), &dir, DEFAULT_BUDGET).unwrap();
        let bytes = std::fs::read(dir.join("user/blair/cyrus.expunge")).unwrap();
        assert_eq!(bytes.len() as u64, size);
        let at = (4 * CHUNK + 4095) as usize;
        assert_eq!(&bytes[at - 1..at + 3], &[0, 2, 2, 0]);
        assert_eq!(bytes.iter().filter(|&&b| b != 0).count(), 13);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
