//! imapd sessions that hold cyrus.index and cyrus.cache open and mapped across commands
//! while other processes expunge, expire, deliver, and die (engine/src/imapd.rs).

use engine::Strategy;
use engine::imapd::{CHECK_FETCH_GONE, CHECK_VIEW_STALE};
use scenarios::executor::{Op, World};
use scenarios::session::Imap;
use scenarios::{plan, scenario};
use sim::{EventKind, FaultAction};

const SITE: &str = r#"
[site]
version = "VERSION"
expire_rule = "internaldate"

[[mailbox]]
name = "user.u1.Spam"
expire_days = 1
"#;

const SPAM: &str = "user.u1.Spam";

/// A site running `version` with one annotated spam folder holding `n` messages, two days
/// old when the test starts.
fn site(version: &str, strategy: Strategy, n: u32) -> World {
    let text = SITE.replace("VERSION", version);
    let sc = scenario::parse(&text, "sessions.toml", "sessions").unwrap();
    let setup = plan::setup(&sc, 1);
    let mut w = World::new(&setup, strategy, 1);
    for op in plan::ops(&sc, 1).unwrap() {
        w.apply(&op);
    }
    for _ in 0..n {
        w.apply(&deliver());
    }
    w.apply(&Op::Advance { secs: 2 * 86_400 });
    w
}

fn deliver() -> Op {
    Op::Deliver {
        mailbox: SPAM.to_string(),
        sent_age_days: 0,
        size: 3000,
    }
}

fn imap(session: &str, cmd: Imap) -> Op {
    Op::Session {
        session: session.to_string(),
        mailbox: SPAM.to_string(),
        cmd,
    }
}

fn on_disk(w: &mut World) -> Vec<u32> {
    engine::oracle::index_uids(&mut w.fs.snapshot(), SPAM)
}

/// Notes of `process` from note `from` on whose detail contains `text`.
fn notes(w: &World, from: usize, process: &str, text: &str) -> usize {
    w.log.notes[from..]
        .iter()
        .filter(|n| n.process == process && n.detail.contains(text))
        .count()
}

fn session_checks(w: &mut World) -> Vec<String> {
    w.check()
        .findings
        .into_iter()
        .map(|f| f.check)
        .filter(|c| c == CHECK_VIEW_STALE || c == CHECK_FETCH_GONE)
        .collect()
}

#[test]
fn a_session_sees_cyr_expire_only_after_index_check_and_a_plain_fetch_meets_unlinked_files() {
    let mut w = site("2.3.7", Strategy::Cyrus237, 5);
    w.apply(&imap("s", Imap::Select));
    assert_eq!(w.session_uids("s").unwrap(), [1, 2, 3, 4, 5]);

    // 2.3.7's cyr_expire moves the expired spam to cyrus.expunge and unlinks every file
    // (mailbox.c T7 mailbox_expunge: deleted[] of both passes).
    w.apply(&Op::CyrExpire);
    assert!(on_disk(&mut w).is_empty());

    // A plain FETCH runs no index_check: the held map still shows all five, whose files
    // are gone (imapd.c T7:3985-3995; index.c T12:2454-2458).
    let before = w.log.notes.len();
    w.apply(&imap("s", Imap::Fetch { uid: false }));
    assert_eq!(w.session_uids("s").unwrap(), [1, 2, 3, 4, 5]);
    assert_eq!(notes(&w, before, "s", "no longer exists"), 5);

    // NOOP is index_check: cyrus.index was renamed over, the session reopens it.
    w.apply(&imap("s", Imap::Noop));
    assert_eq!(w.session_uids("s").unwrap(), on_disk(&mut w));
    let before = w.log.notes.len();
    w.apply(&imap("s", Imap::Fetch { uid: true }));
    assert_eq!(notes(&w, before, "s", "no longer exists"), 0);
    assert!(session_checks(&mut w).is_empty());
    assert!(w.session_alive("s"));
}

