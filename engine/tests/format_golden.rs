//! Byte-exact vectors for every format, written out by hand from the layout table in
//! cyrus/imap/mailbox.h (cyrus-imapd-2.3.7 for minor 9, 2.3.12-p1 for minor 10) and
//! message_write_cache (cyrus/imap/message.c, 2.3.12-p1). None is produced by the code under
//! test.

use engine::format::cache::{self, item_stride, literal_item_stride};
use engine::format::{
    CacheError, CacheRecord, FLAG_ANSWERED, FLAG_DELETED, FLAG_DRAFT, FLAG_FLAGGED,
    INDEX_HEADER_SIZE, IndexHeader, IndexRecord, MinorVersion, RECORD_SIZE_MINOR9,
    RECORD_SIZE_MINOR10,
};

/// Hex with whitespace, to bytes.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert_eq!(digits.len() % 2, 0, "odd number of hex digits");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

// offset:  0        4        8        12
const HEADER_HEX: &str = "
    00000007 00000000 0000000a 00000060
    00000058 fffffffd 48d0b1c2 00000123
    00000001 00000002 11223344 4801a2b3
    00000005 00000006 00000007 00000003
    00000009 01020304 05060708 a0a1a2a3
    a4a5a6a7 a8a9aaab acadaeaf b0b1b2b3";

fn golden_header() -> IndexHeader {
    let mut spare = [0u8; 20];
    for (i, b) in spare.iter_mut().enumerate() {
        *b = 0xa0 + i as u8;
    }
    IndexHeader {
        generation_no: 7,
        format: 0,
        minor_version: 10,
        start_offset: 96,
        record_size: 88,
        exists: 0xffff_fffd,
        last_appenddate: 0x48d0_b1c2,
        last_uid: 0x123,
        quota_mailbox_used: 0x0000_0001_0000_0002,
        pop3_last_login: 0x1122_3344,
        uidvalidity: 0x4801_a2b3,
        deleted: 5,
        answered: 6,
        flagged: 7,
        options: 3,
        leaked_cache: 9,
        highestmodseq: 0x0102_0304_0506_0708,
        spare,
    }
}

#[test]
fn header_parses_every_field_at_its_offset() {
    let bytes = hex(HEADER_HEX);
    assert_eq!(bytes.len(), INDEX_HEADER_SIZE);
    assert_eq!(IndexHeader::from_bytes(&bytes), Some(golden_header()));
}

#[test]
fn header_writes_the_golden_bytes() {
    assert_eq!(golden_header().to_bytes().to_vec(), hex(HEADER_HEX));
}

#[test]
fn header_shorter_than_96_bytes_is_none_and_longer_is_read_from_the_front() {
    let bytes = hex(HEADER_HEX);
    assert_eq!(IndexHeader::from_bytes(&bytes[..95]), None);
    assert_eq!(IndexHeader::from_bytes(&[]), None);
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0xee; 10]);
    assert_eq!(IndexHeader::from_bytes(&longer), Some(golden_header()));
}

#[test]
fn header_minor_version_maps_to_the_layout() {
    let h = golden_header();
    assert_eq!(h.minor(), Some(MinorVersion::V10));
    let h9 = IndexHeader {
        minor_version: 9,
        ..h
    };
    assert_eq!(h9.minor(), Some(MinorVersion::V9));
    let h12 = IndexHeader {
        minor_version: 12,
        ..h
    };
    assert_eq!(h12.minor(), None);
}

// Minor 9: 12-byte UUID at 60, modseq at 72, 80 bytes.
const RECORD9_HEX: &str = "
    00000065 48d00000 48cf0000 00000c35
    00000200 00000200 00000004 48d10000
    00000005 80000001 00000000 00000002
    ffffffff 0000002a 00000002 01020304
    05060708 090a0b0c 00000000 00000011";

