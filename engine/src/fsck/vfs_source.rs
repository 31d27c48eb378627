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
/// A file up to this size is read whole by its first `read_at` and served from memory after:
/// the checks read small files a record at a time, and each `pread` is a traced call.
const WHOLE_FILE_MAX: u64 = 256 * 1024;

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
/// open, bytes by `pread`, holes by a whole-file map made when first asked. Close it with
/// [`VfsFile::close`] (or let the process die).
pub struct VfsFile<'a, 'v> {
    fs: &'a SharedVfs<'v>,
    pid: Pid,
    fd: Fd,
    /// A map of the whole file for `map_next_data`, made by the first [`ByteSource::next_data`]
    /// (`None` until then); `Some(None)` if it could not be made.
    map: Option<Option<MapId>>,
    len: u64,
    allocated: u64,
    /// The whole file, once read (files up to [`WHOLE_FILE_MAX`] bytes only).
    whole: Option<Vec<u8>>,
    /// Whether reading the whole file was tried (it is tried once).
    whole_tried: bool,
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
        Ok(VfsFile {
            fs,
            pid,
            fd,
            map: None,
            len: st.size,
            allocated: st.allocated,
            whole: None,
            whole_tried: false,
        })
    }

    /// The whole file, read by one `pread` the first time, if it is small enough and the
    /// read returns all of it; `None` otherwise (then every read is a `pread` of its own).
    fn whole(&mut self) -> Option<&[u8]> {
        if !self.whole_tried && self.len <= WHOLE_FILE_MAX {
            self.whole_tried = true;
            let mut data = vec![0u8; self.len as usize];
            let got = self.fs.borrow_mut().pread(self.pid, self.fd, &mut data, 0);
            if got.ok() == Some(data.len()) {
                self.whole = Some(data);
            }
        }
        self.whole.as_deref()
    }

    /// Unmap and close.
    pub fn close(self) {
        let mut v = self.fs.borrow_mut();
        if let Some(Some(m)) = self.map {
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
        if let Some(data) = self.whole() {
            let rest = &data[offset as usize..];
            let n = n.min(rest.len());
            buf[..n].copy_from_slice(&rest[..n]);
            return Ok(n);
        }
        let mut v = self.fs.borrow_mut();
        v.pread(self.pid, self.fd, &mut buf[..n], offset)
            .map_err(io_error)
    }

    fn next_data(&mut self, offset: u64) -> io::Result<Option<u64>> {
        if offset >= self.len {
            return Ok(None);
        }
        let mut v = self.fs.borrow_mut();
        // A failed map only costs the hole skipping: every byte then counts as data. (The
        // file is not empty here: offset < len.)
        let map = *self
            .map
            .get_or_insert_with(|| v.mmap(self.pid, self.fd, self.len).ok());
        let Some(map) = map else {
            return Ok(Some(offset));
        };
        let d = v.map_next_data(self.pid, map, offset).map_err(io_error)?;
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
    let r = {
        let shared: SharedVfs = RefCell::new(&mut *fs);
        let mut m = OpenMailbox::open(&shared, pid, mailbox_dir);
        let r = m.fsck();
        m.close();
        r
    };
    let _ = fs.kill(pid);
    r
}

/// One mailbox directory, listed once and its three files opened once, so that the fsck and
/// the oracles read the same handles. A failure is kept, for whoever needs the file.
pub struct OpenMailbox<'a, 'v> {
    pub dir: String,
    /// The directory's entries, or why it could not be listed.
    pub names: Result<Vec<String>, String>,
    /// The UIDs that have a message file among `names` (none if it could not be listed).
    pub message_uids: HashSet<u32>,
    pub index: io::Result<VfsFile<'a, 'v>>,
    pub expunge: io::Result<VfsFile<'a, 'v>>,
    pub cache: io::Result<VfsFile<'a, 'v>>,
}

impl<'a, 'v> OpenMailbox<'a, 'v> {
    /// List `dir` and open cyrus.index, cyrus.expunge and cyrus.cache in it as `pid`.
    pub fn open(fs: &'a SharedVfs<'v>, pid: Pid, dir: &str) -> OpenMailbox<'a, 'v> {
        let names = fs.borrow_mut().list(dir).map_err(|e| e.to_string());
        OpenMailbox::open_listed(fs, pid, dir, names)
    }

    /// Open the three files of `dir` as `pid`, whose entries the caller already listed (as
    /// [`Vfs::list`] gives them, or its error's text).
    pub fn open_listed(
        fs: &'a SharedVfs<'v>,
        pid: Pid,
        dir: &str,
        names: Result<Vec<String>, String>,
    ) -> OpenMailbox<'a, 'v> {
        let open = |name: &str| VfsFile::open(fs, pid, &crate::mailbox::path_in(dir, name));
        let message_uids = names
            .iter()
            .flatten()
            .filter_map(|n| message_uid_from_name(n))
            .collect();
        OpenMailbox {
            dir: dir.to_string(),
            names,
            message_uids,
            index: open(FNAME_INDEX),
            expunge: open(FNAME_EXPUNGE),
            cache: open(FNAME_CACHE),
        }
    }

    /// The file-level fsck, as [`fsck_vfs_mailbox`] reports it.
    pub fn fsck(&mut self) -> Result<InspectReport, InspectError> {
        let not_mailbox = |reason: String| InspectError::NotAMailbox {
            path: self.dir.clone().into(),
            reason,
        };
        if let Err(e) = &self.names {
            return Err(not_mailbox(e.clone()));
        }
        let index = match &mut self.index {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(not_mailbox(format!("no {FNAME_INDEX}")));
            }
            Err(e) => return Err(io_failure(FNAME_INDEX, e)),
        };
        let expunge = optional(FNAME_EXPUNGE, &mut self.expunge)?;
        let cache = optional(FNAME_CACHE, &mut self.cache)?;
        fsck_mailbox(MailboxFiles {
            index,
            expunge,
            cache,
            message_uids: Some(&self.message_uids),
        })
    }

    /// Unmap and close every file opened.
    pub fn close(self) {
        for f in [self.index, self.expunge, self.cache].into_iter().flatten() {
            f.close();
        }
    }
}

