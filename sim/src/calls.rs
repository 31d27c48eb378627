//! The `Vfs` calls of `SimFs`: each one traced, offered to the fault plan, then performed.

use crate::faults::FaultAction;
use crate::mapping::Map;
use crate::namespace::{EISDIR, ENOTDIR, check_dir, check_path};
use crate::process::OpenFile;
use crate::simfs::{SimFs, data_hash, stat_of};
use crate::trace::{Arg, EventKind, Outcome, TraceEntry};
use crate::vfs::{
    Errno, Fd, LockKind, MapId, OpenFlags, Pid, Stat, Vfs, VfsError, VfsResult, Whence,
};

fn err<T>(errno: Errno, context: impl Into<String>) -> VfsResult<T> {
    Err(VfsError::new(errno, context))
}

impl SimFs {
    /// Run one traced call: number it, offer it to the fault plan, perform it, trace it.
    fn traced<T>(
        &mut self,
        pid: Option<Pid>,
        call: &'static str,
        args: Vec<Arg>,
        body: impl FnOnce(&mut Self, bool) -> VfsResult<T>,
        outcome: impl FnOnce(&T) -> Outcome,
    ) -> VfsResult<T> {
        let seq = self.trace.count();
        let nth = self.call_counts.entry(call).or_insert(0);
        let n = *nth;
        *nth += 1;
        let fault = match call {
            "spawn" | "kill" => None,
            _ if self.cfg.faults.is_empty() => None,
            _ => self.cfg.faults.decide(seq, call, n),
        };
        let who = pid.map_or_else(|| "-".to_string(), |p| self.who(p));
        let result = match fault {
            Some(FaultAction::Eio) => {
                let d = format!("{call} by {who}: EIO injected by fault plan at call {seq}");
                self.event(seq, pid, EventKind::Io, d.clone());
                err(Errno::Io, d)
            }
            Some(FaultAction::NoSpc) => {
                let d = format!("{call} by {who}: ENOSPC injected by fault plan at call {seq}");
                self.event(seq, pid, EventKind::NoSpc, d.clone());
                err(Errno::NoSpc, d)
            }
            Some(FaultAction::Kill) if pid.is_some_and(|p| self.procs.get(p).is_ok()) => {
                let d = format!("{who} killed by fault plan at call {seq} ({call})");
                if let Some(p) = pid {
                    self.event(seq, pid, EventKind::Killed, d.clone());
                    self.kill_inner(p);
                }
                err(Errno::Srch, d)
            }
            Some(FaultAction::PowerLoss) => {
                let d = format!("power loss by fault plan at call {seq} ({call} by {who})");
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
            .and_then(|p| self.procs.name(p))
            .unwrap_or_default()
            .to_string();
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

    fn open_file(&self, pid: Pid, fd: Fd) -> VfsResult<OpenFile> {
        self.procs.file(pid, fd).cloned()
    }

    fn do_open(&mut self, pid: Pid, path: &str, flags: OpenFlags) -> VfsResult<Fd> {
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
                self.ns.insert(path, ino);
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
        let bs = self.cfg.block_size;
        let sector = self.cfg.sector_size;
        let Some(slot) = self.inodes.get_mut(ino as usize - 1) else {
            return;
        };
        let Some(i) = slot.as_deref_mut() else { return };
        if len == i.live.size() {
            return;
        }
        let old = i.sizes();
        i.live.truncate(&mut self.interner, len);
        i.dur
            .note_truncate(len, bs, &mut self.interner, (&mut self.rng, sector));
        let new = i.sizes();
        if i.alive {
            self.part.change(old, new);
        }
    }

    fn do_close(&mut self, pid: Pid, fd: Fd) -> VfsResult<()> {
        let file = self.open_file(pid, fd)?;
        self.procs.get_mut(pid)?.fds.remove(&fd.0);
        if let Some(i) = self.inode_mut(file.ino) {
            i.fds = i.fds.saturating_sub(1);
            i.locks.release(pid);
        }
        self.release(file.ino);
        Ok(())
    }

    /// Returns the count and the content hash of the bytes read (for the trace).
    fn do_read(
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

    fn do_write(
        &mut self,
        pid: Pid,
        fd: Fd,
        data: &[u8],
        at: Option<u64>,
        short: bool,
    ) -> VfsResult<usize> {
        let file = self.open_file(pid, fd)?;
        let call = if at.is_some() { "pwrite" } else { "write" };
        let ctx = format!(
            "{call} of {} bytes to fd {} by {}",
            data.len(),
            fd.0,
            self.who(pid)
        );
        if !file.write {
            return err(Errno::BadF, format!("{ctx}: not open for writing"));
        }
        let size = self.inode(file.ino).map_or(0, |i| i.live.size());
        let off = match at {
            Some(o) => o,
            None if file.append => size,
            None => file.pos,
        };
        let mut len = data.len() as u64;
        let seq = self.trace.count();
        if short && len > 0 {
            len = self.rng.below(len);
            let d =
                format!("{ctx}: short write of {len} bytes injected by fault plan at call {seq}");
            self.event(seq, Some(pid), EventKind::ShortWrite, d);
        }
        if len == 0 {
            return Ok(0);
        }
        let Some(end) = off.checked_add(len) else {
            return err(
                Errno::FBig,
                format!("{ctx}: offset {off} + length overflows"),
            );
        };
        let max = self.cfg.max_file_size;
        if off >= max {
            return err(
                Errno::FBig,
                format!("{ctx}: offset {off} at or past the largest file size {max}"),
            );
        }
        len = len.min(max - off).min(end - off);
        let bs = self.cfg.block_size;
        let free = self.part.free_blocks(bs);
        let Some(i) = self.inode(file.ino) else {
            return err(Errno::BadF, format!("{ctx}: inode gone"));
        };
        let fit = i.live.fit(off, len, free);
        if fit < len {
            let (cap, used) = (self.part.capacity, self.part.used());
            if fit == 0 || !self.cfg.short_write_on_enospc {
                let d =
                    format!("{ctx} at offset {off}: partition full ({used} of {cap} bytes used)");
                self.event(seq, Some(pid), EventKind::NoSpc, d.clone());
                return err(Errno::NoSpc, d);
            }
            let d = format!(
                "{ctx} at offset {off}: partition full, short write of {fit} bytes ({used} of {cap} used)"
            );
            self.event(seq, Some(pid), EventKind::NoSpc, d);
            len = fit;
        }
        let data = &data[..len as usize];
        let sector = self.cfg.sector_size;
        if let Some(Some(i)) = self.inodes.get_mut(file.ino as usize - 1) {
            let old = i.sizes();
            i.live.write(&mut self.interner, off, data);
            i.dur.note_write(
                &mut i.live,
                &mut self.interner,
                off,
                data,
                (&mut self.rng, sector),
            );
            self.part.change(old, i.sizes());
        }
        if at.is_none() {
            self.procs.file_mut(pid, fd)?.pos = off + len;
        }
        Ok(len as usize)
    }

    fn do_lseek(&mut self, pid: Pid, fd: Fd, offset: i64, whence: Whence) -> VfsResult<u64> {
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

    fn do_fstat(&mut self, pid: Pid, fd: Fd) -> VfsResult<Stat> {
        let file = self.open_file(pid, fd)?;
        self.inode(file.ino)
            .map(|i| stat_of(file.ino, i))
            .ok_or_else(|| VfsError::new(Errno::BadF, "inode gone"))
    }

    fn do_stat(&mut self, path: &str) -> VfsResult<Stat> {
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

    fn do_ftruncate(&mut self, pid: Pid, fd: Fd, len: u64) -> VfsResult<()> {
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

    fn do_fsync(&mut self, pid: Pid, fd: Fd) -> VfsResult<()> {
        let file = self.open_file(pid, fd)?;
        if let Some(Some(i)) = self.inodes.get_mut(file.ino as usize - 1) {
            i.dur.fsync(&mut i.live, &mut self.interner);
        }
        Ok(())
    }

    fn do_fsync_dir(&mut self, pid: Pid, dir: &str) -> VfsResult<()> {
        self.procs.get(pid)?;
        check_dir(dir)?;
        if self.ns.lookup(dir).is_some() {
            return err(
                Errno::Other(ENOTDIR),
                format!("fsync_dir {dir:?}: a file, not a directory"),
            );
        }
        let (lost, gained) = self.ns.sync_dir(dir);
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

    fn do_rename(&mut self, pid: Pid, from: &str, to: &str) -> VfsResult<()> {
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
        self.ns.remove(from);
        if let Some(old) = self.ns.insert(to, ino) {
            if let Some(i) = self.inode_mut(old) {
                i.links = i.links.saturating_sub(1);
            }
            self.release(old);
        }
        Ok(())
    }

    fn do_unlink(&mut self, pid: Pid, path: &str) -> VfsResult<()> {
        self.procs.get(pid)?;
        check_path(path)?;
        let Some(ino) = self.ns.remove(path) else {
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

    fn do_list(&mut self, dir: &str) -> VfsResult<Vec<String>> {
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

    fn do_lock(&mut self, pid: Pid, fd: Fd, kind: LockKind, wait: bool) -> VfsResult<()> {
        let file = self.open_file(pid, fd)?;
        let ctx = format!("lock {kind:?} on fd {} by {}", fd.0, self.who(pid));
        let mode_ok = match kind {
            LockKind::Shared => file.read,
            LockKind::Exclusive => file.write,
        };
        if !mode_ok {
            return err(
                Errno::BadF,
                format!("{ctx}: fd not open for the access this lock needs"),
            );
        }
        let Some(i) = self.inode_mut(file.ino) else {
            return err(Errno::BadF, format!("{ctx}: inode gone"));
        };
        match i.locks.request(pid, kind) {
            Ok(()) => Ok(()),
            Err((holder, held)) => {
                let d = format!("{ctx}: {held:?} lock held by {}", self.who(holder));
                if wait {
                    let seq = self.trace.count();
                    self.event(seq, Some(pid), EventKind::LockWait, d.clone());
                }
                err(Errno::WouldBlock, d)
            }
        }
    }

    fn do_mmap(&mut self, pid: Pid, fd: Fd, len: u64) -> VfsResult<MapId> {
        let file = self.open_file(pid, fd)?;
        let ctx = || format!("mmap of {len} bytes of fd {} by {}", fd.0, self.who(pid));
        if !file.read {
            return err(Errno::Acces, format!("{}: fd not open for reading", ctx()));
        }
        if len == 0 {
            return err(Errno::Inval, format!("{}: zero length", ctx()));
        }
        let (coherence, stale) = (self.cfg.coherence, self.cfg.page_staleness);
        if self.inode(file.ino).is_none() {
            return err(Errno::BadF, format!("{}: inode gone", ctx()));
        }
        let Some(Some(i)) = self.inodes.get_mut(file.ino as usize - 1) else {
            return err(Errno::BadF, "inode gone");
        };
        let map = Map::new(
            file.ino,
            len,
            coherence,
            stale,
            &mut i.live,
            &mut self.interner,
        );
        i.maps += 1;
        Ok(self.procs.get_mut(pid)?.add_map(map))
    }

    fn do_munmap(&mut self, pid: Pid, map: MapId) -> VfsResult<()> {
        let who = self.who(pid);
        let Some(m) = self.procs.get_mut(pid)?.maps.remove(&map.0) else {
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

fn fd_arg(fd: Fd) -> Arg {
    Arg::Fd(fd)
}

impl Vfs for SimFs {
    fn spawn(&mut self, name: &str) -> Pid {
        let args = vec![Arg::Str(name.to_string())];
        let r = self.traced(
            None,
            "spawn",
            args,
            |s, _| Ok(s.procs.spawn(name)),
            |p| Outcome::Pid(*p),
        );
        r.unwrap_or(Pid(0))
    }

    fn kill(&mut self, pid: Pid) -> VfsResult<()> {
        let body = |s: &mut SimFs, _| {
            s.procs.get(pid)?;
            let seq = s.trace.count();
            let d = format!("{} killed", s.who(pid));
            s.event(seq, Some(pid), EventKind::Killed, d);
            s.kill_inner(pid);
            Ok(())
        };
        self.traced(None, "kill", vec![Arg::Pid(pid)], body, |_| Outcome::Unit)
    }

    fn open(&mut self, pid: Pid, path: &str, flags: OpenFlags) -> VfsResult<Fd> {
        let args = vec![Arg::Str(path.to_string()), Arg::Flags(flags)];
        self.traced(
            Some(pid),
            "open",
            args,
            |s, _| s.do_open(pid, path, flags),
            |f| Outcome::Fd(*f),
        )
    }

    fn close(&mut self, pid: Pid, fd: Fd) -> VfsResult<()> {
        self.traced(
            Some(pid),
            "close",
            vec![fd_arg(fd)],
            |s, _| s.do_close(pid, fd),
            |_| Outcome::Unit,
        )
    }

    fn read(&mut self, pid: Pid, fd: Fd, buf: &mut [u8]) -> VfsResult<usize> {
        let args = vec![fd_arg(fd), Arg::Cap(buf.len() as u64)];
        let body = |s: &mut SimFs, _| s.do_read(pid, fd, buf, None);
        self.traced(Some(pid), "read", args, body, read_outcome)
            .map(|(n, _)| n)
    }

    fn write(&mut self, pid: Pid, fd: Fd, data: &[u8]) -> VfsResult<usize> {
        let args = vec![fd_arg(fd), data_arg(data)];
        let body = |s: &mut SimFs, short| s.do_write(pid, fd, data, None, short);
        self.traced(Some(pid), "write", args, body, |n| Outcome::U(*n as u64))
    }

    fn pread(&mut self, pid: Pid, fd: Fd, buf: &mut [u8], offset: u64) -> VfsResult<usize> {
        let args = vec![fd_arg(fd), Arg::Cap(buf.len() as u64), Arg::U(offset)];
        let body = |s: &mut SimFs, _| s.do_read(pid, fd, buf, Some(offset));
        self.traced(Some(pid), "pread", args, body, read_outcome)
            .map(|(n, _)| n)
    }

    fn pwrite(&mut self, pid: Pid, fd: Fd, data: &[u8], offset: u64) -> VfsResult<usize> {
        let args = vec![fd_arg(fd), data_arg(data), Arg::U(offset)];
        let body = |s: &mut SimFs, short| s.do_write(pid, fd, data, Some(offset), short);
        self.traced(Some(pid), "pwrite", args, body, |n| Outcome::U(*n as u64))
    }

    fn lseek(&mut self, pid: Pid, fd: Fd, offset: i64, whence: Whence) -> VfsResult<u64> {
        let args = vec![fd_arg(fd), Arg::I(offset), Arg::Whence(whence)];
        self.traced(
            Some(pid),
            "lseek",
            args,
            |s, _| s.do_lseek(pid, fd, offset, whence),
            |p| Outcome::U(*p),
        )
    }

    fn fstat(&mut self, pid: Pid, fd: Fd) -> VfsResult<Stat> {
        self.traced(
            Some(pid),
            "fstat",
            vec![fd_arg(fd)],
            |s, _| s.do_fstat(pid, fd),
            |st| Outcome::Stat(*st),
        )
    }

    fn stat(&mut self, path: &str) -> VfsResult<Stat> {
        let args = vec![Arg::Str(path.to_string())];
        self.traced(
            None,
            "stat",
            args,
            |s, _| s.do_stat(path),
            |st| Outcome::Stat(*st),
        )
    }

    fn ftruncate(&mut self, pid: Pid, fd: Fd, len: u64) -> VfsResult<()> {
        let args = vec![fd_arg(fd), Arg::U(len)];
        self.traced(
            Some(pid),
            "ftruncate",
            args,
            |s, _| s.do_ftruncate(pid, fd, len),
            |_| Outcome::Unit,
        )
    }

    fn fsync(&mut self, pid: Pid, fd: Fd) -> VfsResult<()> {
        self.traced(
            Some(pid),
            "fsync",
            vec![fd_arg(fd)],
            |s, _| s.do_fsync(pid, fd),
            |_| Outcome::Unit,
        )
    }

    fn fsync_dir(&mut self, pid: Pid, dir: &str) -> VfsResult<()> {
        let args = vec![Arg::Str(dir.to_string())];
        self.traced(
            Some(pid),
            "fsync_dir",
            args,
            |s, _| s.do_fsync_dir(pid, dir),
            |_| Outcome::Unit,
        )
    }

    fn rename(&mut self, pid: Pid, from: &str, to: &str) -> VfsResult<()> {
        let args = vec![Arg::Str(from.to_string()), Arg::Str(to.to_string())];
        self.traced(
            Some(pid),
            "rename",
            args,
            |s, _| s.do_rename(pid, from, to),
            |_| Outcome::Unit,
        )
    }

    fn unlink(&mut self, pid: Pid, path: &str) -> VfsResult<()> {
        let args = vec![Arg::Str(path.to_string())];
        self.traced(
            Some(pid),
            "unlink",
            args,
            |s, _| s.do_unlink(pid, path),
            |_| Outcome::Unit,
        )
    }

    fn list(&mut self, dir: &str) -> VfsResult<Vec<String>> {
        let args = vec![Arg::Str(dir.to_string())];
        let names = |v: &Vec<String>| Outcome::Names {
            count: v.len() as u64,
            hash: data_hash(v.join("\n").as_bytes()),
        };
        self.traced(None, "list", args, |s, _| s.do_list(dir), names)
    }

    fn lock(&mut self, pid: Pid, fd: Fd, kind: LockKind, wait: bool) -> VfsResult<()> {
        let args = vec![fd_arg(fd), Arg::Lock(kind), Arg::Bool(wait)];
        self.traced(
            Some(pid),
            "lock",
            args,
            |s, _| s.do_lock(pid, fd, kind, wait),
            |_| Outcome::Unit,
        )
    }

    fn unlock(&mut self, pid: Pid, fd: Fd) -> VfsResult<()> {
        let body = |s: &mut SimFs, _| {
            let file = s.open_file(pid, fd)?;
            if let Some(i) = s.inode_mut(file.ino) {
                i.locks.release(pid);
            }
            Ok(())
        };
        self.traced(Some(pid), "unlock", vec![fd_arg(fd)], body, |_| {
            Outcome::Unit
        })
    }

    fn mmap(&mut self, pid: Pid, fd: Fd, len: u64) -> VfsResult<MapId> {
        let args = vec![fd_arg(fd), Arg::U(len)];
        self.traced(
            Some(pid),
            "mmap",
            args,
            |s, _| s.do_mmap(pid, fd, len),
            |m| Outcome::Map(*m),
        )
    }

    fn map_read(&mut self, pid: Pid, map: MapId, offset: u64, buf: &mut [u8]) -> VfsResult<()> {
        let page = self.cfg.page_size;
        let p = self.procs.get_mut(pid)?;
        let Some(m) = p.maps.get_mut(&map.0) else {
            return err(
                Errno::Inval,
                format!("map_read of map {} by pid {}: no such map", map.0, pid.0),
            );
        };
        let fault = match self.inodes.get(m.ino as usize - 1) {
            Some(Some(i)) => m.read(&i.live, offset, buf, page),
            _ => Err((Errno::Bus, "the mapped inode is gone".to_string())),
        };
        match fault {
            Ok(()) => Ok(()),
            Err((errno, detail)) => {
                let kind = if errno == Errno::Segv {
                    EventKind::Segv
                } else {
                    EventKind::Bus
                };
                let d = format!("map {} of {}: {detail}", map.0, self.who(pid));
                let seq = self.trace.count();
                self.event(seq, Some(pid), kind, d.clone());
                err(errno, d)
            }
        }
    }

    fn map_len(&self, pid: Pid, map: MapId) -> VfsResult<u64> {
        let p = self.procs.get(pid)?;
        match p.maps.get(&map.0) {
            Some(m) => Ok(m.len),
            None => err(
                Errno::Inval,
                format!("map_len of map {} by pid {}: no such map", map.0, pid.0),
            ),
        }
    }

    fn munmap(&mut self, pid: Pid, map: MapId) -> VfsResult<()> {
        self.traced(
            Some(pid),
            "munmap",
            vec![Arg::Map(map)],
            |s, _| s.do_munmap(pid, map),
            |_| Outcome::Unit,
        )
    }
}

fn data_arg(data: &[u8]) -> Arg {
    Arg::Data {
        len: data.len() as u64,
        hash: data_hash(data),
    }
}

fn read_outcome(&(len, hash): &(usize, u64)) -> Outcome {
    Outcome::Data {
        len: len as u64,
        hash,
    }
}
