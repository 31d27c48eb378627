//! The file-level fsck of a Cyrus 2.3 mailbox: the oracles of DESIGN.md that can be judged
//! from the files alone. I/O-agnostic: it reads through [`ByteSource`], so the same checks run
//! on a real directory ([`inspect_dir`]), on slices, and on simulated files.
//!
//! Every scan is bounded: nothing is allocated by a header count, records are read in
//! fixed-size chunks, and holes are skipped with SEEK_DATA, so a 3.8e11-byte sparse
//! cyrus.expunge with a few KiB of data is judged in time linear in the data present.

pub mod checks;
mod dir;
mod json;
mod mailbox;
mod scan;
pub mod source;
mod vfs_source;

use std::fmt;

pub use dir::{InspectError, inspect_dir};
pub use mailbox::{MailboxFiles, fsck_mailbox, message_uid_from_name};
pub use source::{ByteSource, SparseBytes, read_full_at};
pub use vfs_source::{OpenMailbox, SharedVfs, VfsFile, fsck_vfs_mailbox};

/// File names inside a mailbox directory (FNAME_*, cyrus/imap/mailbox.h, cyrus-imapd-2.3.12-p1).
pub const FNAME_INDEX: &str = "cyrus.index";
pub const FNAME_EXPUNGE: &str = "cyrus.expunge";
pub const FNAME_CACHE: &str = "cyrus.cache";

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Finding {
    /// The file it is about, e.g. `cyrus.expunge`.
    pub file: String,
    /// A stable kebab-case name from [`checks`].
    pub check: String,
    /// What was found, for a person.
    pub detail: String,
}

impl Finding {
    pub fn new(file: &str, check: &str, detail: impl Into<String>) -> Finding {
        Finding {
            file: file.to_string(),
            check: check.to_string(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.check, self.detail)
    }
}

/// Facts about one file read. Header fields are `None` when the file has no readable header
/// (and always for cyrus.cache, which has none of them).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileReport {
    pub file: String,
    pub minor_version: Option<u32>,
    /// `exists` as the header says.
    pub exists: Option<u32>,
    /// Whole records the file holds, `(len - start_offset) / record_size` with the geometry
    /// Cyrus reads it with (cyrus.index's), computed without reading them.
    pub records_present: Option<u64>,
    pub generation_no: Option<u32>,
    pub apparent_bytes: u64,
    pub allocated_bytes: u64,
}

/// Everything the fsck found, and the facts of every file read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InspectReport {
    pub findings: Vec<Finding>,
    pub files: Vec<FileReport>,
}

impl InspectReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// The findings with this check name.
    pub fn with_check<'a>(&'a self, check: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings.iter().filter(move |f| f.check == check)
    }

    pub fn file(&self, name: &str) -> Option<&FileReport> {
        self.files.iter().find(|f| f.file == name)
    }

    /// The `inspect --json` object: `findings` and `files` (see DESIGN.md).
    pub fn to_json(&self) -> String {
        json::report(self)
    }
}

impl fmt::Display for InspectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.files {
            let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
            writeln!(
                f,
                "{}: minor {} exists {} records_present {} generation {} apparent {} allocated {}",
                r.file,
                opt(r.minor_version.map(|v| v.to_string())),
                opt(r.exists.map(|v| v.to_string())),
                opt(r.records_present.map(|v| v.to_string())),
                opt(r.generation_no.map(|v| v.to_string())),
                r.apparent_bytes,
                r.allocated_bytes
            )?;
        }
        if self.findings.is_empty() {
            writeln!(f, "clean: no findings")?;
        }
        for x in &self.findings {
            writeln!(f, "{x}")?;
        }
        Ok(())
    }
}
