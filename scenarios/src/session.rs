//! imapd sessions in the executor: a process that logs in, SELECTs a mailbox and keeps its
//! fds and maps across ops (`Op::Session`), and the oracle of what a session sees.
//!
//! A session lives in [`World`] under its name (the world's imapd node). Its process is
//! spawned at the first SELECT and ends at LOGOUT, or when it dies: a kill or a power loss
//! takes its fds and maps with it, while every other session keeps its own.

use engine::CyrusError;
use engine::fsck::Finding;
use engine::imapd::{
    CHECK_FETCH_GONE, CHECK_VIEW_STALE, Session, cmd_close, cmd_expunge, cmd_fetch, cmd_noop,
    cmd_select, cmd_store_deleted, index_closemailbox, session_view,
};
use engine::mailbox::{FNAME_INDEX, mailbox_path};
use sim::{Errno, MapId, Pid, Vfs};

use crate::executor::World;

/// One IMAP command of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imap {
    /// LOGIN (the first time) and SELECT the op's mailbox.
    Select,
    /// `FETCH 1:* (FLAGS BODY[])`, or `UID FETCH` when `uid` (which runs index_check first).
    Fetch { uid: bool },
    /// NOOP: index_check.
    Noop,
    /// `STORE m:n +FLAGS (\Deleted)` on the first `count` messages the session shows that
    /// it does not show \Deleted.
    Store { count: u32 },
    /// EXPUNGE: mailbox_expunge(flags 0), then index_check.
    Expunge,
    /// CLOSE: a delayed expunge, then the mailbox is closed; the process stays logged in.
    Close,
    /// LOGOUT: close the mailbox and end the process.
    Logout,
}

impl Imap {
    pub fn describe(self) -> String {
        match self {
            Imap::Select => "SELECT".to_string(),
            Imap::Fetch { uid: false } => "FETCH 1:* (FLAGS BODY[])".to_string(),
            Imap::Fetch { uid: true } => "UID FETCH 1:* (FLAGS BODY[])".to_string(),
            Imap::Noop => "NOOP".to_string(),
            Imap::Store { count } => format!("STORE +FLAGS (\\Deleted) on {count} message(s)"),
            Imap::Expunge => "EXPUNGE".to_string(),
            Imap::Close => "CLOSE".to_string(),
            Imap::Logout => "LOGOUT".to_string(),
        }
    }
}

/// A logged-in imapd process and the mailbox it has selected, if any.
#[derive(Debug, Clone)]
pub struct Held {
    pub pid: Pid,
    pub selected: Option<Session>,
}

/// Whether `pid` is still alive: asking a dead process for a map is ESRCH, a live one
/// without that map EINVAL. Not a call of the run (map_len is not traced).
fn alive(fs: &dyn Vfs, pid: Pid) -> bool {
    !matches!(fs.map_len(pid, MapId(u32::MAX)), Err(e) if e.errno == Errno::Srch)
}

/// Apply one command of session `name` on `mailbox`.
pub(crate) fn apply(w: &mut World, name: &str, mailbox: &str, cmd: Imap) {
    if w.sessions.get(name).is_some_and(|h| !alive(&w.fs, h.pid)) {
        w.sessions.remove(name);
    }
    let Some(mut held) = w.sessions.remove(name).or_else(|| login(w, name, cmd)) else {
        return;
    };
    let pid = held.pid;
    if cmd == Imap::Select {
        if let Some(mut old) = held.selected.take() {
            // cmd_select closes what was selected first (imapd.c T12:3381-3382).
            if died(w.run_in(pid, name, |cx| index_closemailbox(cx, &mut old))) {
                return;
            }
        }
        match w.run_in(pid, name, |cx| cmd_select(cx, mailbox)) {
            Ok(s) => held.selected = Some(s),
            Err(CyrusError::Died(..)) => return,
            Err(e) => w.story(name, format!("{mailbox}: NO {e}")),
        }
        check_view(w, name, mailbox, pid, held.selected.as_ref());
        w.sessions.insert(name.to_string(), held);
        return;
    }
    if cmd == Imap::Logout {
        if let Some(mut s) = held.selected.take()
            && died(w.run_in(pid, name, |cx| index_closemailbox(cx, &mut s)))
        {
            return;
        }
        let _ = w.fs.kill(pid);
        return;
    }
    let Some(mut s) = held.selected.take().filter(|s| s.mailbox.name == mailbox) else {
        w.story(
            name,
            format!("BAD {}: {mailbox} is not selected", cmd.describe()),
        );
        w.sessions.insert(name.to_string(), held);
        return;
    };
    let keep = command(w, name, mailbox, pid, &mut s, cmd);
    if keep {
        held.selected = (cmd != Imap::Close).then_some(s);
        w.sessions.insert(name.to_string(), held);
    }
}

/// A session that does not exist yet logs in at SELECT; any other command has no session
/// to run in.
fn login(w: &mut World, name: &str, cmd: Imap) -> Option<Held> {
    if cmd != Imap::Select {
        w.story(name, format!("BAD {}: not logged in", cmd.describe()));
        return None;
    }
    w.note_process(name);
    Some(Held {
        pid: w.fs.spawn(name),
        selected: None,
    })
}

