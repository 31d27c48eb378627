//! Round trips for every format, and the checked parsers on arbitrary bytes.

use engine::format::cache::record_len_at;
use engine::format::{CacheRecord, INDEX_HEADER_SIZE, IndexHeader, IndexRecord, MinorVersion};
use proptest::prelude::*;

fn minor() -> impl Strategy<Value = MinorVersion> {
    prop_oneof![Just(MinorVersion::V9), Just(MinorVersion::V10)]
}

fn header() -> impl Strategy<Value = IndexHeader> {
    (
        any::<[u32; 8]>(),
        any::<u64>(),
        any::<[u32; 7]>(),
        any::<u64>(),
        any::<[u8; 20]>(),
    )
        .prop_map(|(a, quota, b, modseq, spare)| IndexHeader {
            generation_no: a[0],
            format: a[1],
            minor_version: a[2],
            start_offset: a[3],
            record_size: a[4],
            exists: a[5],
            last_appenddate: a[6],
            last_uid: a[7],
            quota_mailbox_used: quota,
            pop3_last_login: b[0],
            uidvalidity: b[1],
            deleted: b[2],
            answered: b[3],
            flagged: b[4],
            options: b[5],
            leaked_cache: b[6],
            highestmodseq: modseq,
            spare,
        })
}

/// A record the layout can hold: minor 9 stores only 12 bytes of id.
fn record(m: MinorVersion) -> impl Strategy<Value = IndexRecord> {
    (
        any::<[u32; 9]>(),
        any::<[u32; 4]>(),
        any::<[u32; 2]>(),
        any::<[u8; 20]>(),
        any::<u64>(),
    )
        .prop_map(move |(a, user_flags, c, mut guid, modseq)| {
            guid[m.guid_len()..].fill(0);
            IndexRecord {
                uid: a[0],
                internaldate: a[1],
                sentdate: a[2],
                size: a[3],
                header_size: a[4],
                content_offset: a[5],
                cache_offset: a[6],
                last_updated: a[7],
                system_flags: a[8],
                user_flags,
                content_lines: c[0],
                cache_version: c[1],
                guid,
                modseq,
            }
        })
}

fn cache_record() -> impl Strategy<Value = CacheRecord> {
    proptest::array::uniform10(proptest::collection::vec(any::<u8>(), 0..40))
        .prop_map(|items| CacheRecord { items })
}

proptest! {
    #[test]
    fn header_struct_round_trips(h in header()) {
        prop_assert_eq!(IndexHeader::from_bytes(&h.to_bytes()), Some(h));
    }

    #[test]
    fn header_bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), INDEX_HEADER_SIZE)) {
        let h = IndexHeader::from_bytes(&bytes).unwrap();
        prop_assert_eq!(h.to_bytes().to_vec(), bytes);
    }

    #[test]
    fn record_struct_round_trips((m, r) in minor().prop_flat_map(|m| (Just(m), record(m)))) {
        let bytes = r.to_bytes(m);
        prop_assert_eq!(bytes.len(), m.record_size());
        prop_assert_eq!(IndexRecord::parse(&bytes, m), Some(r));
    }

    #[test]
    fn record_bytes_round_trip(
        (m, bytes) in minor().prop_flat_map(|m| (Just(m), proptest::collection::vec(any::<u8>(), m.record_size())))
    ) {
        let r = IndexRecord::parse(&bytes, m).unwrap();
        prop_assert_eq!(r.to_bytes(m), bytes);
    }

    #[test]
    fn cache_record_round_trips(rec in cache_record(), pad in 0usize..8) {
        let mut file = vec![0xaa; pad];
        file.extend(rec.to_bytes());
        prop_assert_eq!(rec.to_bytes().len(), rec.encoded_len());
        prop_assert_eq!(record_len_at(&file, pad), Ok(rec.encoded_len()));
        prop_assert_eq!(CacheRecord::parse_at(&file, pad), Ok((rec.clone(), file.len())));
    }

    #[test]
    fn cache_parse_never_panics_and_agrees_with_record_len(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        offset in 0usize..220,
    ) {
        let parsed = CacheRecord::parse_at(&bytes, offset);
        let len = record_len_at(&bytes, offset);
        match (parsed, len) {
            (Ok((rec, end)), Ok(n)) => {
                prop_assert_eq!(end, offset + n);
                prop_assert!(end <= bytes.len());
                prop_assert_eq!(rec.encoded_len(), n);
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "parse_at {:?} but record_len_at {:?}", a, b),
        }
    }

    #[test]
    fn cache_parse_of_a_huge_length_allocates_nothing_and_fails(len in 0x1000u32.., tail in 0usize..64) {
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.resize(4 + tail, 0);
        prop_assert!(CacheRecord::parse_at(&bytes, 0).is_err());
    }
}
