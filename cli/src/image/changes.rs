//! `-c/--change` instructions for `import` and `commit`: a Dockerfile instruction applied
//! to an image's config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR,
//! STOPSIGNAL).

use super::ContainerConfig;
use std::collections::BTreeMap;

/// Applies one change line to `cfg`. Errors are one line, naming the change.
pub fn apply_change(cfg: &mut ContainerConfig, line: &str) -> Result<(), String> {
    let line = line.trim();
    let (word, rest) = match line.split_once(|c: char| c.is_whitespace()) {
        Some((w, r)) => (w, r.trim()),
        None => (line, ""),
    };
    let instr = word.to_ascii_uppercase();
    let need_args = || {
        if rest.is_empty() {
            Err(format!("{instr} requires at least one argument"))
        } else {
            Ok(())
        }
    };
    match instr.as_str() {
        "CMD" => {
            need_args()?;
            cfg.cmd = Some(exec_or_shell(rest));
        }
        "ENTRYPOINT" => {
            need_args()?;
            cfg.entrypoint = Some(exec_or_shell(rest));
            if !rest.starts_with('[') {
                cfg.cmd = None;
            }
        }
        "ENV" => {
            need_args()?;
            let pairs = key_values(rest, "ENV")?;
            let env = cfg.env.get_or_insert_with(Vec::new);
            for (k, v) in pairs {
                env.retain(|e| e.split('=').next() != Some(k.as_str()));
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            need_args()?;
            let pairs = key_values(rest, "LABEL")?;
            let labels = cfg.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in pairs {
                labels.insert(k, v);
            }
        }
        "EXPOSE" => {
            need_args()?;
            let ports = cfg.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in split_words(rest)? {
                ports.insert(normalise_port(&p)?, serde_json::json!({}));
            }
        }
        "VOLUME" => {
            need_args()?;
            let vols = cfg.volumes.get_or_insert_with(BTreeMap::new);
            let list = match json_array(rest) {
                Some(v) => v,
                None => split_words(rest)?,
            };
            for v in list {
                if v.is_empty() {
                    return Err("VOLUME specified can not be an empty string".into());
                }
                vols.insert(v, serde_json::json!({}));
            }
        }
        "USER" => {
            need_args()?;
            cfg.user = Some(rest.to_string());
        }
        "WORKDIR" => {
            need_args()?;
            let cur = cfg.working_dir.clone().unwrap_or_else(|| "/".into());
            cfg.working_dir = Some(if rest.starts_with('/') {
                rest.to_string()
            } else {
                format!("{}/{rest}", cur.trim_end_matches('/'))
            });
        }
        "STOPSIGNAL" => {
            need_args()?;
            cfg.stop_signal = Some(rest.to_string());
        }
        "" => return Err("empty change".into()),
        _ => return Err(format!("{word} is not a valid change command")),
    }
    Ok(())
}

fn json_array(s: &str) -> Option<Vec<String>> {
    if !s.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(s).ok()
}

fn exec_or_shell(s: &str) -> Vec<String> {
    json_array(s).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), s.to_string()])
}

fn normalise_port(p: &str) -> Result<String, String> {
    let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let valid = |n: &str| n.parse::<u16>().is_ok();
    let ok = match num.split_once('-') {
        Some((a, b)) => valid(a) && valid(b),
        None => valid(num),
    };
    if !ok || !matches!(proto.to_ascii_lowercase().as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid port {p:?} in EXPOSE"));
    }
    Ok(format!("{num}/{}", proto.to_ascii_lowercase()))
}

/// Splits on white space, honouring single and double quotes and backslashes.
fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '"') | (None, '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(format!("unmatched quote in {s:?}"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// `K=V K2="v 2"`, or the legacy `K value with spaces` form.
fn key_values(s: &str, instr: &str) -> Result<Vec<(String, String)>, String> {
    let first = s.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let (k, v) = s.split_once(|c: char| c.is_whitespace()).unwrap_or((s, ""));
        if instr == "ENV" && v.trim().is_empty() {
            return Err(format!(
                "{instr} names can not be blank or need a value: {s:?}"
            ));
        }
        let v = split_words(v.trim())?.join(" ");
        return Ok(vec![(k.to_string(), v)]);
    }
    split_words(s)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some(("", _)) => Err(format!("{instr} names can not be blank")),
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!("syntax error in {instr}: {w:?} has no '='")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(lines: &[&str]) -> ContainerConfig {
        let mut c = ContainerConfig::default();
        for l in lines {
            apply_change(&mut c, l).unwrap();
        }
        c
    }

    #[test]
    fn cmd_and_entrypoint_forms() {
        let c = apply(&[r#"CMD ["/bin/sh", "-c", "echo hi"]"#]);
        assert_eq!(c.cmd.unwrap(), ["/bin/sh", "-c", "echo hi"]);
        let c = apply(&["cmd echo hi"]);
        assert_eq!(c.cmd.unwrap(), ["/bin/sh", "-c", "echo hi"]);
        let c = apply(&["CMD [\"a\"]", "ENTRYPOINT /run.sh"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "/run.sh"]);
        assert_eq!(c.cmd, None);
    }

    #[test]
    fn env_label_expose_volume_workdir() {
        let c = apply(&[
            "ENV A=1 B=\"two words\"",
            "ENV C three four",
            "ENV A=5",
            "LABEL x=y \"q r\"=s",
            "EXPOSE 80 53/udp",
            "VOLUME [\"/data\"]",
            "VOLUME /a /b",
            "WORKDIR /srv",
            "WORKDIR app",
            "USER 1000:1000",
            "STOPSIGNAL SIGTERM",
        ]);
        assert_eq!(c.env.unwrap(), ["B=two words", "C=three four", "A=5"]);
        let labels = c.labels.unwrap();
        assert_eq!(labels["x"], "y");
        assert_eq!(labels["q r"], "s");
        let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp"]);
        let vols: Vec<_> = c.volumes.unwrap().into_keys().collect();
        assert_eq!(vols, ["/a", "/b", "/data"]);
        assert_eq!(c.working_dir.unwrap(), "/srv/app");
        assert_eq!(c.user.unwrap(), "1000:1000");
        assert_eq!(c.stop_signal.unwrap(), "SIGTERM");
    }

    #[test]
    fn rejects_bad_changes() {
        let mut c = ContainerConfig::default();
        assert!(apply_change(&mut c, "RUN rm -rf /")
            .unwrap_err()
            .contains("not a valid change"));
        assert!(apply_change(&mut c, "CMD").is_err());
        assert!(apply_change(&mut c, "EXPOSE http").is_err());
        assert!(apply_change(&mut c, "ENV =x").is_err());
        assert!(apply_change(&mut c, "LABEL a=\"b").is_err());
    }
}
