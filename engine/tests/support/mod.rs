//! The harness the strategy, stale-map and unexpunge tests share: a SimFs world with one
//! site, a clock and a log, the seed's spam folder, and readers of the resulting files.
#![allow(dead_code)]

use engine::append::{Delivery, cache_record_for, deliver, imapd_expunge, set_deleted};
use engine::cyr_expire::{Annotations, FolderRun, cyr_expire};
use engine::fsck::{InspectReport, fsck_vfs_mailbox};
use engine::layout::*;
use engine::mailbox::mailbox_create;
use engine::{Cx, CyrusError, Log, NoteKind, Site, Strategy, Version};
use sim::{Coherence, OpenFlags, SimConfig, SimFs, Vfs};

pub const DAY: u32 = 86_400;
/// September 2008.
pub const T0: u32 = 1_220_000_000;

pub const SPAM: &str = "user.bob.Spam";
pub const DIR: &str = "user/bob/Spam";
pub const INDEX: &str = "user/bob/Spam/cyrus.index";
pub const CACHE: &str = "user/bob/Spam/cyrus.cache";
pub const EXPUNGE: &str = "user/bob/Spam/cyrus.expunge";

pub struct World {
    pub fs: SimFs,
    pub site: Site,
    pub log: Log,
    pub now: u32,
}

impl World {
    /// Delayed expunge, `cyr_expire -X 7`, a 1 GiB partition, Linux (`Shared`) maps.
    pub fn new(version: Version) -> World {
        World::with_coherence(version, Coherence::Shared)
    }

    pub fn with_coherence(version: Version, coherence: Coherence) -> World {
        World::build(version, coherence, 1 << 30)
    }

    /// `new` on a partition of `capacity` bytes.
    pub fn with_capacity(version: Version, capacity: u64) -> World {
        World::build(version, Coherence::Shared, capacity)
    }

    fn build(version: Version, coherence: Coherence, capacity: u64) -> World {
        let cfg = SimConfig {
            capacity,
            coherence,
            ..SimConfig::default()
        };
        let mut site = Site::new(version);
        site.expunge_days = 7;
        site.map_variant = match coherence {
            Coherence::Shared => engine::MapVariant::Shared,
            Coherence::StupidShared => engine::MapVariant::StupidShared,
            Coherence::NoMmap => engine::MapVariant::NoMmap,
        };
        World {
            fs: SimFs::new(cfg),
            site,
            log: Log::default(),
            now: T0,
        }
    }

    /// Run `f` as a fresh process called `name`; the process dies afterwards.
    pub fn with<R>(&mut self, name: &str, f: impl FnOnce(&mut Cx) -> R) -> R {
        engine::cx::as_process(&mut self.fs, &self.site, self.now, &mut self.log, name, f)
    }

    pub fn deliver(&mut self, sentdate: u32, size: u32) -> u32 {
        let d = Delivery {
            sentdate,
            internaldate: self.now,
            size,
        };
        self.with("lmtpd", |cx| deliver(cx, SPAM, d)).unwrap()
    }

    /// imapd: STORE +FLAGS \Deleted, then EXPUNGE (flags 0).
    pub fn user_expunge(&mut self, uids: &[u32]) -> Result<(), CyrusError> {
        self.with("imapd", |cx| set_deleted(cx, SPAM, uids))?;
        self.with("imapd", |cx| imapd_expunge(cx, SPAM)).map(|_| ())
    }

    /// One nightly cyr_expire over the spam folder. Notes logged by it are returned.
    pub fn cyr_expire(
        &mut self,
        strategy: Strategy,
    ) -> (Result<Vec<FolderRun>, CyrusError>, Vec<engine::Note>) {
        let before = self.log.notes.len();
        let mut ann = Annotations::new();
        ann.insert(SPAM.to_string(), 7);
        let r = self.with("cyr_expire", |cx| {
            cyr_expire(cx, &[SPAM.to_string()], &ann, strategy)
        });
        (r, self.log.notes[before..].to_vec())
    }

    pub fn read_file(&mut self, path: &str) -> Option<Vec<u8>> {
        let st = self.fs.stat(path).ok()?;
        assert!(
            st.size < 1 << 24,
            "{path} is {} bytes: not for read_file",
            st.size
        );
        let pid = self.fs.spawn("test");
        let fd = self.fs.open(pid, path, OpenFlags::RDONLY).ok()?;
        let mut b = vec![0u8; st.size as usize];
        let n = self.fs.pread(pid, fd, &mut b, 0).ok()?;
        let _ = self.fs.kill(pid);
        b.truncate(n);
        Some(b)
    }

