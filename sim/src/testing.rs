//! A tiny reference model of a POSIX filesystem, and a checker that runs random `Vfs` calls on
//! [`SimFs`] and on the model side by side. Used by the `sim_model` fuzz target
//! (`fuzz/fuzz_targets/sim_model.rs`) and by `sim/tests/state_machine.rs`; public so that
//! `cargo test` can replay the fuzz corpus without libFuzzer.
//!
//! The model knows only what a plain program sees: names, inodes as byte vectors, fds with
//! positions and access modes, and maps of fixed length over a `shared` (Linux) page cache.
//! No faults, no power loss, no capacity: those have their own tests.

use std::collections::BTreeMap;

use crate::{Errno, Fd, MapId, OpenFlags, Pid, SimConfig, SimFs, Vfs, VfsResult, Whence};

/// Paths the calls use: two directories deep, never a directory used as a file.
pub const PATHS: [&str; 4] = ["a", "b", "d/c", "d/e"];
/// Simulated processes alive at any time.
pub const PROCS: usize = 3;
/// Largest offset a positioned call uses: the model holds whole files in memory.
pub const MAX_OFFSET: u64 = 1 << 16;
/// Largest single read or write.
pub const MAX_IO: usize = 3000;
/// Page size of the checked filesystem (SIGBUS is page-granular).
pub const PAGE: u64 = 4096;

/// One call. Small integers are taken modulo what they pick from (a process slot, an fd or
/// map among those the slot holds, a path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelOp {
    /// The process in `slot` is killed and a fresh one takes its place.
    Respawn {
        slot: u8,
    },
    Open {
        slot: u8,
        path: u8,
        write: bool,
        create: bool,
        exclusive: bool,
        truncate: bool,
        append: bool,
    },
    Close {
        slot: u8,
        fd: u8,
    },
    Write {
        slot: u8,
        fd: u8,
        len: u16,
        byte: u8,
    },
    Pwrite {
        slot: u8,
        fd: u8,
        len: u16,
        byte: u8,
        offset: u32,
    },
    Read {
        slot: u8,
        fd: u8,
        len: u16,
    },
    Pread {
        slot: u8,
        fd: u8,
        len: u16,
        offset: u32,
    },
    Seek {
        slot: u8,
        fd: u8,
        offset: i32,
        whence: u8,
    },
    Truncate {
        slot: u8,
        fd: u8,
        len: u32,
    },
    Fstat {
        slot: u8,
        fd: u8,
    },
    Stat {
        path: u8,
    },
    Fsync {
        slot: u8,
        fd: u8,
    },
    Rename {
        slot: u8,
        from: u8,
        to: u8,
    },
    Unlink {
        slot: u8,
        path: u8,
    },
    Mmap {
        slot: u8,
        fd: u8,
        len: u32,
    },
    MapRead {
        slot: u8,
        map: u8,
        offset: u32,
        len: u16,
    },
    Munmap {
        slot: u8,
        map: u8,
    },
}

/// Reads a byte at a time, zero once the input is exhausted.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
}

