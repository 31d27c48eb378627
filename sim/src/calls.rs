//! The bodies of `SimFs`'s `Vfs` calls, and the wrapper that traces each one and offers it to
//! the fault plan first. The trait impl itself, one line per call, is in `vfs_impl.rs`.

use std::sync::Arc;

use crate::faults::FaultAction;
use crate::mapping::{Map, MapTail};
use crate::namespace::{EISDIR, ENOTDIR, check_dir, check_path};
use crate::process::OpenFile;
use crate::simfs::{SimFs, data_hash, stat_of};
use crate::trace::{Args, EventKind, Outcome, TraceEntry};
use crate::vfs::{Errno, Fd, LockKind, MapId, OpenFlags, Pid, Stat, VfsError, VfsResult, Whence};

pub(crate) fn err<T>(errno: Errno, context: impl Into<String>) -> VfsResult<T> {
    Err(VfsError::new(errno, context))
}

impl SimFs {
    /// Run one traced call: number it, offer it to the fault plan, perform it, trace it.
    pub(crate) fn traced<T>(
        &mut self,
        pid: Option<Pid>,
        call: &'static str,
        args: Args,
        body: impl FnOnce(&mut Self, bool) -> VfsResult<T>,
        outcome: impl FnOnce(&T) -> Outcome,
    ) -> VfsResult<T> {
        let seq = self.trace.count();
        let n = match self.call_counts.iter_mut().find(|(c, _)| *c == call) {
            Some((_, count)) => {
                *count += 1;
                *count - 1
            }
            None => {
                self.call_counts.push((call, 1));
                0
            }
        };
        let fault = match call {
            "spawn" | "kill" => None,
            _ if self.cfg.faults.is_empty() => None,
            _ => self.cfg.faults.decide(seq, call, n),
        };
        let who = |s: &SimFs| pid.map_or_else(|| "-".to_string(), |p| s.who(p));
        let result = match fault {
            Some(FaultAction::Eio) => {
                let d = format!(
                    "{call} by {}: EIO injected by fault plan at call {seq}",
                    who(self)
                );
                self.event(seq, pid, EventKind::Io, d.clone());
                err(Errno::Io, d)
            }
            Some(FaultAction::NoSpc) => {
                let d = format!(
                    "{call} by {}: ENOSPC injected by fault plan at call {seq}",
                    who(self)
                );
                self.event(seq, pid, EventKind::NoSpc, d.clone());
                err(Errno::NoSpc, d)
            }
            Some(FaultAction::Kill) if pid.is_some_and(|p| self.procs.get(p).is_ok()) => {
                let d = format!("{} killed by fault plan at call {seq} ({call})", who(self));
                if let Some(p) = pid {
                    self.event(seq, pid, EventKind::Killed, d.clone());
                    self.kill_inner(p);
                }
                err(Errno::Srch, d)
            }
            Some(FaultAction::PowerLoss) => {
                let d = format!(
                    "power loss by fault plan at call {seq} ({call} by {})",
                    who(self)
                );
                self.power_loss_at(seq, &d);
                err(Errno::Srch, d)
            }
            Some(FaultAction::ShortWrite) => body(self, true),
            Some(FaultAction::Kill) | None => body(self, false),
        };
        let outcome = match &result {
            Ok(v) => outcome(v),
            Err(e) => Outcome::Err(e.errno),
        };
        let process = pid
            .and_then(|p| self.procs.name_shared(p))
            .unwrap_or_else(|| Arc::from(""));
        self.trace.record(TraceEntry {
            seq,
            pid,
            process,
            call,
            args,
            outcome,
        });
        self.sample(seq);
        result
    }

    pub(crate) fn open_file(&self, pid: Pid, fd: Fd) -> VfsResult<OpenFile> {
        self.procs.file(pid, fd).cloned()
    }

