//! Ghost state: what the simulation knows that real files lack. Which UIDs were delivered
//! where, which the user deleted and expunged, and which rules (the expire annotation, the
//! cleanup age) allowed a message to leave the index or to be purged. The oracle judges the
//! files against it; the model of Cyrus never reads it.

use std::collections::BTreeMap;

use crate::append::Delivery;
use crate::site::ExpireRule;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GhostMsg {
    pub delivery: Delivery,
    /// The user set \Deleted.
    pub deleted: bool,
    /// When the user's EXPUNGE of it succeeded.
    pub expunged_at: Option<u32>,
    /// An administrator's tool (reconstruct) unlinked its file.
    pub admin_purged: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GhostMailbox {
    pub msgs: BTreeMap<u32, GhostMsg>,
    /// Messages dated before this may be expired (the latest cyr_expire's expire mark).
    pub expire_before: i64,
    /// Messages expunged before this may be purged (the latest cyr_expire's expunge mark).
    pub purge_expunged_before: i64,
    /// Immediate expunge mode: an EXPUNGE purges at once.
    pub immediate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ghost {
    pub rule: ExpireRule,
    pub mailboxes: BTreeMap<String, GhostMailbox>,
}

impl Ghost {
    pub fn new(rule: ExpireRule) -> Ghost {
        Ghost {
            rule,
            mailboxes: BTreeMap::new(),
        }
    }

    pub fn created(&mut self, mailbox: &str, immediate: bool) {
        self.mailboxes
            .entry(mailbox.to_string())
            .or_default()
            .immediate = immediate;
    }

    pub fn delivered(&mut self, mailbox: &str, uid: u32, d: Delivery) {
        let m = self.mailboxes.entry(mailbox.to_string()).or_default();
        m.msgs.insert(
            uid,
            GhostMsg {
                delivery: d,
                deleted: false,
                expunged_at: None,
                admin_purged: false,
            },
        );
    }

    pub fn flagged_deleted(&mut self, mailbox: &str, uids: &[u32]) {
        if let Some(m) = self.mailboxes.get_mut(mailbox) {
            for u in uids {
                if let Some(g) = m.msgs.get_mut(u) {
                    g.deleted = true;
                }
            }
        }
    }

    /// The user's EXPUNGE succeeded: every \Deleted message not yet expunged is now.
    pub fn user_expunged(&mut self, mailbox: &str, now: u32) {
        if let Some(m) = self.mailboxes.get_mut(mailbox) {
            for g in m.msgs.values_mut() {
                if g.deleted && g.expunged_at.is_none() {
                    g.expunged_at = Some(now);
                }
            }
        }
    }

    /// reconstruct unlinked these messages' files because cyrus.expunge listed them. That
    /// is allowed only for messages that could already leave the index (see
    /// [`Ghost::may_purge`]): a message the user still has, purged, is lost.
    pub fn admin_purged(&mut self, mailbox: &str, uids: &[u32]) {
        if let Some(m) = self.mailboxes.get_mut(mailbox) {
            for u in uids {
                if let Some(g) = m.msgs.get_mut(u) {
                    g.admin_purged = true;
                }
            }
        }
    }

    /// cyr_expire looked at the mailbox with these marks (0 expire mark: no annotation).
    pub fn expire_ran(&mut self, mailbox: &str, expire_mark: i64, expunge_mark: i64) {
        if let Some(m) = self.mailboxes.get_mut(mailbox) {
            m.expire_before = m.expire_before.max(expire_mark);
            m.purge_expunged_before = m.purge_expunged_before.max(expunge_mark);
        }
    }

    fn date(&self, g: &GhostMsg) -> i64 {
        match self.rule {
            ExpireRule::SentDate => g.delivery.sentdate as i64,
            ExpireRule::InternalDate => g.delivery.internaldate as i64,
        }
    }

    /// The expire annotation allowed this message to go.
    pub fn expired(&self, m: &GhostMailbox, g: &GhostMsg) -> bool {
        self.date(g) < m.expire_before
    }

    /// The message may be absent from cyrus.index.
    pub fn may_leave_index(&self, m: &GhostMailbox, g: &GhostMsg) -> bool {
        g.expunged_at.is_some() || self.expired(m, g)
    }

    /// The message may be gone for good (no record anywhere, no file).
    pub fn may_purge(&self, m: &GhostMailbox, g: &GhostMsg) -> bool {
        if self.expired(m, g) || (g.admin_purged && self.may_leave_index(m, g)) {
            return true;
        }
        match g.expunged_at {
            Some(t) => m.immediate || (t as i64) < m.purge_expunged_before,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_admin_purge_is_allowed_only_for_what_could_leave_the_index() {
        let mut g = Ghost::new(ExpireRule::SentDate);
        g.created("m", false);
        let d = Delivery {
            sentdate: 1000,
            internaldate: 1000,
            size: 100,
        };
        g.delivered("m", 1, d);
        g.delivered("m", 2, d);
        g.flagged_deleted("m", &[1]);
        g.user_expunged("m", 5000);
        g.admin_purged("m", &[1, 2]);
        let m = &g.mailboxes["m"];
        // UID 1 was expunged by the user: reconstruct may purge it before the cleanup age.
        assert!(g.may_purge(m, &m.msgs[&1]));
        // UID 2 is still the user's: purging it is a loss whoever did it.
        assert!(!g.may_purge(m, &m.msgs[&2]));
    }
}
