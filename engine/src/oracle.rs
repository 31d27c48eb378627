//! The oracles: the file-level fsck of every mailbox, read through the `Vfs`, plus the
//! checks only ghost state allows: every cache offset at the record written for its UID,
//! and no message lost (every delivered UID live, expunged, or purged by a rule that
//! allowed it).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io;

use sim::{Pid, Vfs};

use crate::append::write_cache_record_for;
use crate::format::checked::Geometry;
use crate::format::{INDEX_HEADER_SIZE, IndexHeader};
use crate::fsck::Finding;
use crate::fsck::source::ByteSource;
use crate::fsck::{OpenMailbox, SharedVfs, VfsFile};
use crate::ghost::Ghost;
use crate::mailbox::{FNAME_EXPUNGE, FNAME_INDEX, mailbox_path, path_in};

/// A record of the inventory: its UID and cache offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rec {
    pub uid: u32,
    pub cache_offset: u32,
}

/// The records a file really holds, at most `exists` of them, skipping holes (a record in a
/// hole reads as UID 0 and is not a message). Bounded by the data present.
pub fn inventory(src: &mut dyn ByteSource, geo: &Geometry, exists: u64) -> io::Result<Vec<Rec>> {
    let len = src.len()?;
    let n = geo.records_present(len).min(exists);
    let rs = geo.record_size;
    let start = geo.start_offset;
    let mut out = Vec::new();
    let mut buf = vec![0u8; rs as usize];
    let mut msgno = 1u64;
    while msgno <= n {
        let off = start + (msgno - 1) * rs;
        match src.next_data(off)? {
            None => break,
            Some(d) if d >= off + rs => {
                msgno = (d - start) / rs + 1;
                continue;
            }
            _ => {}
        }
        src.read_at(off, &mut buf)?;
        if let Some(r) = crate::format::IndexRecord::parse(&buf, geo.minor)
            && r.uid != 0
        {
            out.push(Rec {
                uid: r.uid,
                cache_offset: r.cache_offset,
            });
        }
        msgno += 1;
    }
    Ok(out)
}

/// What the oracles found, and the message counts of the run report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub findings: Vec<Finding>,
    pub delivered: u64,
    pub live: u64,
    pub expunged: u64,
    pub purged: u64,
    pub lost: u64,
}

/// Run every oracle over every mailbox the ghost knows.
pub fn check_all(fs: &mut dyn Vfs, ghost: &Ghost) -> Verdict {
    let mut judge = Judge::new(fs);
    let mut v = Verdict::default();
    for name in ghost.mailboxes.keys() {
        v.absorb(&judge.mailbox(ghost, name));
    }
    judge.finish();
    v
}

/// Run every oracle over one mailbox the ghost knows (an empty verdict for one it does not).
pub fn check_one(fs: &mut dyn Vfs, ghost: &Ghost, name: &str) -> Verdict {
    let mut judge = Judge::new(fs);
    let v = judge.mailbox(ghost, name);
    judge.finish();
    v
}

/// The oracles as one reading process ("fsck") that judges as many mailboxes as asked, each
/// listed once and each of its files opened once.
pub struct Judge<'v> {
    fs: &'v mut dyn Vfs,
    pid: Pid,
}

impl<'v> Judge<'v> {
    /// Spawn the reading process on `fs`.
    pub fn new(fs: &'v mut dyn Vfs) -> Judge<'v> {
        let pid = fs.spawn("fsck");
        Judge { fs, pid }
    }

    /// Every oracle over one mailbox the ghost knows (an empty verdict for one it does not).
    pub fn mailbox(&mut self, ghost: &Ghost, name: &str) -> Verdict {
        self.judge(ghost, name, None).verdict
    }

    /// As [`Judge::mailbox`], and what cyrus.index held, which the judge read anyway. A
    /// caller that already has the entries of the mailbox's directory, as [`Vfs::list`]
    /// would give them, passes them (a `SimFs` lists its files without a call).
    pub fn judge(&mut self, ghost: &Ghost, name: &str, entries: Option<Vec<String>>) -> Judged {
        let mut v = Verdict::default();
        let mut index_uids = None;
        if let Some(gm) = ghost.mailboxes.get(name) {
            let dir = mailbox_path(name);
            let shared: SharedVfs = RefCell::new(&mut *self.fs);
            let m = match entries {
                Some(e) => OpenMailbox::open_listed(&shared, self.pid, &dir, Ok(e)),
                None => OpenMailbox::open(&shared, self.pid, &dir),
            };
            let index_recs = check_mailbox(m, ghost, gm, &mut v);
            index_uids = Some(index_recs.iter().map(|r| r.uid).collect());
        }
        Judged {
            verdict: v,
            index_uids,
        }
    }

    /// Kill the reading process: no fd or map it opened outlives it.
    pub fn finish(self) {
        let _ = self.fs.kill(self.pid);
    }
}

/// One mailbox judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    pub verdict: Verdict,
    /// The UIDs cyrus.index holds, in file order, as [`index_uids`] reads them; `None` for a
    /// mailbox the ghost does not know (nothing was read).
    pub index_uids: Option<Vec<u32>>,
}

impl Verdict {
    /// Add another mailbox's verdict to this one.
    pub fn absorb(&mut self, other: &Verdict) {
        self.findings.extend(other.findings.iter().cloned());
        self.delivered += other.delivered;
        self.live += other.live;
        self.expunged += other.expunged;
        self.purged += other.purged;
        self.lost += other.lost;
    }
}

fn read_header(f: &mut VfsFile) -> Option<IndexHeader> {
    let mut h = [0u8; INDEX_HEADER_SIZE];
    let n = f.read_at(0, &mut h).ok()?;
    IndexHeader::from_bytes(&h[..n])
}