    pub(crate) fn do_open(&mut self, pid: Pid, path: &str, flags: OpenFlags) -> VfsResult<Fd> {
        self.procs.get(pid)?;
        let ctx = || format!("open {path:?} by {}", self.who(pid));
        check_path(path)
            .map_err(|e| VfsError::new(e.errno, format!("{}: {}", ctx(), e.context)))?;
        if !flags.read && !flags.write {
            return err(
                Errno::Inval,
                format!("{}: neither read nor write access asked", ctx()),
            );
        }
        if flags.truncate && !flags.write {
            return err(
                Errno::Inval,
                format!("{}: O_TRUNC without write access", ctx()),
            );
        }
        let ino = match self.ns.lookup(path) {
            Some(_) if flags.create && flags.exclusive => {
                return err(
                    Errno::Exist,
                    format!("{}: O_EXCL and the file exists", ctx()),
                );
            }
            Some(ino) => ino,
            None if self.ns.is_dir(path) => {
                return err(Errno::Other(EISDIR), format!("{}: is a directory", ctx()));
            }
            None if !flags.create => return err(Errno::NoEnt, format!("{}: no such file", ctx())),
            None => {
                self.ns
                    .check_creatable(path)
                    .map_err(|e| VfsError::new(e.errno, format!("{}: {}", ctx(), e.context)))?;
                let ino = self.new_inode();
                Arc::make_mut(&mut self.ns).insert(path, ino);
                if let Some(i) = self.inode_mut(ino) {
                    i.links += 1;
                }
                ino
            }
        };
        if flags.truncate {
            self.truncate_ino(ino, 0);
        }
        if let Some(i) = self.inode_mut(ino) {
            i.fds += 1;
        }
        let file = OpenFile {
            ino,
            pos: 0,
            read: flags.read,
            write: flags.write,
            append: flags.append,
        };
        Ok(self.procs.get_mut(pid)?.install(file))
    }

    fn truncate_ino(&mut self, ino: u64, len: u64) {
        let Some(slot) = self.inodes.get_mut(ino as usize - 1) else {
            return;
        };
        let Some(i) = slot.as_mut().map(Arc::make_mut) else {
            return;
        };
        if len == i.live.size() {
            return;
        }
        let old = i.sizes();
        i.live.truncate(&mut self.interner, len);
        i.dur.note_truncate(&i.live, len, &mut self.interner);
        let new = i.sizes();
        if i.alive {
            self.part.change(old, new);
        }
    }

    pub(crate) fn do_close(&mut self, pid: Pid, fd: Fd) -> VfsResult<()> {
        let file = self.open_file(pid, fd)?;
        self.procs.get_mut(pid)?.fds.remove(fd.0);
        if let Some(i) = self.inode_mut(file.ino) {
            i.fds = i.fds.saturating_sub(1);
            i.locks.release(pid);
        }
        self.release(file.ino);
        Ok(())
    }

    /// Returns the count and the content hash of the bytes read (for the trace).
    pub(crate) fn do_read(
        &mut self,
        pid: Pid,
        fd: Fd,
        buf: &mut [u8],
        at: Option<u64>,
    ) -> VfsResult<(usize, u64)> {
        let file = self.open_file(pid, fd)?;
        if !file.read {
            return err(
                Errno::BadF,
                format!(
                    "read of fd {} by {}: not open for reading",
                    fd.0,
                    self.who(pid)
                ),
            );
        }
        let off = at.unwrap_or(file.pos);
        let n = self.inode(file.ino).map_or(0, |i| i.live.read_at(off, buf));
        if at.is_none() {
            self.procs.file_mut(pid, fd)?.pos = off + n as u64;
        }
        Ok((n, data_hash(&buf[..n])))
    }

