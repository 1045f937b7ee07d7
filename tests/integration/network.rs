//! Networking through the real binary, as root and as an ordinary user: `bridge` (the
//! default) with outbound access and published ports, `none`, `host`, `--dns`,
//! `--add-host`, and nothing left in the host's network configuration afterwards, also
//! when strata is killed with SIGKILL.

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

/// `GET /` of the host's `port` from a container (through the gateway address).
fn from_a_container(env: &Env, port: u16) -> Cmd<'_> {
    let url = format!("http://{}:{port}/", gateway());
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
/// root's nftables ruleset, without what other container engines on the machine make.
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
        for l in String::from_utf8_lossy(&o.stdout).lines() {
            let foreign = ["veth", "docker", "br-", "cni", "podman"]
                .iter()
                .any(|f| l.contains(f));
            if !foreign {
                // Link statistics and lifetimes change by themselves.
                out.push(l.split("valid_lft").next().unwrap().to_string());
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
    let from_container = from_a_container(&env, port).run();
    stop(web);
    let answer = answer.expect("the published port never answered");
    assert!(answer.ends_with("hello\n"), "{answer}");
    assert_eq!(from_container.code, 0, "{}", from_container.stderr);
    assert_eq!(from_container.stdout, "hello\n");
    assert!(http_get_once(port).is_none(), "the port is still open");
    assert_eq!(
        host_network(),
        before,
        "the host's network configuration changed"
    );
    assert_eq!(env.cmd(["ps", "-a", "-q"]).ok().stdout, "");
}

/// One try of `GET /` on the host's loopback.
fn http_get_once(port: u16) -> Option<()> {
    TcpStream::connect(("127.0.0.1", port)).ok().map(drop)
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

#[test]
fn nothing_is_left_after_strata_is_killed() {
    let env = world();
    let before = host_network();
    let port = free_port();
    let name = unique_name("web");
    let id = env
        .cmd([
            "run",
            "-d",
            "--name",
            &name,
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
    let dir = env.store().join("containers").join(&id);
    assert!(!processes_with(&id).is_empty(), "no pasta for {id}");
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
}