/// Decodes calls from any bytes: an opcode byte, then its arguments. At most 256 calls.
pub fn ops_from_bytes(data: &[u8]) -> Vec<ModelOp> {
    let mut b = Bytes(data);
    let mut ops = Vec::new();
    while !b.0.is_empty() && ops.len() < 256 {
        let code = b.u8();
        let slot = b.u8();
        let op = match code % 17 {
            0 => ModelOp::Respawn { slot },
            1 => {
                let (path, f) = (b.u8(), b.u8());
                ModelOp::Open {
                    slot,
                    path,
                    write: f & 1 != 0,
                    create: f & 2 != 0,
                    exclusive: f & 4 != 0,
                    truncate: f & 8 != 0,
                    append: f & 16 != 0,
                }
            }
            2 => ModelOp::Close { slot, fd: b.u8() },
            3 => ModelOp::Write {
                slot,
                fd: b.u8(),
                len: b.u16(),
                byte: b.u8(),
            },
            4 => ModelOp::Pwrite {
                slot,
                fd: b.u8(),
                len: b.u16(),
                byte: b.u8(),
                offset: b.u32(),
            },
            5 => ModelOp::Read {
                slot,
                fd: b.u8(),
                len: b.u16(),
            },
            6 => ModelOp::Pread {
                slot,
                fd: b.u8(),
                len: b.u16(),
                offset: b.u32(),
            },
            7 => ModelOp::Seek {
                slot,
                fd: b.u8(),
                offset: b.u32() as i32,
                whence: b.u8(),
            },
            8 => ModelOp::Truncate {
                slot,
                fd: b.u8(),
                len: b.u32(),
            },
            9 => ModelOp::Fstat { slot, fd: b.u8() },
            10 => ModelOp::Stat { path: slot },
            11 => ModelOp::Fsync { slot, fd: b.u8() },
            12 => ModelOp::Rename {
                slot,
                from: b.u8(),
                to: b.u8(),
            },
            13 => ModelOp::Unlink { slot, path: b.u8() },
            14 => ModelOp::Mmap {
                slot,
                fd: b.u8(),
                len: b.u32(),
            },
            15 => ModelOp::MapRead {
                slot,
                map: b.u8(),
                offset: b.u32(),
                len: b.u16(),
            },
            _ => ModelOp::Munmap { slot, map: b.u8() },
        };
        ops.push(op);
    }
    ops
}

#[derive(Debug, Clone)]
struct ModelFd {
    ino: usize,
    pos: u64,
    write: bool,
    append: bool,
}

#[derive(Debug, Clone, Default)]
struct Proc {
    fds: BTreeMap<Fd, ModelFd>,
    maps: BTreeMap<MapId, (usize, u64)>,
}

/// The reference model: names to inodes, inodes as plain byte vectors.
#[derive(Debug, Clone, Default)]
pub struct Model {
    names: BTreeMap<&'static str, usize>,
    inodes: Vec<Vec<u8>>,
    procs: Vec<Proc>,
}

/// The filesystem under test and the model, with a pid per slot.
pub struct Checker {
    pub fs: SimFs,
    model: Model,
    pids: Vec<Pid>,
    step: usize,
}

/// What the model expects of a call: a value, or an errno.
type Expect<T> = Result<T, Errno>;

fn same<T: PartialEq + std::fmt::Debug>(
    what: &str,
    got: VfsResult<T>,
    want: Expect<T>,
) -> Result<(), String> {
    match (&got, &want) {
        (Ok(g), Ok(w)) if g == w => Ok(()),
        (Err(e), Err(w)) if e.errno == *w => Ok(()),
        _ => Err(format!(
            "{what}: SimFs gave {got:?}, the model expects {want:?}"
        )),
    }
}

impl Default for Checker {
    fn default() -> Self {
        Checker::new()
    }
}

impl Checker {
    /// An independent copy (the filesystem is cloned, blocks shared), for looking without
    /// disturbing the original.
    pub fn clone_of(c: &Checker) -> Checker {
        Checker {
            fs: c.fs.clone(),
            model: c.model.clone(),
            pids: c.pids.clone(),
            step: c.step,
        }
    }

    pub fn new() -> Checker {
        let mut fs = SimFs::new(SimConfig {
            page_size: PAGE,
            ..SimConfig::default()
        });
        let pids = (0..PROCS).map(|i| fs.spawn(&format!("p{i}"))).collect();
        Checker {
            fs,
            model: Model {
                procs: vec![Proc::default(); PROCS],
                ..Model::default()
            },
            pids,
            step: 0,
        }
    }

    fn slot(&self, s: u8) -> usize {
        usize::from(s) % PROCS
    }

    /// The fd a small integer picks among the slot's open fds, or one never opened.
    fn fd(&self, slot: usize, n: u8) -> Fd {
        let fds = &self.model.procs[slot].fds;
        if fds.is_empty() || n == 255 {
            return Fd(999);
        }
        *fds.keys()
            .nth(usize::from(n) % fds.len())
            .expect("index in range")
    }