    pub(crate) fn do_write(
        &mut self,
        pid: Pid,
        fd: Fd,
        data: &[u8],
        at: Option<u64>,
        short: bool,
    ) -> VfsResult<usize> {
        let file = self.open_file(pid, fd)?;
        let call = if at.is_some() { "pwrite" } else { "write" };
        let ctx = |s: &SimFs| {
            format!(
                "{call} of {} bytes to fd {} by {}",
                data.len(),
                fd.0,
                s.who(pid)
            )
        };
        if !file.write {
            return err(Errno::BadF, format!("{}: not open for writing", ctx(self)));
        }
        let size = self.inode(file.ino).map_or(0, |i| i.live.size());
        // With O_APPEND, Linux appends even for pwrite (pwrite(2), BUGS); `RealFs` on Linux
        // does the same, so the differential test agrees.
        let off = match at {
            _ if file.append => size,
            Some(o) => o,
            None => file.pos,
        };
        let mut len = data.len() as u64;
        let seq = self.trace.count();
        if short && len > 0 {
            len = self.rng.below(len);
            let d = format!(
                "{}: short write of {len} bytes injected by fault plan at call {seq}",
                ctx(self)
            );
            self.event(seq, Some(pid), EventKind::ShortWrite, d);
        }
        if len == 0 {
            return Ok(0);
        }
        let Some(end) = off.checked_add(len) else {
            return err(
                Errno::FBig,
                format!("{}: offset {off} + length overflows", ctx(self)),
            );
        };
        let max = self.cfg.max_file_size;
        if off >= max {
            return err(
                Errno::FBig,
                format!(
                    "{}: offset {off} at or past the largest file size {max}",
                    ctx(self)
                ),
            );
        }
        len = len.min(max - off).min(end - off);
        let bs = self.cfg.block_size;
        let free = self.part.free_blocks(bs);
        let Some(i) = self.inode(file.ino) else {
            return err(Errno::BadF, format!("{}: inode gone", ctx(self)));
        };
        let fit = i.live.fit(off, len, free);
        if fit < len {
            let (cap, used) = (self.part.capacity, self.part.used());
            if fit == 0 || !self.cfg.short_write_on_enospc {
                let d = format!(
                    "{} at offset {off}: partition full ({used} of {cap} bytes used)",
                    ctx(self)
                );
                self.event(seq, Some(pid), EventKind::NoSpc, d.clone());
                return err(Errno::NoSpc, d);
            }
            let d = format!(
                "{} at offset {off}: partition full, short write of {fit} bytes ({used} of {cap} used)",
                ctx(self)
            );
            self.event(seq, Some(pid), EventKind::NoSpc, d);
            len = fit;
        }
        let data = &data[..len as usize];
        if let Some(Some(i)) = self.inodes.get_mut(file.ino as usize - 1) {
            let i = Arc::make_mut(i);
            let old = i.sizes();
            i.live.write(&mut self.interner, off, data);
            i.dur.note_write(&mut i.live, &mut self.interner, off, data);
            self.part.change(old, i.sizes());
        }
        if at.is_none() {
            self.procs.file_mut(pid, fd)?.pos = off + len;
        }
        Ok(len as usize)
    }

    pub(crate) fn do_lseek(
        &mut self,
        pid: Pid,
        fd: Fd,
        offset: i64,
        whence: Whence,
    ) -> VfsResult<u64> {
        let file = self.open_file(pid, fd)?;
        let base = match whence {
            Whence::Set => 0,
            Whence::Cur => file.pos,
            Whence::End => self.inode(file.ino).map_or(0, |i| i.live.size()),
        };
        let new = i128::from(base) + i128::from(offset);
        let ctx = || {
            format!(
                "lseek({offset}, {whence:?}) on fd {} by {}",
                fd.0,
                self.who(pid)
            )
        };
        if new < 0 {
            return err(Errno::Inval, format!("{}: negative position {new}", ctx()));
        }
        if new > i128::from(self.cfg.max_file_size) {
            return err(
                Errno::FBig,
                format!("{}: position {new} past the largest file size", ctx()),
            );
        }
        self.procs.file_mut(pid, fd)?.pos = new as u64;
        Ok(new as u64)
    }

