//! A container's run configuration: the image's defaults with the `run` flags applied,
//! as docker merges them. This is what a container record keeps (as JSON), and what a
//! builder fills in to run a step; `plan` turns it into what the container needs.

use super::network::ports::{self, PortError, PortMapping};
use super::options;
use crate::config::NetworkBackend;
use crate::image::{ContainerConfig, ImageConfig};
use serde::{Deserialize, Serialize};

/// The PATH docker gives a container whose image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A `run` flag that cannot be applied; the message is docker's where docker has one.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Neither the image nor the flags give a command.
    #[error("no command specified")]
    NoCommand,
    /// An `--env-file` that cannot be read.
    #[error("open {path}")]
    EnvFile {
        /// The file as given.
        path: String,
        /// Why it cannot be read.
        #[source]
        source: std::io::Error,
    },
    /// `-e =value` and the like.
    #[error("invalid environment variable: {0}")]
    InvalidEnv(String),
    /// `-w` with a relative path.
    #[error("the working directory '{0}' is invalid, it needs to be an absolute path")]
    RelativeWorkdir(String),
    /// `--network` naming a network strata does not have.
    #[error(
        "network {0} not found (strata has bridge, host, none, private, pasta and slirp4netns)"
    )]
    UnknownNetwork(String),
    /// `-p` or an EXPOSEd port that cannot be published.
    #[error(transparent)]
    Port(#[from] PortError),
    /// `-p` with `--network none`.
    #[error("conflicting options: port publishing and the container type network mode")]
    PublishWithoutNetwork,
    /// `--add-host` that is not `NAME:IP`.
    #[error("invalid argument \"{0}\" for \"--add-host\" flag: bad format for add-host: \"{0}\"")]
    InvalidHost(String),
    /// `--cap-add`/`--cap-drop` naming no capability.
    #[error("unknown capability: \"{0}\"")]
    UnknownCapability(String),
    /// `--cpus` that is not a positive number.
    #[error("invalid argument \"{0}\" for \"--cpus\" flag: invalid number of CPUs")]
    InvalidCpus(String),
    /// `-m` that is not a size, or below docker's minimum.
    #[error("invalid argument \"{0}\" for \"-m, --memory\" flag: {1}")]
    InvalidMemory(String, &'static str),
    /// `--tmpfs` that is not `PATH[:size=…,mode=…]`.
    #[error("invalid argument \"{0}\" for \"--tmpfs\" flag")]
    InvalidTmpfs(String),
    /// `--mount` that cannot be used.
    #[error("invalid argument \"{spec}\" for \"--mount\" flag: {why}")]
    InvalidMount {
        /// The flag's value.
        spec: String,
        /// What is wrong with it.
        why: String,
    },
    /// `--stop-signal` naming no signal.
    #[error("invalid signal: {0}")]
    InvalidSignal(String),
    /// `-l =value`.
    #[error("invalid label: {0}")]
    InvalidLabel(String),
    /// `--platform` other than the host's.
    #[error(
        "image platform {0} is not the host's ({1}): strata runs containers of the host's \
         platform only"
    )]
    Platform(String, String),
    /// `--dns` that is not an IP address.
    #[error("invalid argument \"{0}\" for \"--dns\" flag: {0} is not an ip address")]
    InvalidDns(String),
    /// `-h` that cannot be a host name.
    #[error("invalid hostname {0:?}")]
    InvalidHostname(String),
    /// `-v` with a mode other than `ro` or `rw`.
    #[error("invalid mode: {0}")]
    InvalidMode(String),
    /// `-v` that is not `HOST:CTR[:MODE]` with absolute paths.
    #[error("invalid volume specification: '{spec}'{why}")]
    InvalidVolume {
        /// The flag's value.
        spec: String,
        /// What is wrong with it (empty, or `: reason`).
        why: String,
    },
    /// `-v` whose host path does not exist.
    #[error(
        "invalid volume specification: '{spec}': bind source path does not exist: {source_path}"
    )]
    MissingSource {
        /// The flag's value.
        spec: String,
        /// The host path.
        source_path: String,
        /// Why it cannot be resolved.
        #[source]
        source: std::io::Error,
    },
}

