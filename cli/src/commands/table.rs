//! Rendering rows the way docker's `--format` does: the default table, `table …`
//! templates with a header row, plain templates, or `json` (one object per line).

use crate::output::table_format;
use anyhow::{anyhow, Result};
use serde_json::{Map, Value};

/// docker's header for a template field.
fn header(field: &str) -> String {
    match field {
        "ID" => "IMAGE ID".into(),
        "CreatedSince" => "CREATED".into(),
        "CreatedAt" => "CREATED AT".into(),
        "CreatedBy" => "CREATED BY".into(),
        "SharedSize" => "SHARED SIZE".into(),
        "UniqueSize" => "UNIQUE SIZE".into(),
        "VirtualSize" => "VIRTUAL SIZE".into(),
        "TotalCount" => "TOTAL".into(),
        other => {
            // CamelCase → CAMEL CASE
            let mut s = String::new();
            for (i, c) in other.chars().enumerate() {
                if i > 0 && c.is_ascii_uppercase() {
                    s.push(' ');
                }
                s.push(c.to_ascii_uppercase());
            }
            s
        }
    }
}

/// Renders `rows` with `format` (or `default` when none is given, or a bare `table`)
/// into output lines.
pub fn render(format: Option<&str>, default: &str, rows: &[Value]) -> Result<Vec<String>> {
    render_with(format, default, rows, &[])
}

/// `render`, with some headers named differently (`history` calls `ID` `IMAGE`).
pub fn render_with(
    format: Option<&str>,
    default: &str,
    rows: &[Value],
    names: &[(&str, &str)],
) -> Result<Vec<String>> {
    let format = match format.map(str::trim) {
        None | Some("") | Some("table") => default,
        Some(f) => f,
    };
    let names_in = names;
    let names = sample_keys(format);
    let heads: Vec<(String, String)> = names
        .keys()
        .map(|k| {
            let h = names_override(names_in, k).unwrap_or_else(|| header(k));
            (k.clone(), h)
        })
        .collect();
    let refs: Vec<(&str, &str)> = heads
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let text = table_format(format, rows, &refs).map_err(|e| anyhow!("{e}"))?;
    Ok(text.lines().map(|l| l.trim_end().to_string()).collect())
}

/// The `.Field` names a template body mentions, for a header when there are no rows.
fn sample_keys(body: &str) -> Map<String, Value> {
    let mut m = Map::new();
    for part in body.split("{{").skip(1) {
        let inner = part.split("}}").next().unwrap_or("").trim();
        if let Some(f) = inner.strip_prefix('.') {
            let name: String = f.chars().take_while(|c| c.is_alphanumeric()).collect();
            if !name.is_empty() {
                m.insert(name, Value::Null);
            }
        }
    }
    m
}

fn names_override(names: &[(&str, &str)], key: &str) -> Option<String> {
    names
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}
