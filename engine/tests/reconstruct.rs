//! `reconstruct` (imap/reconstruct.c): 2.3.12-p1/2.3.16's two-phase tool with and without
//! `-k`, and 2.3.7's, on a healthy mailbox, on the states a crash between mailbox_expunge's
//! renames leaves, and on the files the 2008 bug leaves.

mod support;

use std::time::{Duration, Instant};

use engine::format::{FLAG_DELETED, IndexRecord, MinorVersion};
use engine::layout::*;
use engine::mailbox::{mailbox_close, mailbox_open_and_lock};
use engine::reconstruct::{ReconstructReport, reconstruct};
use engine::{CyrusError, Strategy, Version};
use sim::{OpenFlags, Vfs};
use support::*;

fn run(w: &mut World, keep: bool) -> ReconstructReport {
    w.with("reconstruct", |cx| reconstruct(cx, SPAM, keep))
        .expect("reconstruct")
}

fn opens(w: &mut World) -> Result<(), CyrusError> {
    w.with("imapd", |cx| {
        let mut mb = mailbox_open_and_lock(cx, SPAM)?;
        mailbox_close(cx, &mut mb)
    })
}

fn parsed(w: &mut World, path: &str) -> Vec<IndexRecord> {
    let minor =
        MinorVersion::from_number(get32(&w.header(INDEX).unwrap(), OFFSET_MINOR_VERSION)).unwrap();
    w.records(path)
        .iter()
        .map(|r| IndexRecord::parse(r, minor).unwrap())
        .collect()
}

/// Every field but the cache offset (the new cache is laid out afresh).
fn without_cache_offset(mut v: Vec<IndexRecord>) -> Vec<IndexRecord> {
    for r in &mut v {
        r.cache_offset = 0;
    }
    v
}

fn poke(w: &mut World, path: &str, off: u64, bytes: &[u8]) {
    let pid = w.fs.spawn("test");
    let fd = w.fs.open(pid, path, OpenFlags::RDWR).unwrap();
    w.fs.pwrite(pid, fd, bytes, off).unwrap();
    let _ = w.fs.kill(pid);
}

#[test]
fn on_a_healthy_mailbox_reconstruct_k_gives_back_the_same_records() {
    let mut w = World::new(Version::V2_3_12);
    spam_folder(&mut w);
    w.with("imapd", |cx| engine::append::set_deleted(cx, SPAM, &[11]))
        .unwrap();
    let index_before = parsed(&mut w, INDEX);
    let expunge_before = parsed(&mut w, EXPUNGE);
    let h_before = w.header(INDEX).unwrap();
    w.now += DAY;
    let rep = run(&mut w, true);
    assert!(rep.index_read);
    assert_eq!((rep.index_records, rep.expunge_records), (6, 5));
    assert!(rep.purged.is_empty() && rep.recovered.is_empty(), "{rep:?}");
    assert_eq!(
        without_cache_offset(parsed(&mut w, INDEX)),
        without_cache_offset(index_before)
    );
    assert_eq!(
        without_cache_offset(parsed(&mut w, EXPUNGE)),
        without_cache_offset(expunge_before)
    );
    let h = w.header(INDEX).unwrap();
    assert_eq!(
        get32(&h, OFFSET_GENERATION_NO),
        get32(&h_before, OFFSET_GENERATION_NO) + 1
    );
    for off in [
        OFFSET_EXISTS,
        OFFSET_LAST_UID,
        OFFSET_UIDVALIDITY,
        OFFSET_DELETED,
    ] {
        assert_eq!(get32(&h, off), get32(&h_before, off), "header offset {off}");
    }
    assert_eq!(
        get64(&h, OFFSET_QUOTA_MAILBOX_USED64),
        get64(&h_before, OFFSET_QUOTA_MAILBOX_USED64)
    );
    assert!(w.cache_offsets_own(INDEX).iter().all(|(_, ok)| *ok));
    assert!(w.cache_offsets_own(EXPUNGE).iter().all(|(_, ok)| *ok));
    assert!(w.fsck().findings.is_empty(), "{:?}", w.fsck().findings);
    assert_eq!(w.message_files(), (1..=11).collect::<Vec<_>>());
    opens(&mut w).unwrap();
}

#[test]
fn without_k_reconstruct_purges_what_cyrus_expunge_lists() {
    let mut w = World::new(Version::V2_3_12);
    spam_folder(&mut w);
    let rep = run(&mut w, false);
    assert_eq!(rep.purged, vec![1, 2, 3, 4, 5]);
    assert_eq!(rep.index_records, 6);
    assert_eq!(w.message_files(), (6..=11).collect::<Vec<_>>());
    // No record left for it: cyrus.expunge is unlinked.
    assert!(w.size(EXPUNGE).is_none());
    assert_eq!(w.uids(INDEX), (6..=11).collect::<Vec<_>>());
    assert!(w.fsck().findings.is_empty(), "{:?}", w.fsck().findings);
}

#[test]
fn the_2_3_7_tool_purges_what_cyrus_expunge_lists_and_keeps_minor_9() {
    let mut w = World::new(Version::V2_3_7);
    spam_folder(&mut w);
    let rep = run(&mut w, true); // 2.3.7 has no -k: the flag changes nothing
    assert_eq!(rep.purged, vec![1, 2, 3, 4, 5]);
    assert!(w.size(EXPUNGE).is_none());
    assert_eq!(w.uids(INDEX), (6..=11).collect::<Vec<_>>());
    let h = w.header(INDEX).unwrap();
    assert_eq!(get32(&h, OFFSET_MINOR_VERSION), 9);
    assert_eq!(get32(&h, OFFSET_RECORD_SIZE), 80);
    assert!(w.fsck().findings.is_empty(), "{:?}", w.fsck().findings);
}