/// The network a container is on (`--network`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// docker's default (`bridge`, `default`, and podman's `private`): a network
    /// namespace of its own with outbound access and published ports (through pasta).
    #[default]
    Bridge,
    /// The host's network namespace.
    Host,
    /// A network namespace of its own with only a loopback interface.
    None,
}

impl NetworkMode {
    /// Parses `--network`: `bridge` (or `default`, `private`), `host` or `none`.
    pub fn parse(name: &str) -> Result<NetworkMode, SpecError> {
        match name {
            "bridge" | "default" | "private" => Ok(NetworkMode::Bridge),
            "host" => Ok(NetworkMode::Host),
            "none" => Ok(NetworkMode::None),
            "pasta" | "slirp4netns" => Ok(NetworkMode::Bridge),
            other => Err(SpecError::UnknownNetwork(other.to_string())),
        }
    }

    /// The backend `--network` names (`pasta`, `slirp4netns`), if any.
    pub fn backend(name: &str) -> Option<NetworkBackend> {
        match name {
            "pasta" => Some(NetworkBackend::Pasta),
            "slirp4netns" => Some(NetworkBackend::Slirp4netns),
            _ => None,
        }
    }

    /// Whether the container gets a network namespace of its own.
    pub fn own_namespace(self) -> bool {
        self != NetworkMode::Host
    }
}

/// A host directory or file bound into the container (`-v HOST:CTR[:ro]`, or a
/// builder's cache directory).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMount {
    /// Absolute host path.
    pub source: String,
    /// Absolute path in the container.
    pub target: String,
    /// Mounted read-only.
    pub readonly: bool,
}

/// An image's filesystem mounted in the container (a builder's
/// `RUN --mount=type=bind,from=STAGE`): an overlay of its layers with a writable layer of
/// its own in the container's directory, so that what is written there goes with the
/// container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayersMount {
    /// The layers' chain IDs, bottom first.
    pub layers: Vec<store_layout::Digest>,
    /// The path in that filesystem that is mounted (resolved inside it).
    pub source: String,
    /// Absolute path in the container.
    pub target: String,
    /// Mounted read-only.
    pub readonly: bool,
}

/// An empty in-memory filesystem mounted in the container (a builder's tmpfs mount).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TmpfsMount {
    /// Absolute path in the container.
    pub target: String,
    /// Size limit in bytes (the kernel's default, half the memory, when none).
    #[serde(default)]
    pub size: Option<u64>,
    /// Permissions of its root (the kernel's default, 1777, when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

/// cgroup limits (`-m`, `--cpus`, `--pids-limit`); none set means no cgroup of its own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// Memory limit in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// CPU limit in billionths of a CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nano_cpus: Option<u64>,
    /// Most processes at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
}

impl Resources {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.memory.is_some() || self.nano_cpus.is_some() || self.pids_limit.is_some()
    }
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
    /// The network.
    pub network: NetworkMode,
    /// Bind mounts.
    pub mounts: Vec<BindMount>,
    /// tmpfs mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<TmpfsMount>,
    /// Image filesystems mounted in it (builds only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layer_mounts: Vec<LayersMount>,
    /// Remove the container when it exits.
    pub auto_remove: bool,
    /// What joins it to the host on the bridge network, when `--network pasta` or
    /// `--network slirp4netns` chose (otherwise `network-backend`, or the user's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_backend: Option<NetworkBackend>,
    /// Published ports (`-p`, `-P`), each with its host port chosen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortMapping>,
    /// `--dns`: the nameservers of its resolv.conf instead of the host's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    /// `--add-host NAME:IP`: more lines for its /etc/hosts, as `(name, ip)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<(String, String)>,
    /// `--read-only`: the image's filesystem is mounted read-only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// `--init`: a reaper is PID 1 and runs the command as its child.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
    /// `--privileged`: every capability, no masked paths, the host's devices.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
    /// `--cap-add`, docker's spelling (`NET_ADMIN`, `ALL`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// `--cap-drop`, docker's spelling.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// The image's labels with `-l` and `--label-file` over them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// cgroup limits.
    #[serde(default, skip_serializing_if = "is_default")]
    pub resources: Resources,
    /// The signal `stop` sends first (`--stop-signal`, else the image's StopSignal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
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

    /// The published ports as `ps` shows them: `0.0.0.0:8080->80/tcp, …`.
    pub fn ports_column(&self) -> String {
        let shown: Vec<String> = self.ports.iter().map(PortMapping::display).collect();
        shown.join(", ")
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
    /// `-p`.
    pub publish: &'a [String],
    /// `-P`.
    pub publish_all: bool,
    /// `--dns`.
    pub dns: &'a [String],
    /// `--add-host`.
    pub add_hosts: &'a [String],
    /// `--mount`.
    pub mounts: &'a [String],
    /// `--tmpfs`.
    pub tmpfs: &'a [String],
    /// `--read-only`.
    pub read_only: bool,
    /// `--init`.
    pub init: bool,
    /// `--privileged`.
    pub privileged: bool,
    /// `--cap-add`.
    pub cap_add: &'a [String],
    /// `--cap-drop`.
    pub cap_drop: &'a [String],
    /// `-l`.
    pub labels: &'a [String],
    /// `--label-file`.
    pub label_files: &'a [String],
    /// `-m`.
    pub memory: Option<&'a str>,
    /// `--cpus`.
    pub cpus: Option<&'a str>,
    /// `--pids-limit`.
    pub pids_limit: Option<i64>,
    /// `--platform`.
    pub platform: Option<&'a str>,
    /// `--stop-signal`.
    pub stop_signal: Option<&'a str>,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub interactive: bool,
    /// `--rm`.
    pub auto_remove: bool,
}

