//! The full 2008 reproduction at engine level, for `scripts/repro_rss.sh` when the CLI's
//! `expunge-sim run blair-2008` is not there yet. It is engine/tests/seed_story.rs's second
//! test with the partition scaled up: 2.3.7's cyr_expire wraps cyrus.expunge's `exists`,
//! a delayed EXPUNGE makes it a sparse file of ~3.4e11 bytes, and the first 2.3.12 open
//! upgrades it, writing real 88-byte records until the partition is full.

use engine::append::{Delivery, deliver, imapd_expunge, set_deleted};
use engine::cyr_expire::{Annotations, cyr_expire};
use engine::mailbox::{mailbox_create, mailbox_open_and_lock};
use engine::{Cx, CyrusError, Log, NoteKind, Site, Strategy, Version};
use sim::{SimConfig, SimFs, Stat, Vfs};

use crate::{DAY, NOW};

const SPAM: &str = "user.bob.Spam";
const EXPUNGE: &str = "user/bob/Spam/cyrus.expunge";

/// What the run did, for the report line.
#[derive(Debug, Clone)]
pub struct ReproOutcome {
    pub capacity: u64,
    pub sim_calls: u64,
    /// cyrus.expunge after the wrap and the delayed EXPUNGE.
    pub sparse: Stat,
    /// cyrus.expunge.NEW when the upgrade stopped.
    pub upgraded: Stat,
    pub partition_used: u64,
    /// Bytes of block data the simulator really stores (interned blocks counted once).
    pub stored_bytes: u64,
    pub enospc: bool,
}

struct World {
    fs: SimFs,
    site: Site,
    log: Log,
    now: u32,
}

impl World {
    fn with<R>(&mut self, name: &str, f: impl FnOnce(&mut Cx) -> R) -> R {
        engine::cx::as_process(&mut self.fs, &self.site, self.now, &mut self.log, name, f)
    }

    fn deliver(&mut self, sentdate: u32, size: u32) {
        let d = Delivery {
            sentdate,
            internaldate: sentdate,
            size,
        };
        self.with("lmtpd", |cx| deliver(cx, SPAM, d))
            .expect("delivery");
    }
}

/// Runs the story on a SimFs partition of `capacity` bytes. Panics if a step that must
/// succeed fails, or if the story does not end as in 2008 (ENOSPC during the upgrade).
pub fn blair_2008(capacity: u64) -> ReproOutcome {
    let mut site = Site::new(Version::V2_3_7);
    site.expunge_days = 7;
    let mut w = World {
        fs: SimFs::new(SimConfig {
            capacity,
            ..SimConfig::default()
        }),
        site,
        log: Log::default(),
        now: NOW - 10 * DAY,
    };
    w.with("admin", |cx| mailbox_create(cx, SPAM, 1))
        .expect("mailbox_create");
    // E = 5: two records expunged 10 days ago, three 1 day ago.
    for _ in 0..5 {
        let now = w.now;
        w.deliver(now, 500);
    }
    w.with("imapd", |cx| set_deleted(cx, SPAM, &[1, 2]))
        .expect("store");
    w.with("imapd", |cx| imapd_expunge(cx, SPAM))
        .expect("expunge");
    w.now += 9 * DAY;
    w.with("imapd", |cx| set_deleted(cx, SPAM, &[3, 4, 5]))
        .expect("store");
    w.with("imapd", |cx| imapd_expunge(cx, SPAM))
        .expect("expunge");
    w.now += DAY;
    // N1 = 6 messages past the 7-day annotation: exists = 5 - 6 - 2 wraps to 2^32 - 3.
    for _ in 0..6 {
        w.deliver(NOW - 30 * DAY, 1000);
    }
    let mut ann = Annotations::new();
    ann.insert(SPAM.to_string(), 7);
    w.with("cyr_expire", |cx| {
        cyr_expire(cx, &[SPAM.to_string()], &ann, Strategy::Cyrus237)
    })
    .expect("cyr_expire");
    // One more delayed EXPUNGE writes at 96 + (2^32 - 3) * 80: the sparse file.
    w.deliver(NOW, 700);
    w.with("imapd", |cx| set_deleted(cx, SPAM, &[12]))
        .expect("store");
    w.with("imapd", |cx| imapd_expunge(cx, SPAM))
        .expect("expunge");
    let sparse = w.fs.stat(EXPUNGE).expect("stat cyrus.expunge");
    assert!(sparse.size > 3.4e11 as u64, "sparse file: {sparse:?}");

    // The 2.3.12 upgrade: real records until the partition is full.
    w.site.version = Version::V2_3_12;
    let r = w.with("imapd", |cx| mailbox_open_and_lock(cx, SPAM).map(|_| ()));
    assert!(matches!(r, Err(CyrusError::IoError(_))), "{r:?}");
    let enospc = w.log.notes.iter().any(|n| n.kind == NoteKind::Enospc);
    let upgraded =
        w.fs.stat("user/bob/Spam/cyrus.expunge.NEW")
            .expect("stat cyrus.expunge.NEW");
    let (_, used) = w.fs.partition();
    ReproOutcome {
        capacity,
        sim_calls: w.fs.calls(),
        sparse,
        upgraded,
        partition_used: used,
        stored_bytes: w.fs.stored_bytes(),
        enospc,
    }
}
