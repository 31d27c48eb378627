//! The reader Cyrus had: it trusts the header. Record `msgno` lives at
//! `start_offset + (msgno-1) * record_size`, with start_offset and record_size taken from
//! cyrus.index even when the bytes are cyrus.expunge's (INDEC_OFFSET, cyrus/imap/index.h, and
//! process_records, cyrus/imap/mailbox.c, cyrus-imapd-2.3.12-p1). Nothing here checks `exists`
//! against the file: that is the caller's business, as it was Cyrus's.

use super::{IndexRecord, MinorVersion};

/// The C data model the offsets are computed in: `unsigned long` is 64 bits on LP64 and 32 on
/// ILP32, and the offset arithmetic wraps at that width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DataModel {
    #[default]
    Lp64,
    Ilp32,
}

impl DataModel {
    /// Where record `msgno` (1-based) starts: `start_offset + (msgno-1)*record_size`.
    /// `msgno-1` is 32-bit unsigned (msgno 0 wraps to 2^32-1), the product and sum are
    /// `unsigned long`.
    pub fn record_offset(self, start_offset: u32, record_size: u32, msgno: u32) -> u64 {
        self.append_offset(start_offset, record_size, msgno.wrapping_sub(1))
    }

    /// `start_offset + exists*record_size`: mailbox_expunge's `last_offset`, where delayed
    /// expunge lseeks to append (mailbox.c, 2.3.12-p1).
    pub fn append_offset(self, start_offset: u32, record_size: u32, exists: u32) -> u64 {
        match self {
            DataModel::Lp64 => {
                u64::from(start_offset).wrapping_add(u64::from(exists) * u64::from(record_size))
            }
            DataModel::Ilp32 => {
                u64::from(start_offset.wrapping_add(exists.wrapping_mul(record_size)))
            }
        }
    }
}

/// The bytes of record `msgno` as a `memcpy(buf, base + offset, record_size)` would take them,
/// or `None` if any of them lies past `bytes` (where Cyrus would fault or read garbage).
pub fn record_bytes(
    bytes: &[u8],
    model: DataModel,
    start_offset: u32,
    record_size: u32,
    msgno: u32,
) -> Option<&[u8]> {
    let off = usize::try_from(model.record_offset(start_offset, record_size, msgno)).ok()?;
    let end = off.checked_add(record_size as usize)?;
    bytes.get(off..end)
}

/// Record `msgno` parsed with the layout of the reading binary (`minor`), which is what Cyrus
/// does: the field offsets are compiled in, only the stride comes from the header.
pub fn read_record(
    bytes: &[u8],
    model: DataModel,
    start_offset: u32,
    record_size: u32,
    msgno: u32,
    minor: MinorVersion,
) -> Option<IndexRecord> {
    let off = usize::try_from(model.record_offset(start_offset, record_size, msgno)).ok()?;
    let need = (record_size as usize).max(minor.record_size());
    IndexRecord::parse(bytes.get(off..off.checked_add(need)?)?, minor)
}
