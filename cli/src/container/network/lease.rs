//! The bridge network's bookkeeping in `/run/strata/network`: one lease file per
//! container (its address, the process that serves it, its veth and published ports),
//! all read and changed under one lock, so concurrent `run`s never take one address or
//! one host port twice, and a lease whose process is gone (strata killed) is found and
//! cleaned up by the next strata command. The `active` marker exists while anything of
//! the bridge network may be in the host's configuration.

use super::ports::PortMapping;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Where the leases live.
pub const STATE_DIR: &str = "/run/strata/network";

/// What one container holds of the bridge network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The container's id (also the comment of its nftables rules).
    pub id: String,
    /// Its address on the bridge.
    pub address: Ipv4Addr,
    /// The bridge's address, its gateway.
    pub gateway: Ipv4Addr,
    /// The subnet's prefix length.
    pub prefix: u8,
    /// The process serving its network (the container's watcher).
    pub owner: u32,
    /// That process's start time (field 22 of /proc/PID/stat), against pid reuse.
    pub owner_start: u64,
    /// The host side of its veth pair.
    pub veth: String,
    /// Its published ports.
    pub ports: Vec<PortMapping>,
}

/// The process start time of `pid`, if it runs.
pub fn start_time(pid: u32) -> Option<u64> {
    crate::container::lookup::process_start(i32::try_from(pid).ok()?)
}

impl Lease {
    /// Whether the process serving it still runs.
    pub fn owner_alive(&self) -> bool {
        start_time(self.owner) == Some(self.owner_start)
    }
}

/// The lease directory, locked while this value lives.
pub struct Leases {
    dir: PathBuf,
    _lock: File,
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

impl Leases {
    /// Locks the lease directory `dir` (created 0700), waiting for another strata.
    pub fn lock(dir: &Path) -> io::Result<Leases> {
        std::fs::create_dir_all(dir).map_err(at(dir))?;
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(at(&lock_path))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)?;
        Ok(Leases {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    fn path(&self, address: Ipv4Addr) -> PathBuf {
        self.dir.join(format!("{address}.lease"))
    }

    /// Every lease (unreadable files are skipped).
    pub fn all(&self) -> Vec<Lease> {
        read_all(&self.dir)
    }

    /// Writes `lease`.
    pub fn write(&self, lease: &Lease) -> io::Result<()> {
        let path = self.path(lease.address);
        let text = serde_json::to_vec(lease).map_err(io::Error::other)?;
        std::fs::write(&path, text).map_err(at(&path))
    }

    /// Removes the lease of `address`.
    pub fn remove(&self, address: Ipv4Addr) {
        let _ = std::fs::remove_file(self.path(address));
    }

    fn marker(&self) -> PathBuf {
        self.dir.join("active")
    }

    /// Marks the bridge network as (being) set up.
    pub fn mark_active(&self) -> io::Result<()> {
        let path = self.marker();
        std::fs::write(&path, b"").map_err(at(&path))
    }

    /// Whether the bridge network may have left something in the host's configuration.
    pub fn is_active(dir: &Path) -> bool {
        dir.join("active").exists()
    }

    /// Clears the marker once everything is removed.
    pub fn mark_inactive(&self) {
        let _ = std::fs::remove_file(self.marker());
    }
}

/// The lease of the container `id`, read without the lock (for `inspect`).
pub fn find(id: &str) -> Option<Lease> {
    read_all(Path::new(STATE_DIR))
        .into_iter()
        .find(|l| l.id == id)
}

/// The leases in `dir` (unreadable files are skipped).
fn read_all(dir: &Path) -> Vec<Lease> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".lease"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect()
}

/// The first address of `net/len` after the gateway (`net + 1`) that no lease holds.
pub fn free_address(net: Ipv4Addr, len: u8, taken: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    let base = u32::from(net);
    let size = 1u64 << (32 - u32::from(len));
    (2..size.saturating_sub(1))
        .map(|i| Ipv4Addr::from(base + i as u32))
        .find(|a| !taken.contains(a))
}

/// The published port of `ports` that one of `leases` already holds (same protocol and
/// port, and an address that overlaps: either is every address, or they are equal).
pub fn port_conflict<'a>(ports: &'a [PortMapping], leases: &[Lease]) -> Option<&'a PortMapping> {
    let any = |ip: &str| ip.is_empty() || ip == "0.0.0.0";
    ports.iter().find(|p| {
        leases.iter().flat_map(|l| &l.ports).any(|q| {
            q.protocol == p.protocol
                && q.host_port == p.host_port
                && (any(&p.host_ip) || any(&q.host_ip) || p.host_ip == q.host_ip)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::network::ports::Protocol;

    fn port(ip: &str, host: u16) -> PortMapping {
        PortMapping::of(ip, host, 80, Protocol::Tcp)
    }

    fn lease(address: Ipv4Addr, ports: Vec<PortMapping>) -> Lease {
        Lease {
            id: "c".into(),
            address,
            gateway: Ipv4Addr::new(10, 87, 0, 1),
            prefix: 16,
            owner: std::process::id(),
            owner_start: start_time(std::process::id()).unwrap(),
            veth: "stc".into(),
            ports,
        }
    }

    #[test]
    fn addresses_skip_the_gateway_and_taken_ones() {
        let net = Ipv4Addr::new(10, 87, 0, 0);
        assert_eq!(
            free_address(net, 16, &[]),
            Some(Ipv4Addr::new(10, 87, 0, 2))
        );
        let taken = [Ipv4Addr::new(10, 87, 0, 2), Ipv4Addr::new(10, 87, 0, 3)];
        assert_eq!(
            free_address(net, 16, &taken),
            Some(Ipv4Addr::new(10, 87, 0, 4))
        );
        let full = [Ipv4Addr::new(10, 87, 0, 2)];
        assert_eq!(free_address(net, 30, &full), None);
    }

    #[test]
    fn ports_conflict_on_overlapping_addresses_only() {
        let held = [lease(Ipv4Addr::new(10, 87, 0, 2), vec![port("", 8080)])];
        assert!(port_conflict(&[port("127.0.0.1", 8080)], &held).is_some());
        assert!(port_conflict(&[port("", 8081)], &held).is_none());
        let mut udp = port("", 8080);
        udp.protocol = Protocol::Udp;
        assert!(port_conflict(&[udp], &held).is_none());
        let one = [lease(
            Ipv4Addr::new(10, 87, 0, 2),
            vec![port("127.0.0.1", 9)],
        )];
        assert!(port_conflict(&[port("127.0.0.2", 9)], &one).is_none());
    }

    #[test]
    fn leases_round_trip_under_the_lock_and_know_their_owner() {
        let dir = tempfile::tempdir().unwrap();
        let leases = Leases::lock(dir.path()).unwrap();
        let l = lease(Ipv4Addr::new(10, 87, 0, 5), vec![port("", 80)]);
        leases.write(&l).unwrap();
        assert_eq!(leases.all(), vec![l.clone()]);
        assert!(l.owner_alive());
        let dead = Lease {
            owner_start: l.owner_start + 1,
            ..l.clone()
        };
        assert!(!dead.owner_alive());
        leases.remove(l.address);
        assert!(leases.all().is_empty());
        assert!(!Leases::is_active(dir.path()));
        leases.mark_active().unwrap();
        assert!(Leases::is_active(dir.path()));
    }
}
