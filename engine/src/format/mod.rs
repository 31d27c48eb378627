//! On-disk formats of a Cyrus 2.3 mailbox: cyrus.index / cyrus.expunge (one layout, minor
//! versions 9 and 10) and cyrus.cache. All integers are big-endian.
//!
//! Parsing is pure and never panics. Header fields are plain `u32`/`u64`: callers do the
//! arithmetic with wrapping ops, exactly as C's unsigned math does, so the model can wrap
//! where Cyrus wrapped.
//!
//! Two readers: [`literal`] trusts the header as Cyrus did (the model of Cyrus uses it);
//! [`checked`] refuses anything outside the bytes it was given (the fsck uses it).

pub mod cache;
pub mod checked;
pub mod header;
pub mod literal;
pub mod record;

pub use cache::{CACHE_FIELD_NAMES, CacheError, CacheRecord, NUM_CACHE_FIELDS};
pub use header::{INDEX_HEADER_SIZE, IndexHeader};
pub use record::{
    FLAG_ANSWERED, FLAG_DELETED, FLAG_DRAFT, FLAG_FLAGGED, IndexRecord, MinorVersion,
    RECORD_SIZE_MINOR9, RECORD_SIZE_MINOR10,
};

/// Big-endian u32 at `off` (Cyrus's `ntohl(*(bit32 *)(b + off))`); the caller guarantees
/// `off + 4 <= b.len()`.
pub fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Big-endian u64 at `off`; the caller guarantees `off + 8 <= b.len()`.
pub fn be64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_be_bytes(a)
}

/// `*(bit32 *)(b + off) = htonl(v)`.
pub fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

pub fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_be_bytes());
}
