//! The further `run` options through the real binary, as root and as an ordinary user:
//! `--read-only`, `--tmpfs`, `--mount`, `--init`, capabilities, `--privileged`,
//! `-m`/`--cpus`/`--pids-limit`, `--platform`, labels and `--stop-signal`.

use strata_tests::*;

fn world() -> Env {
    let env = Env::new();
    env.import_busybox("bb");
    env
}

/// `run --rm OPTIONS bb sh -c SCRIPT`, which must succeed; its output.
fn sh(env: &Env, options: &[&str], script: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend(options);
    args.extend(["bb", "sh", "-c", script]);
    env.cmd(args).ok().stdout
}

#[test]
fn read_only_root_refuses_writes_and_tmpfs_mounts_are_tmpfs() {
    let env = world();
    let out = sh(
        &env,
        &["--read-only", "--tmpfs", "/scratch:size=1m,mode=700"],
        "touch /x 2>&1; echo rc=$?; touch /scratch/ok && echo written; \
         busybox grep ' /scratch ' /proc/mounts",
    );
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.contains("rc=1\nwritten\n"), "{out}");
    assert!(out.contains(" /scratch tmpfs "), "{out}");
    assert!(
        out.contains("size=1024k") && out.contains("mode=700"),
        "{out}"
    );
    // Without --read-only the root takes writes.
    assert_eq!(sh(&env, &[], "touch /x && echo ok"), "ok\n");
}

#[test]
fn mount_binds_and_tmpfs() {
    let env = world();
    let host = env.path().join("shared");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("in"), "from host\n").unwrap();
    let bind = format!("type=bind,source={},target=/data,readonly", host.display());
    let out = sh(
        &env,
        &["--mount", &bind, "--mount", "type=tmpfs,target=/cache"],
        "cat /data/in; touch /data/new 2>/dev/null || echo ro; \
         busybox grep -c ' /cache tmpfs ' /proc/mounts",
    );
    assert_eq!(out, "from host\nro\n1\n");
    let e = env
        .cmd([
            "run",
            "--rm",
            "--mount",
            "type=volume,target=/v",
            "bb",
            "true",
        ])
        .code(125);
    assert!(e.single_error().contains("named volumes are not supported"));
}

#[test]
fn init_is_pid_1_and_reaps_orphans() {
    let env = world();
    // The shell leaves an orphan (a backgrounded sleep's parent exits at once); with
    // --init it is reaped, so no zombie is left once it ends.
    let script = "cat /proc/1/comm; (sleep 0.2 &) ; sleep 1; \
                  for s in /proc/[0-9]*/stat; do cat $s; echo; done | busybox grep -c ') Z ' || true";
    let out = sh(&env, &["--init"], script);
    assert_eq!(out.lines().next(), Some("strata"), "{out}");
    assert_eq!(out.lines().last(), Some("0"), "{out}");
    // Without it the command is PID 1.
    assert_eq!(sh(&env, &[], "cat /proc/1/comm; :"), "sh\n");
    // --init passes SIGTERM on, and the exit status comes back.
    env.cmd(["run", "--rm", "--init", "bb", "sh", "-c", "exit 7"])
        .code(7);
}

