//! Networking through the real binary, as root and as an ordinary user: `bridge` (the
//! default: root's bridge backend, pasta for ordinary users) with outbound access and
//! published ports, slirp4netns and pasta chosen by flag or configuration, `none`,
//! `host`, `--dns`, `--add-host`, and nothing left in the host's network configuration
//! afterwards, also after `rm -f` and when strata is killed with SIGKILL.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use strata_tests::*;

/// An environment with the busybox image as `bb` and a web root in it (`/www`).
fn world() -> Env {
    let env = Env::new();
    env.import_busybox("bb");
    env
}

/// The host's IPv4 default gateway, which pasta maps to the host inside a container.
fn gateway() -> String {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap();
    let line = routes
        .lines()
        .skip(1)
        .find(|l| l.split_whitespace().nth(1) == Some("00000000"))
        .expect("the host has no IPv4 default route");
    let hex = u32::from_str_radix(line.split_whitespace().nth(2).unwrap(), 16).unwrap();
    std::net::Ipv4Addr::from(hex.to_le_bytes()).to_string()
}

/// The bridge backend's default subnet and its gateway, the host's address on it.
const BRIDGE_GATEWAY: &str = "10.87.0.1";

/// The host's address as a container on the default network reaches it: the bridge's
/// for root, the default gateway (which pasta maps to the host) for anyone else.
fn host_from_a_container() -> String {
    if is_root() {
        BRIDGE_GATEWAY.to_string()
    } else {
        gateway()
    }
}

/// `GET /` of the host's `port` from a container (through the host's address).
fn from_a_container(env: &Env, port: u16) -> Cmd<'_> {
    let url = format!("http://{}:{port}/", host_from_a_container());
    env.cmd([
        "run", "--rm", "bb", "busybox", "wget", "-q", "-O", "-", &url,
    ])
}

/// A port that is free on the host now.
fn free_port() -> u16 {
    TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET /` on the host's loopback at `port`, retried until it answers or 10 s pass.
fn http_get(port: u16) -> Option<String> {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n");
            let mut body = String::new();
            if s.read_to_string(&mut body).is_ok() && body.starts_with("HTTP/") {
                return Some(body);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The host's network configuration as `ip` lists it (links, addresses, routes) and
/// root's nftables ruleset, without what other container engines on the machine make
/// and without strata's shared bridge and table, which other tests' containers may be
/// using meanwhile (`bridge_gone_when_idle` checks those; `left_by` a container's own).
fn host_network() -> Vec<String> {
    let mut out = Vec::new();
    let mut lists = vec![
        vec!["ip", "-o", "link"],
        vec!["ip", "-o", "addr"],
        vec!["ip", "route"],
    ];
    if is_root() {
        lists.push(vec!["nft", "list", "ruleset"]);
    }
    for cmd in lists {
        let o = std::process::Command::new(cmd[0])
            .args(&cmd[1..])
            .output()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        assert!(o.status.success(), "{cmd:?} failed");
        let text = String::from_utf8_lossy(&o.stdout);
        let mut in_strata_table = false;
        for l in text.lines() {
            if l.starts_with("table ip strata ") {
                in_strata_table = true;
            }
            // The bridge, and the host ends of veth pairs (`st` and 12 digits of an id).
            let veth = l.split_whitespace().nth(1).is_some_and(|n| {
                let n = n.split('@').next().unwrap_or(n).trim_end_matches(':');
                n.len() == 14 && n.starts_with("st")
            });
            let ours = in_strata_table || l.contains("strata0") || veth;
            if in_strata_table && l == "}" {
                in_strata_table = false;
            }
            let foreign = ["veth", "docker", "br-", "cni", "podman"]
                .iter()
                .any(|f| l.contains(f));
            if !foreign && !ours {
                // Link statistics, lifetimes and other tables' counters change by
                // themselves.
                let l = l.split("valid_lft").next().unwrap();
                out.push(l.split("counter packets").next().unwrap().to_string());
            }
        }
    }
    out
}

/// The processes whose command line mentions `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let state = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let zombie = state
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z');
            if cmd.contains(needle) && !zombie {
                found.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
            }
        }
    }
    found
}

