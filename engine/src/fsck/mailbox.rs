//! The fsck of one mailbox's files: cyrus.index, then cyrus.cache, then cyrus.expunge, each
//! judged against what Cyrus 2.3 assumed of it.

use std::collections::HashSet;

use super::dir::InspectError;
use super::scan::{Context, Kind, scan_records, wrap_hint};
use super::source::{ByteSource, Window, read_full_at};
use super::{FNAME_CACHE, FNAME_EXPUNGE, FNAME_INDEX, FileReport, Finding, InspectReport, checks};
use crate::format::checked::Geometry;
use crate::format::{INDEX_HEADER_SIZE, IndexHeader};

/// A file this much (and twice) larger than its allocation is reported as sparse: Cyrus never
/// makes holes, so any sizeable one is damage.
const SPARSE_SLACK: u64 = 1 << 20;

/// The files of one mailbox, as byte sources.
pub struct MailboxFiles<'a> {
    pub index: &'a mut dyn ByteSource,
    pub expunge: Option<&'a mut dyn ByteSource>,
    pub cache: Option<&'a mut dyn ByteSource>,
    /// UIDs that have a message file `UID.`; `None` skips that check.
    pub message_uids: Option<&'a HashSet<u32>>,
}

/// The UID of a message file name `N.` (Cyrus's `%lu.`), or `None` for any other name.
pub fn message_uid_from_name(name: &str) -> Option<u32> {
    let digits = name.strip_suffix('.')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn io_err(file: &str) -> impl FnOnce(std::io::Error) -> InspectError + '_ {
    move |error| InspectError::Io {
        file: file.to_string(),
        error,
    }
}

/// Runs every file-level check on one mailbox. Errors only when a file cannot be read at all;
/// everything wrong inside the files is a [`Finding`].
pub fn fsck_mailbox(files: MailboxFiles<'_>) -> Result<InspectReport, InspectError> {
    let MailboxFiles {
        index,
        expunge,
        cache,
        message_uids,
    } = files;
    let mut rep = InspectReport::default();
    let out = &mut rep.findings;

    // cyrus.index: header, geometry, size.
    let e = io_err(FNAME_INDEX);
    let (ilen, ialloc) = (
        index.len().map_err(e)?,
        index.allocated().map_err(io_err(FNAME_INDEX))?,
    );
    let mut hb = [0u8; INDEX_HEADER_SIZE];
    let got = read_full_at(index, 0, &mut hb).map_err(io_err(FNAME_INDEX))?;
    let mut ireport = bare_report(FNAME_INDEX, ilen, ialloc);
    let ih = match IndexHeader::from_bytes(&hb).filter(|_| got == INDEX_HEADER_SIZE) {
        Some(h) => h,
        None => {
            out.push(truncated(FNAME_INDEX, ilen));
            rep.files.push(ireport);
            return Ok(rep);
        }
    };
    ireport.minor_version = Some(ih.minor_version);
    ireport.exists = Some(ih.exists);
    ireport.generation_no = Some(ih.generation_no);
    if ih.minor().is_none() {
        out.push(Finding::new(
            FNAME_INDEX,
            checks::MINOR_VERSION_UNKNOWN,
            format!("minor_version {} (known: 9, 10)", ih.minor_version),
        ));
    }
    let geom = match Geometry::from_header(&ih) {
        Ok(g) => Some(g),
        Err(why) => {
            out.push(Finding::new(
                FNAME_INDEX,
                checks::HEADER_BAD_GEOMETRY,
                why.to_string(),
            ));
            None
        }
    };
    if let Some(g) = geom {
        ireport.records_present = Some(g.records_present(ilen));
        file_shape(FNAME_INDEX, &ih, &g, ilen, ialloc, out);
    }
    rep.files.push(ireport);

    // cyrus.cache: presence and generation; then kept open for the offset checks.
    let cache = match cache {
        None => {
            out.push(Finding::new(
                FNAME_CACHE,
                checks::CACHE_MISSING,
                "no cyrus.cache",
            ));
            None
        }
        Some(c) => {
            let e = io_err(FNAME_CACHE);
            let (clen, calloc) = (
                c.len().map_err(e)?,
                c.allocated().map_err(io_err(FNAME_CACHE))?,
            );
            let mut w = Window::new(c).map_err(io_err(FNAME_CACHE))?;
            let gen_no = w.u32_at(0).map_err(io_err(FNAME_CACHE))?;
            match gen_no {
                None => out.push(Finding::new(
                    FNAME_CACHE,
                    checks::CACHE_HEADER_TRUNCATED,
                    format!("{clen} bytes, shorter than the 4-byte generation number"),
                )),
                Some(g) if g != ih.generation_no => out.push(Finding::new(
                    FNAME_CACHE,
                    checks::GENERATION_MISMATCH,
                    format!(
                        "cyrus.cache generation {g}, cyrus.index generation {}",
                        ih.generation_no
                    ),
                )),
                Some(_) => {}
            }
            let mut r = bare_report(FNAME_CACHE, clen, calloc);
            r.generation_no = gen_no;
            rep.files.push(r);
            Some(w)
        }
    };

    let Some(geom) = geom else {
        if let Some(x) = expunge {
            let (len, alloc) = sizes(x, FNAME_EXPUNGE)?;
            rep.files.push(bare_report(FNAME_EXPUNGE, len, alloc));
        }
        return Ok(rep);
    };
    let mut ctx = Context {
        geom,
        index_last_uid: ih.last_uid,
        cache,
        message_uids,
        index_uids: HashSet::new(),
        expunge_uids: HashSet::new(),
    };
    let present = geom.records_present(ilen);
    scan_records(FNAME_INDEX, Kind::Index, index, &ih, present, &mut ctx, out)
        .map_err(io_err(FNAME_INDEX))?;

    if let Some(x) = expunge {
        let r = expunge_file(x, &ih, &mut ctx, out)?;
        rep.files.push(r);
    }
    if let Some(files) = ctx.message_uids {
        let mut orphans: Vec<u32> = files
            .iter()
            .copied()
            .filter(|u| !ctx.index_uids.contains(u) && !ctx.expunge_uids.contains(u))
            .collect();
        if !orphans.is_empty() {
            orphans.sort_unstable();
            let names: Vec<String> = orphans.iter().take(10).map(|u| format!("{u}.")).collect();
            out.push(Finding::new(
                &names[0],
                checks::MESSAGE_FILE_ORPHANED,
                format!(
                    "{} message file(s) no record names: {}{}",
                    orphans.len(),
                    names.join(", "),
                    if orphans.len() > 10 { ", ..." } else { "" }
                ),
            ));
        }
    }
    Ok(rep)
}

