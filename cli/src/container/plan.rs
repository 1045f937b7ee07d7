//! What a container needs, as plain data: its namespaces, the mounts that make its root,
//! the paths it may not see or change, its devices and capabilities, the files strata
//! writes for it (hosts, hostname, resolv.conf) and its process (command, environment,
//! working directory, user). Computed from a [`RunConfig`] without touching the system,
//! so every `run` option is testable without root; `apply` carries a plan out.

use super::network::ports::PortMapping;
use super::options::{capability_number, CAPABILITIES};
use super::spec::{NetworkMode, Resources, RunConfig, TmpfsMount, DEFAULT_PATH};
use crate::config::NetworkBackend;
use std::path::{Path, PathBuf};

/// A namespace the container's first process is created in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Namespace {
    /// Its own mounts (always).
    Mount,
    /// Its own process IDs (always).
    Pid,
    /// Its own host name (always).
    Uts,
    /// Its own System V IPC (always).
    Ipc,
    /// Its own network (`bridge`, `none`).
    Network,
}

/// How the container's network is set up once its first process exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkSetup {
    /// The host's network: nothing to do.
    Host,
    /// Only its loopback interface, brought up (`--network none`).
    Loopback,
    /// A backend joins the namespace to the host, publishing these ports (`bridge`).
    Bridge {
        /// The backend `--network` chose; otherwise `network-backend` or the default.
        backend: Option<NetworkBackend>,
        /// The published ports.
        ports: Vec<PortMapping>,
    },
}

/// Paths docker hides from containers (files get /dev/null, directories an empty
/// read-only tmpfs), relative to the container's root.
pub const MASKED_PATHS: &[&str] = &[
    "proc/acpi",
    "proc/kcore",
    "proc/keys",
    "proc/latency_stats",
    "proc/timer_list",
    "proc/timer_stats",
    "proc/sched_debug",
    "proc/scsi",
];

/// Paths docker makes read-only, relative to the container's root.
pub const READONLY_PATHS: &[&str] = &[
    "proc/bus",
    "proc/fs",
    "proc/irq",
    "proc/sys",
    "proc/sysrq-trigger",
];

/// The host devices bound into the container's /dev.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// The symbolic links of the container's /dev: `(name, target)`.
pub const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
    ("core", "/proc/kcore"),
];

/// docker's default capabilities: chown, dac_override, fowner, fsetid, kill, setgid,
/// setuid, setpcap, net_bind_service, net_raw, sys_chroot, mknod, audit_write, setfcap.
pub const DEFAULT_CAPS: &[u32] = &[0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31];

const HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// The files strata writes into the container's directory and binds over the image's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcFiles {
    /// /etc/hosts: localhost and the container's own name.
    pub hosts: String,
    /// /etc/hostname.
    pub hostname: String,
    /// /etc/resolv.conf: the host's, without loopback nameservers in a network of its own.
    pub resolv_conf: String,
}

impl EtcFiles {
    /// `(path in the container, name in the container's directory, content)`.
    pub fn entries(&self) -> [(&'static str, &'static str, &str); 3] {
        [
            ("etc/hosts", "hosts", &self.hosts),
            ("etc/hostname", "hostname", &self.hostname),
            ("etc/resolv.conf", "resolv.conf", &self.resolv_conf),
        ]
    }
}

/// A host path bound into the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    /// The host path.
    pub source: PathBuf,
    /// The path in the container, relative to its root.
    pub target: String,
    /// Made read-only (recursively).
    pub readonly: bool,
    /// The mounts below the source come along (`-v`); not for single files strata writes.
    pub recursive: bool,
    /// The mount point is created when the image lacks it.
    pub create_target: bool,
}

/// The container's first process, before its user is looked up in the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessPlan {
    /// Entrypoint then command.
    pub argv: Vec<String>,
    /// The environment, HOME aside (it depends on the user's passwd entry).
    pub env: Vec<String>,
    /// The absolute working directory, created when missing.
    pub cwd: String,
    /// `USER[:GROUP]`, names or numbers; empty for root.
    pub user: String,
    /// A pseudo-terminal is its controlling terminal and standard streams.
    pub tty: bool,
    /// Standard input stays open (else it is /dev/null).
    pub stdin: bool,
    /// A reaper is PID 1 and runs the command as its child (`--init`).
    pub init: bool,
}

