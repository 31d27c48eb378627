//! The trace: every call with its process, arguments and result, a stable digest over all of
//! them, and the event log.
//!
//! The digest (FNV-1a over a fixed binary encoding) covers every traced call, always; whole
//! entries are kept in memory only up to `trace_keep` (the newest), and an optional sink
//! receives every entry as a text line (for `--trace FILE`). Error contexts are not digested
//! (wording may change); errnos are.

use std::collections::VecDeque;
use std::fmt;
use std::io::Write;
use std::sync::Arc;

use crate::hash::Fnv64;
use crate::vfs::{Errno, Fd, LockKind, MapId, OpenFlags, Pid, Stat, Whence};

/// Default number of trace entries kept in memory: about 2 MiB (an entry with its path
/// and arguments is roughly 200 bytes), so long runs stay within their memory budget.
pub const DEFAULT_TRACE_KEEP: usize = 10_000;
/// Events kept in memory; later ones are counted, not kept.
pub const EVENT_KEEP: usize = 100_000;

/// One argument of a traced call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    U(u64),
    I(i64),
    Str(String),
    /// A data buffer, by length and content hash.
    Data {
        len: u64,
        hash: u64,
    },
    /// A read buffer's capacity.
    Cap(u64),
    Flags(OpenFlags),
    Lock(LockKind),
    Whence(Whence),
    Bool(bool),
    Fd(Fd),
    Map(MapId),
    Pid(Pid),
}

/// What a traced call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Unit,
    U(u64),
    Fd(Fd),
    Pid(Pid),
    Map(MapId),
    Stat(Stat),
    /// Names returned by `list`: count and hash.
    Names {
        count: u64,
        hash: u64,
    },
    /// Bytes read: count and content hash.
    Data {
        len: u64,
        hash: u64,
    },
    Err(Errno),
}

/// Most arguments any call takes.
pub const MAX_ARGS: usize = 3;

/// The arguments of one call, held inline: recording a call allocates nothing for them (a
/// path argument still owns its string). Reads as a slice.
#[derive(Clone)]
pub struct Args {
    len: u8,
    items: [Arg; MAX_ARGS],
}

impl Args {
    pub fn new<const N: usize>(args: [Arg; N]) -> Args {
        const { assert!(N <= MAX_ARGS, "a call takes at most MAX_ARGS arguments") };
        let mut it = args.into_iter();
        Args {
            len: N as u8,
            items: std::array::from_fn(|_| it.next().unwrap_or(Arg::U(0))),
        }
    }
}

impl std::ops::Deref for Args {
    type Target = [Arg];
    fn deref(&self) -> &[Arg] {
        &self.items[..usize::from(self.len)]
    }
}

impl std::ops::DerefMut for Args {
    fn deref_mut(&mut self) -> &mut [Arg] {
        &mut self.items[..usize::from(self.len)]
    }
}

impl PartialEq for Args {
    fn eq(&self, other: &Args) -> bool {
        **self == **other
    }
}

impl Eq for Args {}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One traced call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    pub seq: u64,
    pub pid: Option<Pid>,
    /// The process's name (empty for calls without a process).
    pub process: Arc<str>,
    pub call: &'static str,
    pub args: Args,
    pub outcome: Outcome,
}

