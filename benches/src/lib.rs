//! Shared pieces of the benchmarks in `benches/benches/` (this library is not a benchmark
//! itself: `[lib] bench = false`).
//!
//! - [`build_mailbox`] writes a Cyrus 2.3 mailbox of any size straight through a [`Vfs`],
//!   with `engine::format`, in a few large writes: delivering 10^6 messages one by one
//!   through `engine::append::deliver` would cost minutes per backend.
//! - [`run_expunge`] runs one `mailbox_expunge` call the way imapd or cyr_expire makes it.
//! - [`repro`] is the engine-level reproduction of the 2008 story (the seed story's second
//!   test, scaled to a multi-GiB partition) that `scripts/repro_rss.sh` measures.

use engine::append::cache_record_for;
use engine::expunge::{ExpungeFix, ExpungeReport, mailbox_expunge};
use engine::format::{FLAG_DELETED, IndexHeader, IndexRecord, MinorVersion};
use engine::mailbox::{mailbox_close, mailbox_open_and_lock, mailbox_path};
use engine::process_records::{Decide, EXPUNGE_CLEANUP, EXPUNGE_FORCE, ExpireRock};
use engine::{CResult, Cx, Log, Site, Version};
use sim::{OpenFlags, Vfs};

pub mod peers;
pub mod repro;

pub const DAY: u32 = 86_400;
/// "Now" in every benchmark: September 2008.
pub const NOW: u32 = 1_220_000_000;
/// The mailbox every engine benchmark works on.
pub const MAILBOX: &str = "user.bench.Big";

/// The shape of a benchmark mailbox of `n` messages.
///
/// - cyrus.index holds `n` records (UIDs `e+1 ..= e+n`, `e = n / 10`); every 10th is
///   flagged `\Deleted` and was sent 30 days ago; the rest were sent today.
/// - cyrus.expunge holds `e` records (UIDs `1 ..= e`) expunged earlier: the odd UIDs 10
///   days ago, the even ones 1 day ago (so a `-X 7` cleanup purges half of them).
/// - cyrus.cache holds a cache record for every one of the `n + e` UIDs.
/// - No message files are written (10^6 of them would dominate the setup); the unlinks a
///   cleanup makes get `ENOENT`, which Cyrus ignores. Every backend sees the same calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxSpec {
    pub n: u32,
    pub version: Version,
}

impl MailboxSpec {
    pub fn expunged(&self) -> u32 {
        self.n / 10
    }

    fn minor(&self) -> MinorVersion {
        MinorVersion::from_number(self.version.minor_version()).expect("minor 9 or 10")
    }
}

/// Writes `bytes` to `path` (created or truncated) in chunks of at most 1 MiB, then fsyncs.
fn write_file(fs: &mut dyn Vfs, pid: sim::Pid, path: &str, bytes: &[u8]) {
    let fd = fs
        .open(pid, path, OpenFlags::RDWR_CREATE_TRUNC)
        .unwrap_or_else(|e| panic!("creating {path}: {e}"));
    for (i, chunk) in bytes.chunks(1 << 20).enumerate() {
        let off = (i << 20) as u64;
        let n = fs
            .pwrite(pid, fd, chunk, off)
            .unwrap_or_else(|e| panic!("writing {path} at {off}: {e}"));
        assert_eq!(n, chunk.len(), "short write to {path} at {off}");
    }
    fs.fsync(pid, fd)
        .unwrap_or_else(|e| panic!("fsync {path}: {e}"));
    fs.close(pid, fd).expect("close");
}

