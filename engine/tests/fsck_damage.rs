//! Each kind of damage the fsck claims to find, built on an otherwise clean mailbox held in
//! memory, and the clean mailbox itself.

mod fsck_support;

use engine::format::{FLAG_DELETED, IndexHeader, MinorVersion};
use engine::fsck::checks;
use fsck_support::{GENERATION, Mailbox, checks as names};

const BOTH: [MinorVersion; 2] = [MinorVersion::V9, MinorVersion::V10];

#[test]
fn a_clean_mailbox_has_no_findings_and_reports_its_files() {
    for minor in BOTH {
        let mb = Mailbox::clean(minor);
        let r = mb.fsck();
        assert!(r.is_clean(), "{minor:?}: {r}");
        let x = r.file("cyrus.expunge").unwrap();
        assert_eq!(x.minor_version, Some(minor.number()));
        assert_eq!((x.exists, x.records_present), (Some(2), Some(2)));
        let i = r.file("cyrus.index").unwrap();
        assert_eq!((i.exists, i.records_present), (Some(3), Some(3)));
        assert_eq!(i.apparent_bytes, 96 + 3 * minor.record_size() as u64);
        assert_eq!(
            r.file("cyrus.cache").unwrap().generation_no,
            Some(GENERATION)
        );
    }
}

#[test]
fn a_mailbox_without_cyrus_expunge_is_clean() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.expunge_header = None;
    mb.message_uids.retain(|u| ![4, 7].contains(u));
    let r = mb.fsck();
    assert!(r.is_clean(), "{r}");
    assert!(r.file("cyrus.expunge").is_none());
}

#[test]
fn wrapped_expunge_exists_is_an_exists_and_size_mismatch() {
    let mut mb = Mailbox::clean(MinorVersion::V9);
    let h = mb.expunge_header.as_mut().unwrap();
    h.exists = 2u32.wrapping_sub(5); // two records, five subtracted
    let r = mb.fsck();
    let n = names(&r);
    assert!(n.contains(&checks::EXISTS_MISMATCH), "{r}");
    assert!(n.contains(&checks::SIZE_MISMATCH), "{r}");
    let f = r.with_check(checks::EXISTS_MISMATCH).next().unwrap();
    assert_eq!(f.file, "cyrus.expunge");
    assert!(f.detail.contains("exists=4294967293"), "{}", f.detail);
    assert!(f.detail.contains("-3"), "{}", f.detail);
    let x = r.file("cyrus.expunge").unwrap();
    assert_eq!((x.exists, x.records_present), (Some(u32::MAX - 2), Some(2)));
    // Only the two records present are judged: no UID 0, counts still right.
    assert!(!n.contains(&checks::UID_ZERO), "{r}");
    assert!(!n.contains(&checks::FLAG_COUNT_MISMATCH), "{r}");
}

#[test]
fn records_beyond_exists_are_an_exists_mismatch() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.index_header.exists = 2;
    let r = mb.fsck();
    let f = r
        .with_check(checks::EXISTS_MISMATCH)
        .next()
        .expect("finding");
    assert_eq!(f.file, "cyrus.index");
}

#[test]
fn uid_zero_within_exists_is_found() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.index[1].uid = 0;
    let r = mb.fsck();
    let f = r.with_check(checks::UID_ZERO).next().expect("uid-zero");
    assert!(f.detail.contains("msgno 2"), "{}", f.detail);
    // A record with UID 0 has no message file to look for.
    assert!(
        r.with_check(checks::MESSAGE_FILE_MISSING).next().is_none(),
        "{r}"
    );
}

#[test]
fn index_uids_out_of_order_are_found_but_expunge_append_order_is_allowed() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.index.swap(0, 1);
    let r = mb.fsck();
    let f = r.with_check(checks::UID_ORDER).next().expect("uid-order");
    assert_eq!(f.file, "cyrus.index");
    assert!(
        f.detail.contains("UID 3 after msgno 1 UID 5"),
        "{}",
        f.detail
    );
    // The clean expunge holds 7 then 4: append order, no finding.
    assert!(Mailbox::clean(MinorVersion::V10).fsck().is_clean());
}