impl TraceEntry {
    fn digest_into(&self, h: &mut Fnv64) {
        h.u64(self.seq);
        h.u64(self.pid.map_or(u64::MAX, |p| u64::from(p.0)));
        h.bytes(self.call.as_bytes());
        h.u64(self.args.len() as u64);
        for a in self.args.iter() {
            let (tag, words): (u64, [u64; 2]) = match a {
                Arg::U(v) => (1, [*v, 0]),
                Arg::I(v) => (2, [*v as u64, 0]),
                Arg::Str(s) => {
                    h.bytes(s.as_bytes());
                    (3, [s.len() as u64, 0])
                }
                Arg::Data { len, hash } => (4, [*len, *hash]),
                Arg::Cap(v) => (5, [*v, 0]),
                Arg::Flags(f) => (6, [flag_bits(*f), 0]),
                Arg::Lock(k) => (7, [*k as u64, 0]),
                Arg::Whence(w) => (8, [*w as u64, 0]),
                Arg::Bool(b) => (9, [u64::from(*b), 0]),
                Arg::Fd(f) => (10, [u64::from(f.0), 0]),
                Arg::Map(m) => (11, [u64::from(m.0), 0]),
                Arg::Pid(p) => (12, [u64::from(p.0), 0]),
            };
            h.u64(tag);
            h.u64(words[0]);
            h.u64(words[1]);
        }
        let (tag, words): (u64, [u64; 3]) = match &self.outcome {
            Outcome::Unit => (100, [0; 3]),
            Outcome::U(v) => (101, [*v, 0, 0]),
            Outcome::Fd(f) => (102, [u64::from(f.0), 0, 0]),
            Outcome::Pid(p) => (103, [u64::from(p.0), 0, 0]),
            Outcome::Map(m) => (104, [u64::from(m.0), 0, 0]),
            Outcome::Stat(s) => (105, [s.ino, s.size, s.allocated]),
            Outcome::Names { count, hash } => (106, [*count, *hash, 0]),
            Outcome::Data { len, hash } => (107, [*len, *hash, 0]),
            Outcome::Err(e) => {
                h.bytes(e.name().as_bytes());
                (108, [errno_extra(*e), 0, 0])
            }
        };
        h.u64(tag);
        for w in words {
            h.u64(w);
        }
    }
}

fn flag_bits(f: OpenFlags) -> u64 {
    [f.read, f.write, f.create, f.exclusive, f.truncate, f.append]
        .iter()
        .enumerate()
        .map(|(i, &b)| u64::from(b) << i)
        .sum()
}

fn errno_extra(e: Errno) -> u64 {
    match e {
        Errno::Other(n) => n as u64,
        _ => 0,
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::U(v) => write!(f, "{v}"),
            Arg::I(v) => write!(f, "{v}"),
            Arg::Str(s) => write!(f, "{s:?}"),
            Arg::Data { len, hash } => write!(f, "<{len} bytes #{hash:016x}>"),
            Arg::Cap(v) => write!(f, "<buf {v}>"),
            Arg::Flags(o) => {
                let names = [
                    (o.read && !o.write, "O_RDONLY"),
                    (o.write && !o.read, "O_WRONLY"),
                    (o.read && o.write, "O_RDWR"),
                    (o.create, "O_CREAT"),
                    (o.exclusive, "O_EXCL"),
                    (o.truncate, "O_TRUNC"),
                    (o.append, "O_APPEND"),
                ];
                let set: Vec<&str> = names
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, n)| *n)
                    .collect();
                write!(
                    f,
                    "{}",
                    if set.is_empty() {
                        "0".to_string()
                    } else {
                        set.join("|")
                    }
                )
            }
            Arg::Lock(k) => write!(f, "{k:?}"),
            Arg::Whence(w) => write!(f, "{w:?}"),
            Arg::Bool(b) => write!(f, "{b}"),
            Arg::Fd(d) => write!(f, "fd {}", d.0),
            Arg::Map(m) => write!(f, "map {}", m.0),
            Arg::Pid(p) => write!(f, "pid {}", p.0),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Unit => write!(f, "ok"),
            Outcome::U(v) => write!(f, "{v}"),
            Outcome::Fd(d) => write!(f, "fd {}", d.0),
            Outcome::Pid(p) => write!(f, "pid {}", p.0),
            Outcome::Map(m) => write!(f, "map {}", m.0),
            Outcome::Stat(s) => write!(
                f,
                "{{ino {}, size {}, allocated {}}}",
                s.ino, s.size, s.allocated
            ),
            Outcome::Names { count, hash } => write!(f, "<{count} names #{hash:016x}>"),
            Outcome::Data { len, hash } => write!(f, "<{len} bytes #{hash:016x}>"),
            Outcome::Err(e) => write!(f, "{}", e.name()),
        }
    }
}

impl fmt::Display for TraceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(p) => write!(f, "{} {}[{}] {}(", self.seq, self.process, p.0, self.call)?,
            None => write!(f, "{} - {}(", self.seq, self.call)?,
        }
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{a}")?;
        }
        write!(f, ") = {}", self.outcome)
    }
}

