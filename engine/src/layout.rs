//! The byte offsets the model reads and writes raw buffers at, as Cyrus itself does
//! (imap/mailbox.h, 2.3.12-p1): the same constants `format` parses with, plus Cyrus's
//! `ntohl`/`htonl` spelled as functions.

pub use crate::format::header::{
    INDEX_HEADER_SIZE, OFFSET_ANSWERED, OFFSET_DELETED, OFFSET_EXISTS, OFFSET_FLAGGED,
    OFFSET_FORMAT, OFFSET_GENERATION_NO, OFFSET_HIGHESTMODSEQ_64, OFFSET_LAST_APPENDDATE,
    OFFSET_LAST_UID, OFFSET_LEAKED_CACHE, OFFSET_MAILBOX_OPTIONS, OFFSET_MINOR_VERSION,
    OFFSET_POP3_LAST_LOGIN, OFFSET_QUOTA_MAILBOX_USED64, OFFSET_RECORD_SIZE, OFFSET_START_OFFSET,
    OFFSET_UIDVALIDITY,
};
pub use crate::format::record::{
    FLAG_ANSWERED, FLAG_DELETED, FLAG_FLAGGED, OFFSET_CACHE_OFFSET, OFFSET_CACHE_VERSION,
    OFFSET_CONTENT_LINES, OFFSET_CONTENT_OFFSET, OFFSET_GUID as OFFSET_MESSAGE_GUID,
    OFFSET_HEADER_SIZE, OFFSET_INTERNALDATE, OFFSET_LAST_UPDATED, OFFSET_SENTDATE, OFFSET_SIZE,
    OFFSET_SYSTEM_FLAGS, OFFSET_UID, OFFSET_USER_FLAGS, RECORD_SIZE_MINOR10 as MAX_RECORD_SIZE,
};

pub use crate::format::{be32 as get32, be64 as get64, put32, put64};

/// Modseq's offset in a record of the given minor version (72 in minor 9, 80 in minor 10).
pub fn offset_modseq(minor_version: u32) -> usize {
    if minor_version >= 10 { 80 } else { 72 }
}
