//! The oracles: the file-level fsck of every mailbox, read through the `Vfs`, plus the
//! checks only ghost state allows: every cache offset at the record written for its UID,
//! and no message lost (every delivered UID live, expunged, or purged by a rule that
//! allowed it).

use std::collections::{BTreeSet, HashSet};
use std::io;

use sim::{OpenFlags, Pid, Vfs};

use crate::append::cache_record_for;
use crate::format::checked::Geometry;
use crate::format::{INDEX_HEADER_SIZE, IndexHeader};
use crate::fsck::source::ByteSource;
use crate::fsck::{Finding, MailboxFiles, fsck_mailbox, message_uid_from_name};
use crate::ghost::Ghost;
use crate::mailbox::{FNAME_CACHE, FNAME_EXPUNGE, FNAME_INDEX, mailbox_path};

/// A file read through a `Vfs` by a process of the oracle's own.
pub struct VfsFile<'a> {
    fs: &'a mut dyn Vfs,
    pid: Pid,
    fd: sim::Fd,
}

impl<'a> VfsFile<'a> {
    pub fn open(fs: &'a mut dyn Vfs, pid: Pid, path: &str) -> Option<VfsFile<'a>> {
        let fd = fs.open(pid, path, OpenFlags::RDONLY).ok()?;
        Some(VfsFile { fs, pid, fd })
    }
}

impl Drop for VfsFile<'_> {
    fn drop(&mut self) {
        let _ = self.fs.close(self.pid, self.fd);
    }
}

fn io_of(e: sim::VfsError) -> io::Error {
    io::Error::other(e.to_string())
}

impl ByteSource for VfsFile<'_> {
    fn len(&mut self) -> io::Result<u64> {
        Ok(self.fs.fstat(self.pid, self.fd).map_err(io_of)?.size)
    }

    fn allocated(&mut self) -> io::Result<u64> {
        Ok(self.fs.fstat(self.pid, self.fd).map_err(io_of)?.allocated)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.fs.pread(self.pid, self.fd, buf, offset).map_err(io_of)
    }

    fn next_data(&mut self, offset: u64) -> io::Result<Option<u64>> {
        let len = self.len()?;
        if offset >= len {
            return Ok(None);
        }
        let map = self.fs.mmap(self.pid, self.fd, len).map_err(io_of)?;
        let next = self.fs.map_next_data(self.pid, map, offset);
        let _ = self.fs.munmap(self.pid, map);
        let next = next.map_err(io_of)?;
        Ok((next < len).then_some(next))
    }
}

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

fn read_header(fs: &mut dyn Vfs, pid: Pid, path: &str) -> Option<IndexHeader> {
    let mut f = VfsFile::open(fs, pid, path)?;
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
    let report = fsck_files(fs, pid, &ip, &ep, &cp, &files);
    match report {
        Some(r) => v.findings.extend(r.findings.into_iter().map(tag)),
        None => v.findings.push(Finding::new(
            &ip,
            "index-unreadable",
            "cyrus.index cannot be opened",
        )),
    }

    // Inventory of the records, through cyrus.index's geometry (as Cyrus reads both).
    let Some(ih) = read_header(fs, pid, &ip) else {
        v.delivered += gm.msgs.len() as u64;
        v.lost += gm.msgs.len() as u64;
        return;
    };
    let Ok(geo) = Geometry::from_header(&ih) else {
        v.delivered += gm.msgs.len() as u64;
        v.lost += gm.msgs.len() as u64;
        return;
    };
    let index_recs = VfsFile::open(fs, pid, &ip)
        .and_then(|mut f| inventory(&mut f, &geo, ih.exists as u64).ok())
        .unwrap_or_default();
    let eh = read_header(fs, pid, &ep);
    let expunge_recs = match eh {
        Some(eh) => VfsFile::open(fs, pid, &ep)
            .and_then(|mut f| inventory(&mut f, &geo, eh.exists as u64).ok())
            .unwrap_or_default(),
        None => Vec::new(),
    };

    // Every cache offset at the cache record written for its UID.
    let cache_len = fs.stat(&cp).map(|s| s.size).unwrap_or(0);
    for (file, recs) in [(&ip, &index_recs), (&ep, &expunge_recs)] {
        let mut wrong = 0u64;
        let mut example = None;
        if let Some(mut cf) = VfsFile::open(fs, pid, &cp) {
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

fn fsck_files(
    fs: &mut dyn Vfs,
    pid: Pid,
    ip: &str,
    ep: &str,
    cp: &str,
    files: &HashSet<u32>,
) -> Option<crate::fsck::InspectReport> {
    // The fsck takes three sources at once and a `&mut dyn Vfs` can serve one: cyrus.index
    // and cyrus.cache are copied (sparsely) first, cyrus.expunge, which may be huge, is read
    // through the Vfs.
    let mut index = read_small(fs, pid, ip)?;
    let mut cache = read_small(fs, pid, cp);
    let mut expunge = VfsFile::open(fs, pid, ep);
    let report = fsck_mailbox(MailboxFiles {
        index: &mut index,
        expunge: expunge.as_mut().map(|e| e as &mut dyn ByteSource),
        cache: cache.as_mut().map(|c| c as &mut dyn ByteSource),
        message_uids: Some(files),
    });
    report.ok()
}

/// Copy a file that Cyrus keeps small (cyrus.index, cyrus.cache) into memory, as sparse
/// bytes so that a damaged huge one still costs only its data.
fn read_small(fs: &mut dyn Vfs, pid: Pid, path: &str) -> Option<crate::fsck::source::SparseBytes> {
    let mut f = VfsFile::open(fs, pid, path)?;
    let len = f.len().ok()?;
    let mut out = crate::fsck::source::SparseBytes::new();
    out.set_len(len);
    let mut off = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    while off < len {
        match f.next_data(off).ok()? {
            None => break,
            Some(d) => off = d,
        }
        let n = f.read_at(off, &mut buf).ok()?;
        if n == 0 {
            break;
        }
        out.write_at(off, &buf[..n]);
        off += n as u64;
    }
    Some(out)
}
