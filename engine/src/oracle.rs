//! The oracles: the file-level fsck of every mailbox, read through the `Vfs`, plus the
//! checks only ghost state allows: every cache offset at the record written for its UID,
//! and no message lost (every delivered UID live, expunged, or purged by a rule that
//! allowed it).

use std::cell::RefCell;
use std::collections::{BTreeSet, HashSet};
use std::io;

use sim::{Pid, Vfs};

use crate::append::cache_record_for;
use crate::format::checked::Geometry;
use crate::format::{INDEX_HEADER_SIZE, IndexHeader};
use crate::fsck::source::ByteSource;
use crate::fsck::{Finding, message_uid_from_name};
use crate::fsck::{SharedVfs, VfsFile, fsck_vfs_mailbox};
use crate::ghost::Ghost;
use crate::mailbox::{FNAME_CACHE, FNAME_EXPUNGE, FNAME_INDEX, mailbox_path};

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
    let pid = fs.spawn("fsck");
    let mut v = Verdict::default();
    for (name, gm) in &ghost.mailboxes {
        check_mailbox(fs, pid, ghost, name, gm, &mut v);
    }
    let _ = fs.kill(pid);
    v
}

/// Run every oracle over one mailbox the ghost knows (an empty verdict for one it does not).
pub fn check_one(fs: &mut dyn Vfs, ghost: &Ghost, name: &str) -> Verdict {
    let mut v = Verdict::default();
    if let Some(gm) = ghost.mailboxes.get(name) {
        let pid = fs.spawn("fsck");
        check_mailbox(fs, pid, ghost, name, gm, &mut v);
        let _ = fs.kill(pid);
    }
    v
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

fn check_mailbox(
    fs: &mut dyn Vfs,
    pid: Pid,
    ghost: &Ghost,
    name: &str,
    gm: &crate::ghost::GhostMailbox,
    v: &mut Verdict,
) {
    let dir = mailbox_path(name);
    let ip = format!("{dir}/{FNAME_INDEX}");
    let ep = format!("{dir}/{FNAME_EXPUNGE}");
    let cp = format!("{dir}/{FNAME_CACHE}");
    let files: HashSet<u32> = fs
        .list(&dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|n| message_uid_from_name(n))
        .collect();
    let tag = |f: Finding| Finding {
        file: format!("{dir}/{}", f.file),
        ..f
    };

    // File-level fsck.
    match fsck_vfs_mailbox(fs, &dir) {
        Ok(r) => v.findings.extend(r.findings.into_iter().map(tag)),
        Err(e) => v
            .findings
            .push(Finding::new(&ip, "index-unreadable", e.to_string())),
    }
    let shared: SharedVfs = RefCell::new(fs);
    let open = |path: &str| VfsFile::open(&shared, pid, path).ok();

    // Inventory of the records, through cyrus.index's geometry (as Cyrus reads both).
    let Some(ih) = open(&ip).and_then(|mut f| read_header(&mut f)) else {
        v.delivered += gm.msgs.len() as u64;
        v.lost += gm.msgs.len() as u64;
        return;
    };
    let Ok(geo) = Geometry::from_header(&ih) else {
        v.delivered += gm.msgs.len() as u64;
        v.lost += gm.msgs.len() as u64;
        return;
    };
    let index_recs = open(&ip)
        .and_then(|mut f| inventory(&mut f, &geo, ih.exists as u64).ok())
        .unwrap_or_default();
    let expunge_recs = open(&ep)
        .and_then(|mut f| {
            let eh = read_header(&mut f)?;
            inventory(&mut f, &geo, eh.exists as u64).ok()
        })
        .unwrap_or_default();

    // Every cache offset at the cache record written for its UID.
    let cache_len = shared.borrow_mut().stat(&cp).map(|s| s.size).unwrap_or(0);
    for (file, recs) in [(&ip, &index_recs), (&ep, &expunge_recs)] {
        let mut wrong = 0u64;
        let mut example = None;
        if let Some(mut cf) = open(&cp) {
            for r in recs.iter() {
                let want = cache_record_for(r.uid);
                let off = r.cache_offset as u64;
                let mut got = vec![0u8; want.len()];
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
