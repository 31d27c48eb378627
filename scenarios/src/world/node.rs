//! One Cyrus process as a madsim node: its loop of sleeps and operations, and the shared
//! state every node applies its operations to.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::rand::{Rng as _, thread_rng};
use madsim::time::{Instant, sleep};

use engine::{Note, NoteKind};
use sim::FaultAction;

use super::spec::{Action, Proc, Program, SessionCommand};
use crate::crash::Timed;
use crate::executor::{Op, Recorder, World};
use crate::scenario::Param;
use crate::session::Imap;

/// Most times a process retries an operation a lock held up.
const LOCK_RETRIES: u32 = 100;

/// What every node shares: the one world, its recorder, and what the supervisor asked for.
pub struct State {
    pub world: World,
    pub rec: Recorder,
    /// Every op applied, with its time and process: the world as a schedule.
    pub log: Vec<Timed>,
    /// The virtual instant the processes started, and the site clock then.
    pub started: Instant,
    pub clock_at_start: u32,
    /// Kill this process at a call of its next operation.
    pub kill_next: Option<String>,
    /// Lose power at a call of the next operation, whoever runs it.
    pub power_next: bool,
    /// Processes that died and wait for the supervisor to restart them.
    pub dead: Vec<String>,
    /// Power was lost: the supervisor reboots the machine.
    pub power_lost: bool,
}

/// `None` once the run is over and the supervisor took the state.
pub type Shared = Arc<Mutex<Option<State>>>;

/// How an operation ended for the process that ran it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Done,
    Locked,
    Died(NoteKind),
}

impl State {
    /// The site clock: madsim's virtual time since the processes started.
    fn tick(&mut self) {
        let secs = self.started.elapsed().as_secs();
        self.world.now = self
            .clock_at_start
            .saturating_add(u32::try_from(secs).unwrap_or(u32::MAX));
    }

    /// Apply `op` as process `actor` through the executor, record it, return its notes.
    pub fn apply(&mut self, actor: &str, op: Op) -> Vec<Note> {
        self.tick();
        let t = Timed {
            at: Some(self.world.now),
            actor: Some(actor.to_string()),
            op,
        };
        self.world.set_actor(Some(actor));
        let notes = self.rec.step(&mut self.world, &t.op, actor);
        self.world.set_actor(None);
        self.log.push(t);
        notes
    }

    /// Arm the kill or power loss the supervisor asked for at a random call of `op`, if
    /// this op makes any (counted on a clone, so the fault lands inside this op and no
    /// other).
    fn arm_chaos(&mut self, actor: &str, op: &Op) {
        let action = if self.kill_next.as_deref() == Some(actor) {
            FaultAction::Kill
        } else if self.power_next {
            FaultAction::PowerLoss
        } else {
            return;
        };
        self.tick();
        let mut probe = self.world.clone();
        probe.set_actor(Some(actor));
        let before = probe.fs.calls();
        probe.apply(op);
        let calls = probe.fs.calls() - before;
        if calls == 0 {
            return;
        }
        let after_calls = thread_rng().gen_range(1..=calls);
        match action {
            FaultAction::Kill => self.kill_next = None,
            _ => self.power_next = false,
        }
        self.apply(
            actor,
            Op::Arm {
                action,
                after_calls,
            },
        );
    }

    fn run_op(&mut self, actor: &str, op: &Op) -> Ended {
        self.arm_chaos(actor, op);
        let notes = self.apply(actor, op.clone());
        let mine = notes.iter().filter(|n| n.process == actor);
        let mut ended = Ended::Done;
        for n in mine {
            match n.kind {
                NoteKind::Killed
                | NoteKind::PowerLoss
                | NoteKind::Segfault
                | NoteKind::Sigbus
                | NoteKind::Fatal => return Ended::Died(n.kind),
                NoteKind::LockWait => ended = Ended::Locked,
                _ => {}
            }
        }
        ended
    }
}

/// A number from a scenario parameter, drawn from madsim's random numbers.
pub fn draw(p: Param) -> u64 {
    match p {
        Param::Fixed(v) => v,
        Param::Range(a, b) => thread_rng().gen_range(a..=b),
    }
}

fn pick<T: Clone>(xs: &[T]) -> T {
    xs[thread_rng().gen_range(0..xs.len())].clone()
}

/// Seconds from `now` to the next `hour:minute` (UTC), at least one second.
fn until_cron(now: u32, hour: u32, minute: u32) -> u64 {
    let at = hour * 3600 + minute * 60;
    let into_day = now % 86_400;
    let wait = (at + 86_400 - into_day) % 86_400;
    u64::from(if wait == 0 { 86_400 } else { wait })
}