    fn map(&self, slot: usize, n: u8) -> MapId {
        let maps = &self.model.procs[slot].maps;
        if maps.is_empty() || n == 255 {
            return MapId(999);
        }
        *maps
            .keys()
            .nth(usize::from(n) % maps.len())
            .expect("index in range")
    }

    /// Applies one call to both; `Err` describes the first disagreement.
    pub fn apply(&mut self, op: &ModelOp) -> Result<(), String> {
        self.step += 1;
        let step = self.step;
        self.apply_inner(op)
            .map_err(|e| format!("step {step} {op:?}: {e}"))?;
        self.fs
            .check_invariants()
            .map_err(|e| format!("step {step} {op:?}: invariants: {e}"))
    }

    fn apply_inner(&mut self, op: &ModelOp) -> Result<(), String> {
        match *op {
            ModelOp::Respawn { slot } => {
                let s = self.slot(slot);
                same("kill", self.fs.kill(self.pids[s]), Ok(()))?;
                self.model.procs[s] = Proc::default();
                self.pids[s] = self.fs.spawn("p");
                Ok(())
            }
            ModelOp::Open {
                slot,
                path,
                write,
                create,
                exclusive,
                truncate,
                append,
            } => {
                let s = self.slot(slot);
                let path = PATHS[usize::from(path) % PATHS.len()];
                let flags = OpenFlags {
                    read: true,
                    write,
                    create,
                    exclusive,
                    truncate,
                    append,
                };
                let got = self.fs.open(self.pids[s], path, flags);
                let m = &mut self.model;
                let want = match m.names.get(path) {
                    _ if truncate && !write => Err(Errno::Inval),
                    Some(_) if create && exclusive => Err(Errno::Exist),
                    None if !create => Err(Errno::NoEnt),
                    _ => Ok(()),
                };
                match (got, want) {
                    (Ok(fd), Ok(())) => {
                        if m.procs[s].fds.contains_key(&fd) {
                            return Err(format!("open returned {fd:?}, already open"));
                        }
                        let ino = *m.names.entry(path).or_insert_with(|| {
                            m.inodes.push(Vec::new());
                            m.inodes.len() - 1
                        });
                        if truncate && write {
                            m.inodes[ino].clear();
                        }
                        m.procs[s].fds.insert(
                            fd,
                            ModelFd {
                                ino,
                                pos: 0,
                                write,
                                append,
                            },
                        );
                        Ok(())
                    }
                    (got, want) => same("open", got.map(|_| ()), want),
                }
            }
            ModelOp::Close { slot, fd } => {
                let s = self.slot(slot);
                let fd = self.fd(s, fd);
                let got = self.fs.close(self.pids[s], fd);
                let want = match self.model.procs[s].fds.remove(&fd) {
                    Some(_) => Ok(()),
                    None => Err(Errno::BadF),
                };
                same("close", got, want)
            }
            ModelOp::Write {
                slot,
                fd,
                len,
                byte,
            } => self.write(slot, fd, len, byte, None),
            ModelOp::Pwrite {
                slot,
                fd,
                len,
                byte,
                offset,
            } => {
                let offset = u64::from(offset) % MAX_OFFSET;
                self.write(slot, fd, len, byte, Some(offset))
            }
            ModelOp::Read { slot, fd, len } => self.read(slot, fd, len, None),
            ModelOp::Pread {
                slot,
                fd,
                len,
                offset,
            } => self.read(slot, fd, len, Some(u64::from(offset) % (MAX_OFFSET + 100))),
            ModelOp::Seek {
                slot,
                fd,
                offset,
                whence,
            } => {
                let s = self.slot(slot);
                let fd = self.fd(s, fd);
                let offset = i64::from(offset) % (MAX_OFFSET as i64);
                let whence = [Whence::Set, Whence::Cur, Whence::End][usize::from(whence) % 3];
                let got = self.fs.lseek(self.pids[s], fd, offset, whence);
                let m = &mut self.model;
                let want = match m.procs[s].fds.get_mut(&fd) {
                    None => Err(Errno::BadF),
                    Some(f) => {
                        let base = match whence {
                            Whence::Set => 0,
                            Whence::Cur => f.pos as i64,
                            Whence::End => m.inodes[f.ino].len() as i64,
                        };
                        let new = base + offset;
                        if new < 0 {
                            Err(Errno::Inval)
                        } else {
                            f.pos = new as u64;
                            Ok(new as u64)
                        }
                    }
                };
                same("lseek", got, want)
            }
            ModelOp::Truncate { slot, fd, len } => {
                let s = self.slot(slot);
                let fd = self.fd(s, fd);
                let len = u64::from(len) % MAX_OFFSET;
                let got = self.fs.ftruncate(self.pids[s], fd, len);
                let m = &mut self.model;
                let want = match m.procs[s].fds.get(&fd) {
                    None => Err(Errno::BadF),
                    Some(f) if !f.write => Err(Errno::Inval),
                    Some(f) => {
                        m.inodes[f.ino].resize(len as usize, 0);
                        Ok(())
                    }
                };
                same("ftruncate", got, want)
            }
            ModelOp::Fstat { slot, fd } => {
                let s = self.slot(slot);
                let fd = self.fd(s, fd);
                let got = self.fs.fstat(self.pids[s], fd);
                let want = match self.model.procs[s].fds.get(&fd) {
                    None => Err(Errno::BadF),
                    Some(f) => Ok(self.model.inodes[f.ino].len() as u64),
                };
                if let Ok(st) = &got
                    && st.allocated > st.size.div_ceil(PAGE) * PAGE
                {
                    return Err(format!("fstat: {st:?} allocates more than its pages"));
                }
                same("fstat size", got.map(|st| st.size), want)
            }
            ModelOp::Stat { path } => {
                let path = PATHS[usize::from(path) % PATHS.len()];
                let got = self.fs.stat(path).map(|st| st.size);
                let want = match self.model.names.get(path) {
                    None => Err(Errno::NoEnt),
                    Some(&ino) => Ok(self.model.inodes[ino].len() as u64),
                };
                same("stat size", got, want)
            }
            ModelOp::Fsync { slot, fd } => {
                let s = self.slot(slot);
                let fd = self.fd(s, fd);
                let got = self.fs.fsync(self.pids[s], fd);
                let want = if self.model.procs[s].fds.contains_key(&fd) {
                    Ok(())
                } else {
                    Err(Errno::BadF)
                };
                same("fsync", got, want)
            }
            ModelOp::Rename { slot, from, to } => {
                let s = self.slot(slot);
                let from = PATHS[usize::from(from) % PATHS.len()];
                let to = PATHS[usize::from(to) % PATHS.len()];
                let got = self.fs.rename(self.pids[s], from, to);
                let m = &mut self.model;
                let want = match m.names.get(from) {
                    None => Err(Errno::NoEnt),
                    Some(&ino) => {
                        if from != to {
                            m.names.remove(from);
                            m.names.insert(to, ino);
                        }
                        Ok(())
                    }
                };
                same("rename", got, want)
            }
            ModelOp::Unlink { slot, path } => {
                let s = self.slot(slot);
                let path = PATHS[usize::from(path) % PATHS.len()];
                let got = self.fs.unlink(self.pids[s], path);
                let want = match self.model.names.remove(path) {
                    None => Err(Errno::NoEnt),
                    Some(_) => Ok(()),
                };
                same("unlink", got, want)
            }
            ModelOp::Mmap { slot, fd, len } => {
                let s = self.slot(slot);
                let fd = self.fd(s, fd);
                let len = u64::from(len) % (MAX_OFFSET + PAGE);
                let got = self.fs.mmap(self.pids[s], fd, len);
                let m = &mut self.model;
                match (got, m.procs[s].fds.get(&fd)) {
                    (Ok(id), Some(f)) if len > 0 => {
                        let ino = f.ino;
                        if m.procs[s].maps.insert(id, (ino, len)).is_some() {
                            return Err(format!("mmap returned {id:?}, already mapped"));
                        }
                        Ok(())
                    }
                    (got, f) => {
                        let want = match f {
                            None => Err(Errno::BadF),
                            Some(_) if len == 0 => Err(Errno::Inval),
                            Some(_) => Ok(()),
                        };
                        same("mmap", got.map(|_| ()), want)
                    }
                }
            }
            ModelOp::MapRead {
                slot,
                map,
                offset,
                len,
            } => {
                let s = self.slot(slot);
                let id = self.map(s, map);
                let offset = u64::from(offset) % (MAX_OFFSET + 2 * PAGE);
                let mut buf = vec![0u8; usize::from(len) % MAX_IO];
                let got = self.fs.map_read(self.pids[s], id, offset, &mut buf);
                let want = match self.model.procs[s].maps.get(&id) {
                    None => Err(Errno::Inval),
                    Some(&(ino, maplen)) => {
                        let end = offset + buf.len() as u64;
                        let data = &self.model.inodes[ino];
                        if offset >= maplen || end > maplen {
                            Err(Errno::Segv)
                        } else if !buf.is_empty() && (end - 1) / PAGE * PAGE >= data.len() as u64 {
                            Err(Errno::Bus)
                        } else {
                            let mut want = vec![0u8; buf.len()];
                            copy_at(data, offset, &mut want);
                            if got.is_ok() && buf != want {
                                return Err(format!(
                                    "map_read at {offset}: bytes differ from the model's"
                                ));
                            }
                            Ok(())
                        }
                    }
                };
                same("map_read", got, want)
            }
            ModelOp::Munmap { slot, map } => {
                let s = self.slot(slot);
                let id = self.map(s, map);
                let got = self.fs.munmap(self.pids[s], id);
                let want = match self.model.procs[s].maps.remove(&id) {
                    None => Err(Errno::Inval),
                    Some(_) => Ok(()),
                };
                same("munmap", got, want)
            }
        }
    }

