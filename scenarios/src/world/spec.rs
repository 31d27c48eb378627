//! The `[[process]]` and `[world]` tables of a multi-process scenario, and their expansion
//! into concrete processes. Compiled in every build, so that a build without madsim can
//! still read such a scenario and refuse it by name.

use serde::Deserialize;

use crate::scenario::{Param, Rng};

/// The Cyrus program a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Program {
    /// Delivers to its mailboxes (`deliver`, append.c).
    Lmtpd,
    /// A user's session: \Deleted flags, EXPUNGE, SELECT.
    Imapd,
    /// The nightly cron job over every mailbox.
    CyrExpire,
    /// An administrator's `unexpunge -l` on one of its mailboxes.
    Unexpunge,
}

impl Program {
    pub fn name(self) -> &'static str {
        match self {
            Program::Lmtpd => "lmtpd",
            Program::Imapd => "imapd",
            Program::CyrExpire => "cyr_expire",
            Program::Unexpunge => "unexpunge",
        }
    }
}

/// One `[[process]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSpec {
    /// The node's name; `{user}` makes one process per user ("imapd-{user}").
    pub name: String,
    pub program: Program,
    /// The mailboxes it works on; `{user}` expands to its own user when the name has
    /// `{user}`, else to every user. Ignored by cyr_expire (it walks every mailbox).
    #[serde(default)]
    pub mailboxes: Vec<String>,
    /// Minutes between two operations, drawn anew each time from madsim's random numbers.
    /// Default 60. Ignored by cyr_expire.
    #[serde(default = "default_every")]
    pub every_minutes: Param,
    /// cyr_expire: the cron time, hour and minute (default 03:00), daily.
    #[serde(default = "default_hour")]
    pub at_hour: u32,
    #[serde(default)]
    pub at_minute: u32,
    /// lmtpd: message size in bytes (default 2048).
    #[serde(default = "default_size")]
    pub size: Param,
    /// lmtpd: how many days before delivery the message was sent (default 0).
    #[serde(default)]
    pub sent_age_days: Param,
    /// imapd: how many messages one `delete` flags \Deleted (default 1).
    #[serde(default = "default_one")]
    pub delete: Param,
    /// imapd: what a session does each time, picked at random: any of "delete", "expunge",
    /// "open" (default all three).
    #[serde(default = "default_actions")]
    pub actions: Vec<Action>,
    /// imapd: keep a session (default false): log in and SELECT one of its mailboxes, issue
    /// `session_length` commands holding the mailbox's fds and maps, then LOG OUT; again.
    /// `actions` is then not used.
    #[serde(default)]
    pub session: bool,
    /// imapd session: how many commands between SELECT and LOGOUT (default "3..=8").
    #[serde(default = "default_session_length")]
    pub session_length: Param,
    /// imapd session: what each command is, picked at random: any of "noop", "fetch",
    /// "uid_fetch", "store", "expunge" (default all five). `store` flags `delete` messages.
    #[serde(default = "default_session_commands")]
    pub session_commands: Vec<SessionCommand>,
}

/// One command of an imapd session between SELECT and LOGOUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionCommand {
    Noop,
    Fetch,
    UidFetch,
    Store,
    Expunge,
}

fn default_session_length() -> Param {
    Param::Range(3, 8)
}

fn default_session_commands() -> Vec<SessionCommand> {
    vec![
        SessionCommand::Noop,
        SessionCommand::Fetch,
        SessionCommand::UidFetch,
        SessionCommand::Store,
        SessionCommand::Expunge,
    ]
}

/// What an imapd session does in one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Delete,
    Expunge,
    Open,
}

fn default_every() -> Param {
    Param::Fixed(60)
}

fn default_hour() -> u32 {
    3
}

fn default_size() -> Param {
    Param::Fixed(2048)
}

fn default_one() -> Param {
    Param::Fixed(1)
}

fn default_actions() -> Vec<Action> {
    vec![Action::Delete, Action::Expunge, Action::Open]
}

/// The `[world]` table: how long the world runs and what goes wrong in it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorldSpec {
    /// Simulated days the processes run (default 7).
    pub days: u32,
    /// How many times one process, picked at random (cyr_expire included), is killed at a
    /// filesystem call of its next operation, then restarted by its supervisor.
    pub kills: Param,
    /// How many times the whole machine loses power (at a filesystem call), then reboots.
    pub power_losses: Param,
    /// Minutes a killed process or a rebooting machine stays down (default 5).
    pub downtime_minutes: u32,
}

impl Default for WorldSpec {
    fn default() -> Self {
        WorldSpec {
            days: 7,
            kills: Param::Fixed(0),
            power_losses: Param::Fixed(0),
            downtime_minutes: 5,
        }
    }
}

/// A process with every `{user}` expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub name: String,
    pub program: Program,
    pub mailboxes: Vec<String>,
    pub every_minutes: Param,
    pub at_hour: u32,
    pub at_minute: u32,
    pub size: Param,
    pub sent_age_days: Param,
    pub delete: Param,
    pub actions: Vec<Action>,
    pub session: bool,
    pub session_length: Param,
    pub session_commands: Vec<SessionCommand>,
}