#[test]
fn under_2_3_15_the_stale_view_still_fetches_the_expired_messages() {
    // 2.3.15 passes flags 0 on annotated folders: a delayed move, the files stay.
    let mut w = site("2.3.15", Strategy::Cyrus2315, 5);
    w.apply(&imap("s", Imap::Select));
    w.apply(&Op::CyrExpire);
    assert!(on_disk(&mut w).is_empty());
    let before = w.log.notes.len();
    w.apply(&imap("s", Imap::Fetch { uid: false }));
    assert_eq!(w.session_uids("s").unwrap(), [1, 2, 3, 4, 5]);
    assert_eq!(notes(&w, before, "s", "no longer exists"), 0);
    w.apply(&imap("s", Imap::Fetch { uid: true }));
    assert!(w.session_uids("s").unwrap().is_empty());
    assert!(session_checks(&mut w).is_empty());
}

#[test]
fn a_store_through_a_stale_map_fakes_the_flags_of_expired_messages() {
    let mut w = site("2.3.7", Strategy::Cyrus237, 3);
    w.apply(&imap("s", Imap::Select));
    w.apply(&Op::CyrExpire);
    w.apply(&deliver());
    w.apply(&deliver());
    assert_eq!(on_disk(&mut w), [4, 5]);
    // msgnos 1 and 2 of the stale view are UIDs 1 and 2, gone: "Fake setting the flags"
    // (index.c T12:2905-2918). UIDs 4 and 5, now at msgnos 1 and 2, stay unflagged.
    w.apply(&imap("s", Imap::Store { count: 2 }));
    w.apply(&imap("s", Imap::Expunge));
    assert_eq!(on_disk(&mut w), [4, 5]);
    assert_eq!(w.session_uids("s").unwrap(), [4, 5]);
    assert!(session_checks(&mut w).is_empty());
}

#[test]
fn a_session_sees_appends_and_another_sessions_expunge_at_its_next_check() {
    let mut w = site("2.3.12", Strategy::Cyrus2312, 4);
    w.apply(&imap("a", Imap::Select));
    w.apply(&imap("b", Imap::Select));
    w.apply(&deliver());
    assert_eq!(w.session_uids("a").unwrap(), [1, 2, 3, 4]);
    w.apply(&imap("a", Imap::Noop));
    assert_eq!(w.session_uids("a").unwrap(), [1, 2, 3, 4, 5]);

    // b flags the first two it shows (it has not seen UID 5) and expunges them.
    w.apply(&imap("b", Imap::Store { count: 2 }));
    w.apply(&imap("b", Imap::Expunge));
    assert_eq!(on_disk(&mut w), [3, 4, 5]);
    assert_eq!(w.session_uids("b").unwrap(), [3, 4, 5]);
    assert_eq!(w.session_uids("a").unwrap(), [1, 2, 3, 4, 5]);

    // a's stale map (of the old inode) saw b's \Deleted written in place, so its user
    // picks msgnos 3 and 4: UIDs 3 and 4 in a's view, msgnos 1 and 2 of the new file.
    // index_storeflag finds them by UID (index.c T12:2858-2904), not by msgno.
    w.apply(&imap("a", Imap::Store { count: 2 }));
    w.apply(&imap("a", Imap::Noop));
    assert_eq!(w.session_uids("a").unwrap(), [3, 4, 5]);
    w.apply(&imap("a", Imap::Expunge));
    assert_eq!(
        on_disk(&mut w),
        [5],
        "a flagged what it showed, not what sits there now"
    );
    assert!(session_checks(&mut w).is_empty());
    assert!(w.check().findings.is_empty(), "{:?}", w.check().findings);
}

/// Kill `op`'s process at each of its filesystem calls in turn, on a copy of `w`, then let
/// session "s" NOOP; `judge` sees each world afterwards.
fn at_every_kill_point(w: &World, op: &Op, mut judge: impl FnMut(u64, &mut World)) -> u64 {
    let mut probe = w.clone();
    let before = probe.fs.calls();
    probe.apply(op);
    let calls = probe.fs.calls() - before;
    for k in 1..=calls {
        let mut c = w.clone();
        c.apply(&Op::Arm {
            action: FaultAction::Kill,
            after_calls: k,
        });
        c.apply(op);
        c.apply(&imap("s", Imap::Noop));
        judge(k, &mut c);
    }
    calls
}

