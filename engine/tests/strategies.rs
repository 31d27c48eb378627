//! Every strategy of `engine::Strategy::ALL` on the seed's situation (`support::spam_folder`):
//! delayed expunge, `-X 7`, a 7-day expire annotation, cyrus.expunge with E = 5 records
//! (UIDs 1, 2 expunged 10 days ago, 3, 4, 5 one day ago), live UIDs 6..=9 sent 20 days ago
//! (N1 = 4), live UIDs 10, 11 sent today. N1 + N2 = 4 + 2 > E = 5.
//!
//! Each test asserts the exact outcome of the first night and of the next ones: what
//! cyrus.expunge's header says against the records it holds, where every UID ends up, which
//! message files are gone, whether cache offsets point at the UID's own cache record, the
//! file-level fsck, and the events (IOERROR, segfault) of the next cleanup night.

mod support;

use engine::cx::CyrusError;
use engine::fsck::checks::*;
use engine::{NoteKind, Strategy, Version};
use support::*;

const WRAPPED: u32 = 5u32.wrapping_sub(4 + 2); // (E - N1 - N2) mod 2^32

fn all_own(w: &mut World, path: &str) -> bool {
    w.cache_offsets_own(path).iter().all(|(_, ok)| *ok)
}

fn none_own(w: &mut World, path: &str) -> bool {
    w.cache_offsets_own(path).iter().all(|(_, ok)| !*ok)
}

/// The wrap both 2.3.7 and fix 1 as proposed leave after the first night.
fn assert_wrapped_first_night(w: &mut World, strategy: Strategy) {
    let (r, notes) = w.cyr_expire(strategy);
    let runs = r.unwrap();
    let call = runs[0].calls[0].as_ref().unwrap();
    assert_eq!(call.expunge_exists_before, 5, "E");
    assert_eq!(call.pass1.decided_uids, vec![6, 7, 8, 9], "N1 = 4 expired");
    assert_eq!(
        call.pass1.appended, 4,
        "pass 1 appended them to cyrus.expunge"
    );
    assert_eq!(call.pass2.as_ref().unwrap().decided_uids, vec![1, 2], "N2");
    assert_eq!(call.unlinked, vec![6, 7, 8, 9, 1, 2]);
    assert!(events(&notes).is_empty(), "{notes:?}");

    assert_eq!(w.exists_of(EXPUNGE), Some(WRAPPED));
    assert_eq!(WRAPPED, u32::MAX);
    assert_eq!(w.uids(EXPUNGE), vec![3, 4, 5], "E - N2 = 3 records present");
    assert_eq!(w.uids(INDEX), vec![10, 11]);
    // Pass-1 records are lost at the rename; their files are unlinked anyway.
    assert_eq!(w.message_files(), vec![3, 4, 5, 10, 11]);
    assert!(all_own(w, EXPUNGE) && all_own(w, INDEX));
    let f = w.fsck();
    assert_eq!(
        checks(&f),
        vec![EXISTS_MISMATCH, QUOTA_MISMATCH, SIZE_MISMATCH]
    );
    let x = f.file("cyrus.expunge").unwrap();
    assert_eq!((x.exists, x.records_present), (Some(u32::MAX), Some(3)));
}

/// The night after the wrap: pass 2 loops to exists = 2^32 - 1 over a 3-record map.
fn assert_next_night_faults(w: &mut World, strategy: Strategy, map_len: u64) {
    w.now += DAY;
    let (r, notes) = w.cyr_expire(strategy);
    match r {
        Err(CyrusError::Died(NoteKind::Segfault, d)) => {
            assert!(
                d.contains(&format!(
                    "at offset {map_len} through a map of length {map_len}"
                )),
                "{d}"
            );
        }
        other => panic!("expected a segfault, got {other:?}"),
    }
    assert_eq!(events(&notes), vec![NoteKind::Segfault]);
    // Nothing changed on disk: the process died before any rename.
    assert_eq!(w.exists_of(EXPUNGE), Some(u32::MAX));
    assert_eq!(w.uids(EXPUNGE), vec![3, 4, 5]);
}

#[test]
fn cyrus_2_3_7_wraps_expunge_exists_and_loses_the_pass1_records() {
    let mut w = World::new(Version::V2_3_7);
    spam_folder(&mut w);
    assert_wrapped_first_night(&mut w, Strategy::Cyrus237);
    // Map length 336 = 96 + 3 * 80: the 4th record is read at the map's end.
    assert_next_night_faults(&mut w, Strategy::Cyrus237, 336);
}

