//! The instructions that only change the image config (CMD, ENTRYPOINT, ENV, LABEL,
//! MAINTAINER, EXPOSE, WORKDIR, USER, VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD),
//! applied as docker's classic builder applies them.

use super::error::{BuildError, Result};
use super::gofmt;
use crate::dockerfile::{CommandLine, Healthcheck, Instruction};
use crate::image::{ContainerConfig, ImageConfig};
use serde_json::{json, Value};

/// The shell a stage's shell-form commands run with.
pub fn shell(c: &ContainerConfig) -> Vec<String> {
    c.extra
        .get("Shell")
        .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
}

/// A command line as the argument vector it runs.
pub fn argv(c: &ContainerConfig, cmd: &CommandLine) -> Vec<String> {
    match cmd {
        CommandLine::Exec(v) => v.clone(),
        CommandLine::Shell(s) => {
            let mut v = shell(c);
            v.push(s.clone());
            v
        }
    }
}

/// `WORKDIR path` on top of the current working directory.
pub fn workdir(current: Option<&str>, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{path}", current.unwrap_or("/"))
    };
    format!("/{}", super::ignore::clean(&joined))
}

/// `80`, `53/udp`, `8000-8002/tcp` as the ports they expose.
fn ports(spec: &str) -> Result<Vec<String>> {
    let (range, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    let bad = || BuildError::Port {
        spec: spec.to_string(),
    };
    let (lo, hi) = match range.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let p = range.parse::<u16>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if hi < lo {
        return Err(BuildError::PortRange {
            spec: spec.to_string(),
        });
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

fn healthcheck(h: &Healthcheck) -> Value {
    let mut v = json!({ "Test": h.test });
    let o = v.as_object_mut().expect("an object");
    for (k, d) in [
        ("Interval", h.interval),
        ("Timeout", h.timeout),
        ("StartPeriod", h.start_period),
        ("StartInterval", h.start_interval),
    ] {
        if !d.is_zero() {
            o.insert(k.into(), json!(d.as_nanos() as u64));
        }
    }
    if h.retries != 0 {
        o.insert("Retries".into(), json!(h.retries));
    }
    v
}

/// Applies a metadata instruction (expanded) to `config`; `cmd_set` tells whether this
/// stage set CMD already (ENTRYPOINT clears an inherited CMD, as docker does).
pub fn apply(config: &mut ImageConfig, ins: &Instruction, cmd_set: &mut bool) -> Result<()> {
    if let Instruction::Maintainer(m) = ins {
        config.author = Some(m.clone());
        return Ok(());
    }
    let c = config.config.get_or_insert_with(Default::default);
    match ins {
        Instruction::Cmd(cmd) => {
            c.cmd = Some(argv(c, cmd));
            *cmd_set = true;
        }
        Instruction::Entrypoint(cmd) => {
            c.entrypoint = Some(argv(c, cmd));
            if !*cmd_set {
                c.cmd = None;
            }
        }
        Instruction::Env(pairs) => {
            let env = c.env.get_or_insert_with(Vec::new);
            for kv in pairs {
                let prefix = format!("{}=", kv.key);
                let line = format!("{}={}", kv.key, kv.value);
                match env.iter_mut().find(|e| e.starts_with(&prefix)) {
                    Some(e) => *e = line,
                    None => env.push(line),
                }
            }
        }
        Instruction::Label(pairs) => {
            let labels = c.labels.get_or_insert_with(Default::default);
            for kv in pairs {
                labels.insert(kv.key.clone(), kv.value.clone());
            }
        }
        Instruction::Expose(list) => {
            let exposed = c.exposed_ports.get_or_insert_with(Default::default);
            for p in list {
                for port in ports(p)? {
                    exposed.insert(port, json!({}));
                }
            }
        }
        Instruction::Workdir(w) => c.working_dir = Some(workdir(c.working_dir.as_deref(), w)),
        Instruction::User(u) => c.user = Some(u.clone()).filter(|u| !u.is_empty()),
        Instruction::Volume(v) => {
            let vols = c.volumes.get_or_insert_with(Default::default);
            for p in v.iter().filter(|p| !p.is_empty()) {
                vols.insert(p.clone(), json!({}));
            }
        }
        Instruction::Stopsignal(s) => c.stop_signal = Some(s.clone()),
        Instruction::Healthcheck(h) => {
            c.extra.insert("Healthcheck".into(), healthcheck(h));
        }
        Instruction::Shell(s) => {
            c.extra.insert("Shell".into(), json!(s));
        }
        Instruction::Onbuild(t) => {
            let list = c
                .extra
                .entry("OnBuild".to_string())
                .or_insert_with(|| json!([]));
            if !list.is_array() {
                *list = json!([]);
            }
            list.as_array_mut().expect("an array").push(json!(t));
        }
        _ => {}
    }
    Ok(())
}

/// `KEY=value` pairs as docker's commit messages list them: ` KEY=value` each.
fn pairs(name: &str, kvs: &[crate::dockerfile::KeyValue]) -> String {
    let mut s = name.to_string();
    for kv in kvs {
        s.push_str(&format!(" {}={}", kv.key, kv.value));
    }
    s
}

/// What docker's classic builder writes after `#(nop)` in the history entry of the
/// metadata instruction `ins` (expanded), given the config after it: Go's `%q` of CMD and
/// ENTRYPOINT's argument vectors and of the HEALTHCHECK, `%v` of VOLUME and SHELL lists,
/// ENV and LABEL as `KEY=value` with the values expanded, WORKDIR as the path it resolved.
pub fn commit_message(config: &ImageConfig, ins: &Instruction) -> String {
    let c = config.config.clone().unwrap_or_default();
    let list = |v: &Option<Vec<String>>| gofmt::quote_list(v.as_deref().unwrap_or_default());
    match ins {
        Instruction::Cmd(_) => format!("CMD {}", list(&c.cmd)),
        Instruction::Entrypoint(_) => format!("ENTRYPOINT {}", list(&c.entrypoint)),
        Instruction::Env(kvs) => pairs("ENV", kvs),
        Instruction::Label(kvs) => pairs("LABEL", kvs),
        Instruction::Arg(args) => {
            let mut s = String::from("ARG");
            for a in args {
                s.push(' ');
                s.push_str(&a.name);
                if let Some(d) = &a.default {
                    s.push('=');
                    s.push_str(d);
                }
            }
            s
        }
        Instruction::Maintainer(m) => format!("MAINTAINER {m}"),
        Instruction::Expose(ports) => format!("EXPOSE {}", ports.join(" ")),
        Instruction::Workdir(_) => format!("WORKDIR {}", c.working_dir.unwrap_or_default()),
        Instruction::User(u) => format!("USER {u}"),
        Instruction::Volume(v) => format!("VOLUME {}", gofmt::list(v)),
        Instruction::Stopsignal(s) => format!("STOPSIGNAL {s}"),
        Instruction::Healthcheck(h) => format!(
            "HEALTHCHECK &{{{} {} {} {} {}}}",
            gofmt::quote_list(&h.test),
            gofmt::quote(&gofmt::duration(h.interval)),
            gofmt::quote(&gofmt::duration(h.timeout)),
            gofmt::quote(&gofmt::duration(h.start_period)),
            gofmt::quote_int(h.retries),
        ),
        Instruction::Shell(s) => format!("SHELL {}", gofmt::list(s)),
        Instruction::Onbuild(t) => format!("ONBUILD {t}"),
        other => other.name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdir_is_relative_to_the_previous_one() {
        assert_eq!(workdir(None, "app"), "/app");
        assert_eq!(workdir(Some("/app"), "src/../lib"), "/app/lib");
        assert_eq!(workdir(Some("/app"), "/srv/"), "/srv");
    }

    #[test]
    fn port_ranges_and_protocols() {
        assert_eq!(ports("80").unwrap(), ["80/tcp"]);
        assert_eq!(ports("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(ports("8000-8001").unwrap(), ["8000/tcp", "8001/tcp"]);
        assert!(ports("x").is_err());
    }
}