fn died<T>(r: Result<T, CyrusError>) -> bool {
    matches!(r, Err(CyrusError::Died(..)))
}

/// Run `cmd` on the selected mailbox. `false` when the process died.
fn command(w: &mut World, name: &str, mailbox: &str, pid: Pid, s: &mut Session, cmd: Imap) -> bool {
    match cmd {
        Imap::Fetch { uid } => match w.run_in(pid, name, |cx| cmd_fetch(cx, s, uid)) {
            Ok(f) => {
                if uid {
                    for u in &f.gone {
                        w.session_finding(
                            name,
                            mailbox,
                            CHECK_FETCH_GONE,
                            format!("UID FETCH after index_check: message file of UID {u} is gone"),
                        );
                    }
                    check_view(w, name, mailbox, pid, Some(s));
                }
                true
            }
            Err(e) => !died::<()>(Err(e)),
        },
        Imap::Noop => match w.run_in(pid, name, |cx| cmd_noop(cx, s)) {
            Ok(_) => {
                check_view(w, name, mailbox, pid, Some(s));
                true
            }
            Err(e) => !died::<()>(Err(e)),
        },
        Imap::Store { count } => {
            let msgnos = undeleted(w, pid, s, count);
            match w.run_in(pid, name, |cx| cmd_store_deleted(cx, s, &msgnos)) {
                Ok(flagged) => {
                    w.ghost.flagged_deleted(mailbox, &flagged);
                    true
                }
                Err(e) => !died::<()>(Err(e)),
            }
        }
        Imap::Expunge | Imap::Close => {
            let r = if cmd == Imap::Expunge {
                w.run_in(pid, name, |cx| cmd_expunge(cx, s).map(|_| ()))
            } else {
                w.run_in(pid, name, |cx| cmd_close(cx, s).map(|_| ()))
            };
            // As for a one-shot EXPUNGE: one that died half-way may have moved any of them.
            if matches!(r, Ok(()) | Err(CyrusError::Died(..))) {
                w.ghost.user_expunged(mailbox, w.now);
            }
            if r.is_ok() && cmd == Imap::Expunge {
                check_view(w, name, mailbox, pid, Some(s));
            }
            !died(r)
        }
        Imap::Select | Imap::Logout => true,
    }
}

/// The msgnos of the first `count` messages the session shows without \Deleted, as the user
/// picks them from what the client displays (read on a snapshot: not a call of the run).
fn undeleted(w: &World, pid: Pid, s: &Session, count: u32) -> Vec<u32> {
    let view = session_view(&mut w.fs.snapshot(), pid, s).unwrap_or_default();
    (1u32..)
        .zip(view)
        .filter(|(_, (_, flags))| flags & engine::layout::FLAG_DELETED == 0)
        .map(|(msgno, _)| msgno)
        .take(count as usize)
        .collect()
}

/// The oracle after an `index_check`: the session shows exactly the UIDs cyrus.index holds.
fn check_view(w: &mut World, name: &str, mailbox: &str, pid: Pid, s: Option<&Session>) {
    let Some(s) = s else { return };
    let mut fs = w.fs.snapshot();
    let on_disk = engine::oracle::index_uids(&mut fs, mailbox);
    let detail = match session_view(&mut fs, pid, s) {
        Ok(view) => {
            let shown: Vec<u32> = view.iter().map(|(u, _)| *u).collect();
            if shown == on_disk {
                return;
            }
            format!(
                "after index_check the session shows {} UID(s) {:?}, cyrus.index holds {} {:?}",
                shown.len(),
                shown.iter().take(8).collect::<Vec<_>>(),
                on_disk.len(),
                on_disk.iter().take(8).collect::<Vec<_>>()
            )
        }
        Err(e) => format!("the session's view cannot be read through its map: {e}"),
    };
    w.session_finding(name, mailbox, CHECK_VIEW_STALE, detail);
}

impl World {
    /// Record a session oracle's finding (each check, mailbox and session once).
    fn session_finding(&mut self, name: &str, mailbox: &str, check: &str, detail: String) {
        let file = format!("{}/{FNAME_INDEX} ({name})", mailbox_path(mailbox));
        self.session_findings
            .entry((check.to_string(), file.clone()))
            .or_insert_with(|| Finding::new(&file, check, detail));
    }

    fn story(&mut self, name: &str, detail: String) {
        self.log.push(engine::Note {
            kind: engine::NoteKind::Story,
            process: name.to_string(),
            detail,
        });
    }
}

impl World {
    /// The UIDs session `name` shows, read through its own map (not a call of the run);
    /// `None` if it is not logged in with a mailbox selected.
    pub fn session_uids(&self, name: &str) -> Option<Vec<u32>> {
        let h = self.sessions.get(name)?;
        let s = h.selected.as_ref()?;
        let view = session_view(&mut self.fs.snapshot(), h.pid, s).ok()?;
        Some(view.into_iter().map(|(u, _)| u).collect())
    }

    /// Whether session `name` is logged in and its process alive.
    pub fn session_alive(&self, name: &str) -> bool {
        self.sessions
            .get(name)
            .is_some_and(|h| alive(&self.fs, h.pid))
    }
}
