//! The bounded scan of one index file's records (cyrus.index or cyrus.expunge): chunked reads,
//! holes skipped with SEEK_DATA, every check tallied as counts plus a few examples.

use std::collections::HashSet;
use std::io;

use super::source::{ByteSource, Window, read_full_at};
use super::{Finding, checks};
use crate::format::cache::{CACHE_HEADER_SIZE, NUM_CACHE_FIELDS, item_stride};
use crate::format::checked::Geometry;
use crate::format::{IndexHeader, IndexRecord};

/// Records read per chunk: about 44 KiB at 88 bytes a record.
const CHUNK_RECORDS: u64 = 512;
/// Bytes read per chunk at most, whatever record_size a header claims.
const CHUNK_BYTES: u64 = 64 * 1024;
/// Examples kept per check; the rest are only counted.
const MAX_EXAMPLES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Index,
    Expunge,
}

/// A count of offending records and the first few of them.
#[derive(Default)]
struct Tally {
    count: u64,
    examples: Vec<String>,
}

impl Tally {
    fn add(&mut self, n: u64, example: impl FnOnce() -> String) {
        if self.count == 0 || self.examples.len() < MAX_EXAMPLES {
            self.examples.push(example());
        }
        self.count += n;
    }

    fn finish(self, file: &str, check: &str, what: &str, out: &mut Vec<Finding>) {
        if self.count == 0 {
            return;
        }
        let more = if self.count > self.examples.len() as u64 {
            ", ..."
        } else {
            ""
        };
        out.push(Finding::new(
            file,
            check,
            format!("{} {what}: {}{more}", self.count, self.examples.join(", ")),
        ));
    }
}

/// What the scan of one file needs from the rest of the mailbox.
pub(crate) struct Context<'a> {
    pub geom: Geometry,
    /// cyrus.index's last_uid: no UID anywhere may exceed it.
    pub index_last_uid: u32,
    pub cache: Option<Window<'a>>,
    pub message_uids: Option<&'a HashSet<u32>>,
    /// UIDs seen in cyrus.index, filled by its scan and consulted by cyrus.expunge's.
    pub index_uids: HashSet<u32>,
    /// UIDs seen in cyrus.expunge.
    pub expunge_uids: HashSet<u32>,
}

#[derive(Default)]
struct Tallies {
    uid_zero: Tally,
    holes: Tally,
    order: Tally,
    duplicate: Tally,
    both: Tally,
    above_last: Tally,
    cache_zero: Tally,
    cache_range: Tally,
    cache_invalid: Tally,
    missing_file: Tally,
}

#[derive(Default)]
struct Sums {
    deleted: u64,
    answered: u64,
    flagged: u64,
    quota: u64,
}

/// Scans records 1..=min(exists, records present) of `src`, appending findings.
pub(crate) fn scan_records(
    file: &str,
    kind: Kind,
    src: &mut dyn ByteSource,
    header: &IndexHeader,
    records_present: u64,
    ctx: &mut Context<'_>,
    out: &mut Vec<Finding>,
) -> io::Result<()> {
    let geom = ctx.geom;
    let rs = geom.record_size;
    let end = records_present.min(u64::from(header.exists));
    let mut t = Tallies::default();
    let mut sums = Sums::default();
    let mut prev_uid: Option<(u64, u32)> = None;
    let mut seen: HashSet<u32> = HashSet::new();
    // The buffer is sized by what there is to read, never by the header's record_size alone:
    // a forged record_size of 2^32-1 must not allocate 512 times that. A record larger than a
    // chunk is read one at a time, and only the bytes its layout parses.
    let parsed = geom.minor.record_size() as u64;
    let chunk_records = CHUNK_RECORDS.min(CHUNK_BYTES / rs).min(end).max(1);
    let span = if chunk_records == 1 {
        parsed.min(rs)
    } else {
        chunk_records * rs
    };
    let mut buf = vec![0u8; if end == 0 { 0 } else { span as usize }];
    let mut msgno = 1u64;
    while msgno <= end {
        let off = geom.start_offset + (msgno - 1) * rs;
        let hole_records = match src.next_data(off)? {
            None => end - msgno + 1,
            Some(d) => ((d - off) / rs).min(end - msgno + 1),
        };
        if hole_records > 0 {
            let last = msgno + hole_records - 1;
            t.holes.add(hole_records, || {
                format!(
                    "msgno {msgno}..={last} (bytes {off}..{})",
                    off + hole_records * rs
                )
            });
            t.uid_zero
                .add(hole_records, || format!("msgno {msgno}..={last} (hole)"));
            msgno += hole_records;
            continue;
        }
        let n = chunk_records.min(end - msgno + 1);
        let chunk = &mut buf[..((n - 1) * rs + span.min(rs)) as usize];
        read_full_at(src, off, chunk)?;
        for i in 0..n {
            let at = (i * rs) as usize;
            let Some(rec) = IndexRecord::parse(&chunk[at..], geom.minor) else {
                continue;
            };
            record(
                kind,
                msgno + i,
                &rec,
                ctx,
                &mut t,
                &mut sums,
                &mut prev_uid,
                &mut seen,
            )?;
        }
        msgno += n;
    }

    t.holes.finish(
        file,
        checks::RECORDS_IN_HOLE,
        "records within exists lie in holes and read as zero",
        out,
    );
    t.uid_zero.finish(
        file,
        checks::UID_ZERO,
        "records within exists have UID 0",
        out,
    );
    t.order.finish(
        file,
        checks::UID_ORDER,
        "records out of ascending UID order",
        out,
    );
    t.duplicate.finish(
        file,
        checks::UID_DUPLICATE,
        "records repeat an earlier UID",
        out,
    );
    t.both.finish(
        file,
        checks::UID_IN_INDEX_AND_EXPUNGE,
        "expunged UIDs are also live in cyrus.index",
        out,
    );
    t.above_last.finish(
        file,
        checks::UID_ABOVE_LAST_UID,
        "records have a UID above cyrus.index's last_uid",
        out,
    );
    t.cache_zero.finish(
        file,
        checks::CACHE_OFFSET_ZERO,
        "records have cache_offset 0",
        out,
    );
    t.cache_range.finish(
        file,
        checks::CACHE_OFFSET_OUT_OF_RANGE,
        "records have a cache_offset outside cyrus.cache",
        out,
    );
    t.cache_invalid.finish(
        file,
        checks::CACHE_RECORD_INVALID,
        "records point at no valid cache record",
        out,
    );
    t.missing_file.finish(
        file,
        checks::MESSAGE_FILE_MISSING,
        "records have no message file",
        out,
    );

    let counts = [
        ("deleted", header.deleted, sums.deleted),
        ("answered", header.answered, sums.answered),
        ("flagged", header.flagged, sums.flagged),
    ];
    for (name, said, counted) in counts {
        if u64::from(said) != counted {
            out.push(Finding::new(
                file,
                checks::FLAG_COUNT_MISMATCH,
                format!("header says {name}={said}, {counted} of {end} records have the flag"),
            ));
        }
    }
    if header.quota_mailbox_used != sums.quota {
        out.push(Finding::new(
            file,
            checks::QUOTA_MISMATCH,
            format!(
                "header says quota_mailbox_used={}{}, the {end} records' sizes sum to {}",
                header.quota_mailbox_used,
                wrap_hint64(header.quota_mailbox_used),
                sums.quota
            ),
        ));
    }
    Ok(())
}

