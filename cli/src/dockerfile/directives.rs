//! Parser directives: `# escape=`, `# syntax=` and `# check=` comments at the top of a
//! Dockerfile, before any instruction, blank line or other comment.

use super::error::ErrorKind;

/// The directives a Dockerfile gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// The escape character: `\` unless `# escape=` says `` ` ``.
    pub escape: char,
    /// `# syntax=`: a frontend image that docker would use; strata reads the file itself.
    pub syntax: Option<String>,
    /// `# check=`: lint settings; accepted and not used.
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            escape: '\\',
            syntax: None,
            check: None,
        }
    }
}

/// Reads directives line by line until the first line that is not one.
#[derive(Debug, Default)]
pub(crate) struct DirectiveParser {
    done: bool,
    escape_seen: bool,
    pub(crate) found: Directives,
}

/// Go's `\s`: ASCII space, tab, newline, form feed, carriage return.
fn is_re_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r')
}

/// `name = value` as docker's directive pattern reads it.
fn split_directive(s: &str) -> Option<(&str, &str)> {
    let name_len = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    if name_len == 0 {
        return None;
    }
    let (name, rest) = s.split_at(name_len);
    let rest = rest.trim_start_matches(is_re_space).strip_prefix('=')?;
    let value = rest.trim_matches(is_re_space);
    (!value.is_empty()).then_some((name, value))
}

impl DirectiveParser {
    /// Looks at one line; returns whether it was a directive.
    pub(crate) fn line(&mut self, line: &str) -> Result<bool, ErrorKind> {
        if self.done {
            return Ok(false);
        }
        let Some(rest) = line.strip_prefix('#') else {
            self.done = true;
            return Ok(false);
        };
        let Some((name, value)) = split_directive(rest.trim_start()) else {
            self.done = true;
            return Ok(false);
        };
        let name = name.to_ascii_lowercase();
        let slot = match name.as_str() {
            "escape" | "syntax" | "check" => name.as_str(),
            _ => {
                self.done = true;
                return Ok(false);
            }
        };
        let seen = match slot {
            "escape" => self.seen_escape(),
            "syntax" => self.found.syntax.is_some(),
            _ => self.found.check.is_some(),
        };
        if seen {
            return Err(ErrorKind::DuplicateDirective(name));
        }
        match slot {
            "escape" => {
                self.found.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    _ => return Err(ErrorKind::InvalidEscape(value.to_string())),
                };
                self.escape_seen = true;
            }
            "syntax" => self.found.syntax = Some(value.to_string()),
            _ => self.found.check = Some(value.to_string()),
        }
        Ok(true)
    }

    fn seen_escape(&self) -> bool {
        self.escape_seen
    }
}
