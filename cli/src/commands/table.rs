//! Rendering rows the way docker's `--format` does: the default table, `table …`
//! templates with a header row, plain templates, or `json` (one object per line).

use crate::output::{TabWriter, Template};
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

/// Renders `rows` with `format` (or `default` when none is given) into output lines.
pub fn render(format: Option<&str>, default: &str, rows: &[Value]) -> Result<Vec<String>> {
    let format = format.unwrap_or(default);
    if format.trim() == "json" {
        return Ok(rows.iter().map(|r| r.to_string()).collect());
    }
    let (is_table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest.trim_start()),
        None => (false, format),
    };
    let body = if is_table && body.is_empty() { default.strip_prefix("table").unwrap_or(default).trim_start() } else { body };
    let tpl = Template::parse(body).map_err(|e| anyhow!("{e}"))?;
    let mut lines = Vec::with_capacity(rows.len() + 1);
    if is_table {
        let head: Map<String, Value> = sample_keys(body)
            .into_iter()
            .map(|(k, _)| {
                let h = header(&k);
                (k, Value::String(h))
            })
            .collect();
        lines.push(tpl.render(&Value::Object(head)).map_err(|e| anyhow!("{e}"))?);
    }
    for r in rows {
        lines.push(tpl.render(r).map_err(|e| anyhow!("{e}"))?);
    }
    if is_table {
        let mut tw = TabWriter::new(10, 1, 3);
        for l in &lines {
            tw.write_line(l);
        }
        return Ok(tw.finish());
    }
    Ok(lines)
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