/// Everything the container needs, computed before anything is created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerPlan {
    /// The namespaces its first process is created in.
    pub namespaces: Vec<Namespace>,
    /// Its host name.
    pub hostname: String,
    /// The files written for it.
    pub etc: EtcFiles,
    /// Its network.
    pub network: NetworkSetup,
    /// Mount sysfs (only in a network namespace of its own, as the kernel requires).
    pub sysfs: bool,
    /// Paths hidden from it (none when privileged).
    pub masked_paths: &'static [&'static str],
    /// Paths made read-only (none when privileged).
    pub readonly_paths: &'static [&'static str],
    /// Host devices in its /dev.
    pub devices: &'static [&'static str],
    /// The host's whole /dev instead (`--privileged`).
    pub host_dev: bool,
    /// The image's filesystem is mounted read-only (`--read-only`).
    pub read_only: bool,
    /// cgroup limits.
    pub resources: Resources,
    /// Links in its /dev.
    pub dev_links: &'static [(&'static str, &'static str)],
    /// Bind mounts, in order: strata's /etc files, then the configuration's.
    pub binds: Vec<Bind>,
    /// tmpfs mounts, after the binds.
    pub tmpfs: Vec<TmpfsMount>,
    /// Image filesystems mounted after the binds (builds only).
    pub layer_mounts: Vec<super::spec::LayersMount>,
    /// The capabilities its bounding set keeps.
    pub capabilities: Vec<u32>,
    /// Its process.
    pub process: ProcessPlan,
}

impl ContainerPlan {
    /// The plan for `cfg`, whose files go to the container directory `dir`; `host_resolv`
    /// is the host's /etc/resolv.conf.
    pub fn new(cfg: &RunConfig, dir: &Path, host_resolv: &str) -> ContainerPlan {
        let mut namespaces = vec![
            Namespace::Mount,
            Namespace::Pid,
            Namespace::Uts,
            Namespace::Ipc,
        ];
        if cfg.network.own_namespace() {
            namespaces.push(Namespace::Network);
        }
        let mut etc = etc_files(&cfg.hostname, cfg.network, host_resolv);
        for (name, ip) in &cfg.extra_hosts {
            etc.hosts.push_str(&format!("{ip}\t{name}\n"));
        }
        if !cfg.dns.is_empty() {
            etc.resolv_conf = with_nameservers(&etc.resolv_conf, &cfg.dns);
        }
        let network = match cfg.network {
            NetworkMode::Host => NetworkSetup::Host,
            NetworkMode::None => NetworkSetup::Loopback,
            NetworkMode::Bridge => NetworkSetup::Bridge {
                backend: cfg.network_backend,
                ports: cfg.ports.clone(),
            },
        };
        let mut binds: Vec<Bind> = etc
            .entries()
            .iter()
            .map(|(target, name, _)| Bind {
                source: dir.join(name),
                target: target.to_string(),
                readonly: false,
                recursive: false,
                create_target: false,
            })
            .collect();
        binds.extend(cfg.mounts.iter().map(|m| Bind {
            source: PathBuf::from(&m.source),
            target: m.target.trim_start_matches('/').to_string(),
            readonly: m.readonly,
            recursive: true,
            create_target: true,
        }));
        ContainerPlan {
            namespaces,
            hostname: cfg.hostname.clone(),
            etc,
            network,
            sysfs: cfg.network.own_namespace(),
            masked_paths: if cfg.privileged { &[] } else { MASKED_PATHS },
            readonly_paths: if cfg.privileged { &[] } else { READONLY_PATHS },
            devices: DEVICES,
            host_dev: cfg.privileged,
            read_only: cfg.read_only,
            resources: cfg.resources.clone(),
            dev_links: DEV_LINKS,
            binds,
            tmpfs: cfg.tmpfs.clone(),
            layer_mounts: cfg.layer_mounts.clone(),
            capabilities: capabilities(cfg),
            process: process_plan(cfg),
        }
    }

    /// Whether the container is created in namespace `ns`.
    pub fn has_namespace(&self, ns: Namespace) -> bool {
        self.namespaces.contains(&ns)
    }
}

fn process_plan(cfg: &RunConfig) -> ProcessPlan {
    let mut env = vec![format!("HOSTNAME={}", cfg.hostname)];
    env.extend(cfg.env.iter().cloned());
    if cfg.tty && !has_var(&cfg.env, "TERM") {
        env.push("TERM=xterm".into());
    }
    ProcessPlan {
        argv: cfg.argv(),
        env,
        cwd: if cfg.working_dir.is_empty() {
            "/".into()
        } else {
            cfg.working_dir.clone()
        },
        user: cfg.user.clone(),
        tty: cfg.tty,
        stdin: cfg.interactive,
        init: cfg.init,
    }
}