    pub(crate) fn do_fstat(&mut self, pid: Pid, fd: Fd) -> VfsResult<Stat> {
        let file = self.open_file(pid, fd)?;
        self.inode(file.ino)
            .map(|i| stat_of(file.ino, i))
            .ok_or_else(|| VfsError::new(Errno::BadF, "inode gone"))
    }

    /// A directory (implicit, inode-less here) stats as all zeros.
    pub(crate) fn do_stat(&mut self, path: &str) -> VfsResult<Stat> {
        check_path(path)?;
        match self
            .ns
            .lookup(path)
            .and_then(|ino| self.inode(ino).map(|i| stat_of(ino, i)))
        {
            Some(s) => Ok(s),
            None if self.ns.is_dir(path) => Ok(Stat::default()),
            None => err(Errno::NoEnt, format!("stat {path:?}: no such file")),
        }
    }

    pub(crate) fn do_ftruncate(&mut self, pid: Pid, fd: Fd, len: u64) -> VfsResult<()> {
        let file = self.open_file(pid, fd)?;
        let ctx = || format!("ftruncate of fd {} to {len} by {}", fd.0, self.who(pid));
        if !file.write {
            return err(Errno::Inval, format!("{}: not open for writing", ctx()));
        }
        if len > self.cfg.max_file_size {
            return err(
                Errno::FBig,
                format!("{}: past the largest file size", ctx()),
            );
        }
        self.truncate_ino(file.ino, len);
        Ok(())
    }

    pub(crate) fn do_fsync(&mut self, pid: Pid, fd: Fd) -> VfsResult<()> {
        let file = self.open_file(pid, fd)?;
        if let Some(Some(i)) = self.inodes.get_mut(file.ino as usize - 1) {
            let i = Arc::make_mut(i);
            i.dur.fsync(&mut i.live, &mut self.interner);
        }
        Ok(())
    }

    pub(crate) fn do_fsync_dir(&mut self, pid: Pid, dir: &str) -> VfsResult<()> {
        self.procs.get(pid)?;
        check_dir(dir)?;
        if self.ns.lookup(dir).is_some() {
            return err(
                Errno::Other(ENOTDIR),
                format!("fsync_dir {dir:?}: a file, not a directory"),
            );
        }
        let (lost, gained) = Arc::make_mut(&mut self.ns).sync_dir(dir);
        for ino in gained {
            if let Some(i) = self.inode_mut(ino) {
                i.durable_links += 1;
            }
        }
        for ino in lost {
            if let Some(i) = self.inode_mut(ino) {
                i.durable_links = i.durable_links.saturating_sub(1);
            }
            self.release(ino);
        }
        Ok(())
    }

    pub(crate) fn do_rename(&mut self, pid: Pid, from: &str, to: &str) -> VfsResult<()> {
        self.procs.get(pid)?;
        let ctx = || format!("rename {from:?} to {to:?} by {}", self.who(pid));
        check_path(from)?;
        check_path(to)?;
        let Some(ino) = self.ns.lookup(from) else {
            if self.ns.is_dir(from) {
                return err(
                    Errno::Inval,
                    format!("{}: renaming directories is not modelled", ctx()),
                );
            }
            return err(Errno::NoEnt, format!("{}: no such file", ctx()));
        };
        if from == to {
            return Ok(());
        }
        self.ns
            .check_creatable(to)
            .map_err(|e| VfsError::new(e.errno, format!("{}: {}", ctx(), e.context)))?;
        Arc::make_mut(&mut self.ns).remove(from);
        if let Some(old) = Arc::make_mut(&mut self.ns).insert(to, ino) {
            if let Some(i) = self.inode_mut(old) {
                i.links = i.links.saturating_sub(1);
            }
            self.release(old);
        }
        Ok(())
    }