/// `strata run --rm -p PORT:80 bb httpd` in the foreground, serving "hello".
fn start_web(env: &Env, port: u16, extra: &[&str]) -> Child {
    let mut args = vec![
        "run".to_string(),
        "--rm".into(),
        "-p".into(),
        format!("{port}:80"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(
        [
            "bb",
            "sh",
            "-c",
            // PID 1 gets no default action for SIGTERM: the shell's trap ends it.
            "mkdir /www && echo hello > /www/index.html && trap 'exit 0' TERM && \
             { busybox httpd -f -p 80 -h /www & wait; }",
        ]
        .map(String::from),
    );
    env.cmd(args)
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Ends a foreground `strata run` as Ctrl-C from another process would (SIGTERM,
/// passed on to the container), and waits for it.
fn stop(mut c: Child) {
    let pid = rustix::process::Pid::from_raw(c.id() as i32).unwrap();
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if c.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = c.kill();
    panic!("strata run did not end on SIGTERM");
}

#[test]
fn a_published_port_answers_the_host_and_another_container() {
    let env = world();
    let before = host_network();
    let port = free_port();
    let web = start_web(&env, port, &[]);
    let answer = http_get(port);
    // A real client, as a user would try it.
    let curl = std::process::Command::new("curl")
        .args(["-s", "-m", "10", &format!("http://127.0.0.1:{port}/")])
        .output()
        .expect("curl is not installed");
    let from_container = from_a_container(&env, port).run();
    stop(web);
    let answer = answer.expect("the published port never answered");
    assert!(answer.ends_with("hello\n"), "{answer}");
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "hello\n");
    assert_eq!(from_container.code, 0, "{}", from_container.stderr);
    assert_eq!(from_container.stdout, "hello\n");
    assert!(http_get_once(port).is_none(), "the port is still open");
    assert_eq!(
        host_network(),
        before,
        "the host's network configuration changed"
    );
    assert_eq!(env.cmd(["ps", "-a", "-q"]).ok().stdout, "");
    bridge_gone_when_idle();
}

/// One try of `GET /` on the host's loopback.
fn http_get_once(port: u16) -> Option<()> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .ok()
        .map(drop)
}

#[test]
fn the_container_reaches_a_server_on_the_host() {
    let env = world();
    let server = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let serve = std::thread::spawn(move || {
        let (mut s, _) = server.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).unwrap();
        s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nfrom-host")
            .unwrap();
    });
    let out = from_a_container(&env, port).ok();
    serve.join().unwrap();
    assert_eq!(out.stdout, "from-host");
}

/// The interface names in `/proc/net/dev` as the command `run ... bb cat` prints them.
fn interfaces(env: &Env, network: &str) -> Vec<String> {
    let out = env
        .cmd([
            "run",
            "--rm",
            "--network",
            network,
            "bb",
            "cat",
            "/proc/net/dev",
        ])
        .ok();
    let mut v: Vec<String> = out
        .stdout
        .lines()
        .skip(2)
        .map(|l| l.split(':').next().unwrap().trim().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn none_has_only_loopback_host_sees_the_hosts_and_bridge_its_own() {
    let env = world();
    assert_eq!(interfaces(&env, "none"), ["lo"]);
    let mut host: Vec<String> = std::fs::read_to_string("/proc/net/dev")
        .unwrap()
        .lines()
        .skip(2)
        .map(|l| l.split(':').next().unwrap().trim().to_string())
        .collect();
    host.sort();
    let seen = interfaces(&env, "host");
    for i in host.iter().filter(|i| !i.starts_with("veth")) {
        assert!(
            seen.contains(i),
            "{i} is not seen with --network host: {seen:?}"
        );
    }
    let bridge = interfaces(&env, "bridge");
    assert_eq!(
        bridge.len(),
        2,
        "lo and one interface of its own: {bridge:?}"
    );
    assert_eq!(interfaces(&env, "private"), bridge);
    // The loopback interface is up: a server on it answers.
    let out = env
        .cmd([
            "run",
            "--rm",
            "--network",
            "none",
            "bb",
            "sh",
            "-c",
            "mkdir /www && echo up > /www/index.html && busybox httpd -p 8000 -h /www && \
             busybox wget -q -O - http://127.0.0.1:8000/",
        ])
        .ok();
    assert_eq!(out.stdout, "up\n");
}

#[test]
fn dns_and_add_host_are_written() {
    let env = world();
    let out = env
        .cmd([
            "run",
            "--rm",
            "--dns",
            "192.0.2.53",
            "--add-host",
            "db:10.1.2.3",
            "bb",
            "sh",
            "-c",
            "cat /etc/resolv.conf /etc/hosts",
        ])
        .ok();
    assert!(
        out.stdout.starts_with("nameserver 192.0.2.53\n"),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stdout.matches("nameserver").count(),
        1,
        "{}",
        out.stdout
    );
    assert!(out.stdout.ends_with("10.1.2.3\tdb\n"), "{}", out.stdout);
    let e = env
        .cmd(["run", "--rm", "--add-host", "nocolon", "bb", "true"])
        .code(125);
    assert!(e.single_error().contains("bad format for add-host"));
    let e = env
        .cmd(["run", "--rm", "-p", "8080:80/sctp", "bb", "true"])
        .code(125);
    assert_eq!(e.single_error(), "Error: invalid proto: sctp");
    let e = env
        .cmd(["run", "--rm", "--network", "none", "-p", "80", "bb", "true"])
        .code(125);
    assert!(e.single_error().contains("conflicting options"));
    assert_eq!(env.cmd(["ps", "-a", "-q"]).ok().stdout, "");
}

#[test]
fn a_port_that_cannot_be_bound_is_an_error_not_a_fallback() {
    let env = world();
    // A port in use on the host.
    let taken = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = env
        .cmd(["run", "--rm", "-p", &format!("{port}:80"), "bb", "true"])
        .code(125);
    assert_eq!(
        out.single_error(),
        format!("Error: Bind for 0.0.0.0:{port} failed: port is already allocated")
    );
    // A port below 1024: root may bind it, an ordinary user may not.
    let low = (81..1024)
        .find(|p| TcpListener::bind(("0.0.0.0", *p)).is_ok() || !is_root())
        .unwrap();
    let out = env
        .cmd(["run", "--rm", "-p", &format!("{low}:80"), "bb", "true"])
        .run();
    if is_root() {
        assert_eq!(out.code, 0, "{}", out.stderr);
    } else {
        assert_eq!(out.code, 125);
        assert_eq!(
            out.single_error(),
            format!(
                "Error: cannot publish 0.0.0.0:{low}: ports below 1024 need root \
                 (sysctl net.ipv4.ip_unprivileged_port_start=1024)"
            )
        );
    }
    assert_eq!(env.cmd(["ps", "-a", "-q"]).ok().stdout, "");
}

/// `strata run -d --name NAME -p PORT:80 bb httpd`, answering "hi"; returns its id.
fn detached_web(env: &Env, port: u16, name: &str) -> String {
    let id = env
        .cmd([
            "run",
            "-d",
            "--name",
            name,
            "-p",
            &format!("{port}:80"),
            "bb",
            "sh",
            "-c",
            "mkdir /www && echo hi > /www/index.html && exec busybox httpd -f -p 80 -h /www",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert!(http_get(port).expect("no answer").ends_with("hi\n"));
    id
}

/// Writes the test user's config.toml.
fn configure(env: &Env, text: &str) {
    let dir = env.home().join(".config/strata");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

#[test]
fn nothing_is_left_after_strata_is_killed() {
    let env = world();
    let before = host_network();
    let port = free_port();
    let name = unique_name("web");
    let id = detached_web(&env, port, &name);
    let dir = env.store().join("containers").join(&id);
    if is_root() {
        assert!(!left_by(&id).is_empty(), "no veth, rules or lease for {id}");
    } else {
        assert!(!processes_with(&id).is_empty(), "no pasta for {id}");
    }
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).unwrap()).unwrap();
    let watcher = state["pid"].as_i64().expect("no watcher pid") as i32;
    let pid = rustix::process::Pid::from_raw(watcher).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while !processes_with(&id).is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(processes_with(&id), Vec::<String>::new(), "left running");
    // Root's bridge backend leaves its rules and lease to the next strata command.
    let any = env.cmd(["ps", "-a", "-q"]).ok();
    assert!(any.stdout.contains(&id[..12]), "{}", any.stdout);
    assert_eq!(left_by(&id), Vec::<String>::new(), "left on the host");
    // A process's command line goes before its descriptors do, so the port may take a
    // moment longer; one that stays open is a leak.
    let end = Instant::now() + Duration::from_secs(5);
    while http_get_once(port).is_some() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(http_get_once(port).is_none(), "the port is still open");
    assert_eq!(
        host_network(),
        before,
        "the host's network configuration changed"
    );
    env.cmd(["rm", "-f", &name]).ok();
    assert_eq!(
        host_network(),
        before,
        "the host's network configuration changed"
    );
    bridge_gone_when_idle();
}

#[test]
fn rm_of_a_running_container_removes_its_network() {
    let env = world();
    let before = host_network();
    let port = free_port();
    let id = detached_web(&env, port, &unique_name("web"));
    let out = env.cmd(["container", "inspect", &id]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let settings = &v[0]["NetworkSettings"];
    assert_eq!(
        settings["Ports"]["80/tcp"][0]["HostPort"],
        port.to_string(),
        "{settings}"
    );
    if is_root() {
        let ip = settings["IPAddress"].as_str().unwrap();
        assert!(ip.starts_with("10.87."), "{settings}");
        assert_eq!(settings["Networks"]["bridge"]["Gateway"], BRIDGE_GATEWAY);
        // Another container reaches it at that address, on the container's own port.
        let direct = env
            .cmd([
                "run",
                "--rm",
                "bb",
                "busybox",
                "wget",
                "-q",
                "-O",
                "-",
                &format!("http://{ip}:80/"),
            ])
            .ok();
        assert_eq!(direct.stdout, "hi\n");
    }
    env.cmd(["rm", "-f", &id]).ok();
    assert_eq!(left_by(&id), Vec::<String>::new(), "left on the host");
    assert!(http_get_once(port).is_none(), "the port is still open");
    assert_eq!(host_network(), before);
    bridge_gone_when_idle();
}

/// What strata's bridge backend holds for the container `id`: its veth, its nftables
/// rules and its lease (empty for other backends and once it is all removed).
fn left_by(id: &str) -> Vec<String> {
    let mut found = Vec::new();
    if !is_root() {
        return found;
    }
    let veth = format!("st{}", &id[..12]);
    let links = std::process::Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap();
    if String::from_utf8_lossy(&links.stdout).contains(&format!(" {veth}@")) {
        found.push(format!("veth {veth}"));
    }
    let rules = std::process::Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .unwrap();
    if String::from_utf8_lossy(&rules.stdout).contains(id) {
        found.push("nftables rules".into());
    }
    for e in std::fs::read_dir(LEASES).into_iter().flatten().flatten() {
        if std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(id)) {
            found.push(format!("lease {}", e.path().display()));
        }
    }
    found
}

/// Where root's bridge backend keeps its leases and its lock.
const LEASES: &str = "/run/strata/network";

/// With the leases locked (no strata changes the bridge meanwhile): when no container
/// holds a lease, neither the bridge nor strata's nftables table is there.
fn bridge_gone_when_idle() {
    if !is_root() {
        return;
    }
    let lock = match std::fs::File::open(format!("{LEASES}/lock")) {
        Ok(f) => f,
        Err(_) => return,
    };
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let leases = std::fs::read_dir(LEASES)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".lease"))
        .count();
    if leases == 0 {
        let links = std::process::Command::new("ip")
            .args(["-o", "link"])
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&links.stdout).contains("strata0"),
            "the bridge is left with no container on it"
        );
        let tables = std::process::Command::new("nft")
            .args(["list", "tables"])
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&tables.stdout).contains("table ip strata"),
            "the nftables table is left with no container"
        );
    }
}

