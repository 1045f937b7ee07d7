//! A container's network beyond the host's and the loopback's: `bridge` (docker's default
//! name) is a network namespace of the container's own with outbound access and the
//! published ports (`ports`), joined to the host by one of three backends
//! (`network-backend`, or `--network pasta|slirp4netns`):
//!
//! - `bridge` (root's default): the `strata0` bridge, a veth pair per container and
//!   nftables rules (`bridge`, `netlink`, `nft`, `lease`), set up and removed by strata;
//! - `pasta` (ordinary users' default, `pasta`) and `slirp4netns` (`slirp`): a helper
//!   process carrying the traffic through ordinary sockets of the host, which changes
//!   nothing in the host's network configuration and ends with the container's watcher.
//!
//! `--network none` gets only its loopback interface, brought up here (`loopback`).
//! Nothing ever falls back to the host's network: a backend that cannot be set up is an
//! error saying why and what to install.

pub mod bridge;
pub mod lease;
pub mod loopback;
pub mod netlink;
pub mod nft;
pub mod pasta;
pub mod ports;
pub mod slirp;

use super::plan::NetworkSetup;
use crate::config::NetworkBackend;
use rustix::fd::OwnedFd;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why the container's network could not be set up; never a silent fallback to the
/// host's network.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// pasta is not installed.
    #[error(
        "the bridge network needs pasta, which is not installed: install the passt package \
         (apt-get install passt), or use --network host or --network none"
    )]
    NoPasta,
    /// slirp4netns is not installed.
    #[error(
        "the slirp4netns network needs slirp4netns, which is not installed: install the \
         slirp4netns package (apt-get install slirp4netns), or use --network pasta, host or none"
    )]
    NoSlirp4netns,
    /// slirp4netns failed; its last message.
    #[error("cannot set up the slirp4netns network: {0}")]
    Slirp(String),
    /// The bridge backend needs root on the host.
    #[error(
        "the bridge backend needs root: set network-backend = \"pasta\" or \"slirp4netns\" \
         in ~/.config/strata/config.toml, or use --network pasta or slirp4netns"
    )]
    BridgeNeedsRoot,
    /// `bridge-subnet` is not an IPv4 subnet.
    #[error("invalid bridge-subnet {0}: want an IPv4 subnet such as 10.87.0.0/16 (8 to 30 bits)")]
    Subnet(String),
    /// A route of the host overlaps the bridge's subnet.
    #[error(
        "cannot set up the bridge network: its subnet {subnet} overlaps the route {route} \
         on {iface}; set bridge-subnet in /etc/strata/config.toml to a free private subnet"
    )]
    SubnetInUse {
        /// The configured subnet.
        subnet: String,
        /// The host's route.
        route: String,
        /// The route's interface.
        iface: String,
    },
    /// Every address of the subnet is taken.
    #[error("no free address left on the bridge network {0}")]
    SubnetFull(String),
    /// An IPv6 host address for a published port on the bridge backend.
    #[error("cannot publish {0}: the bridge backend publishes on IPv4 only; use --network pasta")]
    Ipv6Publish(String),
    /// nft failed.
    #[error(transparent)]
    Nft(nft::NftError),
    /// /dev/net/tun cannot be opened for reading and writing.
    #[error(
        "pasta and slirp4netns need /dev/net/tun readable and writable (mode 0666, as udev \
         makes it: chmod 0666 /dev/net/tun), or use --network host or --network none"
    )]
    Tun,
    /// A published port cannot be bound on the host.
    #[error(transparent)]
    Port(#[from] ports::PortError),
    /// pasta failed; its last message.
    #[error("cannot set up the bridge network: pasta: {0}")]
    Pasta(String),
    /// A file or process step.
    #[error("cannot set up the network: {what}")]
    Io {
        /// The step.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What serves a started container's network until it ends; dropping it ends pasta or
/// slirp4netns, or removes the container's veth and rules from the host.
pub enum Attached {
    /// Nothing to run (host, none).
    Nothing,
    /// pasta.
    Pasta(pasta::Pasta),
    /// slirp4netns.
    Slirp(slirp::Slirp),
    /// Root's bridge.
    Bridge(bridge::Link),
}

/// The backend for a container on the bridge network: the one `--network` named, else
/// `network-backend`, else `bridge` for root on the host and `pasta` for anyone else.
pub fn backend(chosen: Option<NetworkBackend>) -> NetworkBackend {
    chosen
        .or_else(|| crate::config::current().network_backend())
        .unwrap_or(if crate::userns::is_rootless() {
            NetworkBackend::Pasta
        } else {
            NetworkBackend::Bridge
        })
}

/// Sets up the network of the container `id` whose first process is `pid` (already in
/// its namespaces), as `setup` says; `dir` is the container's directory.
pub fn attach(
    setup: &NetworkSetup,
    id: &str,
    pid: i32,
    dir: &Path,
) -> Result<Attached, NetworkError> {
    let NetworkSetup::Bridge {
        backend: chosen,
        ports,
    } = setup
    else {
        return Ok(Attached::Nothing);
    };
    let netns = open_netns(pid)?;
    match backend(*chosen) {
        NetworkBackend::Bridge if crate::userns::is_rootless() => {
            Err(NetworkError::BridgeNeedsRoot)
        }
        NetworkBackend::Bridge => Ok(Attached::Bridge(bridge::attach(id, &netns, ports)?)),
        NetworkBackend::Pasta => {
            ports::check_free(ports)?;
            Ok(Attached::Pasta(pasta::Pasta::start(netns, ports, dir)?))
        }
        NetworkBackend::Slirp4netns => {
            ports::check_free(ports)?;
            Ok(Attached::Slirp(slirp::Slirp::start(netns, ports, dir)?))
        }
    }
}

/// The pid files the user-mode network programs leave in a container's directory, with
/// the command names (`/proc/PID/comm`) each runs under (pasta is passt under another
/// name, and may run as `passt.avx2`).
const USER_NET_PIDS: [(&str, &[&str]); 2] = [
    (pasta::PID_FILE, &["pasta", "passt"]),
    (slirp::PID_FILE, &["slirp4netns"]),
];

/// Ends the pasta or slirp4netns of the container whose directory is `dir`, and waits
/// (at most a few seconds) until it has gone and its published ports are free. For `rm
/// -f`, whose SIGKILL of the watcher reaches them only through PR_SET_PDEATHSIG, which
/// takes effect a moment later.
pub fn end_user_net(dir: &Path) {
    for (file, names) in USER_NET_PIDS {
        let Some(pid) = std::fs::read_to_string(dir.join(file))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        else {
            continue;
        };
        // Its name, checked against pid reuse; a zombie (no start time) has closed its
        // sockets, so its ports are free.
        let running = || {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| names.iter().any(|n| c.starts_with(n)))
                && crate::container::lookup::process_start(pid).is_some()
        };
        if !running() {
            continue;
        }
        if let Some(p) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while running() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

/// `name` on PATH (or the usual sbin directories).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/bin", "/usr/sbin", "/bin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}

/// pasta and slirp4netns open /dev/net/tun in the container's namespace.
fn check_tun() -> Result<(), NetworkError> {
    rustix::fs::access(
        "/dev/net/tun",
        rustix::fs::Access::READ_OK | rustix::fs::Access::WRITE_OK,
    )
    .map_err(|_| NetworkError::Tun)
}

/// Makes `cmd` start with each `(descriptor, number)` open under that number, and end
/// when its parent (the container's watcher) does.
fn pass_fds<const N: usize>(cmd: &mut Command, fds: [(RawFd, RawFd); N]) {
    // SAFETY: between fork and exec the hook only makes system calls (fcntl, dup2,
    // prctl), which are async-signal-safe; the descriptors outlive the spawn, and each is
    // first copied above the targets so that no dup2 closes one still to be moved.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, move || {
            let mut high: [Option<OwnedFd>; N] = [const { None }; N];
            for (slot, (raw, _)) in high.iter_mut().zip(fds) {
                let fd = std::os::fd::BorrowedFd::borrow_raw(raw);
                *slot = Some(rustix::io::fcntl_dupfd_cloexec(fd, 16)?);
            }
            for (copy, (_, target)) in high.iter().zip(fds) {
                let Some(copy) = copy else { continue };
                let mut t = <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(target);
                let r = rustix::io::dup2(copy, &mut t);
                std::mem::forget(t);
                r?;
            }
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            Ok(())
        });
    }
}

fn open_netns(pid: i32) -> Result<OwnedFd, NetworkError> {
    let path = format!("/proc/{pid}/ns/net");
    rustix::fs::open(
        path.as_str(),
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| NetworkError::Io {
        what: path,
        source: e.into(),
    })
}
