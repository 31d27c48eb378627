//! The [`Vfs`] calls of [`RealFs`], one real syscall (or a refusal) each.

use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt};

use memmap2::MmapOptions;

use super::sys::{self, LockOp, err, lock_err};
use super::{FIRST_FD, Map, OpenFile, Proc, RealFs, key_of, stat_of};
use crate::vfs::{
    Errno, Fd, LockKind, MapId, OpenFlags, Pid, Stat, Vfs, VfsError, VfsResult, Whence,
};

/// Refuse offsets the kernel would read as negative.
fn check_offset(offset: u64, what: &str) -> VfsResult<()> {
    if offset > i64::MAX as u64 {
        return Err(VfsError::new(
            Errno::Inval,
            format!("{what}: offset {offset} is negative as off_t"),
        ));
    }
    Ok(())
}

impl Vfs for RealFs {
    fn spawn(&mut self, name: &str) -> Pid {
        let pid = Pid(self.next_pid);
        self.next_pid = self.next_pid.wrapping_add(1);
        self.procs.insert(
            pid,
            Proc {
                name: name.to_string(),
                next_map: 1,
                fds: Default::default(),
                maps: Default::default(),
            },
        );
        pid
    }

    fn kill(&mut self, pid: Pid) -> VfsResult<()> {
        self.proc(pid)?;
        for (key, _) in self.locks.of_process(pid) {
            self.drop_locks_on(pid, key);
        }
        let Some(proc) = self.procs.remove(&pid) else {
            return Ok(());
        };
        for (_, of) in proc.fds {
            self.release(of.key, &of.file);
        }
        for (_, m) in proc.maps {
            let key = m.key;
            let file = m.file;
            drop(m.mmap);
            self.release(key, &file);
        }
        Ok(())
    }

    fn open(&mut self, pid: Pid, path: &str, flags: OpenFlags) -> VfsResult<Fd> {
        self.proc(pid)?;
        let full = self.resolve(path)?;
        let ctx = || format!("open {path:?} by process {}", pid.0);
        if flags.create
            && let Some(parent) = full.parent()
            && !parent.exists()
        {
            std::fs::create_dir_all(parent).map_err(|e| err(e, ctx()))?;
        }
        let file = sys::open(&full, flags).map_err(|e| err(e, ctx()))?;
        let md = file.metadata().map_err(|e| err(e, ctx()))?;
        let key = key_of(&md);
        self.budget.set(key, md.size());
        let proc = self.proc_mut(pid)?;
        let mut n = FIRST_FD;
        while proc.fds.contains_key(&Fd(n)) {
            n += 1;
        }
        proc.fds.insert(Fd(n), OpenFile { file, key, flags });
        Ok(Fd(n))
    }

    fn close(&mut self, pid: Pid, fd: Fd) -> VfsResult<()> {
        let key = self.fd(pid, fd)?.key;
        self.drop_locks_on(pid, key);
        let of = self.proc_mut(pid)?.fds.remove(&fd);
        if let Some(of) = of {
            self.release(key, &of.file);
        }
        Ok(())
    }

    fn read(&mut self, pid: Pid, fd: Fd, buf: &mut [u8]) -> VfsResult<usize> {
        let of = self.fd(pid, fd)?;
        (&of.file)
            .read(buf)
            .map_err(|e| err(e, format!("read fd {}", fd.0)))
    }

    fn write(&mut self, pid: Pid, fd: Fd, data: &[u8]) -> VfsResult<usize> {
        self.check_write(pid, fd, data.len(), None)?;
        let of = self.fd(pid, fd)?;
        let r = (&of.file)
            .write(data)
            .map_err(|e| err(e, format!("write fd {}", fd.0)));
        self.sync_size(pid, fd)?;
        r
    }

    fn pread(&mut self, pid: Pid, fd: Fd, buf: &mut [u8], offset: u64) -> VfsResult<usize> {
        let of = self.fd(pid, fd)?;
        check_offset(offset, "pread")?;
        of.file
            .read_at(buf, offset)
            .map_err(|e| err(e, format!("pread fd {} at {offset}", fd.0)))
    }

    fn pwrite(&mut self, pid: Pid, fd: Fd, data: &[u8], offset: u64) -> VfsResult<usize> {
        self.fd(pid, fd)?;
        check_offset(offset, "pwrite")?;
        self.check_write(pid, fd, data.len(), Some(offset))?;
        let of = self.fd(pid, fd)?;
        let r = of
            .file
            .write_at(data, offset)
            .map_err(|e| err(e, format!("pwrite fd {} at {offset}", fd.0)));
        self.sync_size(pid, fd)?;
        r
    }

