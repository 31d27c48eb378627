//! A consistent Cyrus 2.3 mailbox built record by record, to be damaged by one test at a time.
#![allow(dead_code)]

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use engine::format::{
    CacheRecord, FLAG_ANSWERED, FLAG_DELETED, FLAG_FLAGGED, IndexHeader, IndexRecord, MinorVersion,
};
use engine::fsck::{ByteSource, InspectReport, MailboxFiles, fsck_mailbox};

pub const GENERATION: u32 = 41;

/// The files of one mailbox, in memory: headers and records kept apart so a test can damage
/// either before the bytes are laid out.
pub struct Mailbox {
    pub minor: MinorVersion,
    pub index_header: IndexHeader,
    pub index: Vec<IndexRecord>,
    pub expunge_header: Option<IndexHeader>,
    pub expunge: Vec<IndexRecord>,
    pub cache: Option<Vec<u8>>,
    pub message_uids: HashSet<u32>,
}

fn record(uid: u32, size: u32, flags: u32, cache_offset: u32) -> IndexRecord {
    IndexRecord {
        uid,
        internaldate: 1_220_000_000 + uid,
        sentdate: 1_220_000_000 + uid,
        size,
        header_size: 100,
        content_offset: 100,
        cache_offset,
        last_updated: 1_221_000_000,
        system_flags: flags,
        content_lines: 3,
        cache_version: 2,
        modseq: u64::from(uid),
        ..IndexRecord::default()
    }
}

impl Mailbox {
    /// Live UIDs 3, 5, 9 and expunged UIDs 4, 7, every count, quota and cache offset right.
    pub fn clean(minor: MinorVersion) -> Mailbox {
        let mut cache = GENERATION.to_be_bytes().to_vec();
        let mut next = |uid: u32, size, flags| {
            let mut rec = CacheRecord::default();
            rec.items[0] = format!("(\"date {uid}\" NIL)").into_bytes();
            rec.items[9] = format!("subject {uid}").into_bytes();
            let off = cache.len() as u32;
            cache.extend(rec.to_bytes());
            record(uid, size, flags, off)
        };
        let index = vec![
            next(3, 1000, FLAG_ANSWERED),
            next(5, 2000, FLAG_FLAGGED | FLAG_ANSWERED),
            next(9, 3000, FLAG_DELETED),
        ];
        let expunge = vec![
            next(7, 700, FLAG_DELETED),
            next(4, 400, FLAG_DELETED | FLAG_FLAGGED),
        ];
        let base = IndexHeader {
            generation_no: GENERATION,
            format: 0,
            minor_version: minor.number(),
            start_offset: 96,
            record_size: minor.record_size() as u32,
            last_appenddate: 1_221_000_000,
            last_uid: 9,
            uidvalidity: 1_200_000_000,
            ..IndexHeader::default()
        };
        let mut mb = Mailbox {
            minor,
            index_header: base,
            index,
            expunge_header: Some(base),
            expunge,
            cache: Some(cache),
            message_uids: [3, 4, 5, 7, 9].into_iter().collect(),
        };
        mb.index_header = mb.counted(base, &mb.index);
        mb.expunge_header = Some(mb.counted(base, &mb.expunge));
        mb
    }

    /// `h` with exists, counts and quota summed from `records`.
    fn counted(&self, h: IndexHeader, records: &[IndexRecord]) -> IndexHeader {
        let n = |flag| {
            records
                .iter()
                .filter(|r| r.system_flags & flag != 0)
                .count() as u32
        };
        IndexHeader {
            exists: records.len() as u32,
            deleted: n(FLAG_DELETED),
            answered: n(FLAG_ANSWERED),
            flagged: n(FLAG_FLAGGED),
            quota_mailbox_used: records.iter().map(|r| u64::from(r.size)).sum(),
            ..h
        }
    }

    fn lay_out(&self, h: &IndexHeader, records: &[IndexRecord]) -> Vec<u8> {
        let mut out = h.to_bytes().to_vec();
        for r in records {
            out.extend(r.to_bytes(self.minor));
        }
        out
    }

    pub fn index_bytes(&self) -> Vec<u8> {
        self.lay_out(&self.index_header, &self.index)
    }

    pub fn expunge_bytes(&self) -> Option<Vec<u8>> {
        self.expunge_header.map(|h| self.lay_out(&h, &self.expunge))
    }

    /// The fsck of these files, held in memory.
    pub fn fsck(&self) -> InspectReport {
        let mut index = self.index_bytes();
        let mut expunge = self.expunge_bytes();
        let mut cache = self.cache.clone();
        fsck_mailbox(MailboxFiles {
            index: &mut index,
            expunge: expunge.as_mut().map(|x| x as &mut dyn ByteSource),
            cache: cache.as_mut().map(|x| x as &mut dyn ByteSource),
            message_uids: Some(&self.message_uids),
        })
        .expect("in-memory files are always readable")
    }

    /// Writes the mailbox into a fresh directory, message files included.
    pub fn write_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::write(dir.join("cyrus.index"), self.index_bytes())?;
        if let Some(x) = self.expunge_bytes() {
            std::fs::write(dir.join("cyrus.expunge"), x)?;
        }
        if let Some(c) = &self.cache {
            std::fs::write(dir.join("cyrus.cache"), c)?;
        }
        for uid in &self.message_uids {
            std::fs::write(dir.join(format!("{uid}.")), b"Subject: x\r\n\r\nbody\r\n")?;
        }
        Ok(())
    }
}

/// A fresh, empty directory under the test target's temp dir.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fsck-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

/// The check names of a report, for assertions that read well.
pub fn checks(r: &InspectReport) -> Vec<&str> {
    r.findings.iter().map(|f| f.check.as_str()).collect()
}

/// A byte source that counts what is read through it.
pub struct Counting<S> {
    pub inner: S,
    pub bytes_read: u64,
    pub calls: u64,
}

impl<S> Counting<S> {
    pub fn new(inner: S) -> Counting<S> {
        Counting {
            inner,
            bytes_read: 0,
            calls: 0,
        }
    }
}

impl<S: ByteSource> ByteSource for Counting<S> {
    fn len(&mut self) -> io::Result<u64> {
        self.inner.len()
    }
    fn allocated(&mut self) -> io::Result<u64> {
        self.inner.allocated()
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read_at(offset, buf)?;
        self.bytes_read += n as u64;
        self.calls += 1;
        Ok(n)
    }
    fn next_data(&mut self, offset: u64) -> io::Result<Option<u64>> {
        self.calls += 1;
        self.inner.next_data(offset)
    }
}