/// The capability bounding set of the container's shell.
fn cap_bounding(env: &Env, options: &[&str]) -> u64 {
    let out = sh(env, options, "busybox grep CapBnd /proc/self/status");
    u64::from_str_radix(out.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn capabilities_are_added_and_dropped() {
    let env = world();
    let default = cap_bounding(&env, &[]);
    assert_eq!(default, 0xa80425fb, "docker's default set");
    let more = cap_bounding(&env, &["--cap-add", "NET_ADMIN", "--cap-drop", "chown"]);
    assert_eq!(more, (default | 1 << 12) & !1);
    assert_eq!(cap_bounding(&env, &["--cap-drop", "ALL"]), 0);
    let e = env
        .cmd(["run", "--rm", "--cap-add", "CAP_FOO", "bb", "true"])
        .code(125);
    assert_eq!(e.single_error(), "Error: unknown capability: \"CAP_FOO\"");
}

#[test]
fn privileged_is_for_root_only() {
    let env = world();
    let out = env
        .cmd([
            "run",
            "--rm",
            "--privileged",
            "bb",
            "sh",
            "-c",
            "busybox grep CapBnd /proc/self/status; ls /dev | busybox wc -l",
        ])
        .run();
    if is_root() {
        assert_eq!(out.code, 0, "{}", out.stderr);
        let bnd = out.stdout.split_whitespace().nth(1).unwrap();
        // Every capability strata itself has.
        let own = std::fs::read_to_string("/proc/self/status").unwrap();
        let own = own.lines().find(|l| l.starts_with("CapBnd")).unwrap();
        let own = u64::from_str_radix(own.split_whitespace().nth(1).unwrap(), 16).unwrap();
        assert_eq!(u64::from_str_radix(bnd, 16).unwrap(), own);
        let devices: usize = out.stdout.lines().last().unwrap().trim().parse().unwrap();
        assert!(devices > 20, "the host's devices: {devices}");
    } else {
        assert_eq!(out.code, 125);
        assert!(out
            .single_error()
            .starts_with("Error: --privileged needs root"));
    }
}

#[test]
fn resource_limits_go_into_the_containers_cgroup() {
    let env = world();
    let out = env
        .cmd([
            "run",
            "--rm",
            "-m",
            "64m",
            "--pids-limit",
            "20",
            "--cpus",
            "0.5",
            "bb",
            "sh",
            "-c",
            "cat /proc/self/cgroup",
        ])
        .run();
    if !is_root() {
        assert_eq!(out.code, 125);
        assert!(
            out.single_error()
                .starts_with("Error: resource limits (--memory, --cpus, --pids-limit) need"),
            "{}",
            out.stderr
        );
        return;
    }
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(":memory:") || l.starts_with("0::"))
        .unwrap()
        .to_string();
    let path = line.splitn(3, ':').nth(2).unwrap();
    assert!(path.starts_with("/strata/"), "{}", out.stdout);
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory").exists();
    let dir = if v1 {
        format!("/sys/fs/cgroup/memory{path}")
    } else {
        format!("/sys/fs/cgroup{path}")
    };
    // Gone once the container ended.
    assert!(!std::path::Path::new(&dir).exists(), "{dir} is left");
    // The limit is in the cgroup's file while the container runs.
    let file = if v1 {
        "memory.limit_in_bytes"
    } else {
        "memory.max"
    };
    let probe = std::thread::spawn(move || {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < end {
            let base = if v1 {
                "/sys/fs/cgroup/memory/strata"
            } else {
                "/sys/fs/cgroup/strata"
            };
            for e in std::fs::read_dir(base).into_iter().flatten().flatten() {
                if let Ok(v) = std::fs::read_to_string(e.path().join(file)) {
                    if v.trim() == (64u64 << 20).to_string() {
                        return true;
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        false
    });
    sh(&env, &["-m", "64m"], "sleep 2");
    assert!(probe.join().unwrap(), "no cgroup with the limit was seen");
    let e = env.cmd(["run", "--rm", "-m", "1m", "bb", "true"]).code(125);
    assert!(e
        .single_error()
        .contains("Minimum memory limit allowed is 6MB"));
}

#[test]
fn platform_labels_and_stop_signal() {
    let env = world();
    let host = format!("linux/{}", go_arch());
    sh(&env, &["--platform", &host], "true");
    let e = env
        .cmd(["run", "--rm", "--platform", "linux/s390x", "bb", "true"])
        .code(125);
    assert!(e
        .single_error()
        .contains("strata runs containers of the host's platform only"));
    let name = unique_name("lab");
    env.cmd([
        "run",
        "--name",
        &name,
        "-l",
        "a=1",
        "--label",
        "b=2",
        "--stop-signal",
        "usr1",
        "bb",
        "true",
    ])
    .ok();
    let config = std::fs::read_dir(env.store().join("containers"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path().join("container.json")).unwrap())
        .find(|t| t.contains(&name))
        .unwrap();
    let rec: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(rec["config"]["labels"]["a"], "1");
    assert_eq!(rec["config"]["labels"]["b"], "2");
    assert_eq!(rec["config"]["stop_signal"], "SIGUSR1");
    let e = env
        .cmd(["run", "--rm", "--stop-signal", "NOPE", "bb", "true"])
        .code(125);
    assert_eq!(e.single_error(), "Error: invalid signal: NOPE");
}
