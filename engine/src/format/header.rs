//! The 96-byte header of cyrus.index and cyrus.expunge (cyrus/imap/mailbox.h, cyrus-imapd-2.3.12-p1;
//! offsets identical in 2.3.7 and 2.3.13).

use super::{be32, be64, put32, put64};

/// INDEX_HEADER_SIZE: OFFSET_SPARE4 + 4 (mailbox.h, 2.3.12-p1).
pub const INDEX_HEADER_SIZE: usize = 96;

pub const OFFSET_GENERATION_NO: usize = 0;
pub const OFFSET_FORMAT: usize = 4;
pub const OFFSET_MINOR_VERSION: usize = 8;
pub const OFFSET_START_OFFSET: usize = 12;
pub const OFFSET_RECORD_SIZE: usize = 16;
/// The counter that wrapped: the number of records, and Cyrus's append position.
pub const OFFSET_EXISTS: usize = 20;
pub const OFFSET_LAST_APPENDDATE: usize = 24;
pub const OFFSET_LAST_UID: usize = 28;
/// 64-bit quota (minor version > 5); the 32-bit one sits in its low half at 36.
pub const OFFSET_QUOTA_MAILBOX_USED64: usize = 32;
pub const OFFSET_POP3_LAST_LOGIN: usize = 40;
pub const OFFSET_UIDVALIDITY: usize = 44;
pub const OFFSET_DELETED: usize = 48;
pub const OFFSET_ANSWERED: usize = 52;
pub const OFFSET_FLAGGED: usize = 56;
pub const OFFSET_MAILBOX_OPTIONS: usize = 60;
pub const OFFSET_LEAKED_CACHE: usize = 64;
/// 64-bit CONDSTORE modseq; not 8-aligned, Cyrus reads it with align_ntohll.
pub const OFFSET_HIGHESTMODSEQ_64: usize = 68;
/// OFFSET_SPARE0..SPARE4: five u32 spares, kept verbatim.
pub const OFFSET_SPARE0: usize = 76;

/// Every field of the index header, as stored. No field is interpreted or validated here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IndexHeader {
    pub generation_no: u32,
    pub format: u32,
    pub minor_version: u32,
    pub start_offset: u32,
    pub record_size: u32,
    pub exists: u32,
    pub last_appenddate: u32,
    pub last_uid: u32,
    pub quota_mailbox_used: u64,
    pub pop3_last_login: u32,
    pub uidvalidity: u32,
    pub deleted: u32,
    pub answered: u32,
    pub flagged: u32,
    pub options: u32,
    pub leaked_cache: u32,
    pub highestmodseq: u64,
    /// Bytes 76..96 (OFFSET_SPARE0..4), kept verbatim.
    pub spare: [u8; 20],
}

impl IndexHeader {
    /// Parses the first 96 bytes; `None` if `bytes` is shorter than [`INDEX_HEADER_SIZE`].
    pub fn from_bytes(bytes: &[u8]) -> Option<IndexHeader> {
        let b = bytes.get(..INDEX_HEADER_SIZE)?;
        let mut spare = [0u8; 20];
        spare.copy_from_slice(&b[OFFSET_SPARE0..INDEX_HEADER_SIZE]);
        Some(IndexHeader {
            generation_no: be32(b, OFFSET_GENERATION_NO),
            format: be32(b, OFFSET_FORMAT),
            minor_version: be32(b, OFFSET_MINOR_VERSION),
            start_offset: be32(b, OFFSET_START_OFFSET),
            record_size: be32(b, OFFSET_RECORD_SIZE),
            exists: be32(b, OFFSET_EXISTS),
            last_appenddate: be32(b, OFFSET_LAST_APPENDDATE),
            last_uid: be32(b, OFFSET_LAST_UID),
            quota_mailbox_used: be64(b, OFFSET_QUOTA_MAILBOX_USED64),
            pop3_last_login: be32(b, OFFSET_POP3_LAST_LOGIN),
            uidvalidity: be32(b, OFFSET_UIDVALIDITY),
            deleted: be32(b, OFFSET_DELETED),
            answered: be32(b, OFFSET_ANSWERED),
            flagged: be32(b, OFFSET_FLAGGED),
            options: be32(b, OFFSET_MAILBOX_OPTIONS),
            leaked_cache: be32(b, OFFSET_LEAKED_CACHE),
            highestmodseq: be64(b, OFFSET_HIGHESTMODSEQ_64),
            spare,
        })
    }

    /// The 96 bytes Cyrus would write for this header.
    pub fn to_bytes(&self) -> [u8; INDEX_HEADER_SIZE] {
        let mut b = [0u8; INDEX_HEADER_SIZE];
        put32(&mut b, OFFSET_GENERATION_NO, self.generation_no);
        put32(&mut b, OFFSET_FORMAT, self.format);
        put32(&mut b, OFFSET_MINOR_VERSION, self.minor_version);
        put32(&mut b, OFFSET_START_OFFSET, self.start_offset);
        put32(&mut b, OFFSET_RECORD_SIZE, self.record_size);
        put32(&mut b, OFFSET_EXISTS, self.exists);
        put32(&mut b, OFFSET_LAST_APPENDDATE, self.last_appenddate);
        put32(&mut b, OFFSET_LAST_UID, self.last_uid);
        put64(&mut b, OFFSET_QUOTA_MAILBOX_USED64, self.quota_mailbox_used);
        put32(&mut b, OFFSET_POP3_LAST_LOGIN, self.pop3_last_login);
        put32(&mut b, OFFSET_UIDVALIDITY, self.uidvalidity);
        put32(&mut b, OFFSET_DELETED, self.deleted);
        put32(&mut b, OFFSET_ANSWERED, self.answered);
        put32(&mut b, OFFSET_FLAGGED, self.flagged);
        put32(&mut b, OFFSET_MAILBOX_OPTIONS, self.options);
        put32(&mut b, OFFSET_LEAKED_CACHE, self.leaked_cache);
        put64(&mut b, OFFSET_HIGHESTMODSEQ_64, self.highestmodseq);
        b[OFFSET_SPARE0..].copy_from_slice(&self.spare);
        b
    }

    /// The record layout this header claims, if it is one this crate knows.
    pub fn minor(&self) -> Option<super::MinorVersion> {
        super::MinorVersion::from_number(self.minor_version)
    }
}
