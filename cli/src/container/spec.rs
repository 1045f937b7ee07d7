//! A container's run configuration: the image's defaults with the `run` flags applied,
//! as docker merges them.

use crate::image::{ContainerConfig, ImageConfig};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The PATH docker gives a container whose image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A host directory or file bound into the container (`-v HOST:CTR[:ro]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMount {
    /// Absolute host path.
    pub source: String,
    /// Absolute path in the container.
    pub target: String,
    /// Mounted read-only.
    pub readonly: bool,
}

/// Everything needed to start (and restart) a container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The image's entrypoint, or `--entrypoint`.
    pub entrypoint: Vec<String>,
    /// The command: the arguments after the image, or the image's `Cmd`.
    pub cmd: Vec<String>,
    /// `KEY=value` pairs: the image's, then `--env-file`, then `-e`.
    pub env: Vec<String>,
    /// Working directory (absolute).
    pub working_dir: String,
    /// `USER[:GROUP]` as given (name or number), empty for root.
    pub user: String,
    /// The container's host name.
    pub hostname: String,
    /// Allocate a pseudo-terminal.
    pub tty: bool,
    /// Keep standard input open.
    pub interactive: bool,
    /// `host` or `none`.
    pub network: String,
    /// Bind mounts.
    pub mounts: Vec<BindMount>,
    /// Remove the container when it exits.
    pub auto_remove: bool,
}

impl RunConfig {
    /// The process's argument vector: entrypoint then command.
    pub fn argv(&self) -> Vec<String> {
        self.entrypoint
            .iter()
            .chain(self.cmd.iter())
            .cloned()
            .collect()
    }

    /// The command as `ps` shows it.
    pub fn command_line(&self) -> String {
        self.argv().join(" ")
    }

    /// The image config's `config` section for an image committed from this container.
    pub fn to_container_config(&self, base: Option<&ContainerConfig>) -> ContainerConfig {
        let mut c = base.cloned().unwrap_or_default();
        c.env = Some(self.env.clone()).filter(|e| !e.is_empty());
        c.cmd = Some(self.cmd.clone()).filter(|e| !e.is_empty());
        c.entrypoint = Some(self.entrypoint.clone()).filter(|e| !e.is_empty());
        c.working_dir = Some(self.working_dir.clone()).filter(|w| !w.is_empty() && w != "/");
        c.user = Some(self.user.clone()).filter(|u| !u.is_empty());
        c
    }
}

/// The `run` flags that change the configuration.
#[derive(Default)]
pub struct RunFlags<'a> {
    /// Arguments after the image.
    pub command: &'a [String],
    /// `--entrypoint` (an empty string clears the image's).
    pub entrypoint: Option<&'a str>,
    /// `-e`.
    pub env: &'a [String],
    /// `--env-file`.
    pub env_files: &'a [String],
    /// `-w`.
    pub workdir: Option<&'a str>,
    /// `-u`.
    pub user: Option<&'a str>,
    /// `-v`.
    pub volumes: &'a [String],
    /// `--hostname`.
    pub hostname: Option<&'a str>,
    /// `--network`.
    pub network: Option<&'a str>,
}

/// Merges an image's config with the flags of `run`.
pub fn build(image: &ImageConfig, flags: &RunFlags<'_>, id: &str) -> Result<RunConfig> {
    let c = image.config.clone().unwrap_or_default();
    let entrypoint = match flags.entrypoint {
        Some("") => Vec::new(),
        Some(e) => vec![e.to_string()],
        None => c.entrypoint.clone().unwrap_or_default(),
    };
    let cmd = if !flags.command.is_empty() {
        flags.command.to_vec()
    } else if flags.entrypoint.is_some() {
        // docker drops the image's Cmd when --entrypoint is given.
        Vec::new()
    } else {
        c.cmd.clone().unwrap_or_default()
    };
    if entrypoint.is_empty() && cmd.is_empty() {
        bail!("no command specified");
    }
    let mut env = c.env.clone().unwrap_or_default();
    for f in flags.env_files {
        let text = std::fs::read_to_string(f).with_context(|| format!("open {f}"))?;
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            set_env(&mut env, line)?;
        }
    }
    for e in flags.env {
        set_env(&mut env, e)?;
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    let working_dir = match flags.workdir {
        Some(w) if !w.starts_with('/') => {
            bail!("the working directory '{w}' is invalid, it needs to be an absolute path")
        }
        Some(w) => w.to_string(),
        None => c
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into()),
    };
    let network = match flags.network.unwrap_or("host") {
        n @ ("host" | "none") => n.to_string(),
        "bridge" | "default" => "host".to_string(),
        other => bail!("network {other} not found (strata supports host and none)"),
    };
    let mut mounts = Vec::new();
    for v in flags.volumes {
        mounts.push(parse_volume(v)?);
    }
    let hostname = match flags.hostname {
        Some(h) => {
            if h.is_empty() || h.len() > 64 || h.contains('/') {
                bail!("invalid hostname {h:?}");
            }
            h.to_string()
        }
        None => id[..12].to_string(),
    };
    Ok(RunConfig {
        entrypoint,
        cmd,
        env,
        working_dir,
        user: flags
            .user
            .map(str::to_string)
            .or(c.user.clone())
            .unwrap_or_default(),
        hostname,
        network,
        mounts,
        ..Default::default()
    })
}

/// `-e KEY=value` sets, `-e KEY` takes the value from strata's own environment (and
/// is skipped when unset), as docker does.
fn set_env(env: &mut Vec<String>, spec: &str) -> Result<()> {
    let (key, value) = match spec.split_once('=') {
        Some((k, v)) => (k.to_string(), v.to_string()),
        None => match std::env::var(spec) {
            Ok(v) => (spec.to_string(), v),
            Err(_) => return Ok(()),
        },
    };
    if key.is_empty() {
        bail!("invalid environment variable: {spec}");
    }
    env.retain(|e| e.split_once('=').map(|(k, _)| k) != Some(key.as_str()) && e != &key);
    env.push(format!("{key}={value}"));
    Ok(())
}

/// Parses `-v HOST:CTR[:ro|:rw]`.
pub fn parse_volume(v: &str) -> Result<BindMount> {
    let parts: Vec<&str> = v.split(':').collect();
    let (source, target, readonly) = match parts.as_slice() {
        [s, t] => (*s, *t, false),
        [s, t, "ro"] => (*s, *t, true),
        [s, t, "rw"] => (*s, *t, false),
        [_, _, o] => bail!("invalid mode: {o}"),
        _ => bail!("invalid volume specification: '{v}'"),
    };
    if !source.starts_with('/') {
        bail!("invalid volume specification: '{v}': named volumes are not supported, use an absolute host path");
    }
    if !target.starts_with('/') {
        bail!("invalid volume specification: '{v}': mount path must be absolute");
    }
    let source = std::fs::canonicalize(source).with_context(|| {
        format!("invalid volume specification: '{v}': bind source path does not exist: {source}")
    })?;
    Ok(BindMount {
        source: source.to_string_lossy().into_owned(),
        target: target.to_string(),
        readonly,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(entry: Option<&[&str]>, cmd: Option<&[&str]>) -> ImageConfig {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        ImageConfig {
            config: Some(ContainerConfig {
                entrypoint: entry.map(v),
                cmd: cmd.map(v),
                env: Some(vec!["PATH=/bin".into(), "A=1".into()]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn command_replaces_cmd_and_keeps_entrypoint() {
        let cmd = vec!["-c".to_string(), "x".to_string()];
        let flags = RunFlags {
            command: &cmd,
            ..Default::default()
        };
        let c = build(&image(Some(&["sh"]), Some(&["-l"])), &flags, ID).unwrap();
        assert_eq!(c.argv(), ["sh", "-c", "x"]);
        assert_eq!(c.hostname, "0123456789ab");
    }

    #[test]
    fn entrypoint_flag_drops_image_cmd() {
        let flags = RunFlags {
            entrypoint: Some("/bin/echo"),
            ..Default::default()
        };
        let c = build(&image(Some(&["sh"]), Some(&["-l"])), &flags, ID).unwrap();
        assert_eq!(c.argv(), ["/bin/echo"]);
    }

    #[test]
    fn no_command_is_an_error() {
        let e = build(&image(None, None), &RunFlags::default(), ID).unwrap_err();
        assert_eq!(e.to_string(), "no command specified");
    }

    #[test]
    fn env_flags_override_image_env() {
        let env = vec!["A=2".to_string(), "B=3".to_string()];
        let flags = RunFlags {
            env: &env,
            ..Default::default()
        };
        let c = build(&image(None, Some(&["sh"])), &flags, ID).unwrap();
        assert_eq!(c.env, ["PATH=/bin", "A=2", "B=3"]);
    }

    #[test]
    fn relative_workdir_and_bad_volume_are_refused() {
        let flags = RunFlags {
            workdir: Some("rel"),
            ..Default::default()
        };
        assert!(build(&image(None, Some(&["sh"])), &flags, ID).is_err());
        assert!(parse_volume("data:/x").is_err());
        assert!(parse_volume("/tmp:rel").is_err());
        assert!(parse_volume("/tmp:/x:zz").is_err());
        assert!(parse_volume("/tmp:/x:ro").unwrap().readonly);
    }
}