/// Writes the mailbox of [`MailboxSpec`] under `user/bench/Big/` of `fs`. Panics with the
/// file and step on any error: a benchmark with a broken setup must not report a figure.
pub fn build_mailbox(fs: &mut dyn Vfs, spec: MailboxSpec) {
    let minor = spec.minor();
    let rs = minor.record_size();
    let (n, e) = (spec.n, spec.expunged());
    let path = mailbox_path(MAILBOX);

    // cyrus.cache: the generation number, then one record per UID in UID order.
    let mut cache = Vec::with_capacity(4 + (n + e) as usize * 200);
    cache.extend_from_slice(&1u32.to_be_bytes());
    let mut cache_offsets = Vec::with_capacity((n + e) as usize);
    for uid in 1..=e + n {
        cache_offsets.push(cache.len() as u32);
        cache.extend_from_slice(&cache_record_for(uid));
    }

    let record = |uid: u32, sentdate: u32, last_updated: u32, flags: u32| IndexRecord {
        uid,
        internaldate: sentdate,
        sentdate,
        size: 2000,
        header_size: 512,
        content_offset: 512,
        cache_offset: cache_offsets[uid as usize - 1],
        last_updated,
        system_flags: flags,
        content_lines: 33,
        cache_version: 1,
        guid: [uid as u8; 20],
        modseq: uid as u64,
        ..IndexRecord::default()
    };
    let header = |exists: u32, deleted: u32, quota: u64| IndexHeader {
        generation_no: 1,
        minor_version: minor.number(),
        start_offset: engine::format::INDEX_HEADER_SIZE as u32,
        record_size: rs as u32,
        exists,
        last_appenddate: NOW - DAY,
        last_uid: e + n,
        quota_mailbox_used: quota,
        uidvalidity: 1,
        deleted,
        highestmodseq: (e + n) as u64,
        ..IndexHeader::default()
    };

    let mut index = Vec::with_capacity(96 + n as usize * rs);
    let deleted = n.div_ceil(10);
    index.extend_from_slice(&header(n, deleted, n as u64 * 2000).to_bytes());
    let mut buf = vec![0u8; rs];
    for i in 0..n {
        let uid = e + 1 + i;
        let r = if i % 10 == 0 {
            record(uid, NOW - 30 * DAY, NOW - 2 * DAY, FLAG_DELETED)
        } else {
            record(uid, NOW, NOW, 0)
        };
        r.write_into(&mut buf, minor);
        index.extend_from_slice(&buf);
    }

    let mut expunge = Vec::with_capacity(96 + e as usize * rs);
    expunge.extend_from_slice(&header(e, e, e as u64 * 2000).to_bytes());
    for uid in 1..=e {
        let when = if uid % 2 == 1 {
            NOW - 10 * DAY
        } else {
            NOW - DAY
        };
        record(uid, when, when, FLAG_DELETED).write_into(&mut buf, minor);
        expunge.extend_from_slice(&buf);
    }

    let pid = fs.spawn("bench-setup");
    let cyrus_header = format!("\u{a1}\u{2}\u{8b}\u{d}Cyrus mailbox header\n{MAILBOX}\n");
    write_file(
        fs,
        pid,
        &format!("{path}/cyrus.header"),
        cyrus_header.as_bytes(),
    );
    write_file(fs, pid, &format!("{path}/cyrus.cache"), &cache);
    write_file(fs, pid, &format!("{path}/cyrus.index"), &index);
    if e > 0 {
        write_file(fs, pid, &format!("{path}/cyrus.expunge"), &expunge);
    }
    fs.fsync_dir(pid, &path).expect("fsync_dir");
    fs.kill(pid).expect("kill setup process");
}

/// The three `mailbox_expunge` calls the engine benchmarks time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpungeOp {
    /// imapd's EXPUNGE in delayed mode (2.3.12): flags 0, `Decide::Deleted`: the \Deleted
    /// records are appended to cyrus.expunge with write(), the index is rewritten.
    Delayed,
    /// cyr_expire's cleanup (2.3.12): `EXPUNGE_CLEANUP` with an expire rock (`-X 7`, no
    /// expire annotation): index, cache and cyrus.expunge are all rewritten.
    Cleanup,
    /// cyr_expire as shipped in 2.3.7 on an annotated folder: `EXPUNGE_FORCE|EXPUNGE_CLEANUP`
    /// (which 2.3.7 keeps in delayed mode), expire annotation 7 days.
    ForceCleanup237,
}

