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