    fn write(
        &mut self,
        slot: u8,
        fd: u8,
        len: u16,
        byte: u8,
        at: Option<u64>,
    ) -> Result<(), String> {
        let s = self.slot(slot);
        let fd = self.fd(s, fd);
        let data = vec![byte; usize::from(len) % MAX_IO];
        let got = match at {
            Some(off) => self.fs.pwrite(self.pids[s], fd, &data, off),
            None => self.fs.write(self.pids[s], fd, &data),
        };
        let m = &mut self.model;
        let want = match m.procs[s].fds.get_mut(&fd) {
            None => Err(Errno::BadF),
            Some(f) if !f.write => Err(Errno::BadF),
            // A zero-length write changes nothing: not the size, not the position (Linux
            // moves f_pos only when something was written).
            Some(_) if data.is_empty() => Ok(0),
            Some(f) => {
                let file = &mut m.inodes[f.ino];
                // O_APPEND: every write() goes to the end (Linux: pwrite too).
                let off = if f.append {
                    file.len() as u64
                } else {
                    at.unwrap_or(f.pos)
                };
                let end = off as usize + data.len();
                if file.len() < end {
                    file.resize(end, 0);
                }
                file[off as usize..end].copy_from_slice(&data);
                if at.is_none() {
                    f.pos = end as u64;
                }
                Ok(data.len())
            }
        };
        same("write", got, want)
    }