/// The records of `f` (read with cyrus.index's geometry and `f`'s own header), none if its
/// header or its records cannot be read.
fn records_of(f: &mut VfsFile, geo: &Geometry) -> Vec<Rec> {
    read_header(f)
        .and_then(|h| inventory(f, geo, h.exists as u64).ok())
        .unwrap_or_default()
}

/// Judge one mailbox into `v`; returns the records cyrus.index holds (none if its header
/// cannot be read).
fn check_mailbox(
    mut m: OpenMailbox<'_, '_>,
    ghost: &Ghost,
    gm: &crate::ghost::GhostMailbox,
    v: &mut Verdict,
) -> Vec<Rec> {
    let dir = m.dir.clone();
    let ip = path_in(&dir, FNAME_INDEX);
    let ep = path_in(&dir, FNAME_EXPUNGE);
    let tag = |f: Finding| Finding {
        file: path_in(&dir, &f.file),
        ..f
    };

    // File-level fsck.
    match m.fsck() {
        Ok(r) => v.findings.extend(r.findings.into_iter().map(tag)),
        Err(e) => v
            .findings
            .push(Finding::new(&ip, "index-unreadable", e.to_string())),
    }
    let files = std::mem::take(&mut m.message_uids);

    // Inventory of the records, through cyrus.index's geometry (as Cyrus reads both).
    let Some((ih, geo)) = m.index.as_mut().ok().and_then(|f| {
        let h = read_header(f)?;
        Some((h, Geometry::from_header(&h).ok()?))
    }) else {
        v.delivered += gm.msgs.len() as u64;
        v.lost += gm.msgs.len() as u64;
        return Vec::new();
    };
    let index_recs = match &mut m.index {
        Ok(f) => inventory(f, &geo, ih.exists as u64).unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let expunge_recs = match &mut m.expunge {
        Ok(f) => records_of(f, &geo),
        Err(_) => Vec::new(),
    };

    // Every cache offset at the cache record written for its UID.
    let (mut want, mut got) = (Vec::with_capacity(256), Vec::with_capacity(256));
    for (file, recs) in [(&ip, &index_recs), (&ep, &expunge_recs)] {
        let mut wrong = 0u64;
        let mut example = None;
        if let Ok(cf) = &mut m.cache {
            let cache_len = cf.len().unwrap_or(0);
            for r in recs.iter() {
                write_cache_record_for(r.uid, &mut want);
                let off = r.cache_offset as u64;
                got.resize(want.len(), 0);
                let ok = off != 0
                    && off + want.len() as u64 <= cache_len
                    && cf.read_at(off, &mut got).ok() == Some(want.len())
                    && got == want;
                if !ok {
                    wrong += 1;
                    example.get_or_insert(format!("uid {} -> cache offset {off}", r.uid));
                }
            }
        }
        if wrong > 0 {
            v.findings.push(Finding::new(
                file,
                "cache-record-mismatch",
                format!(
                    "{wrong} record(s) point at a cache record not written for their UID (e.g. {})",
                    example.unwrap_or_default()
                ),
            ));
        }
    }

    // No message lost.
    let live: BTreeSet<u32> = index_recs.iter().map(|r| r.uid).collect();
    let expunged: BTreeSet<u32> = expunge_recs.iter().map(|r| r.uid).collect();
    let mut lost = Vec::new();
    let mut moved_without_reason = Vec::new();
    for (&uid, g) in &gm.msgs {
        v.delivered += 1;
        let has_file = files.contains(&uid);
        if live.contains(&uid) && has_file {
            v.live += 1;
        } else if expunged.contains(&uid) && has_file {
            v.expunged += 1;
            if !ghost.may_leave_index(gm, g) {
                moved_without_reason.push(uid);
            }
        } else if ghost.may_purge(gm, g) {
            v.purged += 1;
        } else {
            v.lost += 1;
            lost.push(uid);
        }
    }
    if !lost.is_empty() {
        v.findings.push(Finding::new(
            &dir,
            "message-lost",
            format!(
                "{} message(s) gone with no rule allowing it: uids {}",
                lost.len(),
                list(&lost)
            ),
        ));
    }
    if !moved_without_reason.is_empty() {
        v.findings.push(Finding::new(
            &dir,
            "expunged-without-reason",
            format!(
                "uids {} are in cyrus.expunge only, never expunged nor expired",
                list(&moved_without_reason)
            ),
        ));
    }
    index_recs
}

fn list(uids: &[u32]) -> String {
    let mut s: Vec<String> = uids.iter().take(10).map(|u| u.to_string()).collect();
    if uids.len() > 10 {
        s.push(format!("... ({} in all)", uids.len()));
    }
    s.join(",")
}

/// The UIDs cyrus.index of `mailbox` really holds, in file order (what a user sees).
pub fn index_uids(fs: &mut dyn Vfs, mailbox: &str) -> Vec<u32> {
    let pid = fs.spawn("fsck");
    let ip = format!("{}/{FNAME_INDEX}", mailbox_path(mailbox));
    let uids = {
        let shared: SharedVfs = RefCell::new(&mut *fs);
        VfsFile::open(&shared, pid, &ip)
            .ok()
            .and_then(|mut f| {
                let h = read_header(&mut f)?;
                let geo = Geometry::from_header(&h).ok()?;
                inventory(&mut f, &geo, h.exists as u64).ok()
            })
            .map(|recs| recs.iter().map(|r| r.uid).collect())
            .unwrap_or_default()
    };
    let _ = fs.kill(pid);
    uids
}