#[test]
fn cyrus_2_3_7_when_the_sparse_write_wraps_exists_to_0_the_next_cleanup_unlinks_cyrus_expunge() {
    let mut w = World::new(Version::V2_3_7);
    spam_folder(&mut w);
    w.cyr_expire(Strategy::Cyrus237).0.unwrap();
    // The user deletes UID 10: the delayed EXPUNGE writes at 96 + (2^32 - 1) * 80.
    w.now += DAY;
    w.user_expunge(&[10]).unwrap();
    let st = w.size(EXPUNGE).unwrap();
    assert_eq!(st.size, 96 + u32::MAX as u64 * 80 + 80);
    assert_eq!(w.exists_of(EXPUNGE), Some(0), "2^32 - 1 + 1 wraps to 0");
    // exists 0: the next cleanup walks nothing and, with E = 0, unlinks cyrus.expunge:
    // UIDs 3, 4, 5 and 10 leave cyrus.expunge without their files being unlinked.
    let (r, notes) = w.cyr_expire(Strategy::Cyrus237);
    let runs = r.unwrap();
    let call = runs[0].calls[0].as_ref().unwrap();
    assert_eq!(call.expunge_exists_before, 0);
    assert!(call.expunge_unlinked);
    assert!(events(&notes).is_empty());
    assert!(w.size(EXPUNGE).is_none());
    assert_eq!(
        w.message_files(),
        vec![3, 4, 5, 10, 11],
        "orphaned files 3, 4, 5, 10"
    );
}

#[test]
fn cyrus_2_3_12_force_only_purges_at_once_and_never_cleans_cyrus_expunge() {
    let mut w = World::new(Version::V2_3_12);
    spam_folder(&mut w);
    for night in 0..4 {
        let (r, notes) = w.cyr_expire(Strategy::Cyrus2312);
        let runs = r.unwrap();
        assert_eq!(runs[0].calls.len(), 1, "one call: FORCE");
        let call = runs[0].calls[0].as_ref().unwrap();
        assert_eq!(call.flags, engine::process_records::EXPUNGE_FORCE);
        assert_eq!(call.pass2, None, "no CLEANUP pass, ever");
        let expired: Vec<u32> = if night == 0 { vec![6, 7, 8, 9] } else { vec![] };
        assert_eq!(call.pass1.decided_uids, expired, "night {night}");
        assert_eq!(
            call.pass1.appended, 0,
            "immediate: nothing goes to cyrus.expunge"
        );
        assert_eq!(call.unlinked, expired, "expired files unlinked at once");
        assert!(events(&notes).is_empty());

        // Hand-deleted spam (1, 2 are older than -X 7) stays, night after night.
        assert_eq!(w.exists_of(EXPUNGE), Some(5));
        assert_eq!(w.uids(EXPUNGE), vec![1, 2, 3, 4, 5]);
        assert_eq!(w.uids(INDEX), vec![10, 11]);
        assert_eq!(w.message_files(), vec![1, 2, 3, 4, 5, 10, 11]);
        // The immediate expunge rewrote cyrus.cache with the live records only.
        assert!(none_own(&mut w, EXPUNGE), "expunge cache offsets dangle");
        assert!(all_own(&mut w, INDEX));
        let f = w.fsck();
        assert_eq!(
            checks(&f),
            vec![
                CACHE_OFFSET_OUT_OF_RANGE,
                CACHE_RECORD_INVALID,
                EXPUNGE_GENERATION_MISMATCH
            ]
        );
        w.now += DAY;
    }
}

#[test]
fn cyrus_2_3_15_moves_expired_to_cyrus_expunge_and_never_cleans_it() {
    let mut w = World::new(Version::V2_3_15);
    spam_folder(&mut w);
    for night in 0..3 {
        let (r, notes) = w.cyr_expire(Strategy::Cyrus2315);
        let runs = r.unwrap();
        assert_eq!(runs[0].calls.len(), 1, "one call: flags 0");
        let call = runs[0].calls[0].as_ref().unwrap();
        assert_eq!(call.flags, 0);
        assert_eq!(call.pass2, None);
        let (e, moved): (u64, Vec<u32>) = if night == 0 {
            (5, vec![6, 7, 8, 9])
        } else {
            (9, vec![])
        };
        assert_eq!(call.expunge_exists_before, e);
        assert_eq!(call.pass1.decided_uids, moved);
        assert!(call.unlinked.is_empty(), "delayed: no file is unlinked");
        assert!(events(&notes).is_empty());
        assert_eq!(w.exists_of(EXPUNGE), Some(9));
        assert_eq!(w.uids(EXPUNGE), (1..=9).collect::<Vec<_>>());
        assert_eq!(w.message_files(), (1..=11).collect::<Vec<_>>());
        assert!(all_own(&mut w, EXPUNGE));
        assert!(w.fsck().is_clean());
        w.now += DAY;
    }
}