    pub(crate) fn do_unlink(&mut self, pid: Pid, path: &str) -> VfsResult<()> {
        self.procs.get(pid)?;
        check_path(path)?;
        let Some(ino) = Arc::make_mut(&mut self.ns).remove(path) else {
            if self.ns.is_dir(path) {
                return err(
                    Errno::Other(EISDIR),
                    format!("unlink {path:?}: is a directory"),
                );
            }
            return err(
                Errno::NoEnt,
                format!("unlink {path:?} by {}: no such file", self.who(pid)),
            );
        };
        if let Some(i) = self.inode_mut(ino) {
            i.links = i.links.saturating_sub(1);
        }
        self.release(ino);
        Ok(())
    }

    pub(crate) fn do_list(&mut self, dir: &str) -> VfsResult<Vec<String>> {
        check_dir(dir)?;
        if self.ns.lookup(dir).is_some() {
            return err(
                Errno::Other(ENOTDIR),
                format!("list {dir:?}: a file, not a directory"),
            );
        }
        if !self.ns.is_dir(dir) {
            return err(Errno::NoEnt, format!("list {dir:?}: no such directory"));
        }
        Ok(self.ns.list(dir))
    }

    pub(crate) fn do_lock(
        &mut self,
        pid: Pid,
        fd: Fd,
        kind: LockKind,
        wait: bool,
    ) -> VfsResult<()> {
        let file = self.open_file(pid, fd)?;
        let ctx = |s: &SimFs| format!("lock {kind:?} on fd {} by {}", fd.0, s.who(pid));
        let mode_ok = match kind {
            LockKind::Shared => file.read,
            LockKind::Exclusive => file.write,
        };
        if !mode_ok {
            return err(
                Errno::BadF,
                format!("{}: fd not open for the access this lock needs", ctx(self)),
            );
        }
        let Some(i) = self.inode_mut(file.ino) else {
            return err(Errno::BadF, format!("{}: inode gone", ctx(self)));
        };
        match i.locks.request(pid, kind) {
            Ok(()) => Ok(()),
            Err((holder, held)) => {
                let d = format!("{}: {held:?} lock held by {}", ctx(self), self.who(holder));
                if wait {
                    let seq = self.trace.count();
                    self.event(seq, Some(pid), EventKind::LockWait, d.clone());
                }
                err(Errno::WouldBlock, d)
            }
        }
    }

    pub(crate) fn do_mmap(&mut self, pid: Pid, fd: Fd, len: u64) -> VfsResult<MapId> {
        let file = self.open_file(pid, fd)?;
        let ctx = || format!("mmap of {len} bytes of fd {} by {}", fd.0, self.who(pid));
        // Linux checks the length before the access mode (mm/mmap.c): EINVAL first.
        if len == 0 {
            return err(Errno::Inval, format!("{}: zero length", ctx()));
        }
        if !file.read {
            return err(Errno::Acces, format!("{}: fd not open for reading", ctx()));
        }
        let (coherence, stale) = (self.cfg.coherence, self.cfg.page_staleness);
        if self.inode(file.ino).is_none() {
            return err(Errno::BadF, format!("{}: inode gone", ctx()));
        }
        let Some(Some(i)) = self.inodes.get_mut(file.ino as usize - 1) else {
            return err(Errno::BadF, "inode gone");
        };
        let i = Arc::make_mut(i);
        let mut map = Map::new(
            file.ino,
            len,
            coherence,
            stale,
            &mut i.live,
            &mut self.interner,
        );
        if self.cfg.map_tail == MapTail::Page {
            let page = self.cfg.page_size.max(1);
            map.reach = len.div_ceil(page).saturating_mul(page);
        }
        i.maps += 1;
        Ok(self.procs.get_mut(pid)?.add_map(map))
    }

    pub(crate) fn do_munmap(&mut self, pid: Pid, map: MapId) -> VfsResult<()> {
        let Some(m) = self.procs.get_mut(pid)?.maps.remove(&map.0) else {
            let who = self.who(pid);
            return err(
                Errno::Inval,
                format!("munmap of map {} by {who}: no such map", map.0),
            );
        };
        if let Some(i) = self.inode_mut(m.ino) {
            i.maps = i.maps.saturating_sub(1);
        }
        self.release(m.ino);
        Ok(())
    }
}