    fn read(&mut self, slot: u8, fd: u8, len: u16, at: Option<u64>) -> Result<(), String> {
        let s = self.slot(slot);
        let fd = self.fd(s, fd);
        let mut buf = vec![0u8; usize::from(len) % MAX_IO];
        let got = match at {
            Some(off) => self.fs.pread(self.pids[s], fd, &mut buf, off),
            None => self.fs.read(self.pids[s], fd, &mut buf),
        };
        let m = &mut self.model;
        let want = match m.procs[s].fds.get_mut(&fd) {
            None => Err(Errno::BadF),
            Some(f) => {
                let data = &m.inodes[f.ino];
                let off = at.unwrap_or(f.pos);
                let mut want = vec![0u8; buf.len()];
                let n = copy_at(data, off, &mut want);
                if let Ok(g) = got
                    && g == n
                    && buf[..n] != want[..n]
                {
                    return Err(format!("read at {off}: bytes differ from the model's"));
                }
                if at.is_none() {
                    f.pos = off + n as u64;
                }
                Ok(n)
            }
        };
        same("read", got, want)
    }

    /// Every path's size and bytes, read by a fresh process, match the model.
    pub fn check_contents(&mut self) -> Result<(), String> {
        let pid = self.fs.spawn("checker");
        for path in PATHS {
            let want = self
                .model
                .names
                .get(path)
                .map(|&i| self.model.inodes[i].clone());
            let got = match self.fs.open(pid, path, OpenFlags::RDONLY) {
                Ok(fd) => {
                    let size = self.fs.fstat(pid, fd).map_err(|e| e.to_string())?.size;
                    let mut buf = vec![0u8; size as usize];
                    let n = self
                        .fs
                        .pread(pid, fd, &mut buf, 0)
                        .map_err(|e| e.to_string())?;
                    buf.truncate(n);
                    self.fs.close(pid, fd).map_err(|e| e.to_string())?;
                    Some(buf)
                }
                Err(e) if e.errno == Errno::NoEnt => None,
                Err(e) => return Err(format!("{path}: {e}")),
            };
            if got != want {
                return Err(format!(
                    "{path}: SimFs holds {:?} bytes, the model {:?}",
                    got.map(|g| g.len()),
                    want.map(|w| w.len())
                ));
            }
        }
        self.fs.kill(pid).map_err(|e| e.to_string())
    }
}

