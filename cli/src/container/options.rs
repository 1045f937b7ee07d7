//! Parsing the further `run` options as docker reads them: `--mount`, `--tmpfs`,
//! capabilities, `--tmpfs size=` (through `units`), `--cpus`, labels and signals.

use super::spec::{BindMount, SpecError, TmpfsMount};
use crate::units::ram_in_bytes;

/// Linux capability names by number, as docker spells them (without `CAP_`).
pub const CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// A capability name as given (`net_admin`, `CAP_NET_ADMIN`, `ALL`) in docker's spelling
/// (`NET_ADMIN`, `ALL`); unknown names are refused.
pub fn capability(name: &str) -> Result<String, SpecError> {
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    if bare == "ALL" || CAPABILITIES.contains(&bare) {
        Ok(bare.to_string())
    } else {
        Err(SpecError::UnknownCapability(name.to_string()))
    }
}

/// The number of a capability in docker's spelling.
pub fn capability_number(name: &str) -> Option<u32> {
    CAPABILITIES
        .iter()
        .position(|c| *c == name)
        .map(|n| n as u32)
}

/// `--cpus 1.5` as nano-CPUs (docker's `NanoCpus`).
pub fn nano_cpus(text: &str) -> Result<u64, SpecError> {
    let bad = || SpecError::InvalidCpus(text.to_string());
    let n: f64 = text.parse().map_err(|_| bad())?;
    if n.is_nan() || n <= 0.0 || !n.is_finite() {
        return Err(bad());
    }
    Ok((n * 1e9).round() as u64)
}

/// `--tmpfs PATH[:OPTIONS]`: `size=`, `mode=` (octal), and the flags docker passes on
/// (`rw`, `exec`, `noexec`, `suid`, `nosuid`, `dev`, `nodev`), which need nothing here.
pub fn tmpfs(spec: &str) -> Result<TmpfsMount, SpecError> {
    let bad = || SpecError::InvalidTmpfs(spec.to_string());
    let (target, opts) = spec.split_once(':').unwrap_or((spec, ""));
    if !target.starts_with('/') {
        return Err(bad());
    }
    let mut m = TmpfsMount {
        target: target.to_string(),
        size: None,
        mode: None,
    };
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o.split_once('=') {
            Some(("size", v)) => m.size = Some(ram_in_bytes(v).ok_or_else(bad)?),
            Some(("mode", v)) => m.mode = Some(u32::from_str_radix(v, 8).map_err(|_| bad())?),
            None if ["rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev"].contains(&o) => {}
            _ => return Err(bad()),
        }
    }
    Ok(m)
}

/// What one `--mount` adds.
#[derive(Debug, PartialEq, Eq)]
pub enum Mount {
    /// `type=bind`.
    Bind(BindMount),
    /// `type=tmpfs`.
    Tmpfs(TmpfsMount),
}

/// `--mount type=bind,source=HOST,target=CTR[,readonly]` or
/// `--mount type=tmpfs,target=CTR[,tmpfs-size=N][,tmpfs-mode=M]`.
pub fn mount(spec: &str) -> Result<Mount, SpecError> {
    let bad = |why: &str| SpecError::InvalidMount {
        spec: spec.to_string(),
        why: why.to_string(),
    };
    let (mut kind, mut source, mut target) = ("volume", None, None);
    let (mut readonly, mut size_v, mut mode) = (false, None, None);
    for field in spec.split(',') {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        match (k, v) {
            ("type", Some(t)) => kind = t,
            ("source" | "src", Some(s)) => source = Some(s),
            ("target" | "destination" | "dst", Some(t)) => target = Some(t),
            ("readonly" | "ro", None | Some("true" | "1")) => readonly = true,
            ("readonly" | "ro", Some("false" | "0")) => readonly = false,
            ("tmpfs-size", Some(s)) => {
                size_v = Some(ram_in_bytes(s).ok_or_else(|| bad("invalid tmpfs-size"))?)
            }
            ("tmpfs-mode", Some(m)) => {
                mode = Some(u32::from_str_radix(m, 8).map_err(|_| bad("invalid tmpfs-mode"))?)
            }
            ("bind-propagation" | "consistency", Some(_)) => {}
            _ => return Err(bad(&format!("unexpected key '{k}'"))),
        }
    }
    let target = target.ok_or_else(|| bad("target is required"))?;
    if !target.starts_with('/') {
        return Err(bad("mount path must be absolute"));
    }
    match kind {
        "bind" => {
            let source = source.ok_or_else(|| bad("source is required when type is bind"))?;
            let vol = format!("{source}:{target}:{}", if readonly { "ro" } else { "rw" });
            Ok(Mount::Bind(super::spec::parse_volume(&vol)?))
        }
        "tmpfs" if source.is_some() => Err(bad("source is not allowed for tmpfs mounts")),
        "tmpfs" => Ok(Mount::Tmpfs(TmpfsMount {
            target: target.to_string(),
            size: size_v,
            mode,
        })),
        "volume" => Err(bad(
            "named volumes are not supported, use type=bind or type=tmpfs",
        )),
        other => Err(bad(&format!("mount type unknown: {other}"))),
    }
}

