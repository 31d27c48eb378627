//! `SimFs`: the deterministic simulated filesystem, its configuration and its inspection API.
//!
//! The `Vfs` calls themselves are in `calls.rs`; this file holds the state, the inode
//! lifecycle (an inode lives while a name, an fd, a map or a durable name holds it; its
//! blocks are freed when the last *live* holder goes), power loss, and what the rest of the
//! project reads back: trace digest, events, size series, peaks, files.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::blocks::{Interner, SparseFile};
use crate::durability::Durability;
use crate::faults::FaultPlan;
use crate::hash::{SimRng, content_hash};
use crate::locks::Locks;
use crate::mapping::{Coherence, MapTail};
use crate::namespace::Namespace;
use crate::partition::{DEFAULT_CAPACITY, DEFAULT_MAX_FILE_SIZE, Partition, Sizes};
use crate::process::{ProcessTable, who};
use crate::series::{Peaks, Sample, Series};
use crate::trace::{
    DEFAULT_TRACE_KEEP, EventKind, EventLog, SimEvent, Trace, TraceEntry, TraceSink,
};
use crate::vfs::{Pid, Stat};

/// Everything that makes one simulated filesystem behave as it does. Two `SimFs` with equal
/// configs, given the same calls, give the same results and the same trace digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SimConfig {
    /// Seed for every random decision (torn writes, short-write lengths). Default 0.
    pub seed: u64,
    /// How maps see later writes (Linux `Shared`, HP-UX `StupidShared`, Cyrus `NoMmap`).
    /// Default `Shared`.
    pub coherence: Coherence,
    /// Memory page size: the granularity of SIGBUS and of page staleness. Default 4096
    /// (x86-64, most of aarch64).
    pub page_size: u64,
    /// Filesystem block size: the granularity of allocation. Default 4096 (ext4, XFS).
    pub block_size: u64,
    /// Disk sector size: the granularity at which a write can tear at power loss. Default
    /// 512 (the atomic write unit of classic disks).
    pub sector_size: u64,
    /// Partition capacity in bytes. Default 1 TiB.
    pub capacity: u64,
    /// Largest offset a file may reach; past it `EFBIG`. Default 16 TiB (ext4, 4 KiB blocks).
    pub max_file_size: u64,
    /// A write that needs more blocks than are free writes the whole blocks that fit and
    /// returns a short count (ext4 does). If false it fails with `ENOSPC` and writes
    /// nothing. Default true.
    pub short_write_on_enospc: bool,
    /// A page seen through a map keeps the contents it had when first touched, whatever is
    /// written later (a stale-TLB / non-coherent cache model). Default false.
    pub page_staleness: bool,
    /// What a read past a map's length inside its last page does: a fault (default, as
    /// DESIGN.md models it) or, as a real kernel, the file's bytes there.
    pub map_tail: MapTail,
    /// Faults to inject. Default: none.
    pub faults: FaultPlan,
    /// Trace entries kept in memory (the newest); the digest always covers every call.
    /// Default 10 000 (about 2 MiB).
    pub trace_keep: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            coherence: Coherence::Shared,
            page_size: 4096,
            block_size: 4096,
            sector_size: 512,
            capacity: DEFAULT_CAPACITY,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            short_write_on_enospc: true,
            page_staleness: false,
            map_tail: MapTail::Fault,
            faults: FaultPlan::default(),
            trace_keep: DEFAULT_TRACE_KEEP,
        }
    }
}

/// One inode: the page cache, the durable image, and who holds it.
#[derive(Debug, Clone)]
pub(crate) struct Inode {
    pub live: SparseFile,
    pub dur: Durability,
    pub links: u32,
    pub fds: u32,
    pub maps: u32,
    pub durable_links: u32,
    pub locks: Locks,
    /// Whether a live holder remains (and its blocks count against the partition).
    pub alive: bool,
}

impl Inode {
    pub fn sizes(&self) -> Sizes {
        Sizes {
            apparent: self.live.size(),
            allocated: self.live.allocated(),
        }
    }

    fn live_holders(&self) -> u32 {
        self.links + self.fds + self.maps
    }
}

