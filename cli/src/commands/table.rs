//! Rendering rows the way docker's `--format` does: the command's default table, `table …`
//! templates with a header row, plain templates, or `json` (one object per line).

use crate::output::table_format;
use anyhow::{anyhow, Result};
use serde_json::Value;

/// Renders `rows` with `format` (or the command's `default` when none is given, or a bare
/// `table`) into output lines; `headers` names each field's column (`output::*_HEADERS`).
pub fn render(
    format: Option<&str>,
    default: &str,
    rows: &[Value],
    headers: &[(&str, &str)],
) -> Result<Vec<String>> {
    let format = match format.map(str::trim) {
        None | Some("") | Some("table") => default,
        Some(f) => f,
    };
    let text = table_format(format, rows, headers).map_err(|e| anyhow!("{e}"))?;
    Ok(text.lines().map(|l| l.trim_end().to_string()).collect())
}

/// Renders `rows` as [`render`] does and prints the lines.
pub fn print(
    format: Option<&str>,
    default: &str,
    rows: &[Value],
    headers: &[(&str, &str)],
) -> Result<()> {
    for line in render(format, default, rows, headers)? {
        crate::output::out(&line)?;
    }
    Ok(())
}
