//! The bridge network through `slirp4netns` (Debian's package of that name), for
//! ordinary users who prefer it to pasta: a tap interface in the container's namespace
//! (10.0.2.100, gateway 10.0.2.2, DNS 10.0.2.3), outbound traffic through ordinary
//! sockets of the host, and published ports added through its API socket
//! (`add_hostfwd`). Like pasta it needs no privilege and leaves nothing in the host's
//! network configuration; it ends with the container's watcher (PR_SET_PDEATHSIG).

use super::ports::{PortMapping, Protocol};
use super::NetworkError;
use serde_json::json;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The file in the container's directory strata keeps slirp4netns's pid in.
pub const PID_FILE: &str = "slirp4netns.pid";

/// The descriptor numbers slirp4netns finds the namespace and its ready pipe on.
const NETNS_FD: i32 = 3;
const READY_FD: i32 = 4;

/// The API socket's name in the container's directory.
const API_SOCKET: &str = "slirp4netns.sock";

/// The address slirp4netns gives the container (`--configure`).
pub const GUEST_ADDRESS: &str = "10.0.2.100";

/// slirp4netns's arguments, its API socket at `api`.
pub fn arguments(api: &Path) -> Vec<String> {
    let mut a: Vec<String> = [
        "--configure",
        "--mtu=65520",
        "--disable-host-loopback",
        "--ready-fd=4",
        "--netns-type=path",
    ]
    .map(String::from)
    .to_vec();
    a.push(format!("--api-socket={}", api.display()));
    a.push("/proc/self/fd/3".into());
    a.push("tap0".into());
    a
}

/// The API request publishing `p`.
pub fn hostfwd_request(p: &PortMapping) -> serde_json::Value {
    json!({"execute": "add_hostfwd", "arguments": {
        "proto": match p.protocol { Protocol::Tcp => "tcp", Protocol::Udp => "udp" },
        "host_addr": if p.host_ip.is_empty() { "0.0.0.0" } else { &p.host_ip },
        "host_port": p.host_port,
        "guest_addr": GUEST_ADDRESS,
        "guest_port": p.container_port,
    }})
}

/// A running slirp4netns serving one container.
pub struct Slirp {
    child: Child,
    api: PathBuf,
}

impl Slirp {
    /// Starts slirp4netns for the namespace `netns` of the container whose directory is
    /// `dir`, waits until it has configured it, and publishes `ports`.
    pub fn start(netns: OwnedFd, ports: &[PortMapping], dir: &Path) -> Result<Slirp, NetworkError> {
        let program = super::find_program("slirp4netns").ok_or(NetworkError::NoSlirp4netns)?;
        super::check_tun()?;
        // A socket's path may have 107 bytes at most: slirp4netns makes it in its own
        // working directory, the container's, and strata reaches it through /proc.
        let _ = std::fs::remove_file(dir.join(API_SOCKET));
        let log_path = dir.join("slirp4netns.log");
        let log = std::fs::File::create(&log_path).map_err(|source| NetworkError::Io {
            what: log_path.display().to_string(),
            source,
        })?;
        let (ready_r, ready_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| NetworkError::Io {
                what: "pipe".into(),
                source: e.into(),
            })?;
        let mut cmd = Command::new(&program);
        cmd.args(arguments(Path::new(API_SOCKET)))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        super::pass_fds(
            &mut cmd,
            [
                (netns.as_raw_fd(), NETNS_FD),
                (ready_w.as_raw_fd(), READY_FD),
            ],
        );
        let child = cmd.spawn().map_err(|source| NetworkError::Io {
            what: format!("cannot start {}", program.display()),
            source,
        })?;
        drop((netns, ready_w));
        // Its pid, for `rm -f` to wait for (network::end_user_net).
        let _ = std::fs::write(dir.join(PID_FILE), child.id().to_string());
        let api = PathBuf::from(format!("/proc/{}/cwd/{API_SOCKET}", child.id()));
        let slirp = Slirp { child, api };
        let mut byte = [0u8];
        let ready = rustix::io::read(&ready_r, &mut byte).is_ok_and(|n| n == 1);
        if !ready {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let why = text.lines().rev().find(|l| !l.trim().is_empty());
            return Err(NetworkError::Slirp(
                why.unwrap_or("it ended before the network was ready")
                    .to_string(),
            ));
        }
        for p in ports {
            slirp.publish(p)?;
        }
        Ok(slirp)
    }

    fn publish(&self, p: &PortMapping) -> Result<(), NetworkError> {
        let fail = |what: String| NetworkError::Slirp(format!("publish {}: {what}", p.display()));
        let mut s = UnixStream::connect(&self.api).map_err(|e| fail(e.to_string()))?;
        s.write_all(hostfwd_request(p).to_string().as_bytes())
            .map_err(|e| fail(e.to_string()))?;
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut answer = String::new();
        s.read_to_string(&mut answer)
            .map_err(|e| fail(e.to_string()))?;
        let v: serde_json::Value =
            serde_json::from_str(&answer).map_err(|_| fail(answer.clone()))?;
        match v["error"]["desc"].as_str() {
            Some(desc) => Err(fail(desc.to_string())),
            None => Ok(()),
        }
    }
}

impl Drop for Slirp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.api);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_and_requests() {
        let a = arguments(Path::new("/tmp/s.sock"));
        assert!(a.contains(&"--api-socket=/tmp/s.sock".to_string()));
        assert_eq!(a[a.len() - 2], "/proc/self/fd/3");
        let r = hostfwd_request(&PortMapping {
            host_ip: String::new(),
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Udp,
        });
        assert_eq!(r["execute"], "add_hostfwd");
        assert_eq!(r["arguments"]["proto"], "udp");
        assert_eq!(r["arguments"]["host_addr"], "0.0.0.0");
        assert_eq!(r["arguments"]["guest_port"], 80);
    }
}
