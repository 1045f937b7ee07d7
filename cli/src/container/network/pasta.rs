//! The bridge network through `pasta` (Debian's `passt` package): a tap interface in the
//! container's network namespace with the host's addresses and routes, outbound traffic
//! carried by ordinary sockets of the host, and published ports bound on the host. It
//! needs no privilege, so it serves root and ordinary users alike, and it changes nothing
//! in the host's network configuration: when it ends, nothing is left.
//!
//! pasta runs in the foreground as the watcher's child with PR_SET_PDEATHSIG, so it ends
//! with the watcher even when that is killed; it reaches the namespace through a
//! descriptor it inherits (`/proc/self/fd/3`), which needs no access to another process's
//! /proc entry.

use super::ports::{PortMapping, Protocol};
use super::NetworkError;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The file in the container's directory pasta writes its pid to.
pub const PID_FILE: &str = "pasta.pid";

/// The descriptor number pasta finds the namespace on.
const NETNS_FD: i32 = 3;

/// How long pasta may take to set the namespace up.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// pasta's `-t`/`-u` value for one mapping: `[IP/]HOST:CONTAINER`.
fn forward_spec(p: &PortMapping) -> String {
    let ip = if p.host_ip.is_empty() {
        String::new()
    } else {
        format!("{}/", p.host_ip)
    };
    format!("{ip}{}:{}", p.host_port, p.container_port)
}

/// pasta's arguments for a namespace on descriptor 3 with these ports published,
/// writing its pid to `pid_file` once the namespace is ready.
pub fn arguments(ports: &[PortMapping], pid_file: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--foreground",
        "--quiet",
        "--config-net",
        "--netns",
        "/proc/self/fd/3",
        "--no-netns-quit",
        "--runas",
        "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (flag, proto) in [("-t", Protocol::Tcp), ("-u", Protocol::Udp)] {
        let specs: Vec<String> = ports
            .iter()
            .filter(|p| p.protocol == proto)
            .map(forward_spec)
            .collect();
        args.push(flag.into());
        args.push(if specs.is_empty() {
            "none".into()
        } else {
            specs.join(",")
        });
    }
    args.extend(["-T", "none", "-U", "none", "--pid"].map(String::from));
    args.push(pid_file.to_string_lossy().into_owned());
    args
}

/// A running pasta serving one container.
pub struct Pasta {
    child: Child,
}

impl Pasta {
    /// Starts pasta for the namespace `netns`, publishing `ports`, and waits until the
    /// namespace's interface is configured. Its messages go to `log`.
    pub fn start(netns: OwnedFd, ports: &[PortMapping], dir: &Path) -> Result<Pasta, NetworkError> {
        let program = super::find_program("pasta").ok_or(NetworkError::NoPasta)?;
        super::check_tun()?;
        let pid_file = dir.join(PID_FILE);
        let log_path = dir.join("pasta.log");
        let _ = std::fs::remove_file(&pid_file);
        let log = std::fs::File::create(&log_path).map_err(|source| NetworkError::Io {
            what: log_path.display().to_string(),
            source,
        })?;
        let mut cmd = Command::new(&program);
        cmd.args(arguments(ports, &pid_file))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        super::pass_fds(&mut cmd, [(netns.as_raw_fd(), NETNS_FD)]);
        let child = cmd.spawn().map_err(|source| NetworkError::Io {
            what: format!("cannot start {}", program.display()),
            source,
        })?;
        drop(netns);
        let mut pasta = Pasta { child };
        pasta.wait_ready(&pid_file, &log_path)?;
        Ok(pasta)
    }

    fn wait_ready(&mut self, pid_file: &Path, log: &Path) -> Result<(), NetworkError> {
        let start = Instant::now();
        loop {
            if pid_file.exists() {
                return Ok(());
            }
            let ended = self.child.try_wait().ok().flatten().is_some();
            if ended || start.elapsed() > READY_TIMEOUT {
                self.stop();
                let text = std::fs::read_to_string(log).unwrap_or_default();
                let why = text
                    .lines()
                    .rev()
                    .find(|l| !l.contains("syslog") && !l.trim().is_empty())
                    .unwrap_or(if ended {
                        "it ended"
                    } else {
                        "it did not answer"
                    })
                    .to_string();
                return Err(NetworkError::Pasta(why));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Ends pasta (its ports are released) and waits for it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Pasta {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_publish_tcp_and_udp_and_nothing_else() {
        let ports = vec![
            PortMapping {
                host_ip: String::new(),
                host_port: 8080,
                container_port: 80,
                protocol: Protocol::Tcp,
            },
            PortMapping {
                host_ip: "127.0.0.1".into(),
                host_port: 8443,
                container_port: 443,
                protocol: Protocol::Tcp,
            },
            PortMapping {
                host_ip: String::new(),
                host_port: 5353,
                container_port: 53,
                protocol: Protocol::Udp,
            },
        ];
        let a = arguments(&ports, Path::new("/c/pasta.pid"));
        let after = |flag: &str| {
            let i = a.iter().position(|x| x == flag).unwrap();
            a[i + 1].clone()
        };
        assert_eq!(after("-t"), "8080:80,127.0.0.1/8443:443");
        assert_eq!(after("-u"), "5353:53");
        assert_eq!(after("-T"), "none");
        assert_eq!(after("-U"), "none");
        assert_eq!(after("--netns"), "/proc/self/fd/3");
        assert_eq!(after("--pid"), "/c/pasta.pid");
        assert!(a.contains(&"--foreground".to_string()));
        let none = arguments(&[], Path::new("/p"));
        assert_eq!(none.iter().filter(|x| *x == "none").count(), 4, "{none:?}");
    }
}
