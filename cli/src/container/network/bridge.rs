//! Root's bridge network, as docker's: the bridge `strata0` with the subnet's first
//! address, a veth pair per container (its end in the container is `eth0`, with the next
//! free address and a default route through the bridge), nftables masquerading and DNAT
//! for published ports (`nft`), and IPv4 forwarding enabled (left on, as docker does).
//!
//! strata sets up what a container needs when it starts and removes it when it ends;
//! the bridge and the table go with the last container. Each step is recorded first
//! (`lease`), so what a killed strata left is removed by the next strata command
//! ([`recover`]).

use super::lease::{self, Lease, Leases};
use super::netlink::Netlink;
use super::nft::{self, NftError};
use super::ports::{self, PortMapping};
use super::NetworkError;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// The bridge's name.
pub const BRIDGE: &str = "strata0";

/// The subnet when `bridge-subnet` does not name one.
pub const DEFAULT_SUBNET: &str = "10.87.0.0/16";

/// The container's end of its veth pair.
const CONTAINER_IF: &str = "eth0";

/// An IPv4 subnet: network address and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subnet {
    /// The network address (host bits zero).
    pub net: Ipv4Addr,
    /// The prefix length.
    pub len: u8,
}

impl Subnet {
    /// Parses `A.B.C.D/LEN` (8 to 30 bits).
    pub fn parse(s: &str) -> Result<Subnet, NetworkError> {
        let bad = || NetworkError::Subnet(s.to_string());
        let (addr, len) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let len: u8 = len.parse().map_err(|_| bad())?;
        if !(8..=30).contains(&len) {
            return Err(bad());
        }
        let mask = u32::MAX << (32 - len);
        Ok(Subnet {
            net: Ipv4Addr::from(u32::from(addr) & mask),
            len,
        })
    }

    /// The bridge's address (the first one).
    pub fn gateway(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.net) + 1)
    }

    /// Whether `net/len` shares addresses with this subnet.
    pub fn overlaps(self, net: Ipv4Addr, len: u8) -> bool {
        let shorter = len.min(self.len);
        let mask = if shorter == 0 {
            0
        } else {
            u32::MAX << (32 - shorter)
        };
        u32::from(net) & mask == u32::from(self.net) & mask
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.len)
    }
}

/// The configured subnet.
fn subnet() -> Result<Subnet, NetworkError> {
    Subnet::parse(
        crate::config::current()
            .bridge_subnet()
            .unwrap_or(DEFAULT_SUBNET),
    )
}

/// The first route of the host (in /proc/net/route's text) other than the default one
/// and the bridge's own that overlaps `subnet`: `(interface, destination/len)`.
pub fn colliding_route(routes: &str, subnet: Subnet) -> Option<(String, String)> {
    routes.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (iface, dest, mask) = (f.first()?, f.get(1)?, f.get(7)?);
        let dest = Ipv4Addr::from(u32::from_be(u32::from_str_radix(dest, 16).ok()?));
        let len = u32::from_str_radix(mask, 16).ok()?.count_ones() as u8;
        (len > 0 && *iface != BRIDGE && subnet.overlaps(dest, len))
            .then(|| (iface.to_string(), format!("{dest}/{len}")))
    })
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetworkError {
    let what = what.into();
    move |source| NetworkError::Io { what, source }
}

fn sysctl(path: &str) -> Result<(), NetworkError> {
    std::fs::write(path, b"1").map_err(io(format!("cannot write 1 to {path}")))
}

/// Creates the bridge, its address, forwarding and the nftables table.
fn create_bridge(leases: &Leases, subnet: Subnet) -> Result<(), NetworkError> {
    leases
        .mark_active()
        .map_err(io("cannot record the bridge network"))?;
    let mut nl = Netlink::open().map_err(io("cannot open a netlink socket"))?;
    let index = nl
        .add_bridge(BRIDGE)
        .map_err(io(format!("cannot create the bridge {BRIDGE}")))?;
    nl.add_address(index, subnet.gateway(), subnet.len)
        .map_err(io(format!("cannot give {BRIDGE} its address")))?;
    nl.set_up(index)
        .map_err(io(format!("cannot set {BRIDGE} up")))?;
    sysctl("/proc/sys/net/ipv4/ip_forward")?;
    sysctl(&format!("/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet"))?;
    nft::create_table(BRIDGE, subnet.net, subnet.len).map_err(NetworkError::from)
}