/// A signal name or number (`SIGTERM`, `term`, `15`) in docker's spelling (`SIGTERM`),
/// or its number as given.
pub fn signal(text: &str) -> Result<String, SpecError> {
    use super::signal::{parse_signal, signal_name};
    parse_signal(text).map_err(|_| SpecError::InvalidSignal(text.to_string()))?;
    Ok(match text.parse::<i32>() {
        Ok(n) => n.to_string(),
        Err(_) => signal_name(text),
    })
}

/// `KEY=value` labels from `-l` and `--label-file` (files first, as docker reads them).
pub fn labels(
    flags: &[String],
    files: &[String],
) -> Result<std::collections::BTreeMap<String, String>, SpecError> {
    let mut out = std::collections::BTreeMap::new();
    let mut lines: Vec<String> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|source| SpecError::EnvFile {
            path: f.clone(),
            source,
        })?;
        lines.extend(
            text.lines()
                .map(str::trim_start)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    lines.extend(flags.iter().cloned());
    for l in lines {
        let (k, v) = l.split_once('=').unwrap_or((&l, ""));
        if k.is_empty() {
            return Err(SpecError::InvalidLabel(l.clone()));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_in_dockers_spelling() {
        assert_eq!(capability("net_admin").unwrap(), "NET_ADMIN");
        assert_eq!(capability("CAP_SYS_ADMIN").unwrap(), "SYS_ADMIN");
        assert_eq!(capability("all").unwrap(), "ALL");
        let e = capability("CAP_FOO").unwrap_err();
        assert_eq!(e.to_string(), "unknown capability: \"CAP_FOO\"");
        assert_eq!(capability_number("SYS_ADMIN"), Some(21));
        assert_eq!(capability_number("CHECKPOINT_RESTORE"), Some(40));
    }

    #[test]
    fn cpus() {
        assert_eq!(nano_cpus("1.5").unwrap(), 1_500_000_000);
        assert!(nano_cpus("0").is_err());
        assert!(nano_cpus("many").is_err());
    }

    #[test]
    fn tmpfs_options() {
        let t = tmpfs("/run:size=64m,mode=1777,noexec").unwrap();
        assert_eq!(
            t,
            TmpfsMount {
                target: "/run".into(),
                size: Some(64 << 20),
                mode: Some(0o1777)
            }
        );
        assert_eq!(tmpfs("/tmp").unwrap().size, None);
        assert!(tmpfs("rel").is_err());
        assert!(tmpfs("/x:bogus=1").is_err());
    }

    #[test]
    fn mounts_bind_and_tmpfs() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        let spec = format!(
            "type=bind,source={},target=/data,readonly",
            dir.path().display()
        );
        match mount(&spec).unwrap() {
            Mount::Bind(b) => {
                assert_eq!(b.source, real.to_string_lossy());
                assert_eq!(b.target, "/data");
                assert!(b.readonly);
            }
            m => panic!("{m:?}"),
        }
        assert_eq!(
            mount("type=tmpfs,dst=/cache,tmpfs-size=1m,tmpfs-mode=700").unwrap(),
            Mount::Tmpfs(TmpfsMount {
                target: "/cache".into(),
                size: Some(1 << 20),
                mode: Some(0o700)
            })
        );
        let msg = |s: &str| mount(s).unwrap_err().to_string();
        assert_eq!(
            msg("type=tmpfs"),
            "invalid argument \"type=tmpfs\" for \"--mount\" flag: target is required"
        );
        assert!(msg("source=/x,target=/y").contains("named volumes are not supported"));
        assert!(msg("type=bind,target=/y").contains("source is required"));
        assert!(msg("type=nfs,target=/y").contains("mount type unknown: nfs"));
        assert!(msg("type=bind,src=/,target=/y,color=red").contains("unexpected key 'color'"));
    }

    #[test]
    fn signals_and_labels() {
        assert_eq!(signal("term").unwrap(), "SIGTERM");
        assert_eq!(signal("SIGUSR1").unwrap(), "SIGUSR1");
        assert_eq!(signal("9").unwrap(), "9");
        assert_eq!(
            signal("SIGNOPE").unwrap_err().to_string(),
            "invalid signal: SIGNOPE"
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("labels");
        std::fs::write(&f, "# c\na=file\nb=2\n").unwrap();
        let l = labels(
            &["a=flag".into(), "c".into()],
            &[f.to_string_lossy().into_owned()],
        )
        .unwrap();
        assert_eq!(
            l.into_iter().collect::<Vec<_>>(),
            [
                ("a".to_string(), "flag".to_string()),
                ("b".into(), "2".into()),
                ("c".into(), "".into())
            ]
        );
        assert!(labels(&["=x".into()], &[]).is_err());
    }
}
