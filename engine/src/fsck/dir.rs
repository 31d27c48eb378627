//! `inspect DIR`: the fsck of a real Cyrus 2.3 mailbox directory.

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::mailbox::{MailboxFiles, fsck_mailbox, message_uid_from_name};
use super::source::ByteSource;
use super::{FNAME_CACHE, FNAME_EXPUNGE, FNAME_INDEX, InspectReport};

/// The directory cannot be judged as a mailbox at all (the CLI exits 2).
#[derive(Debug)]
pub enum InspectError {
    /// Not a directory, or no cyrus.index in it.
    NotAMailbox { path: PathBuf, reason: String },
    /// A file (or the directory listing) could not be read.
    Io { file: String, error: io::Error },
}

impl fmt::Display for InspectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InspectError::NotAMailbox { path, reason } => {
                write!(
                    f,
                    "{} is not a Cyrus mailbox directory: {reason}",
                    path.display()
                )
            }
            InspectError::Io { file, error } => write!(f, "reading {file}: {error}"),
        }
    }
}

impl std::error::Error for InspectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InspectError::Io { error, .. } => Some(error),
            InspectError::NotAMailbox { .. } => None,
        }
    }
}

/// Fsck of the mailbox in `path`: cyrus.index is required; cyrus.expunge and cyrus.cache are
/// optional (a missing cache is a finding); message files are the entries named `N.`.
pub fn inspect_dir(path: &Path) -> Result<InspectReport, InspectError> {
    let not_mailbox = |reason: String| InspectError::NotAMailbox {
        path: path.to_path_buf(),
        reason,
    };
    let listing = std::fs::read_dir(path).map_err(|e| not_mailbox(e.to_string()))?;
    let mut uids = HashSet::new();
    for entry in listing {
        let entry = entry.map_err(|error| InspectError::Io {
            file: path.display().to_string(),
            error,
        })?;
        if let Some(uid) = entry.file_name().to_str().and_then(message_uid_from_name) {
            uids.insert(uid);
        }
    }
    let mut index = match File::open(path.join(FNAME_INDEX)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(not_mailbox(format!("no {FNAME_INDEX}")));
        }
        Err(error) => {
            return Err(InspectError::Io {
                file: FNAME_INDEX.to_string(),
                error,
            });
        }
    };
    let mut expunge = open_optional(path, FNAME_EXPUNGE)?;
    let mut cache = open_optional(path, FNAME_CACHE)?;
    fsck_mailbox(MailboxFiles {
        index: &mut index,
        expunge: expunge.as_mut().map(|f| f as &mut dyn ByteSource),
        cache: cache.as_mut().map(|f| f as &mut dyn ByteSource),
        message_uids: Some(&uids),
    })
}

fn open_optional(dir: &Path, name: &str) -> Result<Option<File>, InspectError> {
    match File::open(dir.join(name)) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(InspectError::Io {
            file: name.to_string(),
            error,
        }),
    }
}