// Minor 10: 20-byte GUID at 60, modseq at 80, 88 bytes.
const RECORD10_HEX: &str = "
    00000065 48d00000 48cf0000 00000c35
    00000200 00000200 00000004 48d10000
    00000005 80000001 00000000 00000002
    ffffffff 0000002a 00000002 10111213
    14151617 18191a1b 1c1d1e1f 20212223
    11223344 55667788";

fn golden_record(minor: MinorVersion) -> IndexRecord {
    let mut guid = [0u8; 20];
    let modseq = match minor {
        MinorVersion::V9 => {
            for (i, b) in guid[..12].iter_mut().enumerate() {
                *b = 1 + i as u8;
            }
            0x11
        }
        MinorVersion::V10 => {
            for (i, b) in guid.iter_mut().enumerate() {
                *b = 0x10 + i as u8;
            }
            0x1122_3344_5566_7788
        }
    };
    IndexRecord {
        uid: 101,
        internaldate: 0x48d0_0000,
        sentdate: 0x48cf_0000,
        size: 3125,
        header_size: 0x200,
        content_offset: 0x200,
        cache_offset: 4,
        last_updated: 0x48d1_0000,
        system_flags: FLAG_ANSWERED | FLAG_DELETED,
        user_flags: [0x8000_0001, 0, 2, 0xffff_ffff],
        content_lines: 42,
        cache_version: 2,
        guid,
        modseq,
    }
}

#[test]
fn minor9_record_parses_and_writes_the_golden_bytes() {
    let bytes = hex(RECORD9_HEX);
    assert_eq!(bytes.len(), RECORD_SIZE_MINOR9);
    let want = golden_record(MinorVersion::V9);
    assert_eq!(IndexRecord::parse(&bytes, MinorVersion::V9), Some(want));
    assert_eq!(want.to_bytes(MinorVersion::V9), bytes);
}

#[test]
fn minor10_record_parses_and_writes_the_golden_bytes() {
    let bytes = hex(RECORD10_HEX);
    assert_eq!(bytes.len(), RECORD_SIZE_MINOR10);
    let want = golden_record(MinorVersion::V10);
    assert_eq!(IndexRecord::parse(&bytes, MinorVersion::V10), Some(want));
    assert_eq!(want.to_bytes(MinorVersion::V10), bytes);
}

#[test]
fn record_shorter_than_its_layout_is_none() {
    assert_eq!(
        IndexRecord::parse(&hex(RECORD9_HEX), MinorVersion::V10),
        None
    );
    assert_eq!(
        IndexRecord::parse(&hex(RECORD9_HEX)[..79], MinorVersion::V9),
        None
    );
}

#[test]
fn minor9_bytes_read_as_minor10_misplace_the_modseq() {
    // What a 2.3.12 binary sees in a minor-9 file before upgrading it: the fields up to 60
    // agree, the id and modseq do not.
    let mut bytes = hex(RECORD9_HEX);
    bytes.extend_from_slice(&hex("0000002a 00000000"));
    let r = IndexRecord::parse(&bytes, MinorVersion::V10).unwrap();
    assert_eq!(r.uid, 101);
    assert_eq!(r.modseq, 0x2a_0000_0000);
}

#[test]
fn minor9_write_ignores_the_guid_bytes_it_cannot_store() {
    let mut r = golden_record(MinorVersion::V9);
    r.guid[12..].fill(0xff);
    assert_eq!(r.to_bytes(MinorVersion::V9), hex(RECORD9_HEX));
}

#[test]
fn flag_bits_and_layout_constants_match_mailbox_h() {
    assert_eq!(
        (FLAG_ANSWERED, FLAG_FLAGGED, FLAG_DELETED, FLAG_DRAFT),
        (1, 2, 4, 8)
    );
    assert_eq!(MinorVersion::V9.record_size(), 80);
    assert_eq!(MinorVersion::V10.record_size(), 88);
    assert_eq!(
        (MinorVersion::V9.number(), MinorVersion::V10.number()),
        (9, 10)
    );
    assert_eq!(MinorVersion::V9.modseq_offset(), 72);
    assert_eq!(MinorVersion::V10.modseq_offset(), 80);
}