/// The checks on one record that holds data.
#[allow(clippy::too_many_arguments)]
fn record(
    kind: Kind,
    msgno: u64,
    rec: &IndexRecord,
    ctx: &mut Context<'_>,
    t: &mut Tallies,
    sums: &mut Sums,
    prev_uid: &mut Option<(u64, u32)>,
    seen: &mut HashSet<u32>,
) -> io::Result<()> {
    sums.deleted += u64::from(rec.is_deleted());
    sums.answered += u64::from(rec.is_answered());
    sums.flagged += u64::from(rec.is_flagged());
    sums.quota += u64::from(rec.size);
    let uid = rec.uid;
    if uid == 0 {
        t.uid_zero.add(1, || format!("msgno {msgno}"));
        return Ok(());
    }
    match kind {
        Kind::Index => {
            if let Some((pm, pu)) = *prev_uid
                && uid <= pu
            {
                t.order.add(1, || {
                    format!("msgno {msgno} UID {uid} after msgno {pm} UID {pu}")
                });
            }
            *prev_uid = Some((msgno, uid));
            ctx.index_uids.insert(uid);
        }
        Kind::Expunge => {
            ctx.expunge_uids.insert(uid);
            if !seen.insert(uid) {
                t.duplicate.add(1, || format!("msgno {msgno} UID {uid}"));
            }
            if ctx.index_uids.contains(&uid) {
                t.both.add(1, || format!("UID {uid}"));
            }
        }
    }
    if uid > ctx.index_last_uid {
        let last = ctx.index_last_uid;
        t.above_last
            .add(1, || format!("msgno {msgno} UID {uid} > {last}"));
    }
    if let Some(uids) = ctx.message_uids
        && !uids.contains(&uid)
    {
        t.missing_file.add(1, || format!("{uid}."));
    }
    if let Some(cache) = ctx.cache.as_mut() {
        let co = rec.cache_offset;
        if co == 0 {
            t.cache_zero.add(1, || format!("msgno {msgno} UID {uid}"));
        } else if u64::from(co) < CACHE_HEADER_SIZE as u64 || u64::from(co) >= cache.len {
            let len = cache.len;
            t.cache_range.add(1, || {
                format!("msgno {msgno} UID {uid} cache_offset {co} (cyrus.cache is {len} bytes)")
            });
        } else if let Some(why) = cache_record_problem(cache, u64::from(co))? {
            t.cache_invalid.add(1, || {
                format!("msgno {msgno} UID {uid} cache_offset {co}: {why}")
            });
        }
    }
    Ok(())
}

/// Walks the ten item lengths at `offset`; `Some(reason)` if the record does not fit.
fn cache_record_problem(cache: &mut Window<'_>, offset: u64) -> io::Result<Option<String>> {
    let mut at = offset;
    for i in 0..NUM_CACHE_FIELDS {
        let Some(len) = cache.u32_at(at)? else {
            return Ok(Some(format!("item {i} length word at {at} past the end")));
        };
        let next = at + item_stride(len);
        if next > cache.len {
            return Ok(Some(format!(
                "item {i} of length {len} at {at} runs past the end ({})",
                cache.len
            )));
        }
        at = next;
    }
    Ok(None)
}

/// " (a wrapped u32: -N?)" when a 32-bit counter looks like it went below zero.
pub(crate) fn wrap_hint(v: u32) -> String {
    if v >= 1 << 31 {
        format!(" (as signed {}: a u32 that wrapped below zero?)", v as i32)
    } else {
        String::new()
    }
}

fn wrap_hint64(v: u64) -> String {
    if v >= 1 << 63 {
        format!(" (as signed {}: wrapped below zero?)", v as i64)
    } else {
        String::new()
    }
}