/// The simulated filesystem. Cheap to clone (blocks are shared), which makes crash sweeps
/// simple: run to a point, clone, inject. A clone has no trace sink.
#[derive(Clone)]
pub struct SimFs {
    pub(crate) cfg: SimConfig,
    /// Slot `ino - 1`; `None` once an inode is gone for good. Shared with copies (a
    /// snapshot, a crash sweep's clone) until one of them changes the inode
    /// (`Arc::make_mut`): a copy costs a reference per inode, not the inode.
    pub(crate) inodes: Vec<Option<Arc<Inode>>>,
    /// Shared with copies until one of them renames, creates or unlinks.
    pub(crate) ns: Arc<Namespace>,
    pub(crate) procs: ProcessTable,
    pub(crate) interner: Interner,
    pub(crate) part: Partition,
    pub(crate) rng: SimRng,
    pub(crate) trace: Trace,
    pub(crate) events: EventLog,
    pub(crate) series: Series,
    /// Calls made so far per call name (for `Trigger::Nth`); a handful of names.
    pub(crate) call_counts: Vec<(&'static str, u64)>,
}

impl fmt::Debug for SimFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimFs")
            .field("cfg", &self.cfg)
            .field("calls", &self.trace.count())
            .field("digest", &format_args!("{:016x}", self.trace.digest()))
            .field("processes", &self.procs.len())
            .field("partition_used", &self.part.used())
            .finish()
    }
}

impl Default for SimFs {
    fn default() -> Self {
        SimFs::new(SimConfig::default())
    }
}

impl SimFs {
    pub fn new(cfg: SimConfig) -> Self {
        let mut cfg = cfg;
        cfg.page_size = cfg.page_size.max(1);
        cfg.block_size = cfg.block_size.max(1);
        cfg.sector_size = cfg.sector_size.max(1);
        SimFs {
            rng: SimRng::new(cfg.seed),
            part: Partition::new(cfg.capacity),
            trace: Trace::new(cfg.trace_keep),
            cfg,
            inodes: Vec::new(),
            ns: Arc::default(),
            procs: ProcessTable::default(),
            interner: Interner::default(),
            events: EventLog::default(),
            series: Series::default(),
            call_counts: Vec::new(),
        }
    }

    /// A copy to look at, not to replay: the files, names, processes and maps as they are,
    /// with no fault plan, an empty trace (keeping nothing), no events and no series. Much
    /// cheaper than `clone` when the trace keeps many entries; what an oracle reads through
    /// it is not a call of the run. The copy shares every block but not the table that
    /// deduplicates new ones: what is written to it is stored correctly, only not shared
    /// with equal blocks written before the copy.
    pub fn snapshot(&self) -> SimFs {
        let mut cfg = self.cfg.clone();
        cfg.faults = FaultPlan::default();
        cfg.trace_keep = 0;
        SimFs {
            rng: self.rng.clone(),
            part: self.part.clone(),
            trace: Trace::new(0),
            inodes: self.inodes.clone(),
            ns: self.ns.clone(),
            procs: self.procs.clone(),
            interner: Interner::default(),
            events: EventLog::default(),
            series: Series::default(),
            call_counts: Vec::new(),
            cfg,
        }
    }

    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// Traced calls so far (every `Vfs` call but `map_read` and `map_len`).
    pub fn calls(&self) -> u64 {
        self.trace.count()
    }

    /// The stable digest of every traced call so far (and of every power loss).
    pub fn trace_digest(&self) -> u64 {
        self.trace.digest()
    }

    /// The newest `trace_keep` entries, oldest first.
    pub fn trace_entries(&self) -> impl Iterator<Item = &TraceEntry> {
        self.trace.entries()
    }

    /// Send every later trace entry, one text line each, to `sink` (`None` stops).
    pub fn set_trace_sink(&mut self, sink: Option<TraceSink>) {
        self.trace.set_sink(sink);
    }

    /// Flush the trace sink; reports a write error that happened on it, if any.
    pub fn flush_trace(&mut self) -> Result<(), String> {
        self.trace.flush()
    }

    /// Events kept so far (the first 100 000), in order.
    pub fn events(&self) -> &[SimEvent] {
        self.events.kept()
    }

    /// Events from index `from` on: remember `events().len()`, act, then read what is new.
    pub fn events_since(&self, from: usize) -> &[SimEvent] {
        self.events.kept().get(from..).unwrap_or(&[])
    }

