//! cyrus.cache: a u32 generation number, then cache records. A record is NUM_CACHE_FIELDS
//! items, each a big-endian u32 length and the data, zero-padded to 4 bytes
//! (message_write_cache and message_ibuf_iov, cyrus/imap/message.c, cyrus-imapd-2.3.12-p1).

use std::fmt;

use super::{be32, put32};

/// NUM_CACHE_FIELDS (mailbox.h, 2.3.12-p1).
pub const NUM_CACHE_FIELDS: usize = 10;

/// The items in the order message_write_cache writes them (message.c, 2.3.12-p1).
pub const CACHE_FIELD_NAMES: [&str; NUM_CACHE_FIELDS] = [
    "ENVELOPE",
    "BODYSTRUCTURE",
    "BODY",
    "SECTION",
    "HEADERS",
    "FROM",
    "TO",
    "CC",
    "BCC",
    "SUBJECT",
];

/// Bytes before the first cache record: the generation number.
pub const CACHE_HEADER_SIZE: usize = 4;

/// Bytes one item occupies: its length word plus the data rounded up to 4, computed without
/// overflow.
pub fn item_stride(len: u32) -> u64 {
    4 + u64::from(len).div_ceil(4) * 4
}

/// CACHE_ITEM_NEXT as C computes it: `4 + ((3 + len) & ~3)` in 32-bit unsigned arithmetic,
/// so a length near 2^32 wraps to a short stride (index.h, 2.3.12-p1). For the model only.
pub fn literal_item_stride(len: u32) -> u32 {
    4u32.wrapping_add(3u32.wrapping_add(len) & !3)
}

/// Why a cache record could not be read at an offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheError {
    /// The offset is at or past the end of the bytes.
    OffsetPastEnd { offset: u64, len: u64 },
    /// Item `item` (0-based, see [`CACHE_FIELD_NAMES`]) needs `needed` bytes from
    /// `item_offset` but only `available` remain.
    Truncated {
        item: usize,
        item_offset: u64,
        needed: u64,
        available: u64,
    },
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheError::OffsetPastEnd { offset, len } => {
                write!(
                    f,
                    "offset {offset} is at or past the end of the cache ({len} bytes)"
                )
            }
            CacheError::Truncated {
                item,
                item_offset,
                needed,
                available,
            } => write!(
                f,
                "item {} ({}) at offset {item_offset} needs {needed} bytes, {available} remain",
                item, CACHE_FIELD_NAMES[*item]
            ),
        }
    }
}

impl std::error::Error for CacheError {}

/// The generation number at the start of cyrus.cache; `None` if shorter than 4 bytes.
pub fn generation_no(bytes: &[u8]) -> Option<u32> {
    (bytes.len() >= CACHE_HEADER_SIZE).then(|| be32(bytes, 0))
}

/// One message's cache record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CacheRecord {
    pub items: [Vec<u8>; NUM_CACHE_FIELDS],
}

impl CacheRecord {
    /// Bytes the record occupies in cyrus.cache.
    pub fn encoded_len(&self) -> usize {
        self.items.iter().map(|i| 4 + i.len().div_ceil(4) * 4).sum()
    }

    /// The bytes Cyrus writes for this record, padding zeroed. Items longer than u32::MAX
    /// cannot be represented; the caller must not build them.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.encoded_len()];
        let mut at = 0;
        for item in &self.items {
            let len = u32::try_from(item.len()).expect("cache item longer than u32::MAX");
            put32(&mut out, at, len);
            out[at + 4..at + 4 + item.len()].copy_from_slice(item);
            at += 4 + item.len().div_ceil(4) * 4;
        }
        out
    }

    /// Parses the record at `offset`; returns it and the offset just past it. Never reads past
    /// `bytes` and allocates only lengths already checked against the bytes that remain.
    pub fn parse_at(bytes: &[u8], offset: usize) -> Result<(CacheRecord, usize), CacheError> {
        let mut rec = CacheRecord::default();
        let end = walk(bytes, offset, |i, data| rec.items[i] = data.to_vec())?;
        Ok((rec, end))
    }
}

/// The encoded length of the record at `offset`, walking only the ten length words.
pub fn record_len_at(bytes: &[u8], offset: usize) -> Result<usize, CacheError> {
    walk(bytes, offset, |_, _| {}).map(|end| end - offset)
}

/// Walks the ten items from `offset`, handing each item's data to `item`; returns the end.
fn walk(
    bytes: &[u8],
    offset: usize,
    mut item: impl FnMut(usize, &[u8]),
) -> Result<usize, CacheError> {
    if offset >= bytes.len() {
        return Err(CacheError::OffsetPastEnd {
            offset: offset as u64,
            len: bytes.len() as u64,
        });
    }
    let mut at = offset;
    for i in 0..NUM_CACHE_FIELDS {
        let available = (bytes.len() - at) as u64;
        let truncated = |needed| CacheError::Truncated {
            item: i,
            item_offset: at as u64,
            needed,
            available,
        };
        if available < 4 {
            return Err(truncated(4));
        }
        let len = be32(bytes, at);
        let stride = item_stride(len);
        if stride > available {
            return Err(truncated(stride));
        }
        item(i, &bytes[at + 4..at + 4 + len as usize]);
        at += stride as usize;
    }
    Ok(at)
}
