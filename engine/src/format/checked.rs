//! The reader an fsck needs: it believes nothing the bytes cannot back up. Record positions
//! come from the caller's geometry; how many records there are comes from the file's length,
//! never from a header count.

use super::{INDEX_HEADER_SIZE, IndexHeader, IndexRecord, MinorVersion};

/// Where records live in a file: Cyrus takes these from cyrus.index for both index files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Geometry {
    pub start_offset: u64,
    pub record_size: u64,
    /// The layout records are parsed with.
    pub minor: MinorVersion,
}

/// Why a header's geometry cannot be used to read records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeometryError {
    StartOffsetTooSmall { start_offset: u32 },
    RecordSizeTooSmall { record_size: u32, needed: usize },
}

impl std::fmt::Display for GeometryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GeometryError::StartOffsetTooSmall { start_offset } => write!(
                f,
                "start_offset {start_offset} is inside the {INDEX_HEADER_SIZE}-byte header"
            ),
            GeometryError::RecordSizeTooSmall {
                record_size,
                needed,
            } => write!(
                f,
                "record_size {record_size} is below the {needed} bytes of a record"
            ),
        }
    }
}

impl Geometry {
    /// The geometry a header declares. An unknown minor version is read with the layout its
    /// record size fits (88 or more: minor 10).
    pub fn from_header(h: &IndexHeader) -> Result<Geometry, GeometryError> {
        let minor = h.minor().unwrap_or(if h.record_size as usize >= 88 {
            MinorVersion::V10
        } else {
            MinorVersion::V9
        });
        if (h.start_offset as usize) < INDEX_HEADER_SIZE {
            return Err(GeometryError::StartOffsetTooSmall {
                start_offset: h.start_offset,
            });
        }
        if (h.record_size as usize) < minor.record_size() {
            return Err(GeometryError::RecordSizeTooSmall {
                record_size: h.record_size,
                needed: minor.record_size(),
            });
        }
        Ok(Geometry {
            start_offset: u64::from(h.start_offset),
            record_size: u64::from(h.record_size),
            minor,
        })
    }

    /// Whole records a file of `len` bytes holds: `(len - start_offset) / record_size`.
    pub fn records_present(&self, len: u64) -> u64 {
        len.saturating_sub(self.start_offset) / self.record_size.max(1)
    }

    /// Byte offset of record `msgno` (1-based), without overflow.
    pub fn record_offset(&self, msgno: u64) -> Option<u64> {
        msgno
            .checked_sub(1)?
            .checked_mul(self.record_size)?
            .checked_add(self.start_offset)
    }

    /// The size a file holding exactly `exists` records has.
    pub fn expected_len(&self, exists: u32) -> u128 {
        u128::from(self.start_offset) + u128::from(exists) * u128::from(self.record_size)
    }

    /// Record `msgno` if the whole of it lies inside `bytes`.
    pub fn read_record(&self, bytes: &[u8], msgno: u64) -> Option<IndexRecord> {
        let off = usize::try_from(self.record_offset(msgno)?).ok()?;
        let end = off.checked_add(usize::try_from(self.record_size).ok()?)?;
        IndexRecord::parse(bytes.get(off..end)?, self.minor)
    }
}