/// Copies `data[offset..]` into `buf` as far as it goes; returns the bytes copied.
fn copy_at(data: &[u8], offset: u64, buf: &mut [u8]) -> usize {
    let Some(rest) = usize::try_from(offset).ok().and_then(|o| data.get(o..)) else {
        return 0;
    };
    let n = rest.len().min(buf.len());
    buf[..n].copy_from_slice(&rest[..n]);
    n
}

/// Runs `ops` on a fresh [`SimFs`] and the model; `Err` names the first disagreement.
pub fn check_ops(ops: &[ModelOp]) -> Result<(), String> {
    let mut c = Checker::new();
    for op in ops {
        c.apply(op)?;
    }
    c.check_contents()
}

/// The `sim_model` fuzz target: any bytes as calls; panics on a disagreement.
pub fn sim_model(data: &[u8]) {
    let ops = ops_from_bytes(data);
    if let Err(e) = check_ops(&ops) {
        panic!("SimFs and the model disagree: {e}\nops: {ops:#?}");
    }
}

/// The committed inputs of fuzz target `target`, sorted by path: the seed corpus
/// (`fuzz/seeds/<target>/`), every past crash (`fuzz/regressions/<target>/`), and the files in
/// `$FUZZ_REPLAY_DIR` if set (an absolute path: a live campaign's corpus, say). `manifest_dir`
/// is the calling crate's `CARGO_MANIFEST_DIR` (integration tests run in the package
/// directory, so paths are resolved against it). Every crate's `fuzz_replay` test reads its
/// inputs here.
pub fn fuzz_inputs(manifest_dir: &str, target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    use std::path::{Path, PathBuf};
    let fuzz = Path::new(manifest_dir).join("../fuzz");
    let mut dirs = vec![
        fuzz.join("seeds").join(target),
        fuzz.join("regressions").join(target),
    ];
    if let Some(d) = std::env::var_os("FUZZ_REPLAY_DIR") {
        dirs.push(PathBuf::from(d));
    }
    let mut out = Vec::new();
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for p in entries.flatten().map(|e| e.path()).filter(|p| p.is_file()) {
            let bytes = std::fs::read(&p).expect("readable fuzz input");
            out.push((p, bytes));
        }
    }
    out.sort();
    out
}