/// Merges an image's config with the flags of `run`.
pub fn build(image: &ImageConfig, flags: &RunFlags<'_>, id: &str) -> Result<RunConfig, SpecError> {
    let c = image.config.clone().unwrap_or_default();
    let (entrypoint, cmd) = command(&c, flags)?;
    let working_dir = match flags.workdir {
        Some(w) if !w.starts_with('/') => return Err(SpecError::RelativeWorkdir(w.to_string())),
        Some(w) => w.to_string(),
        None => c
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into()),
    };
    let network_name = flags.network.unwrap_or("bridge");
    let network = NetworkMode::parse(network_name)?;
    let network_backend = NetworkMode::backend(network_name);
    let ports = published(&c, flags, network)?;
    let mut mounts: Vec<BindMount> = flags
        .volumes
        .iter()
        .map(|v| parse_volume(v))
        .collect::<Result<_, _>>()?;
    let mut tmpfs = flags
        .tmpfs
        .iter()
        .map(|t| options::tmpfs(t))
        .collect::<Result<Vec<_>, _>>()?;
    for m in flags.mounts {
        match options::mount(m)? {
            options::Mount::Bind(b) => mounts.push(b),
            options::Mount::Tmpfs(t) => tmpfs.push(t),
        }
    }
    check_platform(flags.platform)?;
    let hostname = match flags.hostname {
        Some(h) if h.is_empty() || h.len() > 64 || h.contains('/') => {
            return Err(SpecError::InvalidHostname(h.to_string()))
        }
        Some(h) => h.to_string(),
        None => id[..12].to_string(),
    };
    Ok(RunConfig {
        entrypoint,
        cmd,
        env: environment(&c, flags)?,
        working_dir,
        user: flags
            .user
            .map(str::to_string)
            .or(c.user.clone())
            .unwrap_or_default(),
        hostname,
        tty: flags.tty,
        interactive: flags.interactive,
        network,
        network_backend,
        mounts,
        tmpfs,
        layer_mounts: Vec::new(),
        auto_remove: flags.auto_remove,
        read_only: flags.read_only,
        init: flags.init,
        privileged: flags.privileged,
        cap_add: caps(flags.cap_add)?,
        cap_drop: caps(flags.cap_drop)?,
        labels: {
            let mut l = c.labels.clone().unwrap_or_default();
            l.extend(options::labels(flags.labels, flags.label_files)?);
            l
        },
        resources: resources(flags)?,
        stop_signal: match flags.stop_signal {
            Some(s) => Some(options::signal(s)?),
            None => c.stop_signal.clone(),
        },
        ports,
        dns: flags
            .dns
            .iter()
            .map(|d| match d.parse::<std::net::IpAddr>() {
                Ok(_) => Ok(d.clone()),
                Err(_) => Err(SpecError::InvalidDns(d.clone())),
            })
            .collect::<Result<_, _>>()?,
        extra_hosts: flags
            .add_hosts
            .iter()
            .map(|h| parse_add_host(h))
            .collect::<Result<_, _>>()?,
    })
}