/// Where an imapd node's session is: the mailbox it selected and the commands left.
#[derive(Debug, Default)]
struct Selected {
    mailbox: Option<String>,
    left: u64,
}

/// The next command of a session imapd: SELECT, a command, or LOGOUT after the last.
fn next_session_op(p: &Proc, sel: &mut Selected) -> Op {
    let (mailbox, cmd) = match sel.mailbox.clone() {
        None => {
            let m = pick(&p.mailboxes);
            sel.mailbox = Some(m.clone());
            sel.left = draw(p.session_length);
            (m, Imap::Select)
        }
        Some(m) if sel.left == 0 => {
            sel.mailbox = None;
            (m, Imap::Logout)
        }
        Some(m) => {
            sel.left -= 1;
            let cmd = match pick(&p.session_commands) {
                SessionCommand::Noop => Imap::Noop,
                SessionCommand::Fetch => Imap::Fetch { uid: false },
                SessionCommand::UidFetch => Imap::Fetch { uid: true },
                SessionCommand::Store => Imap::Store {
                    count: draw(p.delete).min(u64::from(u32::MAX)) as u32,
                },
                SessionCommand::Expunge => Imap::Expunge,
            };
            (m, cmd)
        }
    };
    Op::Session {
        session: p.name.clone(),
        mailbox,
        cmd,
    }
}

/// What `p` does next.
fn next_op(p: &Proc, sel: &mut Selected) -> Op {
    match p.program {
        Program::Imapd if p.session => next_session_op(p, sel),
        Program::Lmtpd => Op::Deliver {
            mailbox: pick(&p.mailboxes),
            sent_age_days: draw(p.sent_age_days).min(u64::from(u32::MAX)) as u32,
            size: draw(p.size).clamp(1, u64::from(u32::MAX)) as u32,
        },
        Program::Imapd => {
            let mailbox = pick(&p.mailboxes);
            match pick(&p.actions) {
                Action::Delete => Op::Delete {
                    mailbox,
                    count: draw(p.delete).min(u64::from(u32::MAX)) as u32,
                    random: false,
                },
                Action::Expunge => Op::Expunge { mailbox },
                Action::Open => Op::Open { mailbox },
            }
        }
        Program::Unexpunge => Op::Unexpunge {
            mailbox: pick(&p.mailboxes),
        },
        Program::CyrExpire => Op::CyrExpire,
    }
}

/// The node's life: sleep, act, and on death wait for the supervisor.
pub async fn process_loop(shared: Shared, p: Proc) {
    // A (re)started imapd has no session: it logs in anew.
    let mut sel = Selected::default();
    loop {
        let wait = match p.program {
            Program::CyrExpire => {
                let now = match shared.lock().expect("world lock").as_mut() {
                    Some(s) => {
                        s.tick();
                        s.world.now
                    }
                    None => return,
                };
                until_cron(now, p.at_hour, p.at_minute)
            }
            _ => draw(p.every_minutes).max(1) * 60 + thread_rng().gen_range(0..60),
        };
        sleep(Duration::from_secs(wait)).await;
        let op = next_op(&p, &mut sel);
        let mut tries = 0;
        loop {
            let ended = match shared.lock().expect("world lock").as_mut() {
                Some(s) => s.run_op(&p.name, &op),
                None => return,
            };
            match ended {
                Ended::Done => break,
                Ended::Locked if tries < LOCK_RETRIES => {
                    // Cyrus blocks in F_SETLKW; here the process waits and tries again.
                    tries += 1;
                    sleep(Duration::from_secs(thread_rng().gen_range(1..30))).await;
                }
                Ended::Locked => break,
                Ended::Died(kind) => {
                    if let Some(s) = shared.lock().expect("world lock").as_mut() {
                        if kind == NoteKind::PowerLoss {
                            s.power_lost = true;
                        } else {
                            s.dead.push(p.name.clone());
                        }
                    }
                    // Dead: the supervisor kills the node and restarts it.
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cron_waits_for_the_next_occurrence_of_its_time() {
        let midnight = 1_220_227_200; // 2008-09-01 00:00 UTC
        assert_eq!(until_cron(midnight, 3, 0), 3 * 3600);
        assert_eq!(until_cron(midnight + 3 * 3600, 3, 0), 86_400);
        assert_eq!(until_cron(midnight + 4 * 3600, 3, 0), 23 * 3600);
    }
}
