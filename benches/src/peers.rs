//! Cyrus's file-call pattern on cyrus.expunge, written once per filesystem API, for the
//! `fs_peers` benchmark and the `callgrind_peers` example (so both run the same code).
//!
//! Create the file, append K 88-byte records with one write() each (no fsync: Cyrus never
//! syncs those appends), read them back (pread, or through a map), copy them to
//! `cyrus.expunge.NEW` through a 4096-byte stdio buffer, fsync it, and rename it over the old
//! file where the API has a rename.

use sim::{OpenFlags, Vfs};

pub const REC: usize = 88;
pub const STDIO_BUF: usize = 4096;

/// What `fwrite` does with stdio's buffer: move as much of `rest` into `out` as fits.
/// True when `out` is full (the caller writes it out and clears it, then calls again);
/// false once `rest` is used up with room left.
fn stdio_fill(out: &mut Vec<u8>, rest: &mut &[u8]) -> bool {
    let take = (STDIO_BUF - out.len()).min(rest.len());
    out.extend_from_slice(&rest[..take]);
    *rest = &rest[take..];
    out.len() == STDIO_BUF
}

const OLD: &str = "cyrus.expunge";
const NEW: &str = "cyrus.expunge.NEW";

/// Record `i`: its UID in the first 4 bytes, a pattern after it, so no two records (and no
/// two 4 KiB blocks) are alike.
pub fn record(i: u32) -> [u8; REC] {
    let mut r = [0u8; REC];
    r[..4].copy_from_slice(&(i + 1).to_be_bytes());
    for (j, b) in r[4..].iter_mut().enumerate() {
        *b = (i as usize * 7 + j) as u8;
    }
    r
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadBack {
    Pread,
    Map,
}

/// The pattern on any [`Vfs`]. Returns a checksum of what was read, so nothing is optimised
/// away and a wrong read shows.
pub fn vfs_pattern(fs: &mut dyn Vfs, k: u32, read: ReadBack, rename: bool) -> u64 {
    let p = fs.spawn("cyr_expire");
    let fd = fs.open(p, OLD, OpenFlags::RDWR_CREATE_TRUNC).expect("open");
    for i in 0..k {
        assert_eq!(fs.write(p, fd, &record(i)).expect("write"), REC);
    }
    let mut sum = 0u64;
    let mut buf = [0u8; REC];
    let mut out = Vec::with_capacity(STDIO_BUF);
    let nfd = fs
        .open(p, NEW, OpenFlags::RDWR_CREATE_TRUNC)
        .expect("open .NEW");
    let map = match read {
        ReadBack::Map => Some(fs.mmap(p, fd, k as u64 * REC as u64).expect("mmap")),
        ReadBack::Pread => None,
    };
    for i in 0..k as u64 {
        let off = i * REC as u64;
        match map {
            Some(m) => fs.map_read(p, m, off, &mut buf).expect("map_read"),
            None => assert_eq!(fs.pread(p, fd, &mut buf, off).expect("pread"), REC),
        }
        sum += u64::from(u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]));
        let mut rest: &[u8] = &buf;
        while stdio_fill(&mut out, &mut rest) {
            assert_eq!(fs.write(p, nfd, &out).expect("write .NEW"), STDIO_BUF);
            out.clear();
        }
    }
    if !out.is_empty() {
        assert_eq!(fs.write(p, nfd, &out).expect("write .NEW"), out.len());
    }
    fs.fsync(p, nfd).expect("fsync .NEW");
    if rename {
        fs.rename(p, NEW, OLD).expect("rename");
    }
    if let Some(m) = map {
        fs.munmap(p, m).expect("munmap");
    }
    fs.kill(p).expect("kill");
    sum
}

/// The pattern on turmoil-fs, through its std shims, on a fresh `Fs` entered on this thread.
pub fn turmoil_pattern(fs: &turmoil_fs::Fs, k: u32, rename: bool) -> u64 {
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    use turmoil_fs::shim::std::fs::OpenOptions;
    let _entered = fs.enter();
    let (old, new) = ("/cyrus.expunge", "/cyrus.expunge.NEW");
    let open = |p: &str| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(p)
            .expect("open")
    };
    let mut f = open(old);
    for i in 0..k {
        f.write_all(&record(i)).expect("write");
    }
    let mut nf = open(new);
    let mut sum = 0u64;
    let mut buf = [0u8; REC];
    let mut out = Vec::with_capacity(STDIO_BUF);
    for i in 0..k as u64 {
        assert_eq!(f.read_at(&mut buf, i * REC as u64).expect("pread"), REC);
        sum += u64::from(u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]));
        let mut rest: &[u8] = &buf;
        while stdio_fill(&mut out, &mut rest) {
            nf.write_all(&out).expect("write .NEW");
            out.clear();
        }
    }
    nf.write_all(&out).expect("write .NEW");
    nf.sync_all().expect("fsync .NEW");
    if rename {
        turmoil_fs::shim::std::fs::rename(new, old).expect("rename");
    }
    sum
}

/// The pattern on madsim's simulated files: appends are `write_all_at` at the running end.
#[cfg(madsim)]
pub fn madsim_pattern(rt: &madsim::runtime::Runtime, k: u32) -> u64 {
    use madsim::fs::File;
    rt.block_on(async move {
        let f = File::create("cyrus.expunge").await.expect("create");
        for i in 0..k as u64 {
            f.write_all_at(&record(i as u32), i * REC as u64)
                .await
                .expect("write");
        }
        let nf = File::create("cyrus.expunge.NEW")
            .await
            .expect("create .NEW");
        let mut sum = 0u64;
        let mut buf = [0u8; REC];
        let mut out = Vec::with_capacity(STDIO_BUF);
        let mut nlen = 0u64;
        for i in 0..k as u64 {
            assert_eq!(
                f.read_at(&mut buf, i * REC as u64).await.expect("pread"),
                REC
            );
            sum += u64::from(u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]));
            let mut rest: &[u8] = &buf;
            while stdio_fill(&mut out, &mut rest) {
                nf.write_all_at(&out, nlen).await.expect("write .NEW");
                nlen += out.len() as u64;
                out.clear();
            }
        }
        nf.write_all_at(&out, nlen).await.expect("write .NEW");
        nf.sync_all().await.expect("fsync .NEW");
        sum
    })
}

pub fn expected_sum(k: u32) -> u64 {
    (1..=k as u64).sum()
}
