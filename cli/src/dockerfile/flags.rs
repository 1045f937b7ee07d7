//! An instruction's `--flags`, checked against the flags it has, as BuildKit checks them.

use super::error::ErrorKind;
use super::suggest::suggest;
use std::collections::HashMap;

/// What a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagKind {
    /// `--link`, `--link=true|false`.
    Bool,
    /// `--from=x`, once.
    Text,
    /// `--mount=x`, any number of times.
    List,
}

/// The flags an instruction was given, by name.
#[derive(Debug, Default)]
pub(crate) struct FlagValues(HashMap<&'static str, Vec<String>>);

impl FlagValues {
    /// The value of a text flag, if given.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(|v| v.last().cloned())
    }

    /// The value of a bool flag, if given.
    pub(crate) fn bool(&self, name: &str) -> Option<bool> {
        self.text(name).map(|v| v == "true")
    }

    /// Every value of a list flag.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.0.get(name).cloned().unwrap_or_default()
    }
}

/// Checks `raw` (`--name=value` words) against `allowed`.
pub(crate) fn parse_flags(
    raw: &[String],
    allowed: &[(&'static str, FlagKind)],
) -> Result<FlagValues, ErrorKind> {
    let mut values = FlagValues::default();
    for word in raw {
        let body = word.strip_prefix("--").unwrap_or(word);
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let Some(&(key, kind)) = allowed.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
            return Err(ErrorKind::UnknownFlag {
                flag: name.to_string(),
                suggestion: suggest(name, &names, true).map(|s| format!("--{s}")),
            });
        };
        let slot = values.0.entry(key).or_default();
        if kind != FlagKind::List && !slot.is_empty() {
            return Err(ErrorKind::DuplicateFlag(name.to_string()));
        }
        let value = match (kind, value) {
            (FlagKind::Bool, None) => "true".to_string(),
            (FlagKind::Bool, Some("")) | (_, None) => {
                return Err(ErrorKind::FlagNeedsValue(name.to_string()))
            }
            (FlagKind::Bool, Some(v)) => match v.to_ascii_lowercase().as_str() {
                "true" => "true".to_string(),
                "false" => "false".to_string(),
                _ => {
                    return Err(ErrorKind::FlagNotBool {
                        flag: name.to_string(),
                        value: v.to_string(),
                    })
                }
            },
            (_, Some(v)) => v.to_string(),
        };
        slot.push(value);
    }
    Ok(values)
}