    /// Every event ever recorded, kept or not.
    pub fn event_total(&self) -> u64 {
        self.events.total()
    }

    /// File sizes over the run (bounded; see `series`), ending with the latest sample.
    pub fn series(&self) -> Vec<Sample> {
        self.series.points()
    }

    /// Exact maxima over the run.
    pub fn peaks(&self) -> Peaks {
        self.series.peaks()
    }

    /// `(capacity, used)` in bytes.
    pub fn partition(&self) -> (u64, u64) {
        (self.part.capacity, self.part.used())
    }

    /// Every live file, sorted by path.
    pub fn files(&self) -> Vec<(String, Stat)> {
        self.ns
            .live()
            .filter_map(|(p, ino)| self.inode(ino).map(|i| (p.to_string(), stat_of(ino, i))))
            .collect()
    }

    /// The name a process was spawned with (also after it died).
    pub fn process_name(&self, pid: Pid) -> Option<&str> {
        self.procs.name(pid)
    }

    /// Every process spawned so far, with whether it is alive, in pid order.
    pub fn processes(&self) -> Vec<(Pid, String, bool)> {
        let live = self.procs.live_pids();
        (1..=self.procs.len() as u32)
            .map(Pid)
            .map(|p| {
                let name = self.procs.name(p).unwrap_or_default().to_string();
                (p, name, live.contains(&p))
            })
            .collect()
    }

    /// Replace the fault plan from the next call on (a crash sweep installs one mid-run).
    pub fn set_fault_plan(&mut self, plan: FaultPlan) {
        self.cfg.faults = plan;
    }

    /// Bytes this simulation holds for file data: unique block buffers, block-map entries,
    /// logged pending writes and maps, estimated. Follows what was written, never apparent
    /// sizes.
    pub fn stored_bytes(&self) -> u64 {
        let mut n = self.interner.stored_bytes();
        for i in self.inodes.iter().flatten() {
            n += 256 + i.live.map_bytes() + i.dur.stored_estimate();
        }
        n += self
            .procs
            .all_maps()
            .map(|m| m.stored_estimate())
            .sum::<u64>();
        n
    }

    /// The durable contents of `path` as power loss would find them now, if the durable
    /// namespace has it (tests and oracles; ignores pending writes).
    pub fn durable_contents(&self, path: &str) -> Option<Vec<u8>> {
        let ino = self.ns.durable().find(|(p, _)| *p == path)?.1;
        Some(self.inode(ino)?.dur.image().to_vec())
    }

    /// Power loss: every process dies, every name reverts to its durable state, and every
    /// file to its durable image plus its pending writes, each lost, kept or torn at a
    /// sector boundary as the seed decides (see `durability`). Not a call: not counted, but
    /// folded into the trace digest.
    pub fn power_loss(&mut self) {
        let seq = self.trace.count();
        self.power_loss_at(seq, "power loss");
    }

    pub(crate) fn power_loss_at(&mut self, seq: u64, why: &str) {
        for pid in self.procs.live_pids() {
            self.kill_inner(pid);
        }
        Arc::make_mut(&mut self.ns).revert();
        self.part.clear();
        let (interner, rng, sector) = (&mut self.interner, &mut self.rng, self.cfg.sector_size);
        for slot in self.inodes.iter_mut() {
            let Some(inode) = slot.as_mut().map(Arc::make_mut) else {
                continue;
            };
            if inode.durable_links == 0 {
                *slot = None;
                continue;
            }
            inode.live = inode.dur.crash(interner, rng, sector);
            inode.links = inode.durable_links;
            inode.fds = 0;
            inode.maps = 0;
            inode.locks = Locks::default();
            inode.alive = true;
            self.part.add(inode.sizes());
        }
        self.trace.mark(&format!("{why} after call {seq}"));
        self.event(seq, None, EventKind::PowerLoss, why.to_string());
        self.sample(seq);
    }

