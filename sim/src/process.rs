//! Simulated processes and their fd tables.
//!
//! Pids are handed out in spawn order from 1 and never reused, so a trace names the same
//! process the same way on every run. Fd numbers follow POSIX: the lowest free number,
//! starting at 3 (0, 1 and 2 belong to stdio in a real process). A killed process keeps its
//! slot, marked dead, so later calls by it get `ESRCH` rather than reaching another process.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::mapping::Map;
use crate::vfs::{Errno, Fd, MapId, Pid, VfsError, VfsResult};

/// The first fd number handed out.
pub const FIRST_FD: u32 = 3;

/// One open file description (this simulation does not model `dup`, so one per fd).
#[derive(Debug, Clone)]
pub struct OpenFile {
    pub ino: u64,
    pub pos: u64,
    pub read: bool,
    pub write: bool,
    pub append: bool,
}

/// A process's open files, indexed by fd number: the lowest free number is what `open`
/// hands out, so the table stays as dense as the fds in use.
#[derive(Debug, Clone, Default)]
pub struct FdTable {
    /// Slot `fd - FIRST_FD`.
    slots: Vec<Option<OpenFile>>,
}

impl FdTable {
    fn slot(fd: u32) -> Option<usize> {
        fd.checked_sub(FIRST_FD).map(|i| i as usize)
    }

    pub fn get(&self, fd: u32) -> Option<&OpenFile> {
        self.slots.get(Self::slot(fd)?)?.as_ref()
    }

    pub fn get_mut(&mut self, fd: u32) -> Option<&mut OpenFile> {
        self.slots.get_mut(Self::slot(fd)?)?.as_mut()
    }

    pub fn remove(&mut self, fd: u32) -> Option<OpenFile> {
        let taken = self.slots.get_mut(Self::slot(fd)?)?.take();
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        taken
    }

    /// Install `file` at the lowest free fd number.
    fn install(&mut self, file: OpenFile) -> Fd {
        let i = match self.slots.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        self.slots[i] = Some(file);
        Fd(FIRST_FD + i as u32)
    }

    /// Every open file, in fd order, leaving the table empty.
    fn take_all(&mut self) -> Vec<OpenFile> {
        std::mem::take(&mut self.slots)
            .into_iter()
            .flatten()
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Process {
    pub name: Arc<str>,
    pub alive: bool,
    pub fds: FdTable,
    pub maps: BTreeMap<u32, Map>,
    next_map: u32,
}

impl Process {
    /// Install `file` at the lowest free fd number.
    pub fn install(&mut self, file: OpenFile) -> Fd {
        self.fds.install(file)
    }

    /// Install a map under a fresh id (ids are never reused within a process, so a stale
    /// id is `EINVAL`, as `munmap` of an unmapped address would be).
    pub fn add_map(&mut self, map: Map) -> MapId {
        self.next_map += 1;
        self.maps.insert(self.next_map, map);
        MapId(self.next_map)
    }
}

/// Every process ever spawned, indexed by pid.
#[derive(Debug, Clone, Default)]
pub struct ProcessTable {
    procs: Vec<Process>,
}

impl ProcessTable {
    pub fn spawn(&mut self, name: &str) -> Pid {
        self.procs.push(Process {
            name: Arc::from(name),
            alive: true,
            fds: FdTable::default(),
            maps: BTreeMap::new(),
            next_map: 0,
        });
        Pid(self.procs.len() as u32)
    }

    /// The process's name, even after it died; `None` for a pid never spawned.
    pub fn name(&self, pid: Pid) -> Option<&str> {
        self.slot(pid).map(|p| &*p.name)
    }

    /// The same name, shared (for trace entries).
    pub fn name_shared(&self, pid: Pid) -> Option<Arc<str>> {
        self.slot(pid).map(|p| p.name.clone())
    }

    fn slot(&self, pid: Pid) -> Option<&Process> {
        self.procs.get((pid.0 as usize).checked_sub(1)?)
    }

    /// A live process, or `ESRCH`.
    pub fn get(&self, pid: Pid) -> VfsResult<&Process> {
        match self.slot(pid) {
            Some(p) if p.alive => Ok(p),
            Some(p) => Err(srch(pid, Some(&p.name))),
            None => Err(srch(pid, None)),
        }
    }

    pub fn get_mut(&mut self, pid: Pid) -> VfsResult<&mut Process> {
        let i = (pid.0 as usize).checked_sub(1);
        match i.and_then(|i| self.procs.get_mut(i)) {
            Some(p) if p.alive => Ok(p),
            Some(p) => Err(srch(pid, Some(&p.name))),
            None => Err(srch(pid, None)),
        }
    }

    /// The open file behind `fd`, or `EBADF`.
    pub fn file(&self, pid: Pid, fd: Fd) -> VfsResult<&OpenFile> {
        let p = self.get(pid)?;
        p.fds.get(fd.0).ok_or_else(|| badf(pid, &p.name, fd))
    }

    pub fn file_mut(&mut self, pid: Pid, fd: Fd) -> VfsResult<&mut OpenFile> {
        let p = self.get_mut(pid)?;
        match p.fds.get_mut(fd.0) {
            Some(f) => Ok(f),
            None => Err(badf(pid, &p.name, fd)),
        }
    }

    /// Pids of every live process, in order.
    pub fn live_pids(&self) -> Vec<Pid> {
        (0..self.procs.len())
            .filter(|&i| self.procs[i].alive)
            .map(|i| Pid(i as u32 + 1))
            .collect()
    }

    /// Mark dead and hand back what it held (fds and maps), for the caller to release.
    pub fn reap(&mut self, pid: Pid) -> VfsResult<(Vec<OpenFile>, Vec<Map>)> {
        let p = self.get_mut(pid)?;
        p.alive = false;
        let fds = p.fds.take_all();
        let maps = std::mem::take(&mut p.maps).into_values().collect();
        Ok((fds, maps))
    }

    /// Every live process's maps, for memory accounting.
    pub fn all_maps(&self) -> impl Iterator<Item = &Map> {
        self.procs.iter().flat_map(|p| p.maps.values())
    }

    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }
}

/// `"imapd[2]"`, or `"pid 9"` for a pid never spawned.
pub fn who(pid: Pid, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{n}[{}]", pid.0),
        None => format!("pid {}", pid.0),
    }
}