/// The user names a scenario's `[users] count` gives, drawn as `plan::ops` draws them.
pub fn users(count: Param, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let n = count.draw(&mut rng).max(1);
    (1..=n).map(|i| format!("u{i}")).collect()
}

/// Expand the `[[process]]` tables for `users`. Errors name the process.
pub fn expand(specs: &[ProcessSpec], users: &[String]) -> Result<Vec<Proc>, String> {
    let mut out = Vec::new();
    for (i, p) in specs.iter().enumerate() {
        let what = format!("process {} ({})", i + 1, p.name);
        if p.program != Program::CyrExpire && p.mailboxes.is_empty() {
            return Err(format!("{what}: a {} needs mailboxes", p.program.name()));
        }
        if p.at_hour > 23 || p.at_minute > 59 {
            return Err(format!("{what}: at_hour 0..=23, at_minute 0..=59"));
        }
        if p.actions.is_empty() {
            return Err(format!("{what}: actions must not be empty"));
        }
        if p.session && p.program != Program::Imapd {
            return Err(format!("{what}: only an imapd keeps a session"));
        }
        if p.session_commands.is_empty() {
            return Err(format!("{what}: session_commands must not be empty"));
        }
        if let Param::Fixed(0) = p.every_minutes {
            return Err(format!("{what}: every_minutes must be at least 1"));
        }
        let per_user = p.name.contains("{user}");
        let owners: Vec<Option<&String>> = if per_user {
            users.iter().map(Some).collect()
        } else {
            vec![None]
        };
        for owner in owners {
            let mut mailboxes = Vec::new();
            for m in &p.mailboxes {
                match owner {
                    Some(u) => mailboxes.push(m.replace("{user}", u)),
                    None if m.contains("{user}") => {
                        mailboxes.extend(users.iter().map(|u| m.replace("{user}", u)))
                    }
                    None => mailboxes.push(m.clone()),
                }
            }
            let name = match owner {
                Some(u) => p.name.replace("{user}", u),
                None => p.name.clone(),
            };
            if out.iter().any(|q: &Proc| q.name == name) {
                return Err(format!("{what}: two processes are named {name}"));
            }
            out.push(Proc {
                name,
                program: p.program,
                mailboxes,
                every_minutes: p.every_minutes,
                at_hour: p.at_hour,
                at_minute: p.at_minute,
                size: p.size,
                sent_age_days: p.sent_age_days,
                delete: p.delete,
                actions: p.actions.clone(),
                session: p.session,
                session_length: p.session_length,
                session_commands: p.session_commands.clone(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Vec<ProcessSpec> {
        #[derive(Deserialize)]
        struct F {
            process: Vec<ProcessSpec>,
        }
        toml::from_str::<F>(text).unwrap().process
    }

    #[test]
    fn a_user_template_makes_one_process_per_user_with_its_own_mailboxes() {
        let s = spec(
            r#"
            [[process]]
            name = "imapd-{user}"
            program = "imapd"
            mailboxes = ["user.{user}.Spam"]
            [[process]]
            name = "lmtpd"
            program = "lmtpd"
            mailboxes = ["user.{user}"]
            "#,
        );
        let users = vec!["u1".to_string(), "u2".to_string()];
        let p = expand(&s, &users).unwrap();
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["imapd-u1", "imapd-u2", "lmtpd"]);
        assert_eq!(p[1].mailboxes, ["user.u2.Spam"]);
        assert_eq!(p[2].mailboxes, ["user.u1", "user.u2"]);
        assert_eq!(p[2].every_minutes, Param::Fixed(60));
    }

    #[test]
    fn a_deliverer_without_mailboxes_and_a_bad_cron_time_are_refused() {
        let users = vec!["u1".to_string()];
        let s = spec("[[process]]\nname = \"l\"\nprogram = \"lmtpd\"\n");
        assert!(expand(&s, &users).unwrap_err().contains("needs mailboxes"));
        let s = spec("[[process]]\nname = \"c\"\nprogram = \"cyr_expire\"\nat_hour = 24\n");
        assert!(expand(&s, &users).unwrap_err().contains("at_hour"));
    }

    #[test]
    fn only_an_imapd_keeps_a_session_and_its_commands_default_to_all_five() {
        let users = vec!["u1".to_string()];
        let s = spec(
            "[[process]]\nname = \"l\"\nprogram = \"lmtpd\"\nmailboxes = [\"m\"]\nsession = true\n",
        );
        assert!(expand(&s, &users).unwrap_err().contains("only an imapd"));
        let s = spec(
            "[[process]]\nname = \"i\"\nprogram = \"imapd\"\nmailboxes = [\"m\"]\nsession = true\n",
        );
        let p = expand(&s, &users).unwrap();
        assert!(p[0].session);
        assert_eq!(p[0].session_commands.len(), 5);
        assert_eq!(p[0].session_length, Param::Range(3, 8));
    }
}
