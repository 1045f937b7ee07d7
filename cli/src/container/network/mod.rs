//! A container's network beyond the host's and the loopback's: `bridge` (docker's default
//! name) is a network namespace of the container's own, joined to the host by `pasta`
//! (`pasta`), with outbound access and the published ports (`ports`). `--network none`
//! gets only its loopback interface, brought up here (`loopback`).
//!
//! Nothing is written to the host's network configuration: pasta reaches the host
//! through ordinary sockets, ends with the container's watcher (PR_SET_PDEATHSIG), and
//! the namespace ends with the container.

pub mod loopback;
pub mod pasta;
pub mod ports;

use super::plan::NetworkSetup;
use rustix::fd::OwnedFd;
use std::path::Path;

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
    /// /dev/net/tun cannot be opened for reading and writing.
    #[error(
        "the bridge network needs /dev/net/tun readable and writable (mode 0666, as udev \
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

/// What serves a started container's network until it ends; dropping it ends pasta.
pub enum Attached {
    /// Nothing to run (host, none).
    Nothing,
    /// pasta.
    Pasta(pasta::Pasta),
}

/// Sets up the network of the container whose first process is `pid` (already in its
/// namespaces), as `setup` says; `dir` is the container's directory.
pub fn attach(setup: &NetworkSetup, pid: i32, dir: &Path) -> Result<Attached, NetworkError> {
    match setup {
        NetworkSetup::Host | NetworkSetup::Loopback => Ok(Attached::Nothing),
        NetworkSetup::Pasta { ports } => {
            ports::check_free(ports)?;
            let netns = open_netns(pid)?;
            Ok(Attached::Pasta(pasta::Pasta::start(netns, ports, dir)?))
        }
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
