//! `cyr_expire` (imap/cyr_expire.c T7, T12, 2.3.16): for every mailbox, find the expire
//! annotation (inherited up the hierarchy, stopping at "user"), open and lock the mailbox,
//! and call `mailbox_expunge` as the strategy says.

use std::collections::BTreeMap;

use crate::cx::{CResult, Cx, CyrusError};
use crate::expunge::{ExpungeReport, mailbox_expunge};
use crate::mailbox::*;
use crate::process_records::{Decide, ExpireRock};
use crate::site::ExpungeMode;
use crate::strategy::Strategy;

/// The `/vendor/cmu/cyrus-imapd/expire` annotation of every mailbox that has one: days.
pub type Annotations = BTreeMap<String, u32>;

/// The annotation that applies to `name`: its own, else its parent's, up to but not
/// past "user" (T13:175-205). The server entry ("") applies only to shared folders.
pub fn annotation_for(ann: &Annotations, name: &str) -> Option<u32> {
    let mut buf = name.to_string();
    loop {
        if let Some(&d) = ann.get(&buf) {
            return Some(d);
        }
        if buf.is_empty() || buf == "user" {
            return None;
        }
        match buf.rfind('.') {
            Some(p) => buf.truncate(p),
            None => buf.clear(),
        }
    }
}

/// What cyr_expire did to one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderRun {
    pub mailbox: String,
    pub calls: Vec<Result<ExpungeReport, CyrusError>>,
}

/// Run cyr_expire over `mailboxes` (in mboxlist order). `expunge_days` is `-X`.
pub fn cyr_expire(
    cx: &mut Cx,
    mailboxes: &[String],
    ann: &Annotations,
    strategy: Strategy,
) -> CResult<Vec<FolderRun>> {
    let mut runs = Vec::new();
    let delayed = cx.site.expunge_mode == ExpungeMode::Delayed;
    let expunge_mark = cx.now as i64 - cx.site.expunge_days as i64 * 86400;
    for name in mailboxes {
        let days = annotation_for(ann, name);
        let has_expunge = cx
            .fs
            .stat(&format!("{}/{}", mailbox_path(name), FNAME_EXPUNGE))
            .is_ok();
        let calls = strategy.calls(days.is_some(), delayed, has_expunge);
        if calls.is_empty() {
            continue;
        }
        let expire_mark = match days {
            Some(d) if d > 0 => cx.now as i64 - d as i64 * 86400,
            _ => 0,
        };
        let mut run = FolderRun {
            mailbox: name.clone(),
            calls: Vec::new(),
        };
        for call in calls {
            let mut mb = match mailbox_open_and_lock(cx, name) {
                Ok(mb) => mb,
                Err(e @ CyrusError::Died(..)) => return Err(e),
                Err(e) => {
                    // "unable to open/lock mailbox": skip it.
                    cx.story(format!(
                        "cyr_expire: unable to open/lock mailbox {name}: {e}"
                    ));
                    run.calls.push(Err(e));
                    break;
                }
            };
            let mut rock = ExpireRock {
                expire_mark: if call.expire { expire_mark } else { 0 },
                expunge_mark,
                rule: Some(cx.site.expire_rule),
                ..Default::default()
            };
            let r = mailbox_expunge(
                cx,
                &mut mb,
                &mut Decide::Expire(&mut rock),
                call.flags,
                call.fix,
            );
            if let Err(e @ CyrusError::Died(..)) = r {
                return Err(e);
            }
            mailbox_close(cx, &mut mb)?;
            let failed = r.is_err();
            run.calls.push(r);
            if failed {
                break;
            }
        }
        runs.push(run);
    }
    Ok(runs)
}