    fn lseek(&mut self, pid: Pid, fd: Fd, offset: i64, whence: Whence) -> VfsResult<u64> {
        let of = self.fd(pid, fd)?;
        sys::lseek(&of.file, offset, whence)
            .map_err(|e| err(e, format!("lseek fd {} to {offset} {whence:?}", fd.0)))
    }

    fn fstat(&mut self, pid: Pid, fd: Fd) -> VfsResult<Stat> {
        let of = self.fd(pid, fd)?;
        let md = of
            .file
            .metadata()
            .map_err(|e| err(e, format!("fstat fd {}", fd.0)))?;
        Ok(stat_of(&md))
    }

    fn stat(&mut self, path: &str) -> VfsResult<Stat> {
        let full = self.resolve(path)?;
        let md = std::fs::metadata(&full).map_err(|e| err(e, format!("stat {path:?}")))?;
        Ok(stat_of(&md))
    }

    fn ftruncate(&mut self, pid: Pid, fd: Fd, len: u64) -> VfsResult<()> {
        let of = self.fd(pid, fd)?;
        check_offset(len, "ftruncate")?;
        if sys::writable(of.flags) {
            let key = of.key;
            let size = of.file.metadata().map_err(|e| err(e, "fstat"))?.size();
            self.budget.check_grow(key, size, len)?;
        }
        let of = self.fd(pid, fd)?;
        let r = of
            .file
            .set_len(len)
            .map_err(|e| err(e, format!("ftruncate fd {} to {len}", fd.0)));
        self.sync_size(pid, fd)?;
        r
    }

    fn fsync(&mut self, pid: Pid, fd: Fd) -> VfsResult<()> {
        let of = self.fd(pid, fd)?;
        of.file
            .sync_all()
            .map_err(|e| err(e, format!("fsync fd {}", fd.0)))
    }

    fn fsync_dir(&mut self, pid: Pid, dir: &str) -> VfsResult<()> {
        self.proc(pid)?;
        let full = self.resolve(dir)?;
        let ctx = || format!("fsync directory {dir:?}");
        let d = std::fs::File::open(&full).map_err(|e| err(e, ctx()))?;
        d.sync_all().map_err(|e| err(e, ctx()))
    }

    fn rename(&mut self, pid: Pid, from: &str, to: &str) -> VfsResult<()> {
        self.proc(pid)?;
        let src = self.resolve(from)?;
        let dst = self.resolve(to)?;
        let ctx = || format!("rename {from:?} to {to:?}");
        let src_md = std::fs::symlink_metadata(&src).map_err(|e| err(e, ctx()))?;
        let replaced = std::fs::symlink_metadata(&dst).ok().map(|m| key_of(&m));
        if let Some(parent) = dst.parent()
            && !parent.exists()
        {
            std::fs::create_dir_all(parent).map_err(|e| err(e, ctx()))?;
        }
        std::fs::rename(&src, &dst).map_err(|e| err(e, ctx()))?;
        if let Some(old) = replaced
            && old != key_of(&src_md)
        {
            self.unname(old);
        }
        Ok(())
    }

    fn unlink(&mut self, pid: Pid, path: &str) -> VfsResult<()> {
        self.proc(pid)?;
        let full = self.resolve(path)?;
        let ctx = || format!("unlink {path:?}");
        let md = std::fs::symlink_metadata(&full).map_err(|e| err(e, ctx()))?;
        std::fs::remove_file(&full).map_err(|e| err(e, ctx()))?;
        if md.nlink() <= 1 {
            self.unname(key_of(&md));
        }
        Ok(())
    }

