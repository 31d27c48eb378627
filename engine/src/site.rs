//! What differs between Cyrus versions and between sites, as data.
//!
//! Version differences are values of [`Version`], never copies of functions: the model of
//! `mailbox_expunge` reads these switches where the C source differs between tags.

/// A Cyrus release whose expunge path the engine models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// cyrus-imapd-2.3.7: minor version 9, no cache bounds check, cyr_expire passes both flags.
    V2_3_7,
    /// cyrus-imapd-2.3.12-p1 (stands for 2.3.10 to 2.3.14): minor version 10, upgrades minor 9
    /// on open, cache bounds check, cyr_expire passes FORCE or CLEANUP but not both.
    V2_3_12,
    /// cyrus-imapd-2.3.15: EXPUNGE_FORCE removed from cyr_expire (flags 0 on annotated
    /// folders), FORCE tested as a bitmask.
    V2_3_15,
}

impl Version {
    pub fn name(self) -> &'static str {
        match self {
            Version::V2_3_7 => "2.3.7",
            Version::V2_3_12 => "2.3.12",
            Version::V2_3_15 => "2.3.15",
        }
    }

    /// Parse "2.3.7", "2.3.12", "2.3.15" (and the releases each stands for).
    pub fn parse(s: &str) -> Option<Version> {
        let minor: u32 = s
            .strip_prefix("2.3.")?
            .split(['p', '-'])
            .next()?
            .parse()
            .ok()?;
        match minor {
            7..=9 => Some(Version::V2_3_7),
            10..=14 => Some(Version::V2_3_12),
            15..=16 => Some(Version::V2_3_15),
            _ => None,
        }
    }

    /// MAILBOX_MINOR_VERSION: 9 up to 2.3.9, 10 from 2.3.10 (imap/mailbox.h).
    pub fn minor_version(self) -> u32 {
        match self {
            Version::V2_3_7 => 9,
            _ => 10,
        }
    }

    /// INDEX_RECORD_SIZE for this version's minor version.
    pub fn record_size(self) -> u32 {
        if self.minor_version() >= 10 { 88 } else { 80 }
    }

    /// 2.3.7-2.3.14 test `flags == EXPUNGE_FORCE` (mailbox.c T12:2118), so FORCE|CLEANUP
    /// stays in delayed mode; 2.3.15 tests the bit (4a604fe8f1).
    pub fn force_is_bitmask(self) -> bool {
        matches!(self, Version::V2_3_15)
    }

    /// reconstruct keeps cyrus.expunge in mind (a UID map, `-k`, a rebuilt cyrus.expunge):
    /// 2.3.12-p1 and 2.3.16 (reconstruct.c T16:924-1303). 2.3.7 purges every message it
    /// lists and unlinks it (T7:579-637, "XXX For two-phase we will need to keep the
    /// messages referenced in cyrus.expunge"). 2.3.8-2.3.9 were not checked.
    pub fn reconstruct_two_phase(self) -> bool {
        !matches!(self, Version::V2_3_7)
    }

    /// 2.3.8+ checks each cache item against the cache map in process_records (T12:1990).
    pub fn cache_bounds_check(self) -> bool {
        !matches!(self, Version::V2_3_7)
    }
}

/// The data model of the machine Cyrus was compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// `long` and `size_t` are 64 bits: offsets do not wrap, huge mallocs may succeed.
    Lp64,
    /// `long` and `size_t` are 32 bits: `start_offset + exists * record_size` and
    /// `(exists + E) * sizeof(long)` wrap modulo 2^32.
    Ilp32,
}

impl Arch {
    /// `sizeof(unsigned long)`.
    pub fn long_size(self) -> u64 {
        match self {
            Arch::Lp64 => 8,
            Arch::Ilp32 => 4,
        }
    }

    /// Truncate a value to `unsigned long`, as C's arithmetic does.
    pub fn ulong(self, v: u128) -> u64 {
        match self {
            Arch::Lp64 => v as u64,
            Arch::Ilp32 => (v as u64) & 0xffff_ffff,
        }
    }

    /// An `unsigned long` value stored in a (signed) `long`, as `long last_offset` is: on
    /// ILP32 a value of 2^31 or more becomes negative, and `lseek` then fails with EINVAL.
    pub fn long(self, v: u64) -> i64 {
        match self {
            Arch::Lp64 => v as i64,
            Arch::Ilp32 => (v as u32) as i32 as i64,
        }
    }

    /// The default limit on one allocation: the user address space a process can have
    /// (x86-64: 128 TiB with overcommit; a 32-bit process: 3 GiB).
    pub fn default_alloc_limit(self) -> u64 {
        match self {
            Arch::Lp64 => 1 << 47,
            Arch::Ilp32 => 3 << 30,
        }
    }
}

/// `expunge_mode` in imapd.conf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExpungeMode {
    Immediate,
    Delayed,
}

/// Which date the expire annotation compares: stock Cyrus uses the sent date
/// (cyr_expire.c expire_cb); the 2008 site had a local change to INTERNALDATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExpireRule {
    SentDate,
    InternalDate,
}

/// Which `lib/map_*.c` the site was built with. Cyrus's configure picks it by probing the
/// filesystem (configure.in 2.3.13:563-628), so a site on a coherent (Linux) filesystem
/// gets `Shared`, on HP-UX `StupidShared`, elsewhere `NoMmap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MapVariant {
    /// map_shared.c: remaps only to grow; `!onceonly` maps get up to 16 KiB of slop.
    Shared,
    /// map_stupidshared.c: the same, without slop.
    StupidShared,
    /// map_nommap.c: a malloc'd copy, re-read with `read()` on every refresh.
    NoMmap,
}

/// Everything about one site that the engine needs besides the filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The Cyrus release running (default 2.3.7).
    pub version: Version,
    /// LP64 or ILP32 (default LP64).
    pub arch: Arch,
    /// `expunge_mode` (default delayed, as at the 2008 site).
    pub expunge_mode: ExpungeMode,
    /// The expire annotation's date (default sent date, as shipped).
    pub expire_rule: ExpireRule,
    /// The largest single `xmalloc` that succeeds; beyond it Cyrus calls `fatal()`
    /// (default: [`Arch::default_alloc_limit`]).
    pub alloc_limit: u64,
    /// stdio's buffer for `FILE *` writes (glibc uses st_blksize: 4096).
    pub stdio_bufsiz: usize,
    /// The map variant (default `Shared`, matching a Linux filesystem).
    pub map_variant: MapVariant,
    /// `cyr_expire -X` days: expunged records younger than this survive cleanup (default 0).
    pub expunge_days: u32,
}

impl Site {
    pub fn new(version: Version) -> Site {
        Site {
            version,
            arch: Arch::Lp64,
            expunge_mode: ExpungeMode::Delayed,
            expire_rule: ExpireRule::SentDate,
            alloc_limit: Arch::Lp64.default_alloc_limit(),
            stdio_bufsiz: 4096,
            map_variant: MapVariant::Shared,
            expunge_days: 0,
        }
    }
}
