//! The stale map's role in the wrap, under every coherence mode.
//!
//! mailbox_expunge maps cyrus.expunge once (onceonly, st_size) before pass 1; pass 1 then
//! appends to the file with write(); pass 2 reads through the old map. These tests show that
//! the appends are invisible to pass 2 under every mode (the map's length was fixed before
//! they were written), what a remap changes (the map covers them) and what it does not (pass
//! 2 still walks the header's E, so the wrap is the same), and that the wrap itself comes
//! from the counters pass 1 and pass 2 share.

mod support;

use engine::expunge::{ExpungeFix, mailbox_expunge};
use engine::layout::*;
use engine::mailbox::{mailbox_close, mailbox_open_and_lock};
use engine::map::{CyrusMap, map_free, map_refresh};
use engine::process_records::{Decide, EXPUNGE_CLEANUP, EXPUNGE_FORCE, ExpireRock};
use engine::{Strategy, Version};
use sim::{Coherence, OpenFlags, Whence};
use support::*;

const MODES: [Coherence; 3] = [
    Coherence::Shared,
    Coherence::StupidShared,
    Coherence::NoMmap,
];

#[test]
fn appends_after_a_onceonly_map_are_past_its_length_under_every_mode() {
    for mode in MODES {
        let mut w = World::with_coherence(Version::V2_3_7, mode);
        spam_folder(&mut w);
        let (before, after, rec4) = w.with("cyr_expire", |cx| {
            let fd = cx.fs.open(cx.pid, EXPUNGE, OpenFlags::RDWR).unwrap();
            let size = cx.fs.fstat(cx.pid, fd).unwrap().size;
            let mut m = CyrusMap::default();
            map_refresh(cx, fd, true, &mut m, Some(size), "expunge").unwrap();
            // Pass 1's append: one 80-byte record (UID 6) at the end, with write().
            let mut rec = [0u8; 80];
            put32(&mut rec, OFFSET_UID, 6);
            cx.fs.lseek(cx.pid, fd, size as i64, Whence::Set).unwrap();
            cx.fs.write(cx.pid, fd, &rec).unwrap();
            let mut buf = [0u8; 80];
            // Read through the sim directly: Cyrus's read would kill the process.
            let stale = cx.fs.map_read(cx.pid, m.map.unwrap(), size, &mut buf);
            // Fix 1's remap: the new map is made after the append and covers it.
            map_free(cx, &mut m).unwrap();
            let grown = cx.fs.fstat(cx.pid, fd).unwrap().size;
            map_refresh(cx, fd, true, &mut m, Some(grown), "expunge").unwrap();
            m.read(cx, size, &mut buf).unwrap();
            (stale, grown, get32(&buf, OFFSET_UID))
        });
        assert_eq!(
            before.map_err(|e| e.errno),
            Err(sim::Errno::Segv),
            "{mode:?}: reading the append through the old map"
        );
        assert_eq!(after, 96 + 6 * 80, "{mode:?}");
        assert_eq!(rec4, 6, "{mode:?}: the remapped view sees the append");
    }
}

#[test]
fn the_wrap_is_the_same_under_every_mode_with_or_without_the_remap() {
    for mode in MODES {
        for strategy in [Strategy::Cyrus237, Strategy::Fix1Remap] {
            let mut w = World::with_coherence(Version::V2_3_7, mode);
            spam_folder(&mut w);
            let (r, notes) = w.cyr_expire(strategy);
            let call = r.unwrap()[0].calls[0].clone().unwrap();
            let ctx = format!("{mode:?} {}", strategy.name());
            // Pass 2 walked E = 5 records either way: the header's count, not the map's.
            assert_eq!(call.pass2.as_ref().unwrap().examined, 5, "{ctx}");
            assert_eq!(w.exists_of(EXPUNGE), Some(u32::MAX), "{ctx}");
            assert_eq!(w.uids(EXPUNGE), vec![3, 4, 5], "{ctx}");
            let stale = notes.iter().any(|n| {
                n.detail
                    .contains("the map of cyrus.expunge (496 bytes) does not cover them")
            });
            assert!(stale, "{ctx}: the map was made at 96 + 5 * 80 bytes");
            let remapped = notes
                .iter()
                .any(|n| n.detail.contains("the map now covers 816 bytes"));
            assert_eq!(remapped, strategy == Strategy::Fix1Remap, "{ctx}");
        }
    }
}

/// One FORCE|CLEANUP call as 2.3.7's cyr_expire makes it, with `fix`.
fn expire_with(w: &mut World, fix: ExpungeFix) -> engine::expunge::ExpungeReport {
    let now = w.now as i64;
    w.with("cyr_expire", |cx| {
        let mut mb = mailbox_open_and_lock(cx, SPAM).unwrap();
        let mut rock = ExpireRock {
            expire_mark: now - 7 * DAY as i64,
            expunge_mark: now - 7 * DAY as i64,
            ..Default::default()
        };
        let r = mailbox_expunge(
            cx,
            &mut mb,
            &mut Decide::Expire(&mut rock),
            EXPUNGE_FORCE | EXPUNGE_CLEANUP,
            fix,
        )
        .unwrap();
        mailbox_close(cx, &mut mb).unwrap();
        r
    })
}

#[test]
fn the_wrap_comes_from_the_shared_counters() {
    let mut w = World::new(Version::V2_3_7);
    spam_folder(&mut w);
    let r = expire_with(
        &mut w,
        ExpungeFix {
            per_pass_counters: true,
            ..ExpungeFix::default()
        },
    );
    assert_eq!(r.pass1.appended, 4);
    assert_eq!(r.pass2.unwrap().decided_uids, vec![1, 2]);
    // No wrap: the pass-2 header is E - N2 = 3, the records present.
    assert_eq!(w.exists_of(EXPUNGE), Some(3));
    assert_eq!(w.uids(EXPUNGE), vec![3, 4, 5]);
    // But the pass-1 records went to the old inode and are gone, files and all.
    assert_eq!(r.unlinked, vec![6, 7, 8, 9, 1, 2]);
    assert_eq!(w.message_files(), vec![3, 4, 5, 10, 11]);
    assert!(w.fsck().is_clean(), "{}", w.fsck());

    // The same call with shared counters: the wrap.
    let mut w = World::new(Version::V2_3_7);
    spam_folder(&mut w);
    expire_with(&mut w, ExpungeFix::default());
    assert_eq!(w.exists_of(EXPUNGE), Some(5u32.wrapping_sub(4 + 2)));
}