/// Removes the bridge and the table (when no lease is left).
fn remove_bridge(leases: &Leases) {
    let _ = nft::delete_table();
    if let Ok(mut nl) = Netlink::open() {
        if let Ok(Some(index)) = nl.link_index(BRIDGE) {
            let _ = nl.delete_link(index);
        }
    }
    leases.mark_inactive();
}

/// Removes what `gone` held: their rules, their veths and their leases.
fn release(leases: &Leases, gone: &[Lease]) {
    if gone.is_empty() {
        return;
    }
    // Only containers with published ports have rules of their own.
    let ids: Vec<String> = gone
        .iter()
        .filter(|l| !l.ports.is_empty())
        .map(|l| l.id.clone())
        .collect();
    if !ids.is_empty() {
        let _ = nft::delete_rules_of(&ids);
    }
    if let Ok(mut nl) = Netlink::open() {
        for l in gone {
            if let Ok(Some(index)) = nl.link_index(&l.veth) {
                let _ = nl.delete_link(index);
            }
        }
    }
    for l in gone {
        leases.remove(l.address);
    }
}

/// Under the lock: releases the leases whose process is gone, and removes the bridge
/// when none is left. Returns the live leases.
fn recover_locked(leases: &Leases) -> Vec<Lease> {
    let (live, dead): (Vec<Lease>, Vec<Lease>) =
        leases.all().into_iter().partition(Lease::owner_alive);
    release(leases, &dead);
    if live.is_empty() && Leases::is_active(Path::new(lease::STATE_DIR)) {
        remove_bridge(leases);
    }
    live
}

/// Removes what containers whose strata was killed left of the bridge network; cheap
/// (one stat) when nothing is there.
pub fn recover() {
    let dir = Path::new(lease::STATE_DIR);
    if !Leases::is_active(dir) {
        return;
    }
    if let Ok(leases) = Leases::lock(dir) {
        recover_locked(&leases);
    }
}

/// One container's place on the bridge; dropping it removes its veth, rules and lease,
/// and the bridge with the last container.
pub struct Link {
    lease: Lease,
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Ok(leases) = Leases::lock(Path::new(lease::STATE_DIR)) {
            release(&leases, std::slice::from_ref(&self.lease));
            recover_locked(&leases);
        }
    }
}

/// Joins the container `id`, whose network namespace is `netns`, to the bridge and
/// publishes `ports`.
pub fn attach(id: &str, netns: &OwnedFd, ports: &[PortMapping]) -> Result<Link, NetworkError> {
    if let Some(p) = ports.iter().find(|p| p.host_ip.contains(':')) {
        return Err(NetworkError::Ipv6Publish(p.display()));
    }
    let subnet = subnet()?;
    let leases = Leases::lock(Path::new(lease::STATE_DIR))
        .map_err(io("cannot lock the bridge network's leases"))?;
    let live = recover_locked(&leases);
    if let Some(p) = lease::port_conflict(ports, &live) {
        let ip = if p.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &p.host_ip
        };
        return Err(ports::PortError::InUse(format!("{ip}:{}", p.host_port)).into());
    }
    ports::check_free(ports)?;
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    if let Some((iface, route)) = colliding_route(&routes, subnet) {
        return Err(NetworkError::SubnetInUse {
            subnet: subnet.to_string(),
            route,
            iface,
        });
    }
    if live.is_empty() {
        if let Err(e) = create_bridge(&leases, subnet) {
            remove_bridge(&leases);
            return Err(e);
        }
    }
    let taken: Vec<Ipv4Addr> = live.iter().map(|l| l.address).collect();
    let address = lease::free_address(subnet.net, subnet.len, &taken)
        .ok_or_else(|| NetworkError::SubnetFull(subnet.to_string()))?;
    let me = std::process::id();
    let lease = Lease {
        id: id.to_string(),
        address,
        gateway: subnet.gateway(),
        prefix: subnet.len,
        owner: me,
        owner_start: lease::start_time(me).unwrap_or_default(),
        veth: format!("st{}", &id[..id.len().min(12)]),
        ports: ports.to_vec(),
    };
    leases
        .write(&lease)
        .map_err(io("cannot record the container's address"))?;
    if let Err(e) = connect(&lease, netns, subnet) {
        release(&leases, std::slice::from_ref(&lease));
        recover_locked(&leases);
        return Err(e);
    }
    Ok(Link { lease })
}

