//! `RUN --mount=…` specs: `type=cache|bind|tmpfs|secret|ssh` and their options, read as
//! BuildKit reads them (CSV fields, case-insensitive keys, values expanded at build time).

use super::error::{ExpandError, MountError};
use super::suggest::suggest;

/// What a mount is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// A directory of the context or of another stage or image (the default).
    Bind,
    /// A cache directory kept across builds.
    Cache,
    /// An empty tmpfs.
    Tmpfs,
    /// A secret file given with `--secret`.
    Secret,
    /// The SSH agent socket.
    Ssh,
}

impl MountKind {
    /// The name as written in a spec.
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Cache => "cache",
            MountKind::Tmpfs => "tmpfs",
            MountKind::Secret => "secret",
            MountKind::Ssh => "ssh",
        }
    }
}

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sharing {
    /// Used by all writers at once (the default).
    #[default]
    Shared,
    /// A new copy for each concurrent writer.
    Private,
    /// One writer at a time.
    Locked,
}

/// One parsed `--mount` spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The spec as written (before expansion).
    pub spec: String,
    /// The mount type.
    pub kind: MountKind,
    /// `from=`: a stage or image to take the source from.
    pub from: Option<String>,
    /// `source=`/`src=`: a path in the source (or a secret's id for secrets).
    pub source: Option<String>,
    /// `target=`/`dst=`/`destination=`: where it appears; may be relative to the workdir
    /// and empty for secrets (then `/run/secrets/ID`).
    pub target: String,
    /// `ro`/`rw`; read-only by default for bind, secret and ssh mounts.
    pub readonly: bool,
    /// `size=` of a tmpfs, in bytes.
    pub size: Option<u64>,
    /// `id=`: the cache's or secret's id.
    pub id: Option<String>,
    /// `sharing=` of a cache.
    pub sharing: Sharing,
    /// `required` for secrets and ssh: fail if not given.
    pub required: bool,
    /// `env=`: expose a secret as this environment variable.
    pub env: Option<String>,
    /// `mode=` (octal) for cache, secret and ssh.
    pub mode: Option<u32>,
    /// `uid=`.
    pub uid: Option<u32>,
    /// `gid=`.
    pub gid: Option<u32>,
}

/// Splits a CSV record into fields (`"` quotes a field, `""` is a quote in it).
fn csv_fields(s: &str) -> Result<Vec<String>, MountError> {
    let mut fields = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => {
                        return Err(MountError::Csv(
                            "extraneous or missing \" in quoted-field".into(),
                        ))
                    }
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            if !matches!(chars.peek(), None | Some(',')) {
                return Err(MountError::Csv(
                    "extraneous or missing \" in quoted-field".into(),
                ));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '"' {
                    return Err(MountError::Csv("bare \" in non-quoted-field".into()));
                }
                field.push(c);
                chars.next();
            }
        }
        fields.push(field);
        if chars.next().is_none() {
            return Ok(fields);
        }
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, MountError> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(MountError::Value {
            key: key.into(),
            value: value.into(),
        }),
    }
}

fn parse_u32(key: &str, value: &str, radix: u32) -> Result<u32, MountError> {
    u32::from_str_radix(value, radix).map_err(|_| MountError::Value {
        key: key.into(),
        value: value.into(),
    })
}

const KEYS: [&str; 19] = [
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
    "env",
];

/// How the values of a spec are expanded.
pub enum Expansion<'a> {
    /// At parse time: values are taken as written, and values holding a `$` (expanded only
    /// at build time) are not checked yet.
    Deferred,
    /// At build time: every value goes through the expander.
    Now(&'a dyn Fn(&str) -> Result<String, ExpandError>),
}

/// Parses the `--mount` spec `spec`.
pub fn parse(spec: &str, expansion: Expansion<'_>) -> Result<Mount, MountError> {
    let mut m = Mount {
        spec: spec.to_string(),
        kind: MountKind::Bind,
        from: None,
        source: None,
        target: String::new(),
        readonly: false,
        size: None,
        id: None,
        sharing: Sharing::Shared,
        required: false,
        env: None,
        mode: None,
        uid: None,
        gid: None,
    };
    let mut ro_auto = true;
    let mut deferred_any = false;
    let mut sharing_set = false;
    for field in csv_fields(spec)? {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v)),
            None => (field.to_ascii_lowercase(), None),
        };
        let Some(value) = value else {
            match key.as_str() {
                "readonly" | "ro" => {
                    m.readonly = true;
                    ro_auto = false;
                }
                "readwrite" | "rw" => {
                    m.readonly = false;
                    ro_auto = false;
                }
                "required" if matches!(m.kind, MountKind::Secret | MountKind::Ssh) => {
                    m.required = true
                }
                "required" => {
                    return Err(MountError::KeyForType {
                        key,
                        kind: m.kind.as_str().into(),
                    })
                }
                _ => return Err(MountError::NeedsValue(field)),
            }
            continue;
        };
        let value = match &expansion {
            Expansion::Now(expand) => expand(value)?,
            Expansion::Deferred
                if key == "from" && value.find('$').is_some_and(|i| i + 1 != value.len()) =>
            {
                return Err(MountError::FromVariable)
            }
            Expansion::Deferred if value.contains('$') => {
                deferred_any = true;
                continue;
            }
            Expansion::Deferred => value.to_string(),
        };
        set_key(&mut m, &key, value, &field, &mut ro_auto, &mut sharing_set)?;
    }
    if deferred_any {
        return Ok(m);
    }
    check(&mut m, ro_auto, sharing_set)?;
    Ok(m)
}

