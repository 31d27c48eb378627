//! The logic of the file-format fuzz targets (`fuzz/fuzz_targets/{index_file,cache_file}.rs`),
//! here so that `cargo test` replays the committed corpus and every past crash without
//! libFuzzer (`engine/tests/fuzz_replay.rs`). Each function panics on a broken property; a
//! return is a pass.

use std::collections::HashSet;
use std::io;

use crate::format::cache::{CacheRecord, generation_no, record_len_at};
use crate::format::checked::Geometry;
use crate::format::{INDEX_HEADER_SIZE, IndexHeader, IndexRecord, MinorVersion};
use crate::fsck::{ByteSource, InspectReport, MailboxFiles, checks, fsck_mailbox};

/// A slice as a [`ByteSource`] that counts the bytes handed out, so a target can assert that
/// the fsck's work is linear in the input, whatever the headers claim.
pub struct CountingSource<'a> {
    bytes: &'a [u8],
    /// Bytes returned by `read_at` so far.
    pub read: u64,
}

impl<'a> CountingSource<'a> {
    pub fn new(bytes: &'a [u8]) -> CountingSource<'a> {
        CountingSource { bytes, read: 0 }
    }
}

impl ByteSource for CountingSource<'_> {
    fn len(&mut self) -> io::Result<u64> {
        Ok(self.bytes.len() as u64)
    }
    fn allocated(&mut self) -> io::Result<u64> {
        Ok(self.bytes.len() as u64)
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.bytes.read_at(offset, buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// Bytes the fsck may read per input byte, plus a constant: every file is read once in
/// chunks, and each cache offset re-reads at most one window of cyrus.cache. Inputs are
/// small (libFuzzer's default `-max_len` is 4096), so this bounds the work linearly.
pub const READ_FACTOR: u64 = 64;
pub const READ_SLACK: u64 = 256 * 1024;

/// Splits an input into (cyrus.index, cyrus.expunge): a big-endian u16 at the front says how
/// many of the following bytes are cyrus.index; the rest is cyrus.expunge. With bit 15 set, the
/// index is a clean empty minor-10 header instead and every byte goes to cyrus.expunge, so
/// the fuzzer reaches the expunge scan without first forging a matching index.
pub fn split_index_input(data: &[u8]) -> (Vec<u8>, &[u8]) {
    if data.len() < 2 {
        return (data.to_vec(), &[]);
    }
    let word = u16::from_be_bytes([data[0], data[1]]);
    let rest = &data[2..];
    if word & 0x8000 != 0 {
        let h = clean_header(MinorVersion::V10, 0, u32::from(word & 0x7fff), 0);
        return (h.to_bytes().to_vec(), rest);
    }
    let n = usize::from(word).min(rest.len());
    (rest[..n].to_vec(), &rest[n..])
}

/// A header Cyrus would write for an empty-but-for-`exists` mailbox.
fn clean_header(
    minor: MinorVersion,
    exists: u32,
    last_uid: u32,
    generation_no: u32,
) -> IndexHeader {
    IndexHeader {
        generation_no,
        format: 0,
        minor_version: minor.number(),
        start_offset: INDEX_HEADER_SIZE as u32,
        record_size: minor.record_size() as u32,
        exists,
        last_uid,
        uidvalidity: 1,
        ..IndexHeader::default()
    }
}

/// Target `index_file`: any bytes as cyrus.index and cyrus.expunge, through the checked
/// reader and the whole fsck. Nothing panics; the work is linear in the input.
pub fn index_file(data: &[u8]) {
    let (index, expunge) = split_index_input(data);
    checked_reader(&index, &index);
    checked_reader(&index, expunge);

    let mut is = CountingSource::new(&index);
    let mut xs = CountingSource::new(expunge);
    let report = fsck_mailbox(MailboxFiles {
        index: &mut is,
        expunge: Some(&mut xs),
        cache: None,
        message_uids: None,
    })
    .expect("slices never fail to read");
    let read = is.read + xs.read;
    let bound = READ_FACTOR * data.len() as u64 + READ_SLACK;
    assert!(
        read <= bound,
        "the fsck read {read} bytes of a {}-byte input",
        data.len()
    );
    report_is_consistent(&report, index.len() as u64, expunge.len() as u64);
}

/// The checked reader over `file` with the geometry cyrus.index declares: every record it
/// says is present parses, and none past the bytes does.
fn checked_reader(index: &[u8], file: &[u8]) {
    let Some(h) = IndexHeader::from_bytes(index) else {
        assert!(index.len() < INDEX_HEADER_SIZE);
        return;
    };
    assert_eq!(IndexHeader::from_bytes(&h.to_bytes()), Some(h));
    let Ok(g) = Geometry::from_header(&h) else {
        return;
    };
    let present = g.records_present(file.len() as u64);
    // Bounded by the bytes: at least record_size bytes per record present.
    assert!(present <= file.len() as u64 / g.record_size.max(1));
    for msgno in 1..=present {
        let r = g
            .read_record(file, msgno)
            .unwrap_or_else(|| panic!("record {msgno} of {present} present did not read"));
        let again = IndexRecord::parse(&r.to_bytes(g.minor), g.minor);
        assert_eq!(again, Some(r));
    }
    assert_eq!(g.read_record(file, present + 1), None);
    assert_eq!(g.read_record(file, 0), None);
}

/// Facts the report states must agree with the inputs.
fn report_is_consistent(r: &InspectReport, index_len: u64, expunge_len: u64) {
    let i = r
        .file("cyrus.index")
        .expect("cyrus.index is always reported");
    assert_eq!(i.apparent_bytes, index_len);
    if let Some(x) = r.file("cyrus.expunge") {
        assert_eq!(x.apparent_bytes, expunge_len);
        if let Some(p) = x.records_present {
            assert!(p <= expunge_len);
        }
    }
    if index_len < INDEX_HEADER_SIZE as u64 {
        assert!(r.with_check(checks::HEADER_TRUNCATED).next().is_some());
    }
    for f in &r.findings {
        assert!(!f.check.is_empty() && !f.detail.is_empty(), "{f}");
    }
    let _ = r.to_json();
    let _ = r.to_string();
}

/// Most cache offsets one `cache_file` input carries.
pub const MAX_CACHE_OFFSETS: usize = 8;

/// Splits an input into (cache offsets, cyrus.cache): the first byte says how many offsets
/// (1..=8) follow as big-endian u32s; every remaining byte is cyrus.cache. An offset below
/// 0x8000_0000 is taken modulo the cache's length + 1, so most land inside it.
pub fn split_cache_input(data: &[u8]) -> (Vec<u32>, &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return (Vec::new(), &[]);
    };
    let n = (usize::from(n) % MAX_CACHE_OFFSETS + 1).min(rest.len() / 4);
    let (words, cache) = rest.split_at(4 * n);
    let offsets = words
        .chunks_exact(4)
        .map(|w| {
            let v = u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
            if v & 0x8000_0000 == 0 {
                v % (cache.len() as u32 + 1)
            } else {
                v
            }
        })
        .collect();
    (offsets, cache)
}

/// Target `cache_file`: any bytes as cyrus.cache, with a clean cyrus.index whose records point
/// into it. The fsck must call a record invalid exactly when the checked cache parser refuses
/// it, and every record the parser accepts must round-trip.
pub fn cache_file(data: &[u8]) {
    let (offsets, cache) = split_cache_input(data);
    let generation = generation_no(cache).unwrap_or(0);
    let minor = MinorVersion::V10;
    let n = offsets.len() as u32;
    let h = IndexHeader {
        quota_mailbox_used: u64::from(n),
        ..clean_header(minor, n, n, generation)
    };
    let mut index = h.to_bytes().to_vec();
    for (i, &off) in offsets.iter().enumerate() {
        let r = IndexRecord {
            uid: i as u32 + 1,
            size: 1,
            cache_offset: off,
            ..IndexRecord::default()
        };
        index.extend_from_slice(&r.to_bytes(minor));
    }

    let mut expected_invalid = 0u64;
    let mut expected_range = 0u64;
    let mut expected_zero = 0u64;
    for &off in &offsets {
        let parsed = CacheRecord::parse_at(cache, off as usize);
        let len = record_len_at(cache, off as usize);
        assert_eq!(
            parsed.as_ref().map(|(_, end)| end - off as usize).ok(),
            len.ok()
        );
        match off {
            0 => expected_zero += 1,
            o if o < 4 || o as usize >= cache.len() => expected_range += 1,
            _ => expected_invalid += u64::from(parsed.is_err()),
        }
        if let Ok((rec, end)) = parsed {
            assert_eq!(rec.encoded_len(), end - off as usize);
            let bytes = rec.to_bytes();
            assert_eq!(CacheRecord::parse_at(&bytes, 0), Ok((rec, bytes.len())));
        }
    }

    let uids: HashSet<u32> = (1..=n).collect();
    let mut is = CountingSource::new(&index);
    let mut cs = CountingSource::new(cache);
    let report = fsck_mailbox(MailboxFiles {
        index: &mut is,
        expunge: None,
        cache: Some(&mut cs),
        message_uids: Some(&uids),
    })
    .expect("slices never fail to read");
    let read = is.read + cs.read;
    let bound = READ_FACTOR * (data.len() + index.len()) as u64 + READ_SLACK;
    assert!(read <= bound, "the fsck read {read} bytes");

    let count = |check: &str| -> u64 {
        report
            .with_check(check)
            .map(|f| {
                f.detail
                    .split_whitespace()
                    .next()
                    .and_then(|w| w.parse::<u64>().ok())
                    .unwrap_or_else(|| panic!("a tally starts with its count: {f}"))
            })
            .sum()
    };
    assert_eq!(
        count(checks::CACHE_RECORD_INVALID),
        expected_invalid,
        "{report}"
    );
    assert_eq!(
        count(checks::CACHE_OFFSET_OUT_OF_RANGE),
        expected_range,
        "{report}"
    );
    assert_eq!(count(checks::CACHE_OFFSET_ZERO), expected_zero, "{report}");
    // The index itself is clean: nothing else may be found but the cache's own header.
    for f in &report.findings {
        assert!(
            [
                checks::CACHE_RECORD_INVALID,
                checks::CACHE_OFFSET_OUT_OF_RANGE,
                checks::CACHE_OFFSET_ZERO,
                checks::CACHE_HEADER_TRUNCATED,
            ]
            .contains(&f.check.as_str()),
            "a clean index drew {f}"
        );
    }
}