/// An optional file for the fsck: absent if it does not exist, an error if it cannot be read.
fn optional<'f>(
    name: &str,
    f: &'f mut io::Result<VfsFile<'_, '_>>,
) -> Result<Option<&'f mut dyn ByteSource>, InspectError> {
    match f {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_failure(name, e)),
    }
}

/// The fsck's error for a file that could not be opened (the error itself stays with the
/// mailbox: an `io::Error` cannot be cloned, so this one has the same kind and text).
fn io_failure(file: &str, e: &io::Error) -> InspectError {
    InspectError::Io {
        file: file.to_string(),
        error: io::Error::new(e.kind(), e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::{SimConfig, SimFs};

    /// A file with data at its start, a hole, and data again at `tail`.
    fn sparse_file(fs: &mut SimFs, path: &str, tail: u64) {
        let pid = fs.spawn("writer");
        let fd = fs.open(pid, path, OpenFlags::RDWR_CREATE).unwrap();
        let head: Vec<u8> = (0..100u8).collect();
        fs.pwrite(pid, fd, &head, 0).unwrap();
        fs.pwrite(pid, fd, &[7u8; 50], tail).unwrap();
        fs.close(pid, fd).unwrap();
    }

    /// Whatever the size (read whole, or one `pread` per read), a `VfsFile` reads the bytes
    /// and finds the data that `pread` and `map_next_data` give.
    #[test]
    fn reads_equal_preads_whether_the_file_is_read_whole_or_not() {
        for tail in [200_000, WHOLE_FILE_MAX + 4096] {
            let mut fs = SimFs::new(SimConfig::default());
            sparse_file(&mut fs, "f", tail);
            let mut truth = fs.snapshot();
            let tpid = truth.spawn("truth");
            let tfd = truth.open(tpid, "f", OpenFlags::RDONLY).unwrap();
            let tmap = truth.mmap(tpid, tfd, tail + 50).unwrap();
            let pid = fs.spawn("reader");
            let shared: SharedVfs = RefCell::new(&mut fs);
            let mut f = VfsFile::open(&shared, pid, "f").unwrap();
            assert_eq!(f.len().unwrap(), tail + 50);
            let ends = [
                0,
                50,
                99,
                100,
                4095,
                4096,
                8192,
                tail - 10,
                tail,
                tail + 49,
                tail + 50,
            ];
            for off in ends {
                let (mut got, mut want) = ([1u8; 64], [1u8; 64]);
                let n = f.read_at(off, &mut got).unwrap();
                let m = if off >= tail + 50 {
                    0
                } else {
                    truth.pread(tpid, tfd, &mut want, off).unwrap()
                };
                assert_eq!((n, &got[..n]), (m, &want[..m]), "tail {tail} offset {off}");
                let d = truth.map_next_data(tpid, tmap, off).unwrap();
                let want_next = (d < tail + 50).then_some(d);
                assert_eq!(
                    f.next_data(off).unwrap(),
                    want_next,
                    "tail {tail} offset {off}"
                );
            }
            // The hole is seen: data resumes in the tail's block, not where it was asked for.
            assert!(f.next_data(8192).unwrap().is_some_and(|d| d > 8192));
        }
    }
}