/// Entries per segment of the kept trace (or `trace_keep`, if smaller).
const SEGMENT: usize = 256;

/// The newest entries, in segments of fixed capacity: keeping one more never moves the
/// entries before it (a single growing ring buffer copies all of them at each doubling), and
/// the oldest segment, once emptied, is reused as the newest.
#[derive(Clone, Default)]
struct Kept {
    segments: VecDeque<VecDeque<TraceEntry>>,
    len: usize,
}

impl Kept {
    /// Keep `e`, dropping the oldest entry if `keep` are kept already.
    fn push(&mut self, e: TraceEntry, keep: usize) {
        if keep == 0 {
            return;
        }
        let mut reuse = None;
        if self.len >= keep
            && let Some(front) = self.segments.front_mut()
        {
            front.pop_front();
            self.len -= 1;
            if front.is_empty() {
                reuse = self.segments.pop_front();
            }
        }
        let cap = SEGMENT.min(keep);
        match self.segments.back_mut() {
            Some(back) if back.len() < cap => back.push_back(e),
            _ => {
                let mut seg = reuse.unwrap_or_else(|| VecDeque::with_capacity(cap));
                seg.push_back(e);
                self.segments.push_back(seg);
            }
        }
        self.len += 1;
    }

    fn iter(&self) -> impl Iterator<Item = &TraceEntry> {
        self.segments.iter().flatten()
    }
}

/// Where every trace line goes, as it happens.
pub type TraceSink = Box<dyn Write + Send>;

/// The running digest, the newest entries and the sink.
pub struct Trace {
    digest: Fnv64,
    count: u64,
    keep: usize,
    kept: Kept,
    sink: Option<TraceSink>,
    sink_error: Option<String>,
}

impl Clone for Trace {
    /// A clone keeps the digest and entries but not the sink (a writer cannot be shared).
    fn clone(&self) -> Self {
        Trace {
            digest: self.digest,
            count: self.count,
            keep: self.keep,
            kept: self.kept.clone(),
            sink: None,
            sink_error: self.sink_error.clone(),
        }
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("digest", &format_args!("{:016x}", self.digest.finish()))
            .field("count", &self.count)
            .field("kept", &self.kept.len)
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

impl Trace {
    pub fn new(keep: usize) -> Self {
        Trace {
            digest: Fnv64::default(),
            count: 0,
            keep,
            kept: Kept::default(),
            sink: None,
            sink_error: None,
        }
    }

    pub fn record(&mut self, entry: TraceEntry) {
        entry.digest_into(&mut self.digest);
        self.count += 1;
        if let Some(sink) = &mut self.sink
            && let Err(e) = writeln!(sink, "{entry}")
        {
            self.sink_error = Some(format!("trace sink failed at call {}: {e}", entry.seq));
            self.sink = None;
        }
        self.kept.push(entry, self.keep);
    }

    /// Fold something that is not a call (a power loss) into the digest and the sink.
    pub fn mark(&mut self, label: &str) {
        self.digest.bytes(b"#mark ");
        self.digest.bytes(label.as_bytes());
        if let Some(sink) = &mut self.sink
            && let Err(e) = writeln!(sink, "# {label}")
        {
            self.sink_error = Some(format!("trace sink failed at {label:?}: {e}"));
            self.sink = None;
        }
    }

    pub fn digest(&self) -> u64 {
        self.digest.finish()
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The kept entries, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &TraceEntry> {
        self.kept.iter()
    }

    /// Send every later entry to `sink`, replacing any sink set before; `None` stops.
    pub fn set_sink(&mut self, sink: Option<TraceSink>) {
        if let Some(old) = &mut self.sink {
            let _ = old.flush();
        }
        self.sink = sink;
    }

    /// Flush the sink; a write error, if one happened, is reported here.
    pub fn flush(&mut self) -> Result<(), String> {
        if let Some(s) = &mut self.sink
            && let Err(e) = s.flush()
        {
            return Err(format!("trace sink flush failed: {e}"));
        }
        self.sink_error.clone().map_or(Ok(()), Err)
    }
}

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Segv,
    Bus,
    NoSpc,
    Io,
    Killed,
    PowerLoss,
    LockWait,
    ShortWrite,
    /// A read past a map's length inside its last page (with `MapTail::Page`).
    MapTail,
}

impl EventKind {
    /// The name the CLI contract uses (`segfault`, `sigbus`, `enospc`, ...).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Segv => "segfault",
            EventKind::Bus => "sigbus",
            EventKind::NoSpc => "enospc",
            EventKind::Io => "ioerror",
            EventKind::Killed => "killed",
            EventKind::PowerLoss => "power_loss",
            EventKind::LockWait => "lock_wait",
            EventKind::ShortWrite => "short_write",
            EventKind::MapTail => "map_tail",
        }
    }
}

