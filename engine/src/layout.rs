//! Byte offsets of cyrus.index / cyrus.expunge, as imap/mailbox.h (2.3.12-p1) defines them.
//! The model reads and writes raw buffers at these offsets, as Cyrus itself does.

pub const OFFSET_GENERATION_NO: usize = 0;
pub const OFFSET_FORMAT: usize = 4;
pub const OFFSET_MINOR_VERSION: usize = 8;
pub const OFFSET_START_OFFSET: usize = 12;
pub const OFFSET_RECORD_SIZE: usize = 16;
pub const OFFSET_EXISTS: usize = 20;
pub const OFFSET_LAST_APPENDDATE: usize = 24;
pub const OFFSET_LAST_UID: usize = 28;
pub const OFFSET_QUOTA_MAILBOX_USED64: usize = 32;
pub const OFFSET_POP3_LAST_LOGIN: usize = 40;
pub const OFFSET_UIDVALIDITY: usize = 44;
pub const OFFSET_DELETED: usize = 48;
pub const OFFSET_ANSWERED: usize = 52;
pub const OFFSET_FLAGGED: usize = 56;
pub const OFFSET_MAILBOX_OPTIONS: usize = 60;
pub const OFFSET_LEAKED_CACHE: usize = 64;
pub const OFFSET_HIGHESTMODSEQ_64: usize = 68;
pub const INDEX_HEADER_SIZE: usize = 96;

pub const OFFSET_UID: usize = 0;
pub const OFFSET_INTERNALDATE: usize = 4;
pub const OFFSET_SENTDATE: usize = 8;
pub const OFFSET_SIZE: usize = 12;
pub const OFFSET_HEADER_SIZE: usize = 16;
pub const OFFSET_CONTENT_OFFSET: usize = 20;
pub const OFFSET_CACHE_OFFSET: usize = 24;
pub const OFFSET_LAST_UPDATED: usize = 28;
pub const OFFSET_SYSTEM_FLAGS: usize = 32;
pub const OFFSET_USER_FLAGS: usize = 36;
pub const OFFSET_CONTENT_LINES: usize = 52;
pub const OFFSET_CACHE_VERSION: usize = 56;
pub const OFFSET_MESSAGE_GUID: usize = 60;
/// The largest record any version writes (minor 10); buffers are this big.
pub const MAX_RECORD_SIZE: usize = 88;

pub const FLAG_ANSWERED: u32 = 1 << 0;
pub const FLAG_FLAGGED: u32 = 1 << 1;
pub const FLAG_DELETED: u32 = 1 << 2;

/// Cyrus's `ntohl(*(bit32 *)(buf + off))`.
pub fn get32(buf: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]])
}

/// Cyrus's `*(bit32 *)(buf + off) = htonl(v)`.
pub fn put32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

pub fn get64(buf: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[off..off + 8]);
    u64::from_be_bytes(b)
}

pub fn put64(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_be_bytes());
}

/// Modseq's offset in a record of the given minor version (72 in minor 9, 80 in minor 10).
pub fn offset_modseq(minor_version: u32) -> usize {
    if minor_version >= 10 { 80 } else { 72 }
}
