//! The fsck over files read through [`sim::Vfs`]: the same checks that `inspect DIR` runs on a
//! real directory, run on a simulated (or `RealFs`) mailbox at the end of a scenario.
//!
//! Several files are open at once and all of them read through one `&mut dyn Vfs`, so the
//! filesystem is shared through a `RefCell`. Reads are `pread`s in bounded chunks; holes are
//! found with a map of the file and [`Vfs::map_next_data`] (SEEK_DATA through a map), so a
//! 3.4e11-byte sparse cyrus.expunge is judged in time linear in its data.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io;

use sim::{Errno, Fd, MapId, OpenFlags, Pid, Vfs, VfsError};

use super::dir::InspectError;
use super::mailbox::{MailboxFiles, fsck_mailbox, message_uid_from_name};
use super::source::ByteSource;
use super::{FNAME_CACHE, FNAME_EXPUNGE, FNAME_INDEX, InspectReport};

/// The largest single `pread` a [`VfsFile`] issues.
const MAX_PREAD: usize = 1 << 20;

/// A filesystem several [`VfsFile`]s read through at once.
pub type SharedVfs<'v> = RefCell<&'v mut dyn Vfs>;

fn io_error(e: VfsError) -> io::Error {
    let kind = match e.errno {
        Errno::NoEnt => io::ErrorKind::NotFound,
        Errno::Acces => io::ErrorKind::PermissionDenied,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e.to_string())
}

/// One file opened read-only through a [`Vfs`] by `pid`: size and allocation from `fstat` at
/// open, bytes by `pread`, holes by a whole-file map. Close it with [`VfsFile::close`] (or let
/// the process die).
pub struct VfsFile<'a, 'v> {
    fs: &'a SharedVfs<'v>,
    pid: Pid,
    fd: Fd,
    /// A map of the whole file, made at open, for `map_next_data`; None for an empty file.
    map: Option<MapId>,
    len: u64,
    allocated: u64,
}

impl<'a, 'v> VfsFile<'a, 'v> {
    /// Open `path` O_RDONLY as `pid`.
    pub fn open(fs: &'a SharedVfs<'v>, pid: Pid, path: &str) -> io::Result<VfsFile<'a, 'v>> {
        let mut v = fs.borrow_mut();
        let fd = v.open(pid, path, OpenFlags::RDONLY).map_err(io_error)?;
        let st = match v.fstat(pid, fd) {
            Ok(st) => st,
            Err(e) => {
                let _ = v.close(pid, fd);
                return Err(io_error(e));
            }
        };
        // A failed map only costs the hole skipping: every byte then counts as data.
        let map = if st.size > 0 {
            v.mmap(pid, fd, st.size).ok()
        } else {
            None
        };
        Ok(VfsFile {
            fs,
            pid,
            fd,
            map,
            len: st.size,
            allocated: st.allocated,
        })
    }

    /// Unmap and close.
    pub fn close(self) {
        let mut v = self.fs.borrow_mut();
        if let Some(m) = self.map {
            let _ = v.munmap(self.pid, m);
        }
        let _ = v.close(self.pid, self.fd);
    }
}

impl ByteSource for VfsFile<'_, '_> {
    fn len(&mut self) -> io::Result<u64> {
        Ok(self.len)
    }

    fn allocated(&mut self) -> io::Result<u64> {
        Ok(self.allocated)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let n = buf.len().min(MAX_PREAD);
        let mut v = self.fs.borrow_mut();
        v.pread(self.pid, self.fd, &mut buf[..n], offset)
            .map_err(io_error)
    }

    fn next_data(&mut self, offset: u64) -> io::Result<Option<u64>> {
        if offset >= self.len {
            return Ok(None);
        }
        let Some(map) = self.map else {
            return Ok(Some(offset));
        };
        let d = self
            .fs
            .borrow_mut()
            .map_next_data(self.pid, map, offset)
            .map_err(io_error)?;
        Ok((d < self.len).then_some(d))
    }
}

/// The fsck of the mailbox in `mailbox_dir` (e.g. `user/bob/Spam`) on `fs`: cyrus.index is
/// required, cyrus.expunge and cyrus.cache optional, message files are the entries `N.` that
/// [`Vfs::list`] gives. Reads as a process of its own ("fsck"), killed at the end, so no fd,
/// map or lock outlives the call; its calls do appear in a `SimFs` trace.
pub fn fsck_vfs_mailbox(
    fs: &mut dyn Vfs,
    mailbox_dir: &str,
) -> Result<InspectReport, InspectError> {
    let pid = fs.spawn("fsck");
    let r = fsck_as(fs, pid, mailbox_dir);
    let _ = fs.kill(pid);
    r
}

fn fsck_as(fs: &mut dyn Vfs, pid: Pid, dir: &str) -> Result<InspectReport, InspectError> {
    let not_mailbox = |reason: String| InspectError::NotAMailbox {
        path: dir.into(),
        reason,
    };
    let names = fs.list(dir).map_err(|e| not_mailbox(e.to_string()))?;
    let uids: HashSet<u32> = names
        .iter()
        .filter_map(|n| message_uid_from_name(n))
        .collect();
    let shared: SharedVfs = RefCell::new(fs);
    let path = |f: &str| format!("{dir}/{f}");
    let mut index = match VfsFile::open(&shared, pid, &path(FNAME_INDEX)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(not_mailbox(format!("no {FNAME_INDEX}")));
        }
        Err(error) => {
            return Err(InspectError::Io {
                file: FNAME_INDEX.to_string(),
                error,
            });
        }
    };
    let optional = |name: &str| match VfsFile::open(&shared, pid, &path(name)) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(InspectError::Io {
            file: name.to_string(),
            error,
        }),
    };
    let mut expunge = optional(FNAME_EXPUNGE)?;
    let mut cache = optional(FNAME_CACHE)?;
    let report = fsck_mailbox(MailboxFiles {
        index: &mut index,
        expunge: expunge.as_mut().map(|f| f as &mut dyn ByteSource),
        cache: cache.as_mut().map(|f| f as &mut dyn ByteSource),
        message_uids: Some(&uids),
    });
    for f in [Some(index), expunge, cache].into_iter().flatten() {
        f.close();
    }
    report
}