#[test]
fn equal_index_uids_are_out_of_order() {
    let mut mb = Mailbox::clean(MinorVersion::V9);
    mb.index[2].uid = 5;
    let r = mb.fsck();
    assert!(names(&r).contains(&checks::UID_ORDER), "{r}");
}

#[test]
fn duplicate_expunge_uids_are_found() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    let mut again = mb.expunge[0];
    again.system_flags = 0;
    again.size = 0;
    mb.expunge.push(again);
    let h = mb.expunge_header.as_mut().unwrap();
    h.exists = 3;
    let r = mb.fsck();
    assert_eq!(names(&r), vec![checks::UID_DUPLICATE], "{r}");
}

#[test]
fn a_uid_both_live_and_expunged_is_found() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.expunge[1].uid = 5;
    let r = mb.fsck();
    let f = r
        .with_check(checks::UID_IN_INDEX_AND_EXPUNGE)
        .next()
        .expect("finding");
    assert!(f.detail.contains("UID 5"), "{}", f.detail);
}

#[test]
fn a_uid_above_last_uid_is_found_in_either_file() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.index_header.last_uid = 6;
    let r = mb.fsck();
    let files: Vec<&str> = r
        .with_check(checks::UID_ABOVE_LAST_UID)
        .map(|f| f.file.as_str())
        .collect();
    assert_eq!(files, vec!["cyrus.index", "cyrus.expunge"], "{r}");
}

#[test]
fn flag_counts_that_disagree_with_the_records_are_found() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.index[0].system_flags |= FLAG_DELETED;
    let h = mb.expunge_header.as_mut().unwrap();
    h.answered = h.answered.wrapping_sub(1); // wrapped below zero
    let r = mb.fsck();
    let got: Vec<(String, bool)> = r
        .with_check(checks::FLAG_COUNT_MISMATCH)
        .map(|f| (f.file.clone(), f.detail.contains("answered")))
        .collect();
    assert_eq!(
        got,
        vec![
            ("cyrus.index".to_string(), false),
            ("cyrus.expunge".to_string(), true)
        ],
        "{r}"
    );
}

#[test]
fn quota_that_disagrees_with_the_sizes_is_found_without_wrapping() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    let h = mb.expunge_header.as_mut().unwrap();
    h.quota_mailbox_used = h.quota_mailbox_used.wrapping_sub(5000);
    let r = mb.fsck();
    let f = r
        .with_check(checks::QUOTA_MISMATCH)
        .next()
        .expect("finding");
    assert_eq!(f.file, "cyrus.expunge");
    assert!(f.detail.contains("sum to 1100"), "{}", f.detail);
    assert!(f.detail.contains("-3900"), "{}", f.detail);
}

#[test]
fn record_sizes_summing_past_u32_are_not_a_quota_mismatch() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    for r in &mut mb.index {
        r.size = u32::MAX;
    }
    mb.index_header.quota_mailbox_used = 3 * u64::from(u32::MAX);
    assert!(mb.fsck().is_clean());
}

#[test]
fn cache_offsets_past_the_end_or_inside_the_header_are_out_of_range() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    let len = mb.cache.as_ref().unwrap().len() as u32;
    mb.index[0].cache_offset = len;
    mb.expunge[0].cache_offset = 2;
    let r = mb.fsck();
    let files: Vec<&str> = r
        .with_check(checks::CACHE_OFFSET_OUT_OF_RANGE)
        .map(|f| f.file.as_str())
        .collect();
    assert_eq!(files, vec!["cyrus.index", "cyrus.expunge"], "{r}");
}

