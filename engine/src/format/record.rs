//! One index record of cyrus.index / cyrus.expunge (cyrus/imap/mailbox.h, cyrus-imapd-2.3.7 for
//! minor 9, cyrus-imapd-2.3.12-p1 for minor 10).

use super::{be32, be64, put32, put64};

/// INDEX_RECORD_SIZE in 2.3.7..2.3.9: a 12-byte message UUID, modseq at 72.
pub const RECORD_SIZE_MINOR9: usize = 80;
/// INDEX_RECORD_SIZE in 2.3.10..2.3.16: a 20-byte message GUID, modseq at 80.
pub const RECORD_SIZE_MINOR10: usize = 88;

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
/// OFFSET_USER_FLAGS + MAX_USER_FLAGS/8 (128 flags, 16 bytes).
pub const OFFSET_CONTENT_LINES: usize = 52;
pub const OFFSET_CACHE_VERSION: usize = 56;
/// OFFSET_MESSAGE_UUID (minor 9) / OFFSET_MESSAGE_GUID (minor 10).
pub const OFFSET_GUID: usize = 60;

/// System flag bits of `system_flags` (mailbox.h, 2.3.12-p1).
pub const FLAG_ANSWERED: u32 = 1 << 0;
pub const FLAG_FLAGGED: u32 = 1 << 1;
pub const FLAG_DELETED: u32 = 1 << 2;
pub const FLAG_DRAFT: u32 = 1 << 3;

/// MAILBOX_MINOR_VERSION: which record layout a file (or a Cyrus binary) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MinorVersion {
    /// 2.3.7 to 2.3.9: 80-byte records, 12-byte UUID.
    V9,
    /// 2.3.10 to 2.3.16: 88-byte records, 20-byte GUID.
    V10,
}

impl MinorVersion {
    pub fn from_number(n: u32) -> Option<MinorVersion> {
        match n {
            9 => Some(MinorVersion::V9),
            10 => Some(MinorVersion::V10),
            _ => None,
        }
    }

    /// The value stored at OFFSET_MINOR_VERSION.
    pub fn number(self) -> u32 {
        match self {
            MinorVersion::V9 => 9,
            MinorVersion::V10 => 10,
        }
    }

    /// INDEX_RECORD_SIZE for this layout.
    pub fn record_size(self) -> usize {
        match self {
            MinorVersion::V9 => RECORD_SIZE_MINOR9,
            MinorVersion::V10 => RECORD_SIZE_MINOR10,
        }
    }

    /// Bytes of message id stored at [`OFFSET_GUID`]: MESSAGE_UUID_PACKED_SIZE or MESSAGE_GUID_SIZE.
    pub fn guid_len(self) -> usize {
        match self {
            MinorVersion::V9 => 12,
            MinorVersion::V10 => 20,
        }
    }

    /// OFFSET_MODSEQ_64.
    pub fn modseq_offset(self) -> usize {
        OFFSET_GUID + self.guid_len()
    }
}

/// One index record, every field as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IndexRecord {
    pub uid: u32,
    pub internaldate: u32,
    pub sentdate: u32,
    pub size: u32,
    pub header_size: u32,
    pub content_offset: u32,
    pub cache_offset: u32,
    pub last_updated: u32,
    pub system_flags: u32,
    pub user_flags: [u32; 4],
    pub content_lines: u32,
    pub cache_version: u32,
    /// Minor 10: the 20-byte GUID. Minor 9: the 12-byte UUID in `guid[..12]`; bytes 12..20
    /// are not stored, read back as zero and are ignored on write.
    pub guid: [u8; 20],
    pub modseq: u64,
}

impl IndexRecord {
    /// Parses one record laid out as `minor`; `None` if `bytes` is shorter than its record size.
    /// Bytes past the record size (a larger `record_size` in the header) are ignored.
    pub fn parse(bytes: &[u8], minor: MinorVersion) -> Option<IndexRecord> {
        let b = bytes.get(..minor.record_size())?;
        let mut guid = [0u8; 20];
        let g = minor.guid_len();
        guid[..g].copy_from_slice(&b[OFFSET_GUID..OFFSET_GUID + g]);
        let uf = |i: usize| be32(b, OFFSET_USER_FLAGS + 4 * i);
        Some(IndexRecord {
            uid: be32(b, OFFSET_UID),
            internaldate: be32(b, OFFSET_INTERNALDATE),
            sentdate: be32(b, OFFSET_SENTDATE),
            size: be32(b, OFFSET_SIZE),
            header_size: be32(b, OFFSET_HEADER_SIZE),
            content_offset: be32(b, OFFSET_CONTENT_OFFSET),
            cache_offset: be32(b, OFFSET_CACHE_OFFSET),
            last_updated: be32(b, OFFSET_LAST_UPDATED),
            system_flags: be32(b, OFFSET_SYSTEM_FLAGS),
            user_flags: [uf(0), uf(1), uf(2), uf(3)],
            content_lines: be32(b, OFFSET_CONTENT_LINES),
            cache_version: be32(b, OFFSET_CACHE_VERSION),
            guid,
            modseq: be64(b, minor.modseq_offset()),
        })
    }

    /// Writes the record into `out[..minor.record_size()]`; returns false (writing nothing)
    /// if `out` is too short.
    pub fn write_into(&self, out: &mut [u8], minor: MinorVersion) -> bool {
        let Some(b) = out.get_mut(..minor.record_size()) else {
            return false;
        };
        put32(b, OFFSET_UID, self.uid);
        put32(b, OFFSET_INTERNALDATE, self.internaldate);
        put32(b, OFFSET_SENTDATE, self.sentdate);
        put32(b, OFFSET_SIZE, self.size);
        put32(b, OFFSET_HEADER_SIZE, self.header_size);
        put32(b, OFFSET_CONTENT_OFFSET, self.content_offset);
        put32(b, OFFSET_CACHE_OFFSET, self.cache_offset);
        put32(b, OFFSET_LAST_UPDATED, self.last_updated);
        put32(b, OFFSET_SYSTEM_FLAGS, self.system_flags);
        for (i, f) in self.user_flags.iter().enumerate() {
            put32(b, OFFSET_USER_FLAGS + 4 * i, *f);
        }
        put32(b, OFFSET_CONTENT_LINES, self.content_lines);
        put32(b, OFFSET_CACHE_VERSION, self.cache_version);
        let g = minor.guid_len();
        b[OFFSET_GUID..OFFSET_GUID + g].copy_from_slice(&self.guid[..g]);
        put64(b, minor.modseq_offset(), self.modseq);
        true
    }

    /// The `minor.record_size()` bytes of this record.
    pub fn to_bytes(&self, minor: MinorVersion) -> Vec<u8> {
        let mut v = vec![0u8; minor.record_size()];
        self.write_into(&mut v, minor);
        v
    }

    pub fn is_deleted(&self) -> bool {
        self.system_flags & FLAG_DELETED != 0
    }

    pub fn is_answered(&self) -> bool {
        self.system_flags & FLAG_ANSWERED != 0
    }

    pub fn is_flagged(&self) -> bool {
        self.system_flags & FLAG_FLAGGED != 0
    }
}