#[test]
fn a_generation_mismatch_stops_every_open_until_reconstruct_repairs_it_keeping_flags() {
    let mut w = World::new(Version::V2_3_12);
    spam_folder(&mut w);
    w.with("imapd", |cx| engine::append::set_deleted(cx, SPAM, &[7]))
        .unwrap();
    // As a kill between the index and cache renames leaves it: the cache of the previous
    // generation.
    let g = get32(&w.header(INDEX).unwrap(), OFFSET_GENERATION_NO);
    poke(&mut w, CACHE, 0, &g.wrapping_sub(1).to_be_bytes());
    match opens(&mut w) {
        Err(CyrusError::BadFormat(d)) => assert!(d.contains("generation mismatch"), "{d}"),
        other => panic!("expected BADFORMAT, got {other:?}"),
    }
    let rep = run(&mut w, true);
    assert!(
        rep.index_read,
        "reconstruct reads cyrus.index without the generation check"
    );
    opens(&mut w).unwrap();
    let recs = parsed(&mut w, INDEX);
    let flagged: Vec<u32> = recs
        .iter()
        .filter(|r| r.system_flags & FLAG_DELETED != 0)
        .map(|r| r.uid)
        .collect();
    assert_eq!(flagged, vec![7], "the \\Deleted flag survives");
    assert!(w.cache_offsets_own(INDEX).iter().all(|(_, ok)| *ok));
}

#[test]
fn a_uid_in_both_files_and_twice_in_cyrus_expunge_ends_once_in_cyrus_expunge() {
    let mut w = World::new(Version::V2_3_12);
    spam_folder(&mut w);
    // Append copies of index record 1 (UID 6) and expunge record 3 (UID 3) to cyrus.expunge,
    // as a delayed expunge that died before renaming cyrus.index leaves it, twice.
    let rs = 88u64;
    let extra = [w.records(INDEX)[0].clone(), w.records(EXPUNGE)[2].clone()];
    let e = w.exists_of(EXPUNGE).unwrap();
    for (i, r) in extra.iter().enumerate() {
        poke(&mut w, EXPUNGE, 96 + (e as u64 + i as u64) * rs, r);
    }
    poke(
        &mut w,
        EXPUNGE,
        OFFSET_EXISTS as u64,
        &(e + 2).to_be_bytes(),
    );
    assert_eq!(w.uids(EXPUNGE), vec![1, 2, 3, 4, 5, 6, 3]);
    let rep = run(&mut w, true);
    assert_eq!(w.uids(EXPUNGE), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(w.uids(INDEX), vec![7, 8, 9, 10, 11]);
    assert_eq!((rep.index_records, rep.expunge_records), (5, 6));
    assert!(w.fsck().findings.is_empty(), "{:?}", w.fsck().findings);
}

#[test]
fn the_2_3_7_tool_resurrects_what_a_wrapped_cyrus_expunge_lists() {
    let mut w = World::new(Version::V2_3_7);
    spam_folder(&mut w);
    w.cyr_expire(Strategy::Cyrus237).0.unwrap();
    assert_eq!(w.exists_of(EXPUNGE), Some(u32::MAX));
    // The bug's own damage: pass 2 purged 1, 2 and the expired 6..=9; 3..=5 are listed.
    assert_eq!(w.message_files(), vec![3, 4, 5, 10, 11]);
    assert_eq!(w.uids(EXPUNGE), vec![3, 4, 5]);
    let rep = run(&mut w, false);
    // exists * 80 runs far past the file: the sanity check fails, nothing is purged and
    // cyrus.expunge is unlinked. The messages it held come back as new.
    assert!(rep.purged.is_empty(), "{rep:?}");
    assert!(w.size(EXPUNGE).is_none());
    assert_eq!(w.uids(INDEX), vec![3, 4, 5, 10, 11]);
    assert_eq!(rep.recovered, vec![3, 4, 5], "{rep:?}");
}

#[test]
fn on_the_sparse_file_both_tools_finish_quickly() {
    for version in [Version::V2_3_7, Version::V2_3_12] {
        let mut w = World::new(Version::V2_3_7);
        spam_folder(&mut w);
        w.deliver(T0 - 20 * DAY, 1000);
        w.cyr_expire(Strategy::Cyrus237).0.unwrap();
        w.now += DAY;
        w.user_expunge(&[10]).unwrap();
        assert_eq!(w.size(EXPUNGE).unwrap().size, 96 + u32::MAX as u64 * 80);
        w.site.version = version;
        let t = Instant::now();
        let r = w.with("reconstruct", |cx| reconstruct(cx, SPAM, true));
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{version:?}: {:?}",
            t.elapsed()
        );
        match version {
            // Sane by its check (the file is that long): it purges up to the first UID 0.
            Version::V2_3_7 => {
                let rep = r.unwrap();
                assert!(!rep.purged.is_empty(), "{rep:?}");
                assert!(w.size(EXPUNGE).is_none());
            }
            // 2.3.12's reads each record as 88 bytes (INDEX_RECORD_SIZE) though the file's
            // are 80: the UID map is read through the holes up to the last record, which
            // runs past the end: IOERROR, and the mailbox stays as it was.
            _ => match r {
                Err(CyrusError::IoError(d)) => {
                    assert!(d.contains("index record 4294967295"), "{d}");
                    assert_eq!(w.size(EXPUNGE).unwrap().size, 96 + u32::MAX as u64 * 80);
                }
                other => panic!("expected IOERROR, got {other:?}"),
            },
        }
    }
}