/// Something worth telling: a fault, a full disk, a kill, a lock wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEvent {
    /// The traced call it happened in (for map faults: the number of calls made before it).
    pub seq: u64,
    pub pid: Option<Pid>,
    pub process: String,
    pub kind: EventKind,
    pub detail: String,
}

/// The event log: the first [`EVENT_KEEP`] events, and a count of all.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    kept: Vec<SimEvent>,
    total: u64,
}

impl EventLog {
    pub fn push(&mut self, e: SimEvent) {
        self.total += 1;
        if self.kept.len() < EVENT_KEEP {
            self.kept.push(e);
        }
    }

    pub fn kept(&self) -> &[SimEvent] {
        &self.kept
    }

    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, outcome: Outcome) -> TraceEntry {
        TraceEntry {
            seq,
            pid: Some(Pid(1)),
            process: Arc::from("imapd"),
            call: "write",
            args: Args::new([Arg::Fd(Fd(3)), Arg::Data { len: 4, hash: 9 }]),
            outcome,
        }
    }

    #[test]
    fn entries_print_as_one_readable_line() {
        let e = entry(7, Outcome::U(4));
        assert_eq!(
            e.to_string(),
            "7 imapd[1] write(fd 3, <4 bytes #0000000000000009>) = 4"
        );
    }

    #[test]
    fn the_newest_entries_are_kept_in_order_across_segments() {
        for keep in [1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 7] {
            let mut t = Trace::new(keep);
            for s in 0..(5 * SEGMENT as u64 + 3) {
                t.record(entry(s, Outcome::Unit));
                let kept: Vec<u64> = t.entries().map(|e| e.seq).collect();
                let from = (s + 1).saturating_sub(keep as u64);
                assert_eq!(kept, (from..=s).collect::<Vec<_>>(), "keep {keep}");
            }
        }
    }

    #[test]
    fn args_read_as_the_slice_they_were_made_from() {
        let a = Args::new([Arg::Fd(Fd(3)), Arg::U(7)]);
        assert_eq!(&*a, &[Arg::Fd(Fd(3)), Arg::U(7)]);
        assert_eq!(format!("{a:?}"), "[Fd(Fd(3)), U(7)]");
        assert_eq!(a, Args::new([Arg::Fd(Fd(3)), Arg::U(7)]));
        assert_ne!(a, Args::new([Arg::Fd(Fd(3))]));
        assert!(Args::new([]).is_empty());
    }

    #[test]
    fn the_digest_sees_every_field_and_keeping_is_bounded() {
        let digest = |e: TraceEntry| {
            let mut t = Trace::new(2);
            t.record(e);
            t.digest()
        };
        let base = digest(entry(1, Outcome::U(4)));
        assert_eq!(base, digest(entry(1, Outcome::U(4))));
        assert_ne!(base, digest(entry(2, Outcome::U(4))));
        assert_ne!(base, digest(entry(1, Outcome::U(3))));
        assert_ne!(base, digest(entry(1, Outcome::Err(Errno::NoSpc))));
        let mut other = entry(1, Outcome::U(4));
        other.args[1] = Arg::Data { len: 4, hash: 10 };
        assert_ne!(base, digest(other));
        let mut t = Trace::new(2);
        for s in 0..5 {
            t.record(entry(s, Outcome::Unit));
        }
        assert_eq!(t.count(), 5);
        assert_eq!(t.entries().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4]);
    }
}