// ENVELOPE "(NIL)", BODYSTRUCTURE "", BODY "abcd", SECTION "xy", HEADERS "H",
// FROM TO CC BCC "", SUBJECT "hello": each a length word, data, zero padding to 4.
const CACHE_RECORD_HEX: &str = "
    00000005 284e494c 29000000
    00000000
    00000004 61626364
    00000002 78790000
    00000001 48000000
    00000000 00000000 00000000 00000000
    00000005 68656c6c 6f000000";

fn golden_cache_record() -> CacheRecord {
    let mut rec = CacheRecord::default();
    rec.items[0] = b"(NIL)".to_vec();
    rec.items[2] = b"abcd".to_vec();
    rec.items[3] = b"xy".to_vec();
    rec.items[4] = b"H".to_vec();
    rec.items[9] = b"hello".to_vec();
    rec
}

#[test]
fn cache_record_writes_the_golden_bytes() {
    let rec = golden_cache_record();
    assert_eq!(rec.to_bytes(), hex(CACHE_RECORD_HEX));
    assert_eq!(rec.encoded_len(), 68);
}

#[test]
fn cache_record_parses_after_the_generation_number() {
    let mut file = hex("00000007");
    file.extend(hex(CACHE_RECORD_HEX));
    file.extend(hex(CACHE_RECORD_HEX));
    assert_eq!(cache::generation_no(&file), Some(7));
    let (rec, next) = CacheRecord::parse_at(&file, 4).unwrap();
    assert_eq!(rec, golden_cache_record());
    assert_eq!(next, 72);
    assert_eq!(cache::record_len_at(&file, 4), Ok(68));
    let (again, end) = CacheRecord::parse_at(&file, next).unwrap();
    assert_eq!((again, end), (golden_cache_record(), file.len()));
}

#[test]
fn cache_record_cut_short_is_an_error_naming_the_item() {
    let bytes = hex(CACHE_RECORD_HEX);
    // Cut inside SUBJECT's padding: the last item needs 12 bytes, 11 remain.
    assert_eq!(
        CacheRecord::parse_at(&bytes[..67], 0),
        Err(CacheError::Truncated {
            item: 9,
            item_offset: 56,
            needed: 12,
            available: 11
        })
    );
    assert_eq!(
        CacheRecord::parse_at(&bytes, 68),
        Err(CacheError::OffsetPastEnd {
            offset: 68,
            len: 68
        })
    );
}

#[test]
fn cache_length_near_u32_max_wraps_in_c_and_is_refused_when_checked() {
    // CACHE_ITEM_NEXT: 4 + ((3 + len) & ~3) in 32 bits, so 0xfffffffe strides 4 bytes.
    assert_eq!(literal_item_stride(0xffff_fffe), 4);
    assert_eq!(literal_item_stride(5), 12);
    assert_eq!(item_stride(0xffff_fffe), 4 + 0x1_0000_0000);
    let mut bytes = hex("fffffffe");
    bytes.extend_from_slice(&[0; 64]);
    assert!(matches!(
        CacheRecord::parse_at(&bytes, 0),
        Err(CacheError::Truncated { item: 0, .. })
    ));
}

#[test]
fn the_cache_record_written_for_a_uid_is_ten_padded_items_naming_it() {
    let rec = engine::append::cache_record_for(42);
    let parsed = engine::format::cache::CacheRecord::parse_at(&rec, 0)
        .expect("parses")
        .0;
    assert_eq!(parsed.items[0], b"ENVELOPE of uid 42");
    assert_eq!(parsed.items[9], b"SUBJECT of uid 42");
    assert_eq!(rec.len() % 4, 0);
    // 4-byte length, then "ENVELOPE of uid 42" (18 bytes) padded to 20.
    assert_eq!(&rec[..4], &[0, 0, 0, 18]);
    assert_eq!(&rec[22..24], &[0, 0]);
    assert_ne!(
        engine::append::cache_record_for(0),
        engine::append::cache_record_for(4_294_967_295)
    );
}
