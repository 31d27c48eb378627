//! `impl Vfs for SimFs`: each call names itself and its arguments for the trace, then runs
//! its body (in `calls.rs`) through the traced, fault-checked wrapper. `map_read` and
//! `map_len` are memory accesses, not calls: untraced, uncounted, never faulted.

use crate::calls::err;
use crate::simfs::{SimFs, data_hash};
use crate::trace::{Arg, Args, EventKind, Outcome};
use crate::vfs::{Errno, Fd, LockKind, MapId, OpenFlags, Pid, Stat, Vfs, VfsResult, Whence};

fn fd_arg(fd: Fd) -> Arg {
    Arg::Fd(fd)
}

impl Vfs for SimFs {
    fn spawn(&mut self, name: &str) -> Pid {
        let args = Args::new([Arg::Str(name.to_string())]);
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
        self.traced(None, "kill", Args::new([Arg::Pid(pid)]), body, |_| {
            Outcome::Unit
        })
    }

    fn open(&mut self, pid: Pid, path: &str, flags: OpenFlags) -> VfsResult<Fd> {
        let args = Args::new([Arg::Str(path.to_string()), Arg::Flags(flags)]);
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
            Args::new([fd_arg(fd)]),
            |s, _| s.do_close(pid, fd),
            |_| Outcome::Unit,
        )
    }

    fn read(&mut self, pid: Pid, fd: Fd, buf: &mut [u8]) -> VfsResult<usize> {
        let args = Args::new([fd_arg(fd), Arg::Cap(buf.len() as u64)]);
        let body = |s: &mut SimFs, _| s.do_read(pid, fd, buf, None);
        self.traced(Some(pid), "read", args, body, read_outcome)
            .map(|(n, _)| n)
    }

    fn write(&mut self, pid: Pid, fd: Fd, data: &[u8]) -> VfsResult<usize> {
        let args = Args::new([fd_arg(fd), data_arg(data)]);
        let body = |s: &mut SimFs, short| s.do_write(pid, fd, data, None, short);
        self.traced(Some(pid), "write", args, body, |n| Outcome::U(*n as u64))
    }

    fn pread(&mut self, pid: Pid, fd: Fd, buf: &mut [u8], offset: u64) -> VfsResult<usize> {
        let args = Args::new([fd_arg(fd), Arg::Cap(buf.len() as u64), Arg::U(offset)]);
        let body = |s: &mut SimFs, _| s.do_read(pid, fd, buf, Some(offset));
        self.traced(Some(pid), "pread", args, body, read_outcome)
            .map(|(n, _)| n)
    }

    fn pwrite(&mut self, pid: Pid, fd: Fd, data: &[u8], offset: u64) -> VfsResult<usize> {
        let args = Args::new([fd_arg(fd), data_arg(data), Arg::U(offset)]);
        let body = |s: &mut SimFs, short| s.do_write(pid, fd, data, Some(offset), short);
        self.traced(Some(pid), "pwrite", args, body, |n| Outcome::U(*n as u64))
    }

    fn lseek(&mut self, pid: Pid, fd: Fd, offset: i64, whence: Whence) -> VfsResult<u64> {
        let args = Args::new([fd_arg(fd), Arg::I(offset), Arg::Whence(whence)]);
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
            Args::new([fd_arg(fd)]),
            |s, _| s.do_fstat(pid, fd),
            |st| Outcome::Stat(*st),
        )
    }

    fn stat(&mut self, path: &str) -> VfsResult<Stat> {
        let args = Args::new([Arg::Str(path.to_string())]);
        self.traced(
            None,
            "stat",
            args,
            |s, _| s.do_stat(path),
            |st| Outcome::Stat(*st),
        )
    }

    fn ftruncate(&mut self, pid: Pid, fd: Fd, len: u64) -> VfsResult<()> {
        let args = Args::new([fd_arg(fd), Arg::U(len)]);
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
            Args::new([fd_arg(fd)]),
            |s, _| s.do_fsync(pid, fd),
            |_| Outcome::Unit,
        )
    }

    fn fsync_dir(&mut self, pid: Pid, dir: &str) -> VfsResult<()> {
        let args = Args::new([Arg::Str(dir.to_string())]);
        self.traced(
            Some(pid),
            "fsync_dir",
            args,
            |s, _| s.do_fsync_dir(pid, dir),
            |_| Outcome::Unit,
        )
    }

    fn rename(&mut self, pid: Pid, from: &str, to: &str) -> VfsResult<()> {
        let args = Args::new([Arg::Str(from.to_string()), Arg::Str(to.to_string())]);
        self.traced(
            Some(pid),
            "rename",
            args,
            |s, _| s.do_rename(pid, from, to),
            |_| Outcome::Unit,
        )
    }

    fn unlink(&mut self, pid: Pid, path: &str) -> VfsResult<()> {
        let args = Args::new([Arg::Str(path.to_string())]);
        self.traced(
            Some(pid),
            "unlink",
            args,
            |s, _| s.do_unlink(pid, path),
            |_| Outcome::Unit,
        )
    }

    fn list(&mut self, dir: &str) -> VfsResult<Vec<String>> {
        let args = Args::new([Arg::Str(dir.to_string())]);
        let names = |v: &Vec<String>| Outcome::Names {
            count: v.len() as u64,
            hash: data_hash(v.join("\n").as_bytes()),
        };
        self.traced(None, "list", args, |s, _| s.do_list(dir), names)
    }

    fn lock(&mut self, pid: Pid, fd: Fd, kind: LockKind, wait: bool) -> VfsResult<()> {
        let args = Args::new([fd_arg(fd), Arg::Lock(kind), Arg::Bool(wait)]);
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
        self.traced(Some(pid), "unlock", Args::new([fd_arg(fd)]), body, |_| {
            Outcome::Unit
        })
    }

    fn mmap(&mut self, pid: Pid, fd: Fd, len: u64) -> VfsResult<MapId> {
        let args = Args::new([fd_arg(fd), Arg::U(len)]);
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
            Ok(false) => Ok(()),
            Ok(true) => {
                let d = format!(
                    "map {} of {}: read of {} bytes at offset {offset} past the map's length, inside its last page",
                    map.0,
                    self.who(pid),
                    buf.len()
                );
                let seq = self.trace.count();
                self.event(seq, Some(pid), EventKind::MapTail, d);
                Ok(())
            }
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

    fn map_next_data(&mut self, pid: Pid, map: MapId, offset: u64) -> VfsResult<u64> {
        let p = self.procs.get(pid)?;
        let Some(m) = p.maps.get(&map.0) else {
            return err(
                Errno::Inval,
                format!(
                    "map_next_data of map {} by pid {}: no such map",
                    map.0, pid.0
                ),
            );
        };
        match self.inodes.get(m.ino as usize - 1) {
            Some(Some(i)) => Ok(m.next_data(&i.live, offset)),
            _ => Ok(offset),
        }
    }

    fn munmap(&mut self, pid: Pid, map: MapId) -> VfsResult<()> {
        self.traced(
            Some(pid),
            "munmap",
            Args::new([Arg::Map(map)]),
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
