//! The running process: which filesystem, which pid, what time it is, and where its
//! syslog goes. Every modelled Cyrus function takes a `Cx`.

use sim::{Errno, Pid, Vfs, VfsError};

use crate::site::Site;

/// What the run report calls an event, plus the narration a person reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoteKind {
    Segfault,
    Sigbus,
    Enospc,
    IoError,
    Fatal,
    Killed,
    PowerLoss,
    LockWait,
    /// Not an event: a line of the story (a counter wrapped, a map could not see bytes).
    Story,
}

impl NoteKind {
    /// The `kind` string of the JSON contract, or None for narration.
    pub fn event_name(self) -> Option<&'static str> {
        Some(match self {
            NoteKind::Segfault => "segfault",
            NoteKind::Sigbus => "sigbus",
            NoteKind::Enospc => "enospc",
            NoteKind::IoError => "ioerror",
            NoteKind::Fatal => "fatal",
            NoteKind::Killed => "killed",
            NoteKind::PowerLoss => "power_loss",
            NoteKind::LockWait => "lock_wait",
            NoteKind::Story => return None,
        })
    }
}

/// One line of what a process did or suffered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub kind: NoteKind,
    pub process: String,
    pub detail: String,
}

/// A bounded log: a runaway loop cannot exhaust memory through it.
#[derive(Debug, Clone, Default)]
pub struct Log {
    pub notes: Vec<Note>,
    /// Notes not kept because the log was full.
    pub dropped: u64,
}

impl Log {
    /// Most notes one run keeps.
    pub const CAP: usize = 100_000;

    pub fn push(&mut self, note: Note) {
        if self.notes.len() < Self::CAP {
            self.notes.push(note);
        } else {
            self.dropped += 1;
        }
    }
}

/// Why a modelled Cyrus function stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CyrusError {
    /// `IMAP_IOERROR`: the function returned an error; the process lives on.
    IoError(String),
    /// `IMAP_MAILBOX_BADFORMAT`.
    BadFormat(String),
    /// `IMAP_MAILBOX_NONEXISTENT`.
    NonExistent(String),
    /// A lock another process holds: the scheduler should retry later.
    Locked(String),
    /// The process is gone: `fatal()`, a segfault, a SIGBUS, or a kill by the fault plan.
    Died(NoteKind, String),
}

impl std::fmt::Display for CyrusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CyrusError::IoError(d) => write!(f, "IOERROR: {d}"),
            CyrusError::BadFormat(d) => write!(f, "bad format: {d}"),
            CyrusError::NonExistent(d) => write!(f, "mailbox does not exist: {d}"),
            CyrusError::Locked(d) => write!(f, "locked: {d}"),
            CyrusError::Died(k, d) => write!(f, "process died ({k:?}): {d}"),
        }
    }
}

impl std::error::Error for CyrusError {}

pub type CResult<T> = Result<T, CyrusError>;

/// The running process.
pub struct Cx<'a> {
    pub fs: &'a mut dyn Vfs,
    pub pid: Pid,
    /// The process name used in notes ("imapd", "cyr_expire", ...).
    pub name: String,
    pub site: &'a Site,
    /// `time(NULL)`, seconds since the epoch.
    pub now: u32,
    pub log: &'a mut Log,
}

