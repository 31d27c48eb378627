//! The literal reader does what Cyrus did: trust the header's geometry and counts.

use engine::format::checked::{Geometry, GeometryError};
use engine::format::literal::{self, DataModel};
use engine::format::{IndexHeader, IndexRecord, MinorVersion};

const X: u32 = u32::MAX - 2; // 2^32 - 3: `exists` after wrapping three below zero

#[test]
fn wrapped_exists_puts_the_append_offset_at_hundreds_of_gigabytes_on_lp64() {
    assert_eq!(
        DataModel::Lp64.append_offset(96, 80, X),
        96 + 4_294_967_293 * 80
    );
    assert_eq!(DataModel::Lp64.append_offset(96, 80, X), 343_597_383_536);
    assert_eq!(DataModel::Lp64.append_offset(96, 88, X), 377_957_121_880);
}

#[test]
fn on_ilp32_the_append_offset_wraps_at_32_bits() {
    // 96 + (2^32 - 3) * 80 mod 2^32 = 2^32 - 144
    assert_eq!(DataModel::Ilp32.append_offset(96, 80, X), 4_294_967_152);
}

#[test]
fn record_n_lives_at_start_plus_n_minus_one_strides_and_msgno_zero_wraps() {
    assert_eq!(DataModel::Lp64.record_offset(96, 88, 1), 96);
    assert_eq!(DataModel::Lp64.record_offset(96, 88, 3), 96 + 2 * 88);
    assert_eq!(
        DataModel::Lp64.record_offset(96, 80, 0),
        96 + u64::from(u32::MAX) * 80
    );
}

fn file(minor: MinorVersion, uids: &[u32], record_size: u32) -> Vec<u8> {
    let mut bytes = IndexHeader {
        minor_version: minor.number(),
        start_offset: 96,
        record_size,
        exists: uids.len() as u32,
        ..IndexHeader::default()
    }
    .to_bytes()
    .to_vec();
    for &uid in uids {
        let mut r = vec![0u8; record_size as usize];
        IndexRecord {
            uid,
            ..IndexRecord::default()
        }
        .write_into(&mut r, minor);
        bytes.extend(r);
    }
    bytes
}

#[test]
fn literal_reader_uses_the_callers_geometry_not_the_files() {
    // A minor-9 cyrus.expunge read with a minor-10 cyrus.index's record_size: record 2 is
    // taken 8 bytes too late, as Cyrus would take it.
    let bytes = file(MinorVersion::V9, &[5, 6, 7], 80);
    let m = DataModel::Lp64;
    let r1 = literal::read_record(&bytes, m, 96, 80, 2, MinorVersion::V9).unwrap();
    assert_eq!(r1.uid, 6);
    let skewed = literal::read_record(&bytes, m, 96, 88, 2, MinorVersion::V10).unwrap();
    assert_ne!(skewed.uid, 6);
}

#[test]
fn literal_reader_returns_none_past_the_bytes_instead_of_reading_them() {
    let bytes = file(MinorVersion::V10, &[1, 2], 88);
    let m = DataModel::Lp64;
    assert_eq!(
        literal::read_record(&bytes, m, 96, 88, 2, MinorVersion::V10).map(|r| r.uid),
        Some(2)
    );
    assert_eq!(
        literal::read_record(&bytes, m, 96, 88, 3, MinorVersion::V10),
        None
    );
    assert_eq!(
        literal::read_record(&bytes, m, 96, 88, X, MinorVersion::V10),
        None
    );
    assert_eq!(
        literal::record_bytes(&bytes, m, 96, 88, 2).map(<[u8]>::len),
        Some(88)
    );
}

#[test]
fn checked_geometry_counts_records_from_the_length_not_the_header() {
    let h = IndexHeader {
        minor_version: 10,
        start_offset: 96,
        record_size: 88,
        exists: X,
        ..IndexHeader::default()
    };
    let g = Geometry::from_header(&h).unwrap();
    assert_eq!(g.records_present(96 + 88 * 2 + 50), 2);
    assert_eq!(g.records_present(10), 0);
    assert_eq!(g.expected_len(X), 96 + u128::from(X) * 88);
    let bytes = file(MinorVersion::V10, &[4, 9], 88);
    assert_eq!(g.read_record(&bytes, 2).map(|r| r.uid), Some(9));
    assert_eq!(g.read_record(&bytes, 3), None);
    assert_eq!(g.read_record(&bytes, 0), None);
}

#[test]
fn checked_geometry_refuses_a_start_inside_the_header_or_a_short_stride() {
    let h = IndexHeader {
        minor_version: 10,
        start_offset: 96,
        record_size: 80,
        ..IndexHeader::default()
    };
    assert_eq!(
        Geometry::from_header(&h),
        Err(GeometryError::RecordSizeTooSmall {
            record_size: 80,
            needed: 88
        })
    );
    let h = IndexHeader {
        start_offset: 76,
        record_size: 88,
        ..h
    };
    assert_eq!(
        Geometry::from_header(&h),
        Err(GeometryError::StartOffsetTooSmall { start_offset: 76 })
    );
}