    /// Check the bookkeeping against a recount: partition use, link and holder counts.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut links: BTreeMap<u64, u32> = BTreeMap::new();
        for (_, ino) in self.ns.live() {
            *links.entry(ino).or_default() += 1;
        }
        let mut used = 0;
        for (idx, slot) in self.inodes.iter().enumerate() {
            let Some(i) = slot else { continue };
            let ino = idx as u64 + 1;
            if i.links != links.get(&ino).copied().unwrap_or(0) {
                return Err(format!(
                    "inode {ino}: {} links counted, names say otherwise",
                    i.links
                ));
            }
            if i.alive != (i.live_holders() > 0) {
                return Err(format!(
                    "inode {ino}: alive={} with {} holders",
                    i.alive,
                    i.live_holders()
                ));
            }
            if i.alive {
                used += i.live.allocated();
            }
        }
        if used != self.part.used() {
            return Err(format!(
                "partition says {} used, inodes hold {used}",
                self.part.used()
            ));
        }
        Ok(())
    }

    // ---- internals shared with calls.rs ----

    pub(crate) fn inode(&self, ino: u64) -> Option<&Inode> {
        self.inodes.get(ino.checked_sub(1)? as usize)?.as_deref()
    }

    pub(crate) fn inode_mut(&mut self, ino: u64) -> Option<&mut Inode> {
        self.inodes
            .get_mut(ino.checked_sub(1)? as usize)?
            .as_mut()
            .map(Arc::make_mut)
    }

    pub(crate) fn new_inode(&mut self) -> u64 {
        let bs = self.cfg.block_size;
        self.inodes.push(Some(Arc::new(Inode {
            live: SparseFile::new(bs),
            dur: Durability::new(bs),
            links: 0,
            fds: 0,
            maps: 0,
            durable_links: 0,
            locks: Locks::default(),
            alive: true,
        })));
        self.part.add(Sizes::default());
        self.inodes.len() as u64
    }

    /// After a holder went: free the blocks if no live holder remains, and forget the inode
    /// if no durable name holds it either.
    pub(crate) fn release(&mut self, ino: u64) {
        let bs = self.cfg.block_size;
        let Some(i) = self.inode_mut(ino) else { return };
        let mut freed = None;
        if i.alive && i.live_holders() == 0 {
            freed = Some(i.sizes());
            i.alive = false;
            i.live = SparseFile::new(bs);
            i.locks = Locks::default();
        }
        let forget = !i.alive && i.durable_links == 0;
        if let Some(s) = freed {
            self.part.remove(s);
        }
        if forget && let Some(slot) = self.inodes.get_mut(ino as usize - 1) {
            *slot = None;
        }
    }

    /// Close everything a process holds, without events or tracing.
    pub(crate) fn kill_inner(&mut self, pid: Pid) {
        let Ok((fds, maps)) = self.procs.reap(pid) else {
            return;
        };
        for f in fds {
            if let Some(i) = self.inode_mut(f.ino) {
                i.fds = i.fds.saturating_sub(1);
                i.locks.release(pid);
            }
            self.release(f.ino);
        }
        for m in maps {
            if let Some(i) = self.inode_mut(m.ino) {
                i.maps = i.maps.saturating_sub(1);
            }
            self.release(m.ino);
        }
    }

    pub(crate) fn who(&self, pid: Pid) -> String {
        who(pid, self.procs.name(pid))
    }

    pub(crate) fn event(&mut self, seq: u64, pid: Option<Pid>, kind: EventKind, detail: String) {
        let process = pid
            .and_then(|p| self.procs.name(p))
            .unwrap_or_default()
            .to_string();
        self.events.push(SimEvent {
            seq,
            pid,
            process,
            kind,
            detail,
        });
    }

    pub(crate) fn sample(&mut self, seq: u64) {
        if self.part.is_stale() {
            let live = self.inodes.iter().flatten().filter(|i| i.alive);
            self.part.recount(live.map(|i| i.sizes()));
        }
        let largest = self.part.largest();
        self.series.record(Sample {
            seq,
            largest_apparent: largest.apparent,
            largest_allocated: largest.allocated,
            partition_used: self.part.used(),
        });
    }
}

pub(crate) fn stat_of(ino: u64, i: &Inode) -> Stat {
    Stat {
        ino,
        size: i.live.size(),
        allocated: i.live.allocated(),
    }
}

/// Content hash for traces of data buffers.
pub(crate) fn data_hash(data: &[u8]) -> u64 {
    content_hash(data)
}
