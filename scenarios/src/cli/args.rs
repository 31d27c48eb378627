//! A small hand-rolled argument parser: positionals, `--switch`, `--flag VALUE` and
//! `--flag=VALUE`. Each subcommand declares the flags it takes; anything else is a usage error.

use std::collections::BTreeMap;

use super::CliError;

/// A flag a subcommand accepts.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// With the dashes: `--seed`.
    pub name: &'static str,
    /// Whether it takes a value (`--seed 7`) or is a switch (`--json`).
    pub takes_value: bool,
}

pub const fn switch(name: &'static str) -> Flag {
    Flag {
        name,
        takes_value: false,
    }
}

pub const fn value(name: &'static str) -> Flag {
    Flag {
        name,
        takes_value: true,
    }
}

/// What a command line said.
#[derive(Debug, Default)]
pub struct Parsed {
    pub positionals: Vec<String>,
    values: BTreeMap<&'static str, String>,
    switches: Vec<&'static str>,
    /// `-h` or `--help` was given.
    pub help: bool,
}

/// Parse `args` (the words after the subcommand) against `flags`. A flag given twice, an
/// unknown flag, a missing value and a value given to a switch are usage errors. `--` ends
/// the flags: every word after it is a positional.
pub fn parse(args: &[String], flags: &[Flag]) -> Result<Parsed, CliError> {
    let mut out = Parsed::default();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word == "--" {
            out.positionals.extend(words.by_ref().cloned());
            break;
        }
        if word == "-h" || word == "--help" {
            out.help = true;
            continue;
        }
        if !word.starts_with('-') || word == "-" {
            out.positionals.push(word.clone());
            continue;
        }
        let (name, inline) = match word.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (word.as_str(), None),
        };
        let Some(flag) = flags.iter().find(|f| f.name == name) else {
            return Err(CliError::usage(format!("unknown flag {name}")));
        };
        if out.has(flag.name) || out.values.contains_key(flag.name) {
            return Err(CliError::usage(format!("{name} given twice")));
        }
        match (flag.takes_value, inline) {
            (false, None) => out.switches.push(flag.name),
            (false, Some(_)) => {
                return Err(CliError::usage(format!("{name} takes no value")));
            }
            (true, Some(v)) => {
                out.values.insert(flag.name, v);
            }
            (true, None) => match words.next() {
                Some(v) if !v.starts_with("--") => {
                    out.values.insert(flag.name, v.clone());
                }
                _ => return Err(CliError::usage(format!("{name} needs a value"))),
            },
        }
    }
    Ok(out)
}

impl Parsed {
    /// Whether a switch was given.
    pub fn has(&self, name: &str) -> bool {
        self.switches.contains(&name)
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A flag's value parsed as a number; `None` when absent.
    pub fn u64(&self, name: &str) -> Result<Option<u64>, CliError> {
        self.value(name)
            .map(|v| parse_u64(v).map_err(|e| CliError::usage(format!("{name} {v:?}: {e}"))))
            .transpose()
    }

    /// `--strategy NAME`, checked against the engine's names.
    pub fn strategy(&self) -> Result<Option<engine::strategy::Strategy>, CliError> {
        self.value("--strategy").map(parse_strategy).transpose()
    }

    /// Exactly `n` positionals, named `what` in the error.
    pub fn exactly(&self, n: usize, what: &str) -> Result<&[String], CliError> {
        match self.positionals.len() {
            len if len == n => Ok(&self.positionals),
            0 => Err(CliError::usage(format!("missing {what}"))),
            _ => Err(CliError::usage(format!(
                "unexpected argument {:?}",
                self.positionals[n.min(self.positionals.len() - 1)]
            ))),
        }
    }
}

/// A decimal number; `_` separators allowed (`1_000`).
pub fn parse_u64(s: &str) -> Result<u64, String> {
    let digits: String = s.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a non-negative integer".to_string());
    }
    digits
        .parse()
        .map_err(|_| "too large for 64 bits".to_string())
}

pub fn parse_strategy(name: &str) -> Result<engine::strategy::Strategy, CliError> {
    engine::strategy::Strategy::parse(name).ok_or_else(|| {
        let names: Vec<_> = engine::strategy::Strategy::ALL
            .iter()
            .map(|s| s.name())
            .collect();
        CliError::usage(format!(
            "unknown strategy {name:?} (known: {})",
            names.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] = &[switch("--json"), value("--seed")];

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_and_positionals_in_any_order() {
        let p = parse(&words("a --seed 7 b --json"), FLAGS).unwrap();
        assert_eq!(p.positionals, ["a", "b"]);
        assert_eq!(p.u64("--seed").unwrap(), Some(7));
        assert!(p.has("--json"));
    }

    #[test]
    fn inline_values_are_accepted() {
        let p = parse(&words("--seed=1_000"), FLAGS).unwrap();
        assert_eq!(p.u64("--seed").unwrap(), Some(1000));
    }

    #[test]
    fn unknown_duplicate_and_valueless_flags_are_usage_errors() {
        for bad in [
            "--nope",
            "--json --json",
            "--seed",
            "--seed --json",
            "--json=1",
        ] {
            let err = parse(&words(bad), FLAGS).unwrap_err();
            assert!(matches!(err, CliError::Usage(_)), "{bad}: {err:?}");
        }
    }

    #[test]
    fn double_dash_ends_flags() {
        let p = parse(&words("-- --json"), FLAGS).unwrap();
        assert_eq!(p.positionals, ["--json"]);
        assert!(!p.has("--json"));
    }

    #[test]
    fn numbers_must_be_plain_decimals() {
        assert!(parse_u64("-1").is_err());
        assert!(parse_u64("0x10").is_err());
        assert!(parse_u64("18446744073709551616").is_err());
        assert_eq!(parse_u64("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn strategies_parse_by_contract_name() {
        assert!(parse_strategy("fix1-remap").is_ok());
        assert!(matches!(parse_strategy("fix3"), Err(CliError::Usage(_))));
    }
}