impl ExpungeOp {
    pub const ALL: [ExpungeOp; 3] = [
        ExpungeOp::Delayed,
        ExpungeOp::Cleanup,
        ExpungeOp::ForceCleanup237,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ExpungeOp::Delayed => "delayed",
            ExpungeOp::Cleanup => "cleanup",
            ExpungeOp::ForceCleanup237 => "force_cleanup_2.3.7",
        }
    }

    pub fn version(self) -> Version {
        match self {
            ExpungeOp::ForceCleanup237 => Version::V2_3_7,
            _ => Version::V2_3_12,
        }
    }

    pub fn spec(self, n: u32) -> MailboxSpec {
        MailboxSpec {
            n,
            version: self.version(),
        }
    }

    pub fn site(self) -> Site {
        let mut site = Site::new(self.version());
        site.expunge_days = 7;
        site
    }
}

/// Runs `op` on the benchmark mailbox as one process (open and lock, `mailbox_expunge`,
/// close), and returns what the call did. The log is the caller's so that allocating it is
/// not timed.
pub fn run_expunge(
    fs: &mut dyn Vfs,
    op: ExpungeOp,
    site: &Site,
    log: &mut Log,
) -> CResult<ExpungeReport> {
    let pid = fs.spawn("cyr_expire");
    let mut cx = Cx {
        fs,
        pid,
        name: "cyr_expire".to_string(),
        site,
        now: NOW,
        log,
    };
    let mut rock = ExpireRock {
        expire_mark: 0,
        expunge_mark: NOW as i64 - 7 * DAY as i64,
        rule: Some(site.expire_rule),
        ..ExpireRock::default()
    };
    let (mut decide, flags) = match op {
        ExpungeOp::Delayed => (Decide::Deleted, 0),
        ExpungeOp::Cleanup => (Decide::Expire(&mut rock), EXPUNGE_CLEANUP),
        ExpungeOp::ForceCleanup237 => {
            rock.expire_mark = NOW as i64 - 7 * DAY as i64;
            (Decide::Expire(&mut rock), EXPUNGE_FORCE | EXPUNGE_CLEANUP)
        }
    };
    let mut mb = mailbox_open_and_lock(&mut cx, MAILBOX)?;
    let r = mailbox_expunge(&mut cx, &mut mb, &mut decide, flags, ExpungeFix::default());
    mailbox_close(&mut cx, &mut mb)?;
    let _ = cx.fs.kill(pid);
    r
}

/// What each op must have done to a mailbox of `n` messages; a benchmark checks it once
/// before timing, so a figure never comes from a call that failed early.
pub fn check_report(op: ExpungeOp, n: u32, r: &ExpungeReport) {
    let e = n / 10;
    let flagged = n.div_ceil(10);
    match op {
        ExpungeOp::Delayed => {
            assert_eq!(r.pass1.appended, flagged, "{op:?} n={n}: records moved");
            assert!(r.pass2.is_none());
        }
        ExpungeOp::Cleanup => {
            assert_eq!(r.pass1.examined, n as u64, "{op:?} n={n}: pass 1");
            assert_eq!(r.pass1.appended, 0);
            let p2 = r.pass2.as_ref().expect("cleanup has a pass 2");
            assert_eq!(p2.examined, e as u64, "{op:?} n={n}: pass 2");
            assert_eq!(p2.decided_uids.len() as u32, e.div_ceil(2), "purged");
        }
        ExpungeOp::ForceCleanup237 => {
            assert_eq!(r.pass1.appended, flagged, "{op:?} n={n}: expired");
            let p2 = r.pass2.as_ref().expect("cleanup has a pass 2");
            assert_eq!(p2.examined, e as u64, "{op:?} n={n}: pass 2");
        }
    }
}