fn srch(pid: Pid, name: Option<&str>) -> VfsError {
    let what = if name.is_some() {
        "is dead"
    } else {
        "was never spawned"
    };
    VfsError::new(Errno::Srch, format!("process {} {what}", who(pid, name)))
}

fn badf(pid: Pid, name: &str, fd: Fd) -> VfsError {
    VfsError::new(
        Errno::BadF,
        format!("fd {} is not open in {}", fd.0, who(pid, Some(name))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(ino: u64) -> OpenFile {
        OpenFile {
            ino,
            pos: 0,
            read: true,
            write: false,
            append: false,
        }
    }

    #[test]
    fn pids_count_from_one_in_spawn_order() {
        let mut t = ProcessTable::default();
        assert_eq!(t.spawn("imapd"), Pid(1));
        assert_eq!(t.spawn("lmtpd"), Pid(2));
        assert_eq!(t.name(Pid(2)), Some("lmtpd"));
        assert_eq!(t.get(Pid(3)).unwrap_err().errno, Errno::Srch);
        assert_eq!(t.get(Pid(0)).unwrap_err().errno, Errno::Srch);
    }

    #[test]
    fn fds_start_at_three_and_reuse_the_lowest_free_number() {
        let mut t = ProcessTable::default();
        let pid = t.spawn("p");
        let p = t.get_mut(pid).unwrap();
        assert_eq!(p.install(file(1)), Fd(3));
        assert_eq!(p.install(file(2)), Fd(4));
        assert_eq!(p.install(file(3)), Fd(5));
        p.fds.remove(4);
        assert_eq!(p.install(file(4)), Fd(4));
        assert_eq!(p.install(file(5)), Fd(6));
    }

    #[test]
    fn a_reaped_process_hands_back_its_files_in_fd_order() {
        let mut t = ProcessTable::default();
        let pid = t.spawn("p");
        let p = t.get_mut(pid).unwrap();
        for ino in 1..=4 {
            p.install(file(ino));
        }
        p.fds.remove(4);
        assert!(p.fds.get(4).is_none() && p.fds.get(2).is_none() && p.fds.get(99).is_none());
        assert_eq!(p.fds.get(6).map(|f| f.ino), Some(4));
        let (fds, _) = t.reap(pid).unwrap();
        assert_eq!(fds.iter().map(|f| f.ino).collect::<Vec<_>>(), vec![1, 3, 4]);
    }

    #[test]
    fn a_reaped_process_is_dead_to_every_later_call() {
        let mut t = ProcessTable::default();
        let pid = t.spawn("p");
        t.get_mut(pid).unwrap().install(file(1));
        let (fds, maps) = t.reap(pid).unwrap();
        assert_eq!((fds.len(), maps.len()), (1, 0));
        assert_eq!(t.file(pid, Fd(3)).unwrap_err().errno, Errno::Srch);
        assert_eq!(t.reap(pid).unwrap_err().errno, Errno::Srch);
        assert!(t.live_pids().is_empty());
    }
}