fn set_key(
    m: &mut Mount,
    key: &str,
    value: String,
    field: &str,
    ro_auto: &mut bool,
    sharing_set: &mut bool,
) -> Result<(), MountError> {
    let for_type = |m: &Mount| MountError::KeyForType {
        key: key.into(),
        kind: m.kind.as_str().into(),
    };
    match key {
        "type" => {
            m.kind = match value.to_ascii_lowercase().as_str() {
                "bind" => MountKind::Bind,
                "cache" => MountKind::Cache,
                "tmpfs" => MountKind::Tmpfs,
                "secret" => MountKind::Secret,
                "ssh" => MountKind::Ssh,
                _ => {
                    let kinds = ["bind", "cache", "tmpfs", "secret", "ssh"];
                    return Err(MountError::Type {
                        suggestion: suggest(&value, &kinds, true),
                        value,
                    });
                }
            }
        }
        "from" => m.from = Some(value),
        "source" | "src" => m.source = Some(value),
        "target" | "dst" | "destination" => m.target = value,
        "readonly" | "ro" => {
            m.readonly = parse_bool(key, &value)?;
            *ro_auto = false;
        }
        "readwrite" | "rw" => {
            m.readonly = !parse_bool(key, &value)?;
            *ro_auto = false;
        }
        "required" if matches!(m.kind, MountKind::Secret | MountKind::Ssh) => {
            m.required = parse_bool(key, &value)?
        }
        "required" => return Err(for_type(m)),
        "size" if m.kind == MountKind::Tmpfs => {
            m.size = Some(
                crate::units::ram_in_bytes(&value).ok_or_else(|| MountError::Value {
                    key: key.into(),
                    value: value.clone(),
                })?,
            )
        }
        "size" => return Err(for_type(m)),
        "id" => m.id = Some(value),
        "sharing" => {
            m.sharing = match value.to_ascii_lowercase().as_str() {
                "shared" => Sharing::Shared,
                "private" => Sharing::Private,
                "locked" => Sharing::Locked,
                _ => {
                    let modes = ["shared", "private", "locked"];
                    return Err(MountError::Sharing {
                        suggestion: suggest(&value, &modes, true),
                        value,
                    });
                }
            };
            *sharing_set = true;
        }
        "mode" => m.mode = Some(parse_u32(key, &value, 8)?),
        "uid" => m.uid = Some(parse_u32(key, &value, 10)?),
        "gid" => m.gid = Some(parse_u32(key, &value, 10)?),
        "env" => m.env = Some(value),
        _ => {
            return Err(MountError::UnknownKey {
                key: key.into(),
                field: field.into(),
                suggestion: suggest(key, &KEYS, true),
            })
        }
    }
    Ok(())
}

/// The checks that look at the whole spec.
fn check(m: &mut Mount, ro_auto: bool, sharing_set: bool) -> Result<(), MountError> {
    let kind = m.kind.as_str().to_string();
    if !matches!(
        m.kind,
        MountKind::Secret | MountKind::Ssh | MountKind::Cache
    ) {
        for (key, set) in [
            ("mode", m.mode.is_some()),
            ("uid", m.uid.is_some()),
            ("gid", m.gid.is_some()),
        ] {
            if set {
                return Err(MountError::FileInfo { key, kind });
            }
        }
    }
    if ro_auto {
        m.readonly = !matches!(m.kind, MountKind::Cache | MountKind::Tmpfs);
    }
    if m.kind == MountKind::Secret {
        if m.from.is_some() {
            return Err(MountError::SecretFrom);
        }
        if sharing_set {
            return Err(MountError::SecretSharing);
        }
        if m.source.is_none() && m.target.is_empty() && m.id.is_none() {
            return Err(MountError::SecretTarget);
        }
        if m.source.is_some() && m.id.is_some() {
            return Err(MountError::SecretSourceAndId);
        }
    }
    if sharing_set && m.kind != MountKind::Cache {
        return Err(MountError::SharingNotCache(kind));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv() {
        assert_eq!(csv_fields("a,b=c").unwrap(), vec!["a", "b=c"]);
        assert_eq!(csv_fields("\"a,b\",c").unwrap(), vec!["a,b", "c"]);
        assert!(csv_fields("a\"b").is_err());
    }
}
