//! `unexpunge -l` (imap/unexpunge.c, 2.3.12-p1) on a clean cyrus.expunge, on the wrapped
//! but small file the 2.3.7 cyr_expire leaves, and on the sparse file the next delayed
//! EXPUNGE makes of it.

mod support;

use std::time::{Duration, Instant};

use engine::cx::CyrusError;
use engine::unexpunge::{Expunged, LISTING_MAX, unexpunge_list};
use engine::{NoteKind, Strategy, Version};
use support::*;

fn list(w: &mut World) -> Result<Option<engine::unexpunge::Listing>, CyrusError> {
    w.with("unexpunge", |cx| unexpunge_list(cx, SPAM))
}

#[test]
fn a_clean_cyrus_expunge_is_listed_sorted_by_uid() {
    let mut w = World::new(Version::V2_3_7);
    spam_folder(&mut w);
    let l = list(&mut w).unwrap().unwrap();
    assert_eq!(l.exists, 5);
    assert_eq!(l.uid_zero, 0);
    let uids: Vec<u32> = l.first.iter().map(|e| e.uid).collect();
    assert_eq!(uids, vec![1, 2, 3, 4, 5]);
    assert_eq!(l.printed, 5);
    assert_eq!(l.death, None);
    assert!(events(&w.log.notes).is_empty());
}

#[test]
fn after_the_2_3_7_wrap_unexpunge_reads_past_the_map_and_dies() {
    let mut w = World::new(Version::V2_3_7);
    spam_folder(&mut w);
    w.cyr_expire(Strategy::Cyrus237).0.unwrap();
    assert_eq!(w.exists_of(EXPUNGE), Some(u32::MAX));
    // xmalloc((2^32 - 1) * 24) = 103 GB succeeds under the LP64 limit (overcommit); then
    // record 4 (0-based 3) is read at 96 + 3 * 80 = 336, the map's length.
    let r = list(&mut w);
    match r {
        Err(CyrusError::Died(NoteKind::Segfault, d)) => {
            assert!(
                d.contains("at offset 336 through a map of length 336"),
                "{d}"
            )
        }
        other => panic!("expected a segfault, got {other:?}"),
    }
}

#[test]
fn after_the_2_3_7_wrap_a_32_bit_unexpunge_dies_in_xmalloc() {
    let mut w = World::new(Version::V2_3_7);
    w.site.arch = engine::Arch::Ilp32;
    w.site.alloc_limit = engine::Arch::Ilp32.default_alloc_limit();
    spam_folder(&mut w);
    w.cyr_expire(Strategy::Cyrus237).0.unwrap();
    // (2^32 - 1) * 12 wraps to 2^32 - 12 bytes: more than a 32-bit process can have.
    match list(&mut w) {
        Err(CyrusError::Died(NoteKind::Fatal, d)) => {
            assert!(d.contains("xmalloc(4294967284)"), "{d}")
        }
        other => panic!("expected fatal, got {other:?}"),
    }
}

#[test]
fn on_the_sparse_file_unexpunge_lists_2_pow_32_entries_mostly_uid_0_quickly() {
    let mut w = World::new(Version::V2_3_7);
    spam_folder(&mut w);
    w.deliver(T0 - 20 * DAY, 1000); // N1 = 5: exists = 2^32 - 2
    w.cyr_expire(Strategy::Cyrus237).0.unwrap();
    w.now += DAY;
    w.user_expunge(&[10]).unwrap();
    assert_eq!(w.exists_of(EXPUNGE), Some(u32::MAX));
    let st = w.size(EXPUNGE).unwrap();
    assert_eq!(st.size, 96 + u32::MAX as u64 * 80);

    let t = Instant::now();
    let l = list(&mut w).unwrap().unwrap();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(l.exists, u32::MAX as u64);
    // Records 1..=3 (UIDs 3, 4, 5) and the last one (UID 10) hold data; the rest is hole.
    assert_eq!(l.uid_zero, u32::MAX as u64 - 4);
    // UID-0 records in the two allocated 4 KiB blocks are really read: 47 after the first
    // three records ((4096 - 336) / 80), 50 before UID 10 (its offset is 4032 mod 4096).
    assert_eq!(l.uid_zero - l.in_holes, 47 + 50);
    assert_eq!(l.first.len(), LISTING_MAX);
    assert!(l.first.iter().all(|e| e.uid == 0));
    assert_eq!(l.first[0], Expunged { uid: 0, recno: 3 });
    // Then list_expunged prints the first entry, UID 0, walking its cache items from
    // cache_offset 0: the generation number read as an item length, then envelope text
    // ("ENVE" = 0x454E5645) read as the next: a jump of 1.16e9 bytes past the 16 KiB cache
    // map. No entry is printed in full.
    assert_eq!(l.printed, 0);
    match &l.death {
        Some(CyrusError::Died(NoteKind::Segfault, d)) => {
            assert!(d.contains("through a map of length 16384"), "{d}")
        }
        other => panic!("expected a segfault in list_expunged, got {other:?}"),
    }
}

