//! The `expunge-sim` command line. The names, flags, exit codes and JSON fields are the
//! contract of DESIGN.md ("The CLI contract"); more may be added, none renamed.

pub mod args;
mod backend;
mod check;
mod crash;
mod inspect;
mod merge;
pub mod narrate;
mod run;
mod sweep;

use std::io::Write;

/// Exit codes, everywhere.
pub const EXIT_OK: i32 = 0;
/// A violation or an unmet expectation.
pub const EXIT_FAILED: i32 = 1;
/// Bad usage or unreadable input.
pub const EXIT_USAGE: i32 = 2;

/// One line per subcommand: (name, synopsis, what it does).
const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "run",
        "run SCENARIO [--strategy NAME] [--seed N] [--json] [--trace FILE] [--plot FILE.svg] [--export DIR] [--export-budget BYTES]",
        "replay one scenario and tell its story",
    ),
    (
        "check",
        "check [PATH...]",
        "every scenario x every strategy it states expectations for",
    ),
    (
        "sweep",
        "sweep SCENARIO --seeds A..B [--strategy NAME] [--jobs N] [--shard K/N] [--json]",
        "run many seeds; A..B is half-open, A..=B inclusive",
    ),
    (
        "crash",
        "crash SCENARIO [--strategy NAME] [--step N] [--mode power|kill|both] [--seed N] [--point P] [--no-sync] [--json]",
        "a crash at every filesystem call of a step (default: the last cyr_expire), the next login's open, then the oracles",
    ),
    (
        "merge",
        "merge FILE...",
        "one summary from the --json outputs of several sweep shards",
    ),
    (
        "inspect",
        "inspect DIR [--json]",
        "fsck of a real Cyrus 2.3 mailbox directory",
    ),
    (
        "strategies",
        "strategies",
        "names with a one-line description each",
    ),
];

/// Why a command could not do its work; both exit 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// The command line itself is wrong: usage follows the message.
    Usage(String),
    /// An input (file, directory, scenario) could not be read or used.
    Input(String),
    /// `--help` was asked for: the command's usage on stdout, exit 0.
    Help,
}

impl CliError {
    pub fn usage(msg: impl Into<String>) -> CliError {
        CliError::Usage(msg.into())
    }

    pub fn input(msg: impl Into<String>) -> CliError {
        CliError::Input(msg.into())
    }
}

/// The full usage text.
pub fn usage() -> String {
    let mut s = String::from(
        "expunge-sim: replay the 2008 Cyrus IMAP delayed-expunge bug on a simulated filesystem\n\nusage:\n",
    );
    for (_, synopsis, what) in COMMANDS {
        s.push_str(&format!("  expunge-sim {synopsis}\n      {what}\n"));
    }
    s.push_str(
        "\nSCENARIO is a path or a bundled scenario name. Exit codes: 0 clean or all expectations \
         met; 1 a violation or an unmet expectation; 2 bad usage or unreadable input.\n",
    );
    s
}

fn command_usage(name: &str) -> String {
    COMMANDS
        .iter()
        .find(|c| c.0 == name)
        .map(|(_, synopsis, what)| format!("usage: expunge-sim {synopsis}\n  {what}\n"))
        .unwrap_or_else(usage)
}

/// Run the command line `args` (without the program name); returns the exit code.
pub fn main(args: &[String]) -> i32 {
    let Some(cmd) = args.first() else {
        eprint!("{}", usage());
        return EXIT_USAGE;
    };
    if cmd == "--help" || cmd == "-h" || cmd == "help" {
        emit(&usage());
        return EXIT_OK;
    }
    let rest = &args[1..];
    let result = match cmd.as_str() {
        "run" => run::main(rest),
        "check" => check::main(rest),
        "sweep" => sweep::main(rest),
        "crash" => crash::main(rest),
        "merge" => merge::main(rest),
        "inspect" => inspect::main(rest),
        "strategies" => strategies(rest),
        other => Err(CliError::usage(format!("unknown command {other:?}"))),
    };
    match result {
        Ok(code) => code,
        Err(CliError::Help) => {
            emit(&command_usage(cmd));
            EXIT_OK
        }
        Err(CliError::Usage(msg)) => {
            eprintln!("expunge-sim {cmd}: {msg}");
            eprint!("{}", command_usage(cmd));
            EXIT_USAGE
        }
        Err(CliError::Input(msg)) => {
            eprintln!("expunge-sim {cmd}: {msg}");
            EXIT_USAGE
        }
    }
}

/// Parse a command's arguments; `--help` anywhere short-circuits to the command's usage.
fn parse(args: &[String], flags: &[args::Flag]) -> Result<args::Parsed, CliError> {
    let parsed = args::parse(args, flags)?;
    if parsed.help {
        return Err(CliError::Help);
    }
    Ok(parsed)
}

/// Write to stdout; a closed pipe (`| head`) is not an error worth a panic.
pub(crate) fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

fn strategies(rest: &[String]) -> Result<i32, CliError> {
    let p = parse(rest, &[])?;
    p.exactly(0, "")?;
    let mut s = String::new();
    for st in engine::Strategy::ALL {
        s.push_str(&format!("{}  {}\n", st.name(), st.description()));
    }
    emit(&s);
    Ok(EXIT_OK)
}

/// Refuse a multi-process scenario in a build without `--cfg madsim`.
#[cfg(not(madsim))]
fn require_madsim(name: &str, multi_process: bool) -> Result<(), CliError> {
    if multi_process {
        return Err(CliError::input(crate::world_refusal(name)));
    }
    Ok(())
}

#[cfg(madsim)]
fn require_madsim(_name: &str, _multi_process: bool) -> Result<(), CliError> {
    Ok(())
}

/// The strategy a scenario runs under when none is named: the first it states expectations
/// for, else the one that shipped the bug.
fn default_strategy(expected: &[engine::Strategy]) -> engine::Strategy {
    expected
        .first()
        .copied()
        .unwrap_or(engine::Strategy::Cyrus237)
}

/// Load a scenario and refuse what this build cannot run.
fn load(spec: &str) -> Result<backend::Scenario, CliError> {
    let sc = backend::load(spec).map_err(|e| CliError::input(e.to_string()))?;
    require_madsim(sc.name(), sc.is_multi_process())?;
    Ok(sc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_strategy_is_the_first_expected_else_2_3_7() {
        use engine::Strategy::*;
        assert_eq!(default_strategy(&[]), Cyrus237);
        assert_eq!(default_strategy(&[Fix1Remap, Cyrus2312]), Fix1Remap);
    }

    #[test]
    fn usage_names_every_command() {
        let u = usage();
        for (name, _, _) in COMMANDS {
            assert!(u.contains(&format!("expunge-sim {name}")), "{name}");
        }
    }

    #[cfg(not(madsim))]
    #[test]
    fn multi_process_scenarios_need_madsim() {
        let err = require_madsim("night", true).unwrap_err();
        assert!(
            matches!(&err, CliError::Input(m) if m.contains("--cfg madsim") && m.contains("RUSTFLAGS"))
        );
        assert!(require_madsim("day", false).is_ok());
    }
}