/// The capabilities the container keeps: docker's defaults, then `--cap-add`, less
/// `--cap-drop` (`ALL` for every one); every one when privileged.
fn capabilities(cfg: &RunConfig) -> Vec<u32> {
    let all: Vec<u32> = (0..CAPABILITIES.len() as u32).collect();
    if cfg.privileged {
        return all;
    }
    let named = |names: &[String]| -> Vec<u32> {
        if names.iter().any(|n| n == "ALL") {
            return all.clone();
        }
        names.iter().filter_map(|n| capability_number(n)).collect()
    };
    let mut caps: Vec<u32> = DEFAULT_CAPS.to_vec();
    let drop = named(&cfg.cap_drop);
    caps.retain(|c| !drop.contains(c));
    for c in named(&cfg.cap_add) {
        if !caps.contains(&c) {
            caps.push(c);
        }
    }
    caps.sort_unstable();
    caps
}

fn has_var(env: &[String], key: &str) -> bool {
    env.iter().any(|e| e.split('=').next() == Some(key))
}

/// hosts, hostname and resolv.conf for a container named `hostname` on `network`.
pub fn etc_files(hostname: &str, network: NetworkMode, host_resolv: &str) -> EtcFiles {
    EtcFiles {
        hosts: format!("{HOSTS}127.0.1.1\t{hostname}\n"),
        hostname: format!("{hostname}\n"),
        resolv_conf: if network.own_namespace() {
            without_local_nameservers(host_resolv)
        } else {
            host_resolv.to_string()
        },
    }
}

/// The host's resolv.conf as docker gives it to a container outside the host's network
/// namespace: without nameservers on the host's loopback (which the container cannot
/// reach), and with docker's default public ones if none is left.
fn without_local_nameservers(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut f = line.split_whitespace();
        if f.next() == Some("nameserver") {
            let addr = f.next().unwrap_or("");
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// A resolv.conf with `servers` (`--dns`) in place of its nameservers.
fn with_nameservers(resolv: &str, servers: &[String]) -> String {
    let mut out: String = servers
        .iter()
        .map(|s| format!("nameserver {s}\n"))
        .collect();
    for line in resolv.lines() {
        if line.split_whitespace().next() != Some("nameserver") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A user as the image's /etc/passwd and /etc/group resolve it.
#[derive(Debug, PartialEq, Eq)]
pub struct Identity {
    /// User ID.
    pub uid: u32,
    /// Primary group ID.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Home directory.
    pub home: String,
}

/// A `-u` that the image's passwd or group file cannot resolve.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// A user name without a passwd entry.
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    /// A group name without a group entry.
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
    /// A passwd entry whose ids are not numbers.
    #[error("invalid passwd entry for {0}")]
    BadEntry(String),
}

impl ProcessPlan {
    /// The process's user and full environment (HOME from the user's entry unless set),
    /// from the container's /etc/passwd and /etc/group.
    pub fn resolve(&self, passwd: &str, group: &str) -> Result<(Identity, Vec<String>), UserError> {
        let id = resolve_user(&self.user, passwd, group)?;
        let mut env = self.env.clone();
        if !has_var(&env, "HOME") {
            env.push(format!("HOME={}", id.home));
        }
        Ok((id, env))
    }
}

fn fields(text: &str, min: usize) -> Vec<Vec<&str>> {
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= min)
        .collect()
}

/// Resolves `USER[:GROUP]` (names or numbers) against the container's passwd and group
/// files, as docker does: a number needs no entry; a name must have one.
pub fn resolve_user(spec: &str, passwd: &str, group: &str) -> Result<Identity, UserError> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let entries = fields(passwd, 7);
    let found = entries.iter().find(|f| match user.parse::<u32>() {
        Ok(n) => f[2].parse::<u32>() == Ok(n),
        Err(_) => f[0] == user,
    });
    let bad = || UserError::BadEntry(user.to_string());
    let (uid, mut gid, name, home) = match (found, user.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse().map_err(|_| bad())?,
            f[3].parse().map_err(|_| bad())?,
            Some(f[0]),
            f[5].to_string(),
        ),
        (None, Ok(n)) => (n, 0, None, "/".to_string()),
        (None, Err(_)) => return Err(UserError::NoUser(user.to_string())),
    };
    let groups_file = fields(group, 4);
    if let Some(g) = grp.filter(|g| !g.is_empty()) {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups_file
                .iter()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| UserError::NoGroup(g.to_string()))?,
        };
    }
    let mut groups = vec![gid];
    if let Some(name) = name {
        for f in &groups_file {
            if f[3].split(',').any(|m| m == name) {
                if let Ok(n) = f[2].parse::<u32>() {
                    if !groups.contains(&n) {
                        groups.push(n);
                    }
                }
            }
        }
    }
    Ok(Identity {
        uid,
        gid,
        groups,
        home,
    })
}

