//! Published ports: `-p [IP:][HOST:]CONTAINER[/tcp|/udp]` and `-P` (every port the image
//! EXPOSEs, each on a free host port), as docker parses them.

use serde::{Deserialize, Serialize};

/// A port's transport protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP (docker's default).
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// docker's name: `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One host port forwarded to a container port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// The host address it is bound to (empty: every address).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
    /// The host port (chosen when the container is created if the flag left it out).
    pub host_port: u16,
    /// The port in the container.
    pub container_port: u16,
    /// TCP or UDP.
    #[serde(default)]
    pub protocol: Protocol,
}

impl PortMapping {
    /// A mapping of `host_ip:host_port` to `container_port` (tests' shorthand).
    #[cfg(test)]
    pub fn of(host_ip: &str, host_port: u16, container_port: u16, protocol: Protocol) -> Self {
        PortMapping {
            host_ip: host_ip.into(),
            host_port,
            container_port,
            protocol,
        }
    }

    /// As `ps` shows it: `0.0.0.0:8080->80/tcp`.
    pub fn display(&self) -> String {
        let ip = if self.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &self.host_ip
        };
        let ip = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        format!(
            "{ip}:{}->{}/{}",
            self.host_port,
            self.container_port,
            self.protocol.as_str()
        )
    }
}

/// A `-p` or EXPOSE entry that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Not `[IP:][HOST:]CONTAINER[/PROTO]`.
    #[error("invalid publish spec: {0}")]
    Spec(String),
    /// A port that is not a number from 1 to 65535.
    #[error("invalid port: {0}")]
    Port(String),
    /// A protocol other than tcp or udp.
    #[error("invalid proto: {0}")]
    Protocol(String),
    /// An IP that is not an address.
    #[error("invalid ip address: {0}")]
    Ip(String),
    /// No free host port could be found.
    #[error("cannot find a free host port: {0}")]
    NoFreePort(String),
    /// The host port is taken (docker's words).
    #[error("Bind for {0} failed: port is already allocated")]
    InUse(String),
    /// The host port is below the first one an ordinary user may bind.
    #[error(
        "cannot publish {addr}: ports below {first} need root \
         (sysctl net.ipv4.ip_unprivileged_port_start={first})"
    )]
    Privileged {
        /// The host address and port.
        addr: String,
        /// The first port ordinary users may bind.
        first: String,
    },
    /// The host port cannot be bound for another reason.
    #[error("cannot publish {addr}: {source}")]
    Bind {
        /// The host address and port.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn port(s: &str) -> Result<u16, PortError> {
    s.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| PortError::Port(s.to_string()))
}

fn protocol(s: &str) -> Result<Protocol, PortError> {
    match s {
        "" | "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        other => Err(PortError::Protocol(other.to_string())),
    }
}

/// Parses `-p`: `CONTAINER`, `HOST:CONTAINER`, `IP:HOST:CONTAINER`, `IP::CONTAINER`
/// (an IPv6 address in brackets), each with an optional `/tcp` or `/udp`. A missing host
/// port is 0, to be chosen by [`assign_free_ports`].
pub fn parse_publish(spec: &str) -> Result<PortMapping, PortError> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, protocol(p)?),
        None => (spec, Protocol::Tcp),
    };
    let (ip, rest) = match rest.strip_prefix('[') {
        Some(r) => {
            let (ip, r) = r
                .split_once("]:")
                .ok_or_else(|| PortError::Spec(spec.to_string()))?;
            (ip.to_string(), r)
        }
        None => match rest.matches(':').count() {
            0 | 1 => (String::new(), rest),
            2 => {
                let (ip, r) = rest.split_once(':').unwrap_or_default();
                (ip.to_string(), r)
            }
            _ => return Err(PortError::Spec(spec.to_string())),
        },
    };
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(PortError::Ip(ip));
    }
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest),
    };
    if container.is_empty() {
        return Err(PortError::Spec(spec.to_string()));
    }
    Ok(PortMapping {
        host_ip: ip,
        host_port: if host.is_empty() { 0 } else { port(host)? },
        container_port: port(container)?,
        protocol: proto,
    })
}