#[test]
fn fix1_remap_alone_wraps_exactly_like_2_3_7() {
    let mut w = World::new(Version::V2_3_7);
    spam_folder(&mut w);
    let before = w.log.notes.len();
    assert_wrapped_first_night(&mut w, Strategy::Fix1Remap);
    // The remap happened: the map covered 96 + 9 * 80 = 816 bytes for pass 2, which
    // still walked E = 5 records.
    assert!(
        w.log.notes[before..]
            .iter()
            .any(|n| n.detail.contains("the map now covers 816 bytes"))
    );
    assert_next_night_faults(&mut w, Strategy::Fix1Remap, 336);
}

#[test]
fn fix1_complete_keeps_pass1_records_their_cache_and_their_files() {
    let mut w = World::new(Version::V2_3_7);
    spam_folder(&mut w);
    for night in 0..3 {
        let (r, notes) = w.cyr_expire(Strategy::Fix1Complete);
        let runs = r.unwrap();
        let call = runs[0].calls[0].as_ref().unwrap();
        let (p1, p2, unl): (Vec<u32>, Vec<u32>, Vec<u32>) = if night == 0 {
            (vec![6, 7, 8, 9], vec![1, 2], vec![1, 2])
        } else {
            (vec![], vec![], vec![])
        };
        assert_eq!(call.pass1.decided_uids, p1);
        assert_eq!(call.pass2.as_ref().unwrap().decided_uids, p2);
        assert_eq!(call.unlinked, unl, "only purged records lose their files");
        assert!(events(&notes).is_empty());
        assert_eq!(w.exists_of(EXPUNGE), Some(7), "exists == records present");
        assert_eq!(w.uids(EXPUNGE), vec![3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(w.uids(INDEX), vec![10, 11]);
        assert_eq!(w.message_files(), (3..=11).collect::<Vec<_>>());
        assert!(all_own(&mut w, EXPUNGE) && all_own(&mut w, INDEX));
        assert!(w.fsck().is_clean(), "{}", w.fsck());
        w.now += DAY;
    }
}

/// Fix 2 as proposed, first call FORCE: immediate mode rewrites cyrus.cache without the
/// expunge records' entries; the second call's pass 2 then walks their dangling offsets.
fn fix2_two_calls_night(w: &mut World) -> (Vec<engine::cyr_expire::FolderRun>, Vec<engine::Note>) {
    let (r, notes) = w.cyr_expire(Strategy::Fix2TwoCalls);
    (r.expect("cyr_expire survives"), notes)
}

#[test]
fn fix2_two_calls_on_2_3_12_hits_the_cache_bounds_check_every_night() {
    let mut w = World::new(Version::V2_3_12);
    spam_folder(&mut w);
    for night in 0..3 {
        let (runs, notes) = fix2_two_calls_night(&mut w);
        assert_eq!(runs[0].calls.len(), 2);
        let force = runs[0].calls[0].as_ref().unwrap();
        let expired: Vec<u32> = if night == 0 { vec![6, 7, 8, 9] } else { vec![] };
        assert_eq!(force.unlinked, expired);
        // The CLEANUP call purges 1 and 2 (no cache read), then keeps UID 3: msgno 3 of 5.
        match &runs[0].calls[1] {
            Err(CyrusError::IoError(d)) => {
                assert!(d.contains("reading cache record for user.bob.Spam"), "{d}");
                assert!(d.contains("for 3/5; try reconstruct"), "{d}");
            }
            other => panic!("expected IOERROR, got {other:?}"),
        }
        assert_eq!(events(&notes), vec![NoteKind::IoError]);
        // No wrap, but nothing is ever purged from cyrus.expunge either.
        assert_eq!(w.exists_of(EXPUNGE), Some(5));
        assert_eq!(w.uids(EXPUNGE), vec![1, 2, 3, 4, 5]);
        assert_eq!(w.message_files(), vec![1, 2, 3, 4, 5, 10, 11]);
        assert!(none_own(&mut w, EXPUNGE));
        assert!(
            w.size("user/bob/Spam/cyrus.expunge.NEW").is_some(),
            "fail: .NEW left"
        );
        w.now += DAY;
    }
}

#[test]
fn fix2_two_calls_on_2_3_7_segfaults_walking_a_dangling_cache_offset() {
    let mut w = World::new(Version::V2_3_7);
    spam_folder(&mut w);
    let (r, notes) = w.cyr_expire(Strategy::Fix2TwoCalls);
    // No bounds check in 2.3.7: the walk reads a garbage item length at UID 3's stale
    // offset and jumps 1.7e9 bytes past the 16 KiB cache map.
    match r {
        Err(CyrusError::Died(NoteKind::Segfault, d)) => {
            assert!(d.contains("through a map of length 16384"), "{d}")
        }
        other => panic!("expected a segfault, got {other:?}"),
    }
    assert_eq!(events(&notes), vec![NoteKind::Segfault]);
    // The FORCE call had completed: 6..=9 purged at once, cyrus.expunge's offsets dangle.
    assert_eq!(w.uids(INDEX), vec![10, 11]);
    assert_eq!(w.message_files(), vec![1, 2, 3, 4, 5, 10, 11]);
    assert_eq!(w.exists_of(EXPUNGE), Some(5));
    assert!(none_own(&mut w, EXPUNGE));
    let f = w.fsck();
    assert_eq!(
        checks(&f),
        vec![
            CACHE_OFFSET_OUT_OF_RANGE,
            CACHE_RECORD_INVALID,
            EXPUNGE_GENERATION_MISMATCH
        ]
    );
    // And the next night dies the same way.
    w.now += DAY;
    let (r, _) = w.cyr_expire(Strategy::Fix2TwoCalls);
    assert!(matches!(r, Err(CyrusError::Died(NoteKind::Segfault, _))));
}

#[test]
fn fix2_delayed_then_cleanup_is_clean_and_consistent() {
    let mut w = World::new(Version::V2_3_7);
    spam_folder(&mut w);
    for night in 0..3 {
        let (r, notes) = w.cyr_expire(Strategy::Fix2DelayedThenCleanup);
        let runs = r.unwrap();
        let [delayed, cleanup] =
            [&runs[0].calls[0], &runs[0].calls[1]].map(|c| c.as_ref().unwrap());
        assert_eq!(
            (delayed.flags, cleanup.flags),
            (0, engine::process_records::EXPUNGE_CLEANUP)
        );
        let (moved, purged): (Vec<u32>, Vec<u32>) = if night == 0 {
            (vec![6, 7, 8, 9], vec![1, 2])
        } else {
            (vec![], vec![])
        };
        assert_eq!(delayed.pass1.decided_uids, moved);
        assert!(delayed.unlinked.is_empty());
        assert_eq!(
            cleanup.expunge_exists_before,
            if night == 0 { 9 } else { 7 }
        );
        assert!(
            cleanup.pass1.decided_uids.is_empty(),
            "no expire mark: pass 1 moves nothing"
        );
        assert_eq!(cleanup.pass2.as_ref().unwrap().decided_uids, purged);
        assert_eq!(cleanup.unlinked, purged);
        assert!(events(&notes).is_empty());
        assert_eq!(w.exists_of(EXPUNGE), Some(7));
        assert_eq!(w.uids(EXPUNGE), vec![3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(w.message_files(), (3..=11).collect::<Vec<_>>());
        assert!(all_own(&mut w, EXPUNGE) && all_own(&mut w, INDEX));
        assert!(w.fsck().is_clean());
        w.now += DAY;
    }
    // A week later UIDs 3..=9 are older than -X 7 and are purged with their files, while
    // 10 and 11 are now older than the annotation and move to cyrus.expunge.
    w.now += 7 * DAY;
    w.cyr_expire(Strategy::Fix2DelayedThenCleanup).0.unwrap();
    assert_eq!(w.uids(INDEX), Vec::<u32>::new());
    assert_eq!(w.uids(EXPUNGE), vec![10, 11]);
    assert_eq!(w.exists_of(EXPUNGE), Some(2));
    assert_eq!(w.message_files(), vec![10, 11]);
    assert!(w.fsck().is_clean());
}

#[test]
fn every_strategy_has_a_test_here() {
    // A new strategy must get a test of its own in this file.
    assert_eq!(Strategy::ALL.len(), 7);
}

#[test]
fn cyrus_2_3_7_after_a_sparse_write_the_next_cleanup_stops_at_a_zero_record_in_the_hole() {
    let mut w = World::new(Version::V2_3_7);
    spam_folder(&mut w);
    w.deliver(T0 - 20 * DAY, 1000); // UID 12: N1 = 5, exists = 5 - 5 - 2 = 2^32 - 2
    w.cyr_expire(Strategy::Cyrus237).0.unwrap();
    assert_eq!(w.exists_of(EXPUNGE), Some(u32::MAX - 1));
    w.now += DAY;
    w.user_expunge(&[10]).unwrap();
    let st = w.size(EXPUNGE).unwrap();
    assert_eq!(st.size, 96 + (u32::MAX as u64 - 1) * 80 + 80);
    assert_eq!(w.exists_of(EXPUNGE), Some(u32::MAX));
    // Pass 2 reads record 4 from the hole: UID 0, IMAP_IOERROR (mailbox.c T7 process_records).
    w.now += DAY;
    let (r, notes) = w.cyr_expire(Strategy::Cyrus237);
    let runs = r.unwrap();
    match &runs[0].calls[0] {
        Err(CyrusError::IoError(d)) => {
            assert!(d.contains("zero index/expunge record 4/4294967295"), "{d}")
        }
        other => panic!("expected IOERROR, got {other:?}"),
    }
    assert_eq!(events(&notes), vec![NoteKind::IoError]);
    let f = w.fsck();
    assert!(f.with_check(SPARSE_FILE).count() == 1, "{f}");
    assert!(f.with_check(RECORDS_IN_HOLE).count() == 1, "{f}");
}

#[test]
fn with_no_cyrus_expunge_fix1_complete_purges_expired_files_instead_of_leaking_them() {
    // cyr_expire's cleanup does not create cyrus.expunge (T7:2066-2070): pass 1 has nowhere
    // to move the expired records, so they are purged for good and so must their files be.
    // Keeping them, as fix 1's keep_pass1_files did before, left files no record names,
    // which a later reconstruct brought back as new mail.
    for strategy in [Strategy::Cyrus237, Strategy::Fix1Complete] {
        let mut w = World::new(Version::V2_3_7);
        w.with("admin", |cx| engine::mailbox::mailbox_create(cx, SPAM, 1))
            .unwrap();
        w.deliver(T0 - 20 * DAY, 700);
        w.deliver(w.now, 700);
        assert!(w.size(EXPUNGE).is_none());
        w.cyr_expire(strategy).0.unwrap();
        assert_eq!(w.uids(INDEX), vec![2], "{strategy:?}");
        assert!(w.size(EXPUNGE).is_none(), "{strategy:?}");
        assert_eq!(w.message_files(), vec![2], "{strategy:?}");
    }
}

#[test]
fn a_kill_at_the_rename_of_cyrus_index_new_ends_the_process_there() {
    let mut w = World::new(Version::V2_3_12);
    spam_folder(&mut w);
    w.with("imapd", |cx| engine::append::set_deleted(cx, SPAM, &[10]))
        .unwrap();
    // Which call renames cyrus.index.NEW: a dry run on a copy of the world.
    let start = w.fs.calls();
    let mut dry = World {
        fs: w.fs.clone(),
        site: w.site.clone(),
        log: engine::Log::default(),
        now: w.now,
    };
    dry.with("imapd", |cx| engine::append::imapd_expunge(cx, SPAM))
        .unwrap();
    let at = dry
        .fs
        .trace_entries()
        .find(|e| e.seq >= start && e.call == "rename")
        .expect("mailbox_expunge renames cyrus.index.NEW")
        .seq;
    w.fs.set_fault_plan(sim::FaultPlan::at(at, sim::FaultAction::Kill));
    let r = w.with("imapd", |cx| engine::append::imapd_expunge(cx, SPAM));
    assert!(
        matches!(r, Err(CyrusError::Died(NoteKind::Killed, _))),
        "{r:?}"
    );
    // A dead process makes no more calls: after the killed rename, only the end of the
    // process (its kill, as every process ends) is traced.
    let after: Vec<&str> =
        w.fs.trace_entries()
            .filter(|e| e.seq > at)
            .map(|e| e.call)
            .collect();
    assert_eq!(after, vec!["kill"]);
    // Nothing was renamed: UID 10 is still in cyrus.index.
    assert!(w.uids(INDEX).contains(&10));
}