/// The search path of an environment: its last PATH, else docker's default.
pub fn search_path(env: &[String]) -> &str {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::spec::BindMount;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:34:www:/var/www:/bin/false\n";
    const GROUP: &str = "root:x:0:\nwww:x:34:\nstaff:x:50:www,bob\n";
    const HOST_RESOLV: &str = "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch lan\n";

    fn cfg() -> RunConfig {
        RunConfig {
            cmd: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
            working_dir: "/".into(),
            hostname: "h".into(),
            ..Default::default()
        }
    }

    fn plan(c: &RunConfig) -> ContainerPlan {
        ContainerPlan::new(c, Path::new("/store/containers/x"), HOST_RESOLV)
    }

    #[test]
    fn namespaces_and_sysfs_follow_the_network() {
        for (mode, own) in [
            (NetworkMode::Bridge, true),
            (NetworkMode::Host, false),
            (NetworkMode::None, true),
        ] {
            let p = plan(&RunConfig {
                network: mode,
                ..cfg()
            });
            for ns in [
                Namespace::Mount,
                Namespace::Pid,
                Namespace::Uts,
                Namespace::Ipc,
            ] {
                assert!(p.has_namespace(ns), "{mode:?} {ns:?}");
            }
            assert_eq!(p.has_namespace(Namespace::Network), own, "{mode:?}");
            assert_eq!(p.sysfs, own, "{mode:?}");
        }
    }

    #[test]
    fn hosts_hostname_and_resolv_conf() {
        let p = plan(&RunConfig {
            hostname: "box".into(),
            network: NetworkMode::Host,
            ..cfg()
        });
        assert_eq!(p.hostname, "box");
        assert_eq!(p.etc.hostname, "box\n");
        assert!(p.etc.hosts.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(p.etc.hosts.ends_with("\n127.0.1.1\tbox\n"));
        // The host's network: the host's resolv.conf as it is.
        assert_eq!(p.etc.resolv_conf, HOST_RESOLV);
        let none = plan(&RunConfig {
            network: NetworkMode::None,
            ..cfg()
        });
        assert_eq!(none.etc.resolv_conf, "nameserver 10.0.0.2\nsearch lan\n");
    }

    #[test]
    fn bridge_is_pasta_with_the_ports_and_none_is_loopback() {
        use crate::container::network::ports::Protocol;
        let port = PortMapping {
            host_ip: String::new(),
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        let p = plan(&RunConfig {
            ports: vec![port.clone()],
            ..cfg()
        });
        assert_eq!(
            p.network,
            NetworkSetup::Bridge {
                backend: None,
                ports: vec![port]
            }
        );
        // Its own namespace: the host's loopback nameserver is not reachable.
        assert_eq!(p.etc.resolv_conf, "nameserver 10.0.0.2\nsearch lan\n");
        let none = plan(&RunConfig {
            network: NetworkMode::None,
            ..cfg()
        });
        assert_eq!(none.network, NetworkSetup::Loopback);
        let host = plan(&RunConfig {
            network: NetworkMode::Host,
            ..cfg()
        });
        assert_eq!(host.network, NetworkSetup::Host);
    }

    #[test]
    fn dns_and_extra_hosts_go_into_the_files() {
        let p = plan(&RunConfig {
            dns: vec!["192.0.2.53".into()],
            extra_hosts: vec![("db".into(), "10.1.2.3".into())],
            ..cfg()
        });
        assert_eq!(p.etc.resolv_conf, "nameserver 192.0.2.53\nsearch lan\n");
        assert!(
            p.etc.hosts.ends_with("127.0.1.1\th\n10.1.2.3\tdb\n"),
            "{}",
            p.etc.hosts
        );
    }

    #[test]
    fn resolv_conf_loses_loopback_nameservers_as_docker_does() {
        let host = "# by hand\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch lan\n";
        assert_eq!(
            without_local_nameservers(host),
            "# by hand\nnameserver 10.0.0.2\nsearch lan\n"
        );
        assert_eq!(
            without_local_nameservers("nameserver 127.0.0.53\nnameserver ::1\noptions edns0\n"),
            "options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
    }

    #[test]
    fn etc_files_then_volumes_are_bound() {
        let p = plan(&RunConfig {
            mounts: vec![
                BindMount {
                    source: "/srv/data".into(),
                    target: "/data".into(),
                    readonly: false,
                },
                BindMount {
                    source: "/etc/ssl".into(),
                    target: "/etc/ssl".into(),
                    readonly: true,
                },
            ],
            ..cfg()
        });
        let etc = |target: &str, name: &str| Bind {
            source: PathBuf::from("/store/containers/x").join(name),
            target: target.into(),
            readonly: false,
            recursive: false,
            create_target: false,
        };
        let volume = |source: &str, target: &str, readonly| Bind {
            source: source.into(),
            target: target.into(),
            readonly,
            recursive: true,
            create_target: true,
        };
        assert_eq!(
            p.binds,
            [
                etc("etc/hosts", "hosts"),
                etc("etc/hostname", "hostname"),
                etc("etc/resolv.conf", "resolv.conf"),
                volume("/srv/data", "data", false),
                volume("/etc/ssl", "etc/ssl", true),
            ]
        );
    }

    #[test]
    fn masks_devices_and_capabilities_are_dockers() {
        let p = plan(&cfg());
        assert!(p.masked_paths.contains(&"proc/kcore"));
        assert!(p.readonly_paths.contains(&"proc/sys"));
        assert_eq!(
            p.devices,
            ["null", "zero", "full", "random", "urandom", "tty"]
        );
        assert!(p.dev_links.contains(&("ptmx", "pts/ptmx")));
        // chown … setfcap; not sys_admin (21), sys_module (16), sys_time (25), sys_ptrace (19).
        assert_eq!(p.capabilities.len(), 14);
        for cap in [16, 19, 21, 25] {
            assert!(!p.capabilities.contains(&cap), "{cap}");
        }
    }

    #[test]
    fn capabilities_added_dropped_and_privileged() {
        let caps = |add: &[&str], drop: &[&str], privileged| {
            plan(&RunConfig {
                cap_add: add.iter().map(|s| s.to_string()).collect(),
                cap_drop: drop.iter().map(|s| s.to_string()).collect(),
                privileged,
                ..cfg()
            })
            .capabilities
        };
        let added = caps(&["NET_ADMIN", "SYS_ADMIN"], &["CHOWN"], false);
        assert!(added.contains(&12) && added.contains(&21) && !added.contains(&0));
        assert_eq!(added.len(), 15);
        assert_eq!(caps(&[], &["ALL"], false), Vec::<u32>::new());
        assert_eq!(caps(&["NET_RAW"], &["ALL"], false), [13]);
        assert_eq!(caps(&["ALL"], &[], false).len(), CAPABILITIES.len());
        let p = plan(&RunConfig {
            privileged: true,
            ..cfg()
        });
        assert_eq!(p.capabilities.len(), CAPABILITIES.len());
        assert!(p.masked_paths.is_empty() && p.readonly_paths.is_empty() && p.host_dev);
        let normal = plan(&cfg());
        assert!(!normal.host_dev && !normal.read_only && !normal.process.init);
    }

    #[test]
    fn read_only_init_and_resources_are_carried() {
        let p = plan(&RunConfig {
            read_only: true,
            init: true,
            resources: Resources {
                memory: Some(64 << 20),
                ..Default::default()
            },
            ..cfg()
        });
        assert!(p.read_only && p.process.init);
        assert_eq!(p.resources.memory, Some(64 << 20));
    }

    #[test]
    fn process_command_environment_and_directory() {
        let p = plan(&RunConfig {
            entrypoint: vec!["/bin/env".into()],
            cmd: vec!["-0".into()],
            working_dir: "/srv".into(),
            user: "www".into(),
            interactive: true,
            ..cfg()
        });
        assert_eq!(p.process.argv, ["/bin/env", "-0"]);
        assert_eq!(p.process.env, ["HOSTNAME=h", "PATH=/bin"]);
        assert_eq!(p.process.cwd, "/srv");
        assert_eq!(p.process.user, "www");
        assert!(p.process.stdin && !p.process.tty);
        let unset = plan(&RunConfig {
            working_dir: String::new(),
            ..cfg()
        });
        assert_eq!(unset.process.cwd, "/");
    }

    #[test]
    fn a_terminal_brings_term_unless_set() {
        let tty = plan(&RunConfig { tty: true, ..cfg() });
        assert!(tty.process.tty);
        assert_eq!(tty.process.env, ["HOSTNAME=h", "PATH=/bin", "TERM=xterm"]);
        let own = plan(&RunConfig {
            tty: true,
            env: vec!["TERM=vt100".into()],
            ..cfg()
        });
        assert_eq!(own.process.env, ["HOSTNAME=h", "TERM=vt100"]);
    }

    #[test]
    fn home_comes_from_the_users_entry_unless_set() {
        let p = plan(&RunConfig {
            user: "www".into(),
            ..cfg()
        });
        let (id, env) = p.process.resolve(PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid), (33, 34));
        assert_eq!(env, ["HOSTNAME=h", "PATH=/bin", "HOME=/var/www"]);
        let set = plan(&RunConfig {
            env: vec!["HOME=/x".into()],
            ..cfg()
        });
        let (_, env) = set.process.resolve(PASSWD, GROUP).unwrap();
        assert_eq!(env, ["HOSTNAME=h", "HOME=/x"]);
        let numeric = plan(&RunConfig {
            user: "1000".into(),
            ..cfg()
        });
        let (_, env) = numeric.process.resolve(PASSWD, GROUP).unwrap();
        assert_eq!(env.last().unwrap(), "HOME=/");
    }

    #[test]
    fn users_and_groups_by_name_and_number() {
        let root = resolve_user("", PASSWD, GROUP).unwrap();
        assert_eq!((root.uid, root.gid, root.home.as_str()), (0, 0, "/root"));
        assert_eq!(root.groups, [0]);
        let www = resolve_user("www", PASSWD, GROUP).unwrap();
        assert_eq!((www.uid, www.gid), (33, 34));
        assert_eq!(www.groups, [34, 50]);
        let by_uid = resolve_user("33", PASSWD, GROUP).unwrap();
        assert_eq!((by_uid.uid, by_uid.home.as_str()), (33, "/var/www"));
        let n = resolve_user("1000:50", PASSWD, GROUP).unwrap();
        assert_eq!((n.uid, n.gid, n.home.as_str()), (1000, 50, "/"));
        assert_eq!(n.groups, [50]);
        let g = resolve_user("33:staff", PASSWD, GROUP).unwrap();
        assert_eq!((g.uid, g.gid), (33, 50));
        let empty_group = resolve_user("www:", PASSWD, GROUP).unwrap();
        assert_eq!(empty_group.gid, 34);
    }

    #[test]
    fn unknown_users_and_groups_are_refused() {
        let e = resolve_user("nobody", PASSWD, GROUP).unwrap_err();
        assert_eq!(e, UserError::NoUser("nobody".into()));
        assert_eq!(
            e.to_string(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        let e = resolve_user("0:nogroup", PASSWD, GROUP).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
        let e = resolve_user("bad", "bad:x:a:0:::/bin/sh\n", GROUP).unwrap_err();
        assert_eq!(e, UserError::BadEntry("bad".into()));
    }

    #[test]
    fn search_path_is_the_last_path_or_dockers() {
        assert_eq!(search_path(&["PATH=/a".into(), "PATH=/b".into()]), "/b");
        assert_eq!(search_path(&[]), DEFAULT_PATH);
    }

    #[test]
    fn a_builder_step_with_tmpfs_and_cache_mounts() {
        // What `build` gives for `RUN --mount=type=cache,target=/root/.cache
        // --mount=type=tmpfs,target=/tmp --network=none make`.
        let step = RunConfig {
            cmd: vec!["/bin/sh".into(), "-c".into(), "make".into()],
            env: vec!["PATH=/usr/bin".into()],
            working_dir: "/src".into(),
            user: "1000:1000".into(),
            hostname: "buildkitsandbox".into(),
            network: NetworkMode::None,
            mounts: vec![BindMount {
                source: "/var/lib/strata/cache/abc".into(),
                target: "/root/.cache".into(),
                readonly: false,
            }],
            tmpfs: vec![TmpfsMount {
                target: "/tmp".into(),
                size: None,
                mode: None,
            }],
            ..Default::default()
        };
        let p = plan(&step);
        assert!(p.has_namespace(Namespace::Network));
        assert_eq!(p.binds.last().unwrap().target, "root/.cache");
        assert_eq!(p.tmpfs, step.tmpfs);
        assert_eq!(p.process.cwd, "/src");
        assert_eq!(p.process.argv, ["/bin/sh", "-c", "make"]);
        assert!(!p.process.stdin && !p.process.tty);
    }
}