#[test]
fn a_second_container_cannot_publish_the_same_host_port() {
    let env = world();
    let port = free_port();
    let web = start_web(&env, port, &[]);
    let up = http_get(port);
    let second = env
        .cmd(["run", "--rm", "-p", &format!("{port}:80"), "bb", "true"])
        .run();
    stop(web);
    assert!(up.is_some(), "the first container never answered");
    assert_eq!(second.code, 125, "{}", second.stderr);
    assert_eq!(
        second.single_error(),
        format!("Error: Bind for 0.0.0.0:{port} failed: port is already allocated")
    );
    assert_eq!(env.cmd(["ps", "-a", "-q"]).ok().stdout, "");
}

/// A web server through `--network slirp4netns` (or the `network-backend` key): reached
/// from the host and from another container; its own address is slirp4netns's.
fn slirp_web(env: &Env, extra: &[&str]) {
    let before = host_network();
    let port = free_port();
    let web = start_web(env, port, extra);
    let answer = http_get(port);
    // Another slirp4netns container reaches the host through its outward address
    // (slirp4netns's own gateway to the host's loopback is turned off).
    let outward = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    outward.connect((gateway().as_str(), 53)).unwrap();
    let host = outward.local_addr().unwrap().ip();
    let url = format!("http://{host}:{port}/");
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(extra);
    args.extend(["bb", "busybox", "wget", "-q", "-O", "-", &url]);
    let from_container = env.cmd(args).run();
    stop(web);
    let answer = answer.expect("the published port never answered");
    assert!(answer.ends_with("hello\n"), "{answer}");
    assert_eq!(from_container.code, 0, "{}", from_container.stderr);
    assert_eq!(from_container.stdout, "hello\n");
    assert!(http_get_once(port).is_none(), "the port is still open");
    assert_eq!(host_network(), before);
    assert_eq!(env.cmd(["ps", "-a", "-q"]).ok().stdout, "");
}

