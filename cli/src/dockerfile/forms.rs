//! The argument forms of each instruction: JSON arrays (exec form) or plain text (shell
//! form), whitespace-separated lists, ENV/LABEL pairs, ARG words, HEALTHCHECK's type, and
//! ONBUILD's nested instruction.

use super::ast::{Args, Pair};
use super::error::ErrorKind;
use super::words::{parse_words, split_spaces};

/// How the rest of a line is read for one instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// JSON array, else the whole text as one string (RUN, CMD, ENTRYPOINT, SHELL).
    MaybeJson,
    /// JSON array, else whitespace-separated words (ADD, COPY, VOLUME).
    MaybeJsonList,
    /// Whitespace-separated words (FROM, EXPOSE).
    List,
    /// The whole text as one string (MAINTAINER, USER, WORKDIR, STOPSIGNAL).
    Text,
    /// ENV pairs.
    Env,
    /// LABEL pairs.
    Label,
    /// ARG words (`name` or `name=value`).
    NameOrNameValue,
    /// HEALTHCHECK: a type word, then a command.
    Health,
    /// ONBUILD: another instruction.
    Trigger,
}

/// The names docker's parser knows, with the form of their arguments.
pub(crate) const INSTRUCTIONS: [(&str, Form); 18] = [
    ("add", Form::MaybeJsonList),
    ("arg", Form::NameOrNameValue),
    ("cmd", Form::MaybeJson),
    ("copy", Form::MaybeJsonList),
    ("entrypoint", Form::MaybeJson),
    ("env", Form::Env),
    ("expose", Form::List),
    ("from", Form::List),
    ("healthcheck", Form::Health),
    ("label", Form::Label),
    ("maintainer", Form::Text),
    ("onbuild", Form::Trigger),
    ("run", Form::MaybeJson),
    ("shell", Form::MaybeJson),
    ("stopsignal", Form::Text),
    ("user", Form::Text),
    ("volume", Form::MaybeJsonList),
    ("workdir", Form::Text),
];

/// The form of instruction `keyword` (lower case), if docker knows it.
pub(crate) fn form_of(keyword: &str) -> Option<Form> {
    INSTRUCTIONS
        .iter()
        .find(|(k, _)| *k == keyword)
        .map(|(_, f)| *f)
}

/// Why text is not taken as a JSON array.
enum NotJson {
    /// Not JSON (or not an array): the text is used as shell form.
    Fallback,
    /// A valid JSON array with something other than strings: an error.
    NotStrings,
}

fn parse_json(rest: &str) -> Result<Vec<String>, NotJson> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Err(NotJson::Fallback);
    }
    let values: Vec<serde_json::Value> =
        serde_json::from_str(rest).map_err(|_| NotJson::Fallback)?;
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(NotJson::NotStrings),
        })
        .collect()
}

/// Exec form if `rest` is a JSON array of strings; `fallback` otherwise.
fn maybe_json(
    rest: &str,
    fallback: impl FnOnce(&str) -> Vec<String>,
) -> Result<(Args, bool), ErrorKind> {
    match parse_json(rest) {
        Ok(v) => Ok((Args::Words(v), true)),
        Err(NotJson::NotStrings) => Err(ErrorKind::NotStringArray),
        Err(NotJson::Fallback) => Ok((Args::Words(fallback(rest)), false)),
    }
}

fn whitespace_list(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return Vec::new();
    }
    split_spaces(rest, 0)
        .into_iter()
        .map(String::from)
        .collect()
}

fn text(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        Vec::new()
    } else {
        vec![rest.to_string()]
    }
}

/// ENV and LABEL: `key value` (old form, one pair) or `k=v k2=v2 …`.
fn name_values(rest: &str, escape: char, what: &'static str) -> Result<Args, ErrorKind> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Args::Pairs(Vec::new()));
    };
    if !first.contains('=') {
        let parts = split_spaces(rest, 2);
        if parts.len() < 2 {
            return Err(ErrorKind::NeedsTwoArguments(what));
        }
        return Ok(Args::Pairs(vec![Pair {
            key: parts[0].to_string(),
            value: parts[1].to_string(),
            equals: false,
        }]));
    }
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => Ok(Pair {
                key: k.to_string(),
                value: v.to_string(),
                equals: true,
            }),
            None => Err(ErrorKind::MissingEquals(w.clone())),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Args::Pairs)
}

/// HEALTHCHECK: the type word, then its command in either form.
fn health(rest: &str) -> Result<(Args, bool), ErrorKind> {
    let sep = rest
        .bytes()
        .position(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
        .unwrap_or(rest.len());
    if sep == 0 {
        return Ok((Args::Words(Vec::new()), false));
    }
    let after = rest[sep..].trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (cmd, json) = if after.is_empty() {
        (Args::Words(Vec::new()), false)
    } else {
        maybe_json(after, text)?
    };
    let mut words = vec![rest[..sep].to_string()];
    if let Args::Words(w) = cmd {
        words.extend(w);
    }
    Ok((Args::Words(words), json))
}

/// Reads `rest` in `form`; returns the arguments and whether they were a JSON array.
/// ONBUILD ([`Form::Trigger`]) is handled by the parser, which recurses.
pub(crate) fn parse_args(form: Form, rest: &str, escape: char) -> Result<(Args, bool), ErrorKind> {
    match form {
        Form::MaybeJson if rest.is_empty() => Ok((Args::Words(Vec::new()), false)),
        Form::MaybeJson => maybe_json(rest, text),
        Form::MaybeJsonList => maybe_json(rest, whitespace_list),
        Form::List => Ok((Args::Words(whitespace_list(rest)), false)),
        Form::Text | Form::Trigger => Ok((Args::Words(text(rest)), false)),
        Form::Env => Ok((name_values(rest, escape, "ENV")?, false)),
        Form::Label => Ok((name_values(rest, escape, "LABEL")?, false)),
        Form::NameOrNameValue => Ok((Args::Words(parse_words(rest, escape)), false)),
        Form::Health => health(rest),
    }
}