/// cyrus.expunge, read as Cyrus reads it: with cyrus.index's start_offset and record_size.
fn expunge_file(
    x: &mut dyn ByteSource,
    ih: &IndexHeader,
    ctx: &mut Context<'_>,
    out: &mut Vec<Finding>,
) -> Result<FileReport, InspectError> {
    let (len, alloc) = sizes(x, FNAME_EXPUNGE)?;
    let mut report = bare_report(FNAME_EXPUNGE, len, alloc);
    if len == 0 {
        // Cyrus treats an empty cyrus.expunge as absent and writes a header into it.
        return Ok(report);
    }
    let mut hb = [0u8; INDEX_HEADER_SIZE];
    let got = read_full_at(x, 0, &mut hb).map_err(io_err(FNAME_EXPUNGE))?;
    let Some(xh) = IndexHeader::from_bytes(&hb).filter(|_| got == INDEX_HEADER_SIZE) else {
        out.push(truncated(FNAME_EXPUNGE, len));
        return Ok(report);
    };
    let geom = ctx.geom;
    report.minor_version = Some(xh.minor_version);
    report.exists = Some(xh.exists);
    report.generation_no = Some(xh.generation_no);
    report.records_present = Some(geom.records_present(len));
    let same = (xh.start_offset, xh.record_size, xh.minor_version)
        == (ih.start_offset, ih.record_size, ih.minor_version);
    if !same {
        out.push(Finding::new(
            FNAME_EXPUNGE,
            checks::EXPUNGE_GEOMETRY_MISMATCH,
            format!(
                "cyrus.expunge says start_offset {} record_size {} minor {}, cyrus.index {} {} {}; \
                 Cyrus reads both with cyrus.index's",
                xh.start_offset,
                xh.record_size,
                xh.minor_version,
                ih.start_offset,
                ih.record_size,
                ih.minor_version
            ),
        ));
    }
    if xh.generation_no != ih.generation_no {
        out.push(Finding::new(
            FNAME_EXPUNGE,
            checks::EXPUNGE_GENERATION_MISMATCH,
            format!(
                "cyrus.expunge generation {}, cyrus.index generation {}: its cache offsets were \
                 written against another cyrus.cache",
                xh.generation_no, ih.generation_no
            ),
        ));
    }
    file_shape(FNAME_EXPUNGE, &xh, &geom, len, alloc, out);
    let present = geom.records_present(len);
    scan_records(FNAME_EXPUNGE, Kind::Expunge, x, &xh, present, ctx, out)
        .map_err(io_err(FNAME_EXPUNGE))?;
    Ok(report)
}

/// exists against the records present, the apparent size, and sparseness.
fn file_shape(
    file: &str,
    h: &IndexHeader,
    g: &Geometry,
    len: u64,
    alloc: u64,
    out: &mut Vec<Finding>,
) {
    let present = g.records_present(len);
    if u64::from(h.exists) != present {
        out.push(Finding::new(
            file,
            checks::EXISTS_MISMATCH,
            format!(
                "header says exists={}{}, the file holds {present} records \
                 ((size {len} - start_offset {}) / record_size {})",
                h.exists,
                wrap_hint(h.exists),
                g.start_offset,
                g.record_size
            ),
        ));
    }
    let expected = g.expected_len(h.exists);
    if u128::from(len) != expected {
        out.push(Finding::new(
            file,
            checks::SIZE_MISMATCH,
            format!(
                "apparent size {len}, start_offset {} + exists {} * record_size {} = {expected}",
                g.start_offset, h.exists, g.record_size
            ),
        ));
    }
    if len > alloc.saturating_mul(2) && len - alloc >= SPARSE_SLACK {
        out.push(Finding::new(
            file,
            checks::SPARSE_FILE,
            format!("apparent size {len} bytes, {alloc} bytes allocated"),
        ));
    }
}

fn sizes(x: &mut dyn ByteSource, file: &str) -> Result<(u64, u64), InspectError> {
    Ok((
        x.len().map_err(io_err(file))?,
        x.allocated().map_err(io_err(file))?,
    ))
}

fn bare_report(file: &str, len: u64, alloc: u64) -> FileReport {
    FileReport {
        file: file.to_string(),
        minor_version: None,
        exists: None,
        records_present: None,
        generation_no: None,
        apparent_bytes: len,
        allocated_bytes: alloc,
    }
}

fn truncated(file: &str, len: u64) -> Finding {
    Finding::new(
        file,
        checks::HEADER_TRUNCATED,
        format!("{len} bytes, shorter than the {INDEX_HEADER_SIZE}-byte header"),
    )
}
