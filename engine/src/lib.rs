//! Cyrus IMAP 2.3 expunge engine, written against `sim::Vfs`.

pub mod format;
pub mod fsck;