/// The mappings `-P` adds: each EXPOSEd port (`80/tcp`, `53/udp`, `8080`) on a host port
/// to be chosen.
pub fn exposed(ports: &[String]) -> Result<Vec<PortMapping>, PortError> {
    ports
        .iter()
        .map(|p| {
            let (n, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            Ok(PortMapping {
                host_ip: String::new(),
                host_port: 0,
                container_port: port(n)?,
                protocol: protocol(proto)?,
            })
        })
        .collect()
}

/// The host address a mapping binds (every IPv4 address when none was given).
fn bind_addr(p: &PortMapping, port: u16) -> Result<std::net::SocketAddr, PortError> {
    let ip = if p.host_ip.is_empty() {
        "0.0.0.0"
    } else {
        &p.host_ip
    };
    let ip = ip.parse().map_err(|_| PortError::Ip(ip.to_string()))?;
    Ok(std::net::SocketAddr::new(ip, port))
}

/// Binds the mapping's host address and port and returns the bound address.
fn try_bind(p: &PortMapping, port: u16) -> Result<std::net::SocketAddr, std::io::Error> {
    let addr = bind_addr(p, port).map_err(std::io::Error::other)?;
    match p.protocol {
        Protocol::Tcp => std::net::TcpListener::bind(addr).and_then(|l| l.local_addr()),
        Protocol::Udp => std::net::UdpSocket::bind(addr).and_then(|s| s.local_addr()),
    }
}

/// Checks, just before the container starts, that every host port can be bound, so
/// that a taken or privileged port is refused in docker's words rather than left to
/// the forwarder (which binds what it can and goes on).
pub fn check_free(ports: &[PortMapping]) -> Result<(), PortError> {
    for p in ports {
        let addr = bind_addr(p, p.host_port)?.to_string();
        match try_bind(p, p.host_port) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(PortError::InUse(addr))
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                let first =
                    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
                        .map(|s| s.trim().to_string())
                        .unwrap_or_else(|_| "1024".into());
                return Err(PortError::Privileged { addr, first });
            }
            Err(source) => return Err(PortError::Bind { addr, source }),
        }
    }
    Ok(())
}

/// Gives every mapping without a host port a free one, as the kernel picks it for a
/// socket bound to port 0.
pub fn assign_free_ports(ports: &mut [PortMapping]) -> Result<(), PortError> {
    for p in ports.iter_mut().filter(|p| p.host_port == 0) {
        let ip = if p.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &p.host_ip
        };
        let addr =
            std::net::SocketAddr::new(ip.parse().map_err(|_| PortError::Ip(ip.to_string()))?, 0);
        let bound = match p.protocol {
            Protocol::Tcp => std::net::TcpListener::bind(addr).and_then(|l| l.local_addr()),
            Protocol::Udp => std::net::UdpSocket::bind(addr).and_then(|s| s.local_addr()),
        };
        p.host_port = bound
            .map_err(|e| PortError::NoFreePort(e.to_string()))?
            .port();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(ip: &str, host: u16, ctr: u16, protocol: Protocol) -> PortMapping {
        PortMapping {
            host_ip: ip.into(),
            host_port: host,
            container_port: ctr,
            protocol,
        }
    }

    #[test]
    fn publish_specs_as_docker_reads_them() {
        use Protocol::*;
        assert_eq!(parse_publish("80").unwrap(), map("", 0, 80, Tcp));
        assert_eq!(parse_publish("8080:80").unwrap(), map("", 8080, 80, Tcp));
        assert_eq!(parse_publish("53:53/udp").unwrap(), map("", 53, 53, Udp));
        assert_eq!(
            parse_publish("127.0.0.1:8080:80/tcp").unwrap(),
            map("127.0.0.1", 8080, 80, Tcp)
        );
        assert_eq!(
            parse_publish("127.0.0.1::80").unwrap(),
            map("127.0.0.1", 0, 80, Tcp)
        );
        assert_eq!(
            parse_publish("[::1]:8080:80").unwrap(),
            map("::1", 8080, 80, Tcp)
        );
    }

    #[test]
    fn bad_publish_specs_are_refused() {
        assert_eq!(
            parse_publish("8080:80/sctp").unwrap_err().to_string(),
            "invalid proto: sctp"
        );
        for (spec, bad) in [("x:80", "x"), ("8080:0", "0"), ("8080:70000", "70000")] {
            let e = parse_publish(spec).unwrap_err();
            assert!(matches!(&e, PortError::Port(p) if p == bad), "{spec}: {e}");
        }
        assert_eq!(
            parse_publish("nohost:1:2").unwrap_err().to_string(),
            "invalid ip address: nohost"
        );
        assert!(matches!(parse_publish("8080:"), Err(PortError::Spec(_))));
        assert!(matches!(parse_publish("1:2:3:4"), Err(PortError::Spec(_))));
    }

    #[test]
    fn exposed_ports_and_free_host_ports() {
        let mut ports = exposed(&["80/tcp".into(), "53/udp".into(), "9000".into()]).unwrap();
        assert_eq!(ports[1], map("", 0, 53, Protocol::Udp));
        assert_eq!(ports[2].protocol, Protocol::Tcp);
        ports.push(map("", 8080, 81, Protocol::Tcp));
        assign_free_ports(&mut ports).unwrap();
        assert!(ports.iter().all(|p| p.host_port != 0));
        assert_eq!(ports[3].host_port, 8080);
        assert!(exposed(&["x/tcp".into()]).is_err());
    }

    #[test]
    fn a_taken_port_is_refused_in_dockers_words() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let m = map("127.0.0.1", port, 80, Protocol::Tcp);
        let e = check_free(&[m]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Bind for 127.0.0.1:{port} failed: port is already allocated")
        );
        drop(taken);
        check_free(&[map("127.0.0.1", port, 80, Protocol::Tcp)]).unwrap();
    }

    #[test]
    fn shown_as_ps_does() {
        assert_eq!(
            map("", 8080, 80, Protocol::Tcp).display(),
            "0.0.0.0:8080->80/tcp"
        );
        assert_eq!(
            map("::1", 53, 53, Protocol::Udp).display(),
            "[::1]:53->53/udp"
        );
    }
}
