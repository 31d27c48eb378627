//! Cyrus IMAP 2.3 expunge engine, written against `sim::Vfs`.
