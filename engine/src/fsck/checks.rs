//! The stable names of the fsck's checks, as they appear in `Finding::check` and in
//! `inspect --json`. More may be added; none may be renamed.

/// The file is shorter than the 96-byte header (cyrus.index, cyrus.expunge).
pub const HEADER_TRUNCATED: &str = "header-truncated";
/// start_offset inside the header, or record_size below the record layout's size: no record
/// can be read.
pub const HEADER_BAD_GEOMETRY: &str = "header-bad-geometry";
/// minor_version is neither 9 nor 10.
pub const MINOR_VERSION_UNKNOWN: &str = "minor-version-unknown";
/// cyrus.expunge declares a start_offset, record_size or minor_version other than
/// cyrus.index's; Cyrus reads it with cyrus.index's.
pub const EXPUNGE_GEOMETRY_MISMATCH: &str = "expunge-geometry-mismatch";
/// `exists` differs from the records the file holds.
pub const EXISTS_MISMATCH: &str = "exists-mismatch";
/// The apparent size differs from start_offset + exists * record_size.
pub const SIZE_MISMATCH: &str = "size-mismatch";
/// The apparent size is far beyond the bytes allocated.
pub const SPARSE_FILE: &str = "sparse-file";
/// Records within `exists` lie in holes (they read as zero: UID 0).
pub const RECORDS_IN_HOLE: &str = "records-in-hole";
/// Records within min(exists, records present) have UID 0.
pub const UID_ZERO: &str = "uid-zero";
/// cyrus.index records are not in strictly ascending UID order.
pub const UID_ORDER: &str = "uid-order";
/// cyrus.expunge holds a UID more than once.
pub const UID_DUPLICATE: &str = "uid-duplicate";
/// A UID is both live in cyrus.index and expunged in cyrus.expunge.
pub const UID_IN_INDEX_AND_EXPUNGE: &str = "uid-in-index-and-expunge";
/// A record's UID is above cyrus.index's last_uid.
pub const UID_ABOVE_LAST_UID: &str = "uid-above-last-uid";
/// The header's deleted, answered or flagged count differs from the records' flags.
pub const FLAG_COUNT_MISMATCH: &str = "flag-count-mismatch";
/// quota_mailbox_used differs from the sum of the records' sizes.
pub const QUOTA_MISMATCH: &str = "quota-mismatch";
/// There is no cyrus.cache (Cyrus cannot open the mailbox).
pub const CACHE_MISSING: &str = "cache-missing";
/// cyrus.cache is shorter than its 4-byte generation number.
pub const CACHE_HEADER_TRUNCATED: &str = "cache-header-truncated";
/// cyrus.index and cyrus.cache carry different generation numbers (Cyrus: BADFORMAT).
pub const GENERATION_MISMATCH: &str = "generation-mismatch";
/// cyrus.expunge carries a generation other than cyrus.index's: its cache offsets were
/// written against another cyrus.cache.
pub const EXPUNGE_GENERATION_MISMATCH: &str = "expunge-generation-mismatch";
/// A record has cache_offset 0 (process_records silently drops it when rewriting the cache).
pub const CACHE_OFFSET_ZERO: &str = "cache-offset-zero";
/// A cache_offset points into the cache header or past the end of cyrus.cache.
pub const CACHE_OFFSET_OUT_OF_RANGE: &str = "cache-offset-out-of-range";
/// No valid cache record (ten items inside the file) starts at a cache_offset.
pub const CACHE_RECORD_INVALID: &str = "cache-record-invalid";
/// A record's message file `UID.` does not exist.
pub const MESSAGE_FILE_MISSING: &str = "message-file-missing";
/// A message file `UID.` that no record of cyrus.index or cyrus.expunge (within `exists`)
/// names: space no cleanup will free, and mail a later reconstruct brings back as new.
pub const MESSAGE_FILE_ORPHANED: &str = "message-file-orphaned";

/// Every check name.
pub const ALL: &[&str] = &[
    HEADER_TRUNCATED,
    HEADER_BAD_GEOMETRY,
    MINOR_VERSION_UNKNOWN,
    EXPUNGE_GEOMETRY_MISMATCH,
    EXISTS_MISMATCH,
    SIZE_MISMATCH,
    SPARSE_FILE,
    RECORDS_IN_HOLE,
    UID_ZERO,
    UID_ORDER,
    UID_DUPLICATE,
    UID_IN_INDEX_AND_EXPUNGE,
    UID_ABOVE_LAST_UID,
    FLAG_COUNT_MISMATCH,
    QUOTA_MISMATCH,
    CACHE_MISSING,
    CACHE_HEADER_TRUNCATED,
    GENERATION_MISMATCH,
    EXPUNGE_GENERATION_MISMATCH,
    CACHE_OFFSET_ZERO,
    CACHE_OFFSET_OUT_OF_RANGE,
    CACHE_RECORD_INVALID,
    MESSAGE_FILE_MISSING,
    MESSAGE_FILE_ORPHANED,
];