impl Cx<'_> {
    pub fn note(&mut self, kind: NoteKind, detail: impl Into<String>) {
        let note = Note {
            kind,
            process: self.name.clone(),
            detail: detail.into(),
        };
        self.log.push(note);
    }

    pub fn story(&mut self, detail: impl Into<String>) {
        self.note(NoteKind::Story, detail);
    }

    /// syslog(LOG_ERR, "IOERROR: ...") and return IMAP_IOERROR.
    pub fn ioerror(&mut self, detail: impl Into<String>) -> CyrusError {
        let detail = detail.into();
        self.note(NoteKind::IoError, detail.clone());
        CyrusError::IoError(detail)
    }

    /// Cyrus's `fatal()`: the process exits. Its fds, locks and maps go with it.
    pub fn fatal(&mut self, detail: impl Into<String>) -> CyrusError {
        self.die(NoteKind::Fatal, detail.into())
    }

    fn die(&mut self, kind: NoteKind, detail: String) -> CyrusError {
        self.note(kind, detail.clone());
        // The process may already be gone (killed by the fault plan); that is fine.
        let _ = self.fs.kill(self.pid);
        CyrusError::Died(kind, detail)
    }

    /// Map a Vfs error of a call whose failure Cyrus checks. A process killed under the
    /// call (fault plan) dies here whatever Cyrus would have done with the error.
    pub fn check(&mut self, e: VfsError) -> CyrusError {
        match e.errno {
            Errno::Srch => {
                let kind = if e.context.contains("power") {
                    NoteKind::PowerLoss
                } else {
                    NoteKind::Killed
                };
                self.note(kind, e.context.clone());
                CyrusError::Died(kind, e.context)
            }
            Errno::Segv => self.die(NoteKind::Segfault, e.to_string()),
            Errno::Bus => self.die(NoteKind::Sigbus, e.to_string()),
            Errno::NoSpc => {
                self.note(NoteKind::Enospc, e.to_string());
                CyrusError::IoError(e.to_string())
            }
            Errno::WouldBlock => {
                self.note(NoteKind::LockWait, e.context.clone());
                CyrusError::Locked(e.context)
            }
            _ => self.ioerror(e.to_string()),
        }
    }

    /// A checked call failed with `e`: the death of the process propagates as it is; any
    /// other error becomes what `other` makes of it (Cyrus's own error code and log line).
    pub fn fail_with(
        &mut self,
        e: VfsError,
        other: impl FnOnce(&mut Self) -> CyrusError,
    ) -> CyrusError {
        match self.check(e) {
            died @ CyrusError::Died(..) => died,
            _ => other(self),
        }
    }

    /// A call whose result Cyrus ignores (`lseek`, `ftruncate` on error paths, `unlink`):
    /// only the death of the process stops the model.
    pub fn ignore<T>(&mut self, r: Result<T, VfsError>) -> CResult<Option<T>> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.errno == Errno::Srch => Err(self.check(e)),
            Err(_) => Ok(None),
        }
    }

    /// `xmalloc(size)`: sizes are computed in C's `size_t` by the caller. Past the site's
    /// allocation limit Cyrus's xmalloc calls `fatal("Virtual memory exhausted")`.
    /// Nothing is allocated here: the model keeps only what it really stores.
    pub fn xmalloc(&mut self, size: u64, what: &str) -> CResult<()> {
        if size > self.site.alloc_limit {
            return Err(self.fatal(format!(
                "Virtual memory exhausted: xmalloc({size}) for {what} (limit {})",
                self.site.alloc_limit
            )));
        }
        Ok(())
    }
}

/// Run `f` as a fresh process called `name`, which exits afterwards: its fds, locks and maps
/// go with it, as when a Cyrus program ends.
pub fn as_process<R>(
    fs: &mut dyn Vfs,
    site: &Site,
    now: u32,
    log: &mut Log,
    name: &str,
    f: impl FnOnce(&mut Cx) -> R,
) -> R {
    let pid = fs.spawn(name);
    let mut cx = Cx {
        fs: &mut *fs,
        pid,
        name: name.to_string(),
        site,
        now,
        log,
    };
    let r = f(&mut cx);
    let _ = fs.kill(pid);
    r
}

/// Run `f` as the live process `pid` called `name`, which goes on afterwards: an imapd
/// session's next command runs in the process that holds its fds and maps.
pub fn in_process<R>(
    fs: &mut dyn Vfs,
    site: &Site,
    now: u32,
    log: &mut Log,
    pid: Pid,
    name: &str,
    f: impl FnOnce(&mut Cx) -> R,
) -> R {
    let mut cx = Cx {
        fs,
        pid,
        name: name.to_string(),
        site,
        now,
        log,
    };
    f(&mut cx)
}