/// After the 2.3.12 upgrade failed on ENOSPC, cyrus.index is minor 10 (88-byte records) and
/// cyrus.expunge minor 9 (80). The next open sees minor 10 in cyrus.index and does not
/// upgrade again (mailbox.c T12:901-909 tests only the index header), so every reader of
/// cyrus.expunge uses cyrus.index's record_size 88 (T12:896-899) on 80-byte records.
#[test]
fn after_a_failed_upgrade_cyrus_expunge_stays_minor_9_and_is_read_with_88_byte_records() {
    let mut w = World::new(Version::V2_3_7);
    w.fs = sim::SimFs::new(sim::SimConfig {
        capacity: 64 << 20,
        ..sim::SimConfig::default()
    });
    spam_folder(&mut w);
    w.deliver(T0 - 20 * DAY, 1000);
    w.deliver(T0 - 20 * DAY, 1000); // N1 = 6: exists = 5 - 6 - 2 = 2^32 - 3
    w.cyr_expire(Strategy::Cyrus237).0.unwrap();
    w.now += DAY;
    w.user_expunge(&[10]).unwrap();
    assert_eq!(w.exists_of(EXPUNGE), Some(u32::MAX - 1));

    w.site.version = Version::V2_3_12;
    let r = w.with("imapd", |cx| {
        engine::mailbox::mailbox_open_and_lock(cx, SPAM).map(|_| ())
    });
    assert!(matches!(r, Err(CyrusError::IoError(_))), "{r:?}");
    // The admin frees the partition.
    let pid = sim::Vfs::spawn(&mut w.fs, "admin");
    sim::Vfs::unlink(&mut w.fs, pid, "user/bob/Spam/cyrus.expunge.NEW").unwrap();

    let before = w.log.notes.len();
    let mb = w
        .with("imapd", |cx| {
            engine::mailbox::mailbox_open_and_lock(cx, SPAM)
        })
        .unwrap();
    assert_eq!((mb.minor_version, mb.record_size), (10, 88));
    assert!(
        !w.log.notes[before..]
            .iter()
            .any(|n| n.detail.contains("upgrading")),
        "no second upgrade"
    );
    let ex = w.header(EXPUNGE).unwrap();
    use engine::layout::{OFFSET_MINOR_VERSION, OFFSET_RECORD_SIZE, get32};
    assert_eq!(
        (
            get32(&ex, OFFSET_MINOR_VERSION),
            get32(&ex, OFFSET_RECORD_SIZE)
        ),
        (9, 80)
    );
    let f = w.fsck();
    assert_eq!(
        f.with_check(engine::fsck::checks::EXPUNGE_GEOMETRY_MISMATCH)
            .count(),
        1,
        "{f}"
    );

    // unexpunge -l reads record r at 96 + r * 88 of a file laid out at 96 + r * 80: past
    // (2^32 - 2) * 80 / 88 records it reads beyond the map.
    let map_len = 96 + (u32::MAX as u64 - 1) * 80;
    match list(&mut w) {
        Err(CyrusError::Died(NoteKind::Segfault, d)) => {
            assert!(
                d.contains(&format!("through a map of length {map_len}")),
                "{d}"
            )
        }
        other => panic!("expected a segfault, got {other:?}"),
    }

    // The next delayed EXPUNGE appends at 96 + (2^32 - 2) * 88.
    w.user_expunge(&[11]).unwrap();
    let st = w.size(EXPUNGE).unwrap();
    assert_eq!(st.size, 96 + (u32::MAX as u64 - 1) * 88 + 88);
    assert_eq!(w.exists_of(EXPUNGE), Some(u32::MAX));
}