#[test]
fn slirp4netns_publishes_ports_by_flag_and_by_configuration() {
    let env = world();
    slirp_web(&env, &["--network", "slirp4netns"]);
    let out = env
        .cmd([
            "run",
            "--rm",
            "--network",
            "slirp4netns",
            "bb",
            "busybox",
            "ip",
            "-4",
            "addr",
        ])
        .ok();
    assert!(out.stdout.contains("inet 10.0.2.100/24"), "{}", out.stdout);
    configure(&env, "network-backend = \"slirp4netns\"\n");
    assert_eq!(interfaces(&env, "bridge"), ["lo", "tap0"]);
    slirp_web(&env, &[]);
}

#[test]
fn root_bridge_gives_an_address_a_route_and_resolv_conf() {
    if !is_root() {
        // An ordinary user's bridge network is pasta's, tested above; the bridge backend
        // itself is refused for them, which this checks.
        let env = world();
        configure(&env, "network-backend = \"bridge\"\n");
        let e = env.cmd(["run", "--rm", "bb", "true"]).code(125);
        assert!(
            e.single_error().contains("the bridge backend needs root"),
            "{}",
            e.stderr
        );
        return;
    }
    let env = world();
    let out = env
        .cmd([
            "run",
            "--rm",
            "bb",
            "sh",
            "-c",
            "busybox ip -4 addr show eth0; busybox ip route; cat /etc/resolv.conf",
        ])
        .ok();
    assert!(out.stdout.contains("inet 10.87."), "{}", out.stdout);
    assert!(
        out.stdout
            .contains(&format!("default via {BRIDGE_GATEWAY} dev eth0")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("nameserver"), "{}", out.stdout);
    // A subnet that overlaps one of the host's routes is refused, naming the route.
    let routes = std::fs::read_to_string("/proc/net/route").unwrap();
    let line = routes
        .lines()
        .skip(1)
        .find(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f[1] != "00000000" && f[0] != "strata0"
        })
        .expect("the host has no route but the default one");
    let f: Vec<&str> = line.split_whitespace().collect();
    let net = std::net::Ipv4Addr::from(u32::from_str_radix(f[1], 16).unwrap().to_le_bytes());
    let len = u32::from_str_radix(f[7], 16).unwrap().count_ones();
    configure(&env, &format!("bridge-subnet = \"{net}/{len}\"\n"));
    let e = env.cmd(["run", "--rm", "bb", "true"]).code(125);
    assert_eq!(
        e.single_error(),
        format!(
            "Error: cannot set up the bridge network: its subnet {net}/{len} overlaps the route \
             {net}/{len} on {}; set bridge-subnet in /etc/strata/config.toml to a free private subnet",
            f[0]
        )
    );
    assert_eq!(env.cmd(["ps", "-a", "-q"]).ok().stdout, "");
    bridge_gone_when_idle();
}

#[test]
fn root_can_still_choose_pasta() {
    let env = world();
    let port = free_port();
    let web = start_web(&env, port, &["--network", "pasta"]);
    let answer = http_get(port);
    stop(web);
    assert!(answer
        .expect("no answer through pasta")
        .ends_with("hello\n"));
    let got = interfaces(&env, "pasta");
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(!got.contains(&"tap0".to_string()), "{got:?}");
}