fn caps(names: &[String]) -> Result<Vec<String>, SpecError> {
    names.iter().map(|n| options::capability(n)).collect()
}

/// docker's smallest memory limit.
const MIN_MEMORY: u64 = 6 << 20;

fn resources(flags: &RunFlags<'_>) -> Result<Resources, SpecError> {
    let memory = match flags.memory {
        Some(m) => {
            let bytes = crate::units::ram_in_bytes(m)
                .ok_or_else(|| SpecError::InvalidMemory(m.to_string(), "invalid size"))?;
            if bytes < MIN_MEMORY {
                return Err(SpecError::InvalidMemory(
                    m.to_string(),
                    "Minimum memory limit allowed is 6MB",
                ));
            }
            Some(bytes)
        }
        None => None,
    };
    Ok(Resources {
        memory,
        nano_cpus: flags.cpus.map(options::nano_cpus).transpose()?,
        pids_limit: flags.pids_limit.filter(|n| *n > 0),
    })
}

/// `--platform`: only the host's (`linux`, `linux/amd64`, …) is run.
fn check_platform(p: Option<&str>) -> Result<(), SpecError> {
    let Some(p) = p else { return Ok(()) };
    let host = crate::image::platform::Platform::host();
    let mut parts = p.split('/');
    let os = parts.next().unwrap_or("");
    let arch = parts.next();
    let same = os == host.os && arch.is_none_or(|a| a == host.architecture);
    if same {
        Ok(())
    } else {
        Err(SpecError::Platform(
            p.to_string(),
            format!("{}/{}", host.os, host.architecture),
        ))
    }
}

/// The ports `-p` and `-P` publish, with free host ports chosen where none was given.
/// docker drops them on the host's network, and refuses them without a network.
fn published(
    c: &ContainerConfig,
    flags: &RunFlags<'_>,
    network: NetworkMode,
) -> Result<Vec<PortMapping>, SpecError> {
    let mut list = flags
        .publish
        .iter()
        .map(|p| ports::parse_publish(p))
        .collect::<Result<Vec<_>, _>>()?;
    if flags.publish_all {
        let exposed: Vec<String> = c
            .exposed_ports
            .iter()
            .flat_map(|m| m.keys().cloned())
            .collect();
        for p in ports::exposed(&exposed)? {
            let taken = list
                .iter()
                .any(|q| q.container_port == p.container_port && q.protocol == p.protocol);
            if !taken {
                list.push(p);
            }
        }
    }
    match network {
        NetworkMode::Host => return Ok(Vec::new()),
        NetworkMode::None if !list.is_empty() => return Err(SpecError::PublishWithoutNetwork),
        _ => {}
    }
    ports::assign_free_ports(&mut list)?;
    Ok(list)
}

/// Parses `--add-host NAME:IP` (an IPv6 address may hold colons; `NAME=IP` too).
fn parse_add_host(spec: &str) -> Result<(String, String), SpecError> {
    let (name, ip) = spec
        .split_once('=')
        .or_else(|| spec.split_once(':'))
        .ok_or_else(|| SpecError::InvalidHost(spec.to_string()))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || ip.parse::<std::net::IpAddr>().is_err() {
        return Err(SpecError::InvalidHost(spec.to_string()));
    }
    Ok((name.to_string(), ip.to_string()))
}

/// The entrypoint and command, as docker picks them from the image and the flags.
fn command(
    c: &ContainerConfig,
    flags: &RunFlags<'_>,
) -> Result<(Vec<String>, Vec<String>), SpecError> {
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
        return Err(SpecError::NoCommand);
    }
    Ok((entrypoint, cmd))
}