    pub fn header(&mut self, path: &str) -> Option<[u8; 96]> {
        let pid = self.fs.spawn("test");
        let fd = self.fs.open(pid, path, OpenFlags::RDONLY).ok()?;
        let mut h = [0u8; 96];
        let n = self.fs.pread(pid, fd, &mut h, 0).ok()?;
        let _ = self.fs.kill(pid);
        (n == 96).then_some(h)
    }

    pub fn exists_of(&mut self, path: &str) -> Option<u32> {
        self.header(path).map(|h| get32(&h, OFFSET_EXISTS))
    }

    pub fn size(&mut self, path: &str) -> Option<sim::Stat> {
        self.fs.stat(path).ok()
    }

    /// The records a small index or expunge file holds, read with cyrus.index's geometry
    /// (as Cyrus reads them), whatever its header says.
    pub fn records(&mut self, path: &str) -> Vec<Vec<u8>> {
        let ih = self.header(INDEX).expect("cyrus.index");
        let (so, rs) = (
            get32(&ih, OFFSET_START_OFFSET) as usize,
            get32(&ih, OFFSET_RECORD_SIZE) as usize,
        );
        let Some(b) = self.read_file(path) else {
            return Vec::new();
        };
        b.get(so..)
            .unwrap_or_default()
            .chunks_exact(rs)
            .map(|c| c.to_vec())
            .collect()
    }

    pub fn uids(&mut self, path: &str) -> Vec<u32> {
        self.records(path)
            .iter()
            .map(|r| get32(r, OFFSET_UID))
            .collect()
    }

    /// Message files `N.` in the mailbox directory.
    pub fn message_files(&mut self) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .fs
            .list(DIR)
            .unwrap()
            .iter()
            .filter_map(|n| engine::fsck::message_uid_from_name(n))
            .collect();
        v.sort();
        v
    }

    /// For each record of `path`: does its cache_offset point at the cache record written
    /// for its own UID in the current cyrus.cache? (The ghost knowledge real files lack.)
    pub fn cache_offsets_own(&mut self, path: &str) -> Vec<(u32, bool)> {
        let cache = self.read_file(CACHE).unwrap_or_default();
        self.records(path)
            .iter()
            .map(|r| {
                let uid = get32(r, OFFSET_UID);
                let off = get32(r, OFFSET_CACHE_OFFSET) as usize;
                let want = cache_record_for(uid);
                let ok = off >= 4 && cache.get(off..off + want.len()) == Some(&want[..]);
                (uid, ok)
            })
            .collect()
    }

    pub fn fsck(&mut self) -> InspectReport {
        fsck_vfs_mailbox(&mut self.fs, DIR).expect("fsck")
    }
}

/// The checks that fired, sorted and deduplicated.
pub fn checks(r: &InspectReport) -> Vec<&str> {
    let mut v: Vec<&str> = r.findings.iter().map(|f| f.check.as_str()).collect();
    v.sort();
    v.dedup();
    v
}

/// Event kinds (not story lines) among `notes`.
pub fn events(notes: &[engine::Note]) -> Vec<NoteKind> {
    notes
        .iter()
        .filter(|n| n.kind != NoteKind::Story)
        .map(|n| n.kind)
        .collect()
}

/// The seed's spam folder, at T0 + 10 days, just before the nightly cyr_expire:
/// - cyrus.expunge holds E = 5 hand-deleted messages: UIDs 1, 2 expunged 10 days ago (older
///   than -X 7: purgeable, N2 = 2) and 3, 4, 5 expunged 1 day ago (they survive);
/// - live UIDs 6..=9 were sent 30 days ago, older than the 7-day annotation (N1 = 4);
/// - live UIDs 10, 11 were sent today and stay.
///
/// N1 + N2 = 6 > E = 5.
pub fn spam_folder(w: &mut World) {
    w.with("admin", |cx| mailbox_create(cx, SPAM, 1)).unwrap();
    for _ in 0..5 {
        w.deliver(w.now, 500);
    }
    w.user_expunge(&[1, 2]).unwrap();
    w.now += 9 * DAY;
    w.user_expunge(&[3, 4, 5]).unwrap();
    w.now += DAY;
    for _ in 0..4 {
        w.deliver(T0 - 20 * DAY, 1000);
    }
    for _ in 0..2 {
        w.deliver(w.now, 2000);
    }
}