fn map_faults(w: &World) -> usize {
    w.fs.events()
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Segv | EventKind::Bus | EventKind::MapTail
            )
        })
        .count()
}

#[test]
fn a_cyr_expire_killed_between_its_renames_makes_a_held_session_fatal() {
    let mut w = site("2.3.7", Strategy::Cyrus237, 6);
    w.apply(&imap("s", Imap::Select));
    let (mut survived, mut fatal) = (0, 0);
    let calls = at_every_kill_point(&w, &Op::CyrExpire, |k, c| {
        assert_eq!(map_faults(c), 0, "kill at call {k}");
        assert!(session_checks(c).is_empty(), "kill at call {k}");
        if c.session_alive("s") {
            survived += 1;
            assert_eq!(c.session_uids("s").unwrap(), on_disk(c), "kill at call {k}");
        } else {
            // index_check found a new cyrus.index whose cache generation does not match
            // (the kill fell between the renames): mailbox_open_index gives up, and
            // index_check calls fatal() (index.c T7:297-299).
            fatal += 1;
            let last = c.log.notes.last().unwrap();
            assert_eq!(last.kind, engine::NoteKind::Fatal, "kill at call {k}");
            assert!(last.detail.contains("failed to reopen index file"));
            assert!(
                c.check()
                    .findings
                    .iter()
                    .any(|f| f.check.contains("generation"))
            );
        }
    });
    assert!(
        calls > 20 && survived > 0 && fatal > 0,
        "{calls} {survived} {fatal}"
    );
}

#[test]
fn an_lmtpd_killed_mid_delivery_never_disturbs_a_held_session() {
    let mut w = site("2.3.12", Strategy::Cyrus2312, 3);
    w.apply(&imap("s", Imap::Select));
    let calls = at_every_kill_point(&w, &deliver(), |k, c| {
        assert!(c.session_alive("s"), "kill at call {k}");
        assert_eq!(c.session_uids("s").unwrap(), on_disk(c), "kill at call {k}");
        assert_eq!(map_faults(c), 0, "kill at call {k}");
        assert!(session_checks(c).is_empty(), "kill at call {k}");
    });
    assert!(calls > 5);
}

#[test]
fn a_killed_session_drops_its_fds_while_another_keeps_its_maps() {
    let mut w = site("2.3.12", Strategy::Cyrus2312, 3);
    w.apply(&imap("a", Imap::Select));
    w.apply(&imap("b", Imap::Select));
    w.apply(&Op::Arm {
        action: FaultAction::Kill,
        after_calls: 1,
    });
    w.apply(&imap("a", Imap::Fetch { uid: false }));
    assert!(!w.session_alive("a"));
    assert!(w.session_alive("b"));
    w.apply(&deliver());
    w.apply(&imap("b", Imap::Noop));
    assert_eq!(w.session_uids("b").unwrap(), [1, 2, 3, 4]);
    // A command of a session that died is refused; a new SELECT logs in again.
    w.apply(&imap("a", Imap::Noop));
    assert!(w.session_uids("a").is_none());
    w.apply(&imap("a", Imap::Select));
    assert_eq!(w.session_uids("a").unwrap(), [1, 2, 3, 4]);
}

#[test]
fn the_same_session_schedule_gives_the_same_trace_twice() {
    let run = || {
        let mut w = site("2.3.7", Strategy::Cyrus237, 4);
        for op in [
            imap("a", Imap::Select),
            imap("b", Imap::Select),
            imap("b", Imap::Store { count: 1 }),
            Op::CyrExpire,
            imap("a", Imap::Fetch { uid: false }),
            imap("b", Imap::Expunge),
            imap("a", Imap::Fetch { uid: true }),
            imap("a", Imap::Close),
            imap("b", Imap::Logout),
        ] {
            w.apply(&op);
        }
        w.fs.trace_digest()
    };
    assert_eq!(run(), run());
}