/// The veth pair, the container's address and route, and the DNAT rules.
fn connect(lease: &Lease, netns: &OwnedFd, subnet: Subnet) -> Result<(), NetworkError> {
    let mut nl = Netlink::open().map_err(io("cannot open a netlink socket"))?;
    let bridge = nl
        .link_index(BRIDGE)
        .map_err(io(format!("cannot find {BRIDGE}")))?
        .ok_or_else(|| NetworkError::Io {
            what: format!("{BRIDGE} is gone"),
            source: std::io::ErrorKind::NotFound.into(),
        })?;
    nl.add_veth(&lease.veth, bridge, CONTAINER_IF, netns.as_fd())
        .map_err(io(format!("cannot create the veth pair {}", lease.veth)))?;
    let host_side = nl
        .link_index(&lease.veth)
        .map_err(io(format!("cannot find {}", lease.veth)))?
        .unwrap_or_default();
    nl.set_up(host_side)
        .map_err(io(format!("cannot set {} up", lease.veth)))?;
    let mut inside =
        Netlink::open_in(netns.as_fd()).map_err(io("cannot enter the container's network"))?;
    let index = inside
        .link_index(CONTAINER_IF)
        .map_err(io("cannot find the container's eth0"))?
        .unwrap_or_default();
    inside
        .add_address(index, lease.address, subnet.len)
        .map_err(io("cannot give the container its address"))?;
    inside
        .set_up(index)
        .map_err(io("cannot set the container's eth0 up"))?;
    inside
        .add_default_route(subnet.gateway())
        .map_err(io("cannot give the container its default route"))?;
    nft::add_ports(&lease.id, lease.address, &lease.ports).map_err(NetworkError::from)
}

impl From<NftError> for NetworkError {
    fn from(e: NftError) -> NetworkError {
        NetworkError::Nft(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
cni-podman0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
strata0\t0000570A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";

    #[test]
    fn subnets_parse_and_overlap() {
        let s = Subnet::parse("10.87.3.9/16").unwrap();
        assert_eq!(s.net, Ipv4Addr::new(10, 87, 0, 0));
        assert_eq!(s.gateway(), Ipv4Addr::new(10, 87, 0, 1));
        assert_eq!(s.to_string(), "10.87.0.0/16");
        assert!(s.overlaps(Ipv4Addr::new(10, 0, 0, 0), 8));
        assert!(s.overlaps(Ipv4Addr::new(10, 87, 200, 0), 24));
        assert!(!s.overlaps(Ipv4Addr::new(10, 88, 0, 0), 16));
        for bad in ["10.87.0.0", "10.87.0.0/31", "x/16", "10.87.0.0/abc"] {
            assert!(
                matches!(Subnet::parse(bad), Err(NetworkError::Subnet(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_colliding_route_is_found_and_the_default_and_own_are_not() {
        let podman = Subnet::parse("10.88.0.0/16").unwrap();
        assert_eq!(
            colliding_route(ROUTES, podman),
            Some(("cni-podman0".into(), "10.88.0.0/16".into()))
        );
        let ours = Subnet::parse(DEFAULT_SUBNET).unwrap();
        assert_eq!(colliding_route(ROUTES, ours), None);
        let wide = Subnet::parse("192.0.0.0/8").unwrap();
        assert_eq!(colliding_route(ROUTES, wide).unwrap().0, "eth0");
    }
}