/// The image's environment, then the `--env-file`s, then `-e`, with docker's PATH
/// when none sets one.
fn environment(c: &ContainerConfig, flags: &RunFlags<'_>) -> Result<Vec<String>, SpecError> {
    let mut env = c.env.clone().unwrap_or_default();
    for f in flags.env_files {
        let text = std::fs::read_to_string(f).map_err(|source| SpecError::EnvFile {
            path: f.clone(),
            source,
        })?;
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
    Ok(env)
}

/// `-e KEY=value` sets, `-e KEY` takes the value from strata's own environment (and
/// is skipped when unset), as docker does.
fn set_env(env: &mut Vec<String>, spec: &str) -> Result<(), SpecError> {
    let (key, value) = match spec.split_once('=') {
        Some((k, v)) => (k.to_string(), v.to_string()),
        None => match std::env::var(spec) {
            Ok(v) => (spec.to_string(), v),
            Err(_) => return Ok(()),
        },
    };
    if key.is_empty() {
        return Err(SpecError::InvalidEnv(spec.to_string()));
    }
    env.retain(|e| e.split_once('=').map(|(k, _)| k) != Some(key.as_str()) && e != &key);
    env.push(format!("{key}={value}"));
    Ok(())
}

/// Parses `-v HOST:CTR[:ro|:rw]`.
pub fn parse_volume(v: &str) -> Result<BindMount, SpecError> {
    let invalid = |why: &str| SpecError::InvalidVolume {
        spec: v.to_string(),
        why: why.to_string(),
    };
    let parts: Vec<&str> = v.split(':').collect();
    let (source, target, readonly) = match parts.as_slice() {
        [s, t] => (*s, *t, false),
        [s, t, "ro"] => (*s, *t, true),
        [s, t, "rw"] => (*s, *t, false),
        [_, _, o] => return Err(SpecError::InvalidMode(o.to_string())),
        _ => return Err(invalid("")),
    };
    if !source.starts_with('/') {
        return Err(invalid(
            ": named volumes are not supported, use an absolute host path",
        ));
    }
    if !target.starts_with('/') {
        return Err(invalid(": mount path must be absolute"));
    }
    let resolved = std::fs::canonicalize(source).map_err(|e| SpecError::MissingSource {
        spec: v.to_string(),
        source_path: source.to_string(),
        source: e,
    })?;
    Ok(BindMount {
        source: resolved.to_string_lossy().into_owned(),
        target: target.to_string(),
        readonly,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn strings(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    /// An image with this entrypoint and command, `PATH=/bin A=1`, and `more` applied.
    fn image_with(
        entry: Option<&[&str]>,
        cmd: Option<&[&str]>,
        more: impl FnOnce(&mut ContainerConfig),
    ) -> ImageConfig {
        let mut c = ContainerConfig {
            entrypoint: entry.map(strings),
            cmd: cmd.map(strings),
            env: Some(strings(&["PATH=/bin", "A=1"])),
            ..Default::default()
        };
        more(&mut c);
        ImageConfig {
            config: Some(c),
            ..Default::default()
        }
    }

    fn image(entry: Option<&[&str]>, cmd: Option<&[&str]>) -> ImageConfig {
        image_with(entry, cmd, |_| {})
    }

    /// `build` on an image whose command is `sh`.
    fn with_sh(flags: RunFlags<'_>) -> Result<RunConfig, SpecError> {
        build(&image(None, Some(&["sh"])), &flags, ID)
    }

    /// `with_sh` with these `-e` flags.
    fn with_env(env: &[&str]) -> Result<RunConfig, SpecError> {
        let env = strings(env);
        with_sh(RunFlags {
            env: &env,
            ..Default::default()
        })
    }

    #[test]
    fn command_replaces_cmd_and_keeps_entrypoint() {
        let cmd = strings(&["-c", "x"]);
        let flags = RunFlags {
            command: &cmd,
            ..Default::default()
        };
        let c = build(&image(Some(&["sh"]), Some(&["-l"])), &flags, ID).unwrap();
        assert_eq!(c.argv(), ["sh", "-c", "x"]);
        assert_eq!(c.command_line(), "sh -c x");
    }

    #[test]
    fn image_entrypoint_and_cmd_are_the_default() {
        let c = build(
            &image(Some(&["sh"]), Some(&["-l"])),
            &RunFlags::default(),
            ID,
        )
        .unwrap();
        assert_eq!(
            (c.entrypoint.as_slice(), c.cmd.as_slice()),
            (&strings(&["sh"])[..], &strings(&["-l"])[..])
        );
    }

    #[test]
    fn entrypoint_flag_drops_image_cmd() {
        let flags = RunFlags {
            entrypoint: Some("/bin/echo"),
            ..Default::default()
        };
        let c = build(&image(Some(&["sh"]), Some(&["-l"])), &flags, ID).unwrap();
        assert_eq!(c.argv(), ["/bin/echo"]);
        let args = strings(&["hi"]);
        let flags = RunFlags {
            entrypoint: Some("/bin/echo"),
            command: &args,
            ..Default::default()
        };
        let c = build(&image(Some(&["sh"]), Some(&["-l"])), &flags, ID).unwrap();
        assert_eq!(c.argv(), ["/bin/echo", "hi"]);
    }

    #[test]
    fn empty_entrypoint_clears_the_images() {
        let args = strings(&["ls"]);
        let flags = RunFlags {
            entrypoint: Some(""),
            command: &args,
            ..Default::default()
        };
        let c = build(&image(Some(&["sh", "-c"]), Some(&["-l"])), &flags, ID).unwrap();
        assert!(c.entrypoint.is_empty());
        assert_eq!(c.argv(), ["ls"]);
        let flags = RunFlags {
            entrypoint: Some(""),
            ..Default::default()
        };
        let e = build(&image(Some(&["sh"]), Some(&["-l"])), &flags, ID).unwrap_err();
        assert!(matches!(e, SpecError::NoCommand));
    }

    #[test]
    fn no_command_is_an_error() {
        let e = build(&image(None, None), &RunFlags::default(), ID).unwrap_err();
        assert!(matches!(e, SpecError::NoCommand));
        assert_eq!(e.to_string(), "no command specified");
    }

    #[test]
    fn env_flags_override_image_env() {
        let c = with_env(&["A=2", "B=3"]).unwrap();
        assert_eq!(c.env, ["PATH=/bin", "A=2", "B=3"]);
    }

    #[test]
    fn env_name_alone_takes_stratas_value_or_is_skipped() {
        // PATH is set in any test process; this name is not.
        let host_path = std::env::var("PATH").unwrap();
        let c = with_env(&["PATH", "STRATA_TEST_SURELY_UNSET_VARIABLE"]).unwrap();
        assert_eq!(c.env, ["A=1".to_string(), format!("PATH={host_path}")]);
    }

    #[test]
    fn env_without_a_name_is_refused() {
        let e = with_env(&["=x"]).unwrap_err();
        assert!(matches!(e, SpecError::InvalidEnv(_)));
        assert_eq!(e.to_string(), "invalid environment variable: =x");
    }

    #[test]
    fn env_file_comes_after_the_image_and_before_e() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("env.list");
        std::fs::write(&f, "# comment\n\n  B=from-file\nA=file\n").unwrap();
        let files = vec![f.to_string_lossy().into_owned()];
        let env = strings(&["A=flag"]);
        let c = with_sh(RunFlags {
            env_files: &files,
            env: &env,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.env, ["PATH=/bin", "B=from-file", "A=flag"]);
    }

    #[test]
    fn missing_env_file_names_the_file() {
        let files = strings(&["/nonexistent/env.list"]);
        let e = with_sh(RunFlags {
            env_files: &files,
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(&e, SpecError::EnvFile { path, .. } if path == "/nonexistent/env.list"));
        assert_eq!(e.to_string(), "open /nonexistent/env.list");
    }

    #[test]
    fn docker_path_is_added_when_nothing_sets_one() {
        let img = image_with(None, Some(&["sh"]), |c| c.env = None);
        let c = build(&img, &RunFlags::default(), ID).unwrap();
        assert_eq!(c.env, [format!("PATH={DEFAULT_PATH}")]);
    }

    #[test]
    fn workdir_flag_image_and_default() {
        let c = with_sh(RunFlags {
            workdir: Some("/srv"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.working_dir, "/srv");
        let img = image_with(None, Some(&["sh"]), |c| c.working_dir = Some("/app".into()));
        assert_eq!(
            build(&img, &RunFlags::default(), ID).unwrap().working_dir,
            "/app"
        );
        let img = image_with(None, Some(&["sh"]), |c| c.working_dir = Some(String::new()));
        assert_eq!(
            build(&img, &RunFlags::default(), ID).unwrap().working_dir,
            "/"
        );
        let e = with_sh(RunFlags {
            workdir: Some("rel"),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the working directory 'rel' is invalid, it needs to be an absolute path"
        );
    }

    #[test]
    fn user_flag_overrides_the_images() {
        let img = image_with(None, Some(&["sh"]), |c| c.user = Some("www".into()));
        assert_eq!(build(&img, &RunFlags::default(), ID).unwrap().user, "www");
        let flags = RunFlags {
            user: Some("1000:50"),
            ..Default::default()
        };
        assert_eq!(build(&img, &flags, ID).unwrap().user, "1000:50");
        assert_eq!(with_sh(RunFlags::default()).unwrap().user, "");
    }

    #[test]
    fn hostname_flag_or_the_short_id() {
        assert_eq!(
            with_sh(RunFlags::default()).unwrap().hostname,
            "0123456789ab"
        );
        let c = with_sh(RunFlags {
            hostname: Some("box"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.hostname, "box");
        for bad in ["", "a/b", &"x".repeat(65)] {
            let e = with_sh(RunFlags {
                hostname: Some(bad),
                ..Default::default()
            })
            .unwrap_err();
            assert!(matches!(e, SpecError::InvalidHostname(_)), "{bad:?}");
        }
    }

    #[test]
    fn network_modes() {
        let net = |n: Option<&str>| {
            with_sh(RunFlags {
                network: n,
                ..Default::default()
            })
            .map(|c| c.network)
        };
        assert_eq!(net(None).unwrap(), NetworkMode::Bridge);
        assert_eq!(net(Some("bridge")).unwrap(), NetworkMode::Bridge);
        assert_eq!(net(Some("default")).unwrap(), NetworkMode::Bridge);
        assert_eq!(net(Some("host")).unwrap(), NetworkMode::Host);
        assert_eq!(net(Some("none")).unwrap(), NetworkMode::None);
        assert_eq!(net(Some("private")).unwrap(), NetworkMode::Bridge);
        assert_eq!(net(Some("pasta")).unwrap(), NetworkMode::Bridge);
        assert_eq!(net(Some("slirp4netns")).unwrap(), NetworkMode::Bridge);
        assert_eq!(
            NetworkMode::backend("slirp4netns"),
            Some(NetworkBackend::Slirp4netns)
        );
        assert_eq!(NetworkMode::backend("bridge"), None);
        let e = net(Some("bridge2")).unwrap_err();
        assert!(matches!(&e, SpecError::UnknownNetwork(n) if n == "bridge2"));
        assert_eq!(
            e.to_string(),
            "network bridge2 not found (strata has bridge, host, none, private, pasta and slirp4netns)"
        );
        assert!(NetworkMode::Bridge.own_namespace());
        assert!(!NetworkMode::Host.own_namespace());
        assert!(NetworkMode::None.own_namespace());
    }

    #[test]
    fn published_ports_follow_the_network() {
        let img = image_with(None, Some(&["sh"]), |c| {
            c.exposed_ports = Some(
                [
                    ("80/tcp".to_string(), serde_json::json!({})),
                    ("53/udp".into(), serde_json::json!({})),
                ]
                .into_iter()
                .collect(),
            )
        });
        let publish = strings(&["8080:80"]);
        let with = |network: Option<&'static str>, all: bool| {
            build(
                &img,
                &RunFlags {
                    publish: &publish,
                    publish_all: all,
                    network,
                    ..Default::default()
                },
                ID,
            )
        };
        let c = with(None, false).unwrap();
        assert_eq!(c.ports.len(), 1);
        assert_eq!(
            (c.ports[0].host_port, c.ports[0].container_port),
            (8080, 80)
        );
        // -P adds the EXPOSEd ports that -p did not publish, on free host ports.
        let all = with(None, true).unwrap();
        assert_eq!(all.ports.len(), 2);
        assert_eq!(all.ports[1].container_port, 53);
        assert_ne!(all.ports[1].host_port, 0);
        assert!(with(Some("host"), true).unwrap().ports.is_empty());
        let e = with(Some("none"), false).unwrap_err();
        assert!(matches!(e, SpecError::PublishWithoutNetwork));
    }

    #[test]
    fn dns_and_extra_hosts() {
        let dns = strings(&["10.0.0.1"]);
        let hosts = strings(&["db:10.0.0.2", "v6=::1"]);
        let c = with_sh(RunFlags {
            dns: &dns,
            add_hosts: &hosts,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.dns, ["10.0.0.1"]);
        assert_eq!(
            c.extra_hosts,
            [
                ("db".to_string(), "10.0.0.2".to_string()),
                ("v6".into(), "::1".into())
            ]
        );
        let bad = strings(&["nocolon"]);
        let e = with_sh(RunFlags {
            add_hosts: &bad,
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid argument \"nocolon\" for \"--add-host\" flag: bad format for add-host: \"nocolon\""
        );
        let bad = strings(&["resolver"]);
        let e = with_sh(RunFlags {
            dns: &bad,
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(e, SpecError::InvalidDns(_)));
    }

    #[test]
    fn tty_interactive_and_rm_are_kept() {
        let c = with_sh(RunFlags {
            tty: true,
            interactive: true,
            auto_remove: true,
            ..Default::default()
        })
        .unwrap();
        assert!(c.tty && c.interactive && c.auto_remove);
        let c = with_sh(RunFlags::default()).unwrap();
        assert!(!c.tty && !c.interactive && !c.auto_remove);
    }

    #[test]
    fn volumes_are_parsed_and_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        let host = dir.path().to_string_lossy().into_owned();
        let vols = vec![
            format!("{host}:/data"),
            format!(
                "{host}/../{}:/ro:ro",
                real.file_name().unwrap().to_string_lossy()
            ),
        ];
        let c = with_sh(RunFlags {
            volumes: &vols,
            ..Default::default()
        })
        .unwrap();
        let real = real.to_string_lossy().into_owned();
        assert_eq!(
            c.mounts,
            [
                BindMount {
                    source: real.clone(),
                    target: "/data".into(),
                    readonly: false
                },
                BindMount {
                    source: real,
                    target: "/ro".into(),
                    readonly: true
                },
            ]
        );
        assert!(!parse_volume(&format!("{host}:/x:rw")).unwrap().readonly);
    }

    #[test]
    fn bad_volumes_are_refused_with_dockers_words() {
        let msg = |v: &str| parse_volume(v).unwrap_err().to_string();
        assert_eq!(
            msg("data:/x"),
            "invalid volume specification: 'data:/x': named volumes are not supported, use an absolute host path"
        );
        assert_eq!(
            msg("/tmp:rel"),
            "invalid volume specification: '/tmp:rel': mount path must be absolute"
        );
        assert_eq!(msg("/tmp:/x:zz"), "invalid mode: zz");
        assert_eq!(msg("/tmp"), "invalid volume specification: '/tmp'");
        let e = parse_volume("/nonexistent/dir:/x").unwrap_err();
        assert!(matches!(e, SpecError::MissingSource { .. }));
        assert_eq!(
            e.to_string(),
            "invalid volume specification: '/nonexistent/dir:/x': bind source path does not exist: /nonexistent/dir"
        );
    }

    #[test]
    fn records_written_before_still_read() {
        let old = r#"{"entrypoint":[],"cmd":["sh"],"env":["PATH=/bin"],"working_dir":"/",
            "user":"","hostname":"h","tty":false,"interactive":false,"network":"host",
            "mounts":[{"source":"/s","target":"/t","readonly":true}],"auto_remove":true}"#;
        let c: RunConfig = serde_json::from_str(old).unwrap();
        assert_eq!(c.network, NetworkMode::Host);
        assert!(c.tmpfs.is_empty() && c.auto_remove && c.mounts[0].readonly);
        let none: RunConfig = serde_json::from_str(&old.replace("\"host\"", "\"none\"")).unwrap();
        assert_eq!(none.network, NetworkMode::None);
        let written = serde_json::to_value(&c).unwrap();
        assert!(written.get("tmpfs").is_none());
        assert_eq!(written["network"], "host");
    }

    #[test]
    fn commit_keeps_the_run_configuration() {
        let c = RunConfig {
            cmd: strings(&["sh"]),
            env: strings(&["PATH=/bin"]),
            working_dir: "/".into(),
            user: "www".into(),
            ..Default::default()
        };
        let cc = c.to_container_config(None);
        assert_eq!(cc.cmd, Some(strings(&["sh"])));
        assert_eq!(cc.entrypoint, None);
        assert_eq!(cc.working_dir, None);
        assert_eq!(cc.user.as_deref(), Some("www"));
    }
}