#[test]
fn a_cache_offset_at_no_valid_record_is_found() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    // Point record 3 at the last 8 bytes of cyrus.cache: ten items cannot fit there.
    let len = mb.cache.as_ref().unwrap().len() as u32;
    mb.index[2].cache_offset = len - 8;
    let r = mb.fsck();
    let f = r
        .with_check(checks::CACHE_RECORD_INVALID)
        .next()
        .expect("finding");
    assert!(f.detail.contains("UID 9"), "{}", f.detail);
}

#[test]
fn a_cache_item_length_running_past_the_end_is_found() {
    let mut mb = Mailbox::clean(MinorVersion::V9);
    let at = mb.expunge[1].cache_offset as usize;
    mb.cache.as_mut().unwrap()[at..at + 4].copy_from_slice(&0xffff_fffeu32.to_be_bytes());
    let r = mb.fsck();
    let f = r
        .with_check(checks::CACHE_RECORD_INVALID)
        .next()
        .expect("finding");
    assert_eq!(f.file, "cyrus.expunge");
}

#[test]
fn a_zero_cache_offset_is_found() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.expunge[0].cache_offset = 0;
    let r = mb.fsck();
    assert_eq!(names(&r), vec![checks::CACHE_OFFSET_ZERO], "{r}");
}

#[test]
fn index_and_cache_generations_that_differ_are_found() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.cache.as_mut().unwrap()[..4].copy_from_slice(&(GENERATION + 1).to_be_bytes());
    let r = mb.fsck();
    assert_eq!(names(&r), vec![checks::GENERATION_MISMATCH], "{r}");
}

#[test]
fn an_expunge_generation_other_than_the_index_is_found() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.index_header.generation_no += 1;
    mb.cache.as_mut().unwrap()[..4].copy_from_slice(&(GENERATION + 1).to_be_bytes());
    let r = mb.fsck();
    assert_eq!(names(&r), vec![checks::EXPUNGE_GENERATION_MISMATCH], "{r}");
}

#[test]
fn a_missing_message_file_is_found_for_live_and_expunged_records() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.message_uids.remove(&5);
    mb.message_uids.remove(&4);
    let r = mb.fsck();
    let got: Vec<(&str, &str)> = r
        .with_check(checks::MESSAGE_FILE_MISSING)
        .map(|f| (f.file.as_str(), f.detail.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("cyrus.index", "1 records have no message file: 5."),
            ("cyrus.expunge", "1 records have no message file: 4.")
        ]
    );
}

#[test]
fn a_message_file_no_record_names_is_orphaned() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.message_uids.insert(30);
    mb.message_uids.insert(20);
    let r = mb.fsck();
    assert_eq!(names(&r), vec![checks::MESSAGE_FILE_ORPHANED], "{r}");
    let f = r.with_check(checks::MESSAGE_FILE_ORPHANED).next().unwrap();
    assert_eq!(
        (f.file.as_str(), f.detail.as_str()),
        ("20.", "2 message file(s) no record names: 20., 30.")
    );
    // A record past cyrus.expunge's `exists` names nothing: its file is orphaned too.
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.expunge_header.as_mut().unwrap().exists -= 1;
    let r = mb.fsck();
    assert!(
        r.with_check(checks::MESSAGE_FILE_ORPHANED).next().is_some(),
        "{r}"
    );
}

#[test]
fn truncated_headers_are_found() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    let mut index = mb.index_bytes();
    index.truncate(50);
    let mut none = Vec::new();
    let r = engine::fsck::fsck_mailbox(engine::fsck::MailboxFiles {
        index: &mut index,
        expunge: Some(&mut none),
        cache: None,
        message_uids: None,
    })
    .unwrap();
    assert_eq!(names(&r), vec![checks::HEADER_TRUNCATED]);

    mb.expunge.clear();
    let mut index = mb.index_bytes();
    let mut expunge = mb.expunge_bytes().unwrap();
    expunge.truncate(95);
    let mut cache = mb.cache.clone().unwrap();
    let r = engine::fsck::fsck_mailbox(engine::fsck::MailboxFiles {
        index: &mut index,
        expunge: Some(&mut expunge),
        cache: Some(&mut cache),
        message_uids: None,
    })
    .unwrap();
    let f = r
        .with_check(checks::HEADER_TRUNCATED)
        .next()
        .expect("finding");
    assert_eq!(f.file, "cyrus.expunge");
}