    fn list(&mut self, dir: &str) -> VfsResult<Vec<String>> {
        let full = self.resolve(dir)?;
        let ctx = || format!("list {dir:?}");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&full).map_err(|e| err(e, ctx()))? {
            let entry = entry.map_err(|e| err(e, ctx()))?;
            let mut name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                name.push('/');
            }
            names.push(name);
        }
        names.sort();
        Ok(names)
    }

    fn lock(&mut self, pid: Pid, fd: Fd, kind: LockKind, _wait: bool) -> VfsResult<()> {
        let of = self.fd(pid, fd)?;
        let ctx = format!("lock {kind:?} fd {} by process {}", fd.0, pid.0);
        // POSIX checks the access mode of the fd given, whichever fd ends up holding the lock.
        let allowed = match kind {
            LockKind::Shared => sys::readable(of.flags),
            LockKind::Exclusive => sys::writable(of.flags),
        };
        if !allowed {
            return Err(VfsError::new(
                Errno::BadF,
                format!("{ctx}: fd not open for that access"),
            ));
        }
        let key = of.key;
        let proc = self.proc(pid)?;
        let holder = self.locks.held(pid, key);
        match holder {
            Some((hfd, hkind)) if hfd != fd => {
                // The process already holds a lock on this file through another fd: convert
                // it there (two OFDs of one process would conflict with each other).
                let hfile = &proc.fds[&hfd].file;
                let hflags = proc.fds[&hfd].flags;
                let h_allowed = match kind {
                    LockKind::Shared => sys::readable(hflags),
                    LockKind::Exclusive => sys::writable(hflags),
                };
                if h_allowed {
                    sys::ofd_setlk(hfile, LockOp::Set(kind)).map_err(|e| lock_err(e, &ctx))?;
                    self.locks.set(pid, key, hfd, kind);
                } else {
                    // The holding fd cannot carry this kind: move the lock to `fd`, and put
                    // the old one back if another process is in the way.
                    let _ = sys::ofd_setlk(hfile, LockOp::Unlock);
                    if let Err(e) = sys::ofd_setlk(&proc.fds[&fd].file, LockOp::Set(kind)) {
                        let _ = sys::ofd_setlk(hfile, LockOp::Set(hkind));
                        return Err(lock_err(e, &ctx));
                    }
                    self.locks.set(pid, key, fd, kind);
                }
            }
            _ => {
                sys::ofd_setlk(&proc.fds[&fd].file, LockOp::Set(kind))
                    .map_err(|e| lock_err(e, &ctx))?;
                self.locks.set(pid, key, fd, kind);
            }
        }
        Ok(())
    }

    fn unlock(&mut self, pid: Pid, fd: Fd) -> VfsResult<()> {
        let key = self.fd(pid, fd)?.key;
        self.drop_locks_on(pid, key);
        Ok(())
    }

    fn mmap(&mut self, pid: Pid, fd: Fd, len: u64) -> VfsResult<MapId> {
        let of = self.fd(pid, fd)?;
        let ctx = || format!("mmap {len} bytes of fd {} by process {}", fd.0, pid.0);
        if len == 0 {
            return Err(VfsError::new(
                Errno::Inval,
                format!("{}: zero length", ctx()),
            ));
        }
        let ulen = usize::try_from(len)
            .map_err(|_| VfsError::new(Errno::Inval, format!("{}: too long", ctx())))?;
        let key = of.key;
        let file = of.file.try_clone().map_err(|e| err(e, ctx()))?;
        // SAFETY: a read-only shared map. Another writer may change the bytes under it (that
        // is what this map is for), and `map_read` never touches a page past EOF, so no
        // SIGBUS can reach this process.
        let mmap = unsafe { MmapOptions::new().len(ulen).map(&file) }.map_err(|e| err(e, ctx()))?;
        let proc = self.proc_mut(pid)?;
        let id = MapId(proc.next_map);
        proc.next_map = proc.next_map.wrapping_add(1);
        proc.maps.insert(
            id,
            Map {
                mmap,
                file,
                key,
                len,
            },
        );
        Ok(id)
    }

    fn map_read(&mut self, pid: Pid, map: MapId, offset: u64, buf: &mut [u8]) -> VfsResult<()> {
        let m = self.map(pid, map)?;
        let ctx = || format!("map_read {} bytes at {offset} of map {}", buf.len(), map.0);
        let end = match offset.checked_add(buf.len() as u64) {
            Some(end) if end <= m.len => end,
            _ => {
                return Err(VfsError::new(
                    Errno::Segv,
                    format!("{}: past the map's length {}", ctx(), m.len),
                ));
            }
        };
        if buf.is_empty() {
            return Ok(());
        }
        let size = m.file.metadata().map_err(|e| err(e, ctx()))?.size();
        let last_page_start = (end - 1) / self.page_size * self.page_size;
        if last_page_start >= size {
            return Err(VfsError::new(
                Errno::Bus,
                format!(
                    "{}: page at {last_page_start} is wholly past EOF {size}",
                    ctx()
                ),
            ));
        }
        buf.copy_from_slice(&m.mmap[offset as usize..end as usize]);
        Ok(())
    }

    fn map_len(&self, pid: Pid, map: MapId) -> VfsResult<u64> {
        Ok(self.map(pid, map)?.len)
    }

    fn munmap(&mut self, pid: Pid, map: MapId) -> VfsResult<()> {
        self.map(pid, map)?;
        if let Some(m) = self.proc_mut(pid)?.maps.remove(&map) {
            let key = m.key;
            let file = m.file;
            drop(m.mmap);
            self.release(key, &file);
        }
        Ok(())
    }
}
