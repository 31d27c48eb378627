//! Cyrus IMAP 2.3's expunge path, modelled literally on `sim::Vfs`.
//!
//! Modules follow Cyrus's own function names so the model can be read beside the C source
//! (cyrusimap/cyrus-imapd, tags cyrus-imapd-2.3.7, -2.3.12-p1, -2.3.13, -2.3.16). The model
//! is free to go wrong the way Cyrus did; the checks live in the oracles, not here.

pub mod append;
pub mod cx;
pub mod cyr_expire;
pub mod expunge;
pub mod format;
pub mod fsck;
pub mod fuzzing;
pub mod ghost;
pub mod imapd;
pub mod layout;
pub mod lock;
pub mod mailbox;
pub mod map;
pub mod message;
pub mod oracle;
pub mod process_records;
pub mod quota;
pub mod reconstruct;
pub mod site;
pub mod stdio;
pub mod strategy;
pub mod unexpunge;
pub mod upgrade;

pub use cx::{CResult, Cx, CyrusError, Log, Note, NoteKind};
pub use site::{Arch, ExpireRule, ExpungeMode, MapVariant, Site, Version};
pub use strategy::Strategy;