#[test]
fn an_empty_cyrus_expunge_counts_as_absent() {
    let mb = Mailbox::clean(MinorVersion::V10);
    let mut index = mb.index_bytes();
    let mut empty = Vec::new();
    let mut cache = mb.cache.clone().unwrap();
    let r = engine::fsck::fsck_mailbox(engine::fsck::MailboxFiles {
        index: &mut index,
        expunge: Some(&mut empty),
        cache: Some(&mut cache),
        message_uids: None,
    })
    .unwrap();
    assert!(r.is_clean(), "{r}");
}

#[test]
fn an_unusable_geometry_is_found_and_no_record_is_read() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.index_header.record_size = 40;
    let r = mb.fsck();
    assert_eq!(names(&r), vec![checks::HEADER_BAD_GEOMETRY], "{r}");
    assert_eq!(r.file("cyrus.index").unwrap().records_present, None);
}

#[test]
fn an_unknown_minor_version_is_found() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.index_header.minor_version = 12;
    let r = mb.fsck();
    let n = names(&r);
    assert!(n.contains(&checks::MINOR_VERSION_UNKNOWN), "{r}");
}

#[test]
fn an_expunge_file_in_another_layout_than_the_index_is_found() {
    // A minor-9 cyrus.expunge beside a minor-10 cyrus.index: Cyrus reads it with 88-byte strides.
    let mb9 = Mailbox::clean(MinorVersion::V9);
    let mb10 = Mailbox::clean(MinorVersion::V10);
    let mut index = mb10.index_bytes();
    let mut expunge = mb9.expunge_bytes().unwrap();
    let mut cache = mb10.cache.clone().unwrap();
    let r = engine::fsck::fsck_mailbox(engine::fsck::MailboxFiles {
        index: &mut index,
        expunge: Some(&mut expunge),
        cache: Some(&mut cache),
        message_uids: None,
    })
    .unwrap();
    let n = names(&r);
    assert!(n.contains(&checks::EXPUNGE_GEOMETRY_MISMATCH), "{r}");
    let x = r.file("cyrus.expunge").unwrap();
    assert_eq!(x.records_present, Some((96 + 2 * 80 - 96) / 88));
}

#[test]
fn a_missing_or_truncated_cache_is_found() {
    let mut mb = Mailbox::clean(MinorVersion::V10);
    mb.cache = None;
    assert_eq!(names(&mb.fsck()), vec![checks::CACHE_MISSING]);
    mb.cache = Some(vec![0, 0]);
    let r = mb.fsck();
    let n = names(&r);
    assert!(n.contains(&checks::CACHE_HEADER_TRUNCATED), "{r}");
    assert!(n.contains(&checks::CACHE_OFFSET_OUT_OF_RANGE), "{r}");
}

#[test]
fn every_finding_names_a_known_check() {
    let mut mb = Mailbox::clean(MinorVersion::V9);
    mb.index_header = IndexHeader {
        exists: 7,
        deleted: 9,
        ..mb.index_header
    };
    mb.index[0].uid = 0;
    mb.index[1].cache_offset = 1 << 30;
    let r = mb.fsck();
    assert!(r.findings.len() >= 4, "{r}");
    for f in &r.findings {
        assert!(checks::ALL.contains(&f.check.as_str()), "{f}");
    }
}

#[test]
fn check_names_are_unique_and_kebab_case() {
    let mut seen = std::collections::HashSet::new();
    for name in checks::ALL {
        assert!(seen.insert(name), "{name} twice");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{name}"
        );
    }
}
