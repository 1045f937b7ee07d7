//! The container life cycle after `run`: `create`, `stop`, `restart`, `kill`, `wait`,
//! `logs`, `exec`, `rename`, through the real binary, as root and (through the helper)
//! as an ordinary user. Every test checks the host's mount table afterwards (`World`).

use super::containers::World;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};
use strata_tests::*;

/// Starts `script` in a detached container `name` of busybox; returns its ID.
fn detached(w: &World, name: &str, script: &str) -> String {
    let out = w
        .cmd(["run", "-d", "--name", name, "bb", "sh", "-c", script])
        .ok();
    let id = out.stdout.trim().to_string();
    assert!(is_hex(&id, 64), "run -d prints the ID: {:?}", out.stdout);
    id
}

/// The container's `ps` status (`Up …`, `Exited (N) …`, `Created`).
fn status(w: &World, name: &str) -> String {
    let out = w
        .cmd(["ps", "-a", "--format", "{{.Names}}\t{{.Status}}"])
        .ok();
    out.lines()
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{name}\t")).map(str::to_string))
        .unwrap_or_else(|| panic!("no container {name}: {}", out.stdout))
}

/// Waits until `logs NAME` shows `want`.
fn wait_for_log(w: &World, name: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = w.cmd(["logs", name]).ok();
        if out.stdout.contains(want) {
            return;
        }
        assert!(Instant::now() < deadline, "never logged {want:?}: {out:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The output of a `wait` started in the background, once it ended successfully.
fn waited(mut waiter: std::process::Child) -> String {
    let mut got = String::new();
    waiter
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut got)
        .unwrap();
    assert!(waiter.wait().unwrap().success());
    got
}

#[test]
fn stop_kills_a_container_that_ignores_sigterm_after_the_timeout() {
    let w = World::new();
    detached(
        &w,
        "stubborn",
        "trap '' TERM; echo ready; while :; do sleep 0.05; done",
    );
    wait_for_log(&w, "stubborn", "ready");
    let t = Instant::now();
    let out = w.cmd(["stop", "-t", "1", "stubborn"]).ok();
    let took = t.elapsed();
    assert_eq!(out.stdout, "stubborn\n", "stop prints the name given");
    assert!(
        took >= Duration::from_millis(900),
        "stopped before the timeout: {took:?}"
    );
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(status(&w, "stubborn").starts_with("Exited (137) "));
    assert_eq!(w.cmd(["wait", "stubborn"]).ok().stdout, "137\n");
    // Stopping a stopped container is no error.
    assert_eq!(w.cmd(["stop", "stubborn"]).ok().stdout, "stubborn\n");
    w.cmd(["rm", "stubborn"]).ok();
}

#[test]
fn stop_sends_sigterm_and_wait_prints_the_exit_code() {
    let w = World::new();
    let id = detached(
        &w,
        "polite",
        "trap 'echo bye; exit 7' TERM; echo ready; while :; do sleep 0.05; done",
    );
    wait_for_log(&w, "polite", "ready");
    let waiter = w
        .cmd(["wait", &id[..12]])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    assert_eq!(w.cmd(["stop", "polite"]).ok().stdout, "polite\n");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(waited(waiter), "7\n", "wait prints the exit code");
    assert_eq!(w.cmd(["logs", "polite"]).ok().stdout, "ready\nbye\n");
    assert!(status(&w, "polite").starts_with("Exited (7) "));
    w.cmd(["rm", "polite"]).ok();
}

#[test]
fn kill_sends_signals_and_refuses_a_stopped_container() {
    let w = World::new();
    let id = detached(
        &w,
        "kk",
        "trap 'echo got usr1' USR1; echo ready; while :; do sleep 0.05; done",
    );
    wait_for_log(&w, "kk", "ready");
    assert_eq!(w.cmd(["kill", "-s", "USR1", "kk"]).ok().stdout, "kk\n");
    wait_for_log(&w, "kk", "got usr1");
    let out = w.cmd(["kill", "-s", "NOPE", "kk"]).code(1);
    assert!(
        out.stderr.contains("invalid signal: NOPE"),
        "{}",
        out.stderr
    );
    assert_eq!(w.cmd(["kill", "kk"]).ok().stdout, "kk\n");
    assert_eq!(w.cmd(["wait", "kk"]).ok().stdout, "137\n");
    let out = w.cmd(["kill", "kk"]).code(1);
    assert_eq!(
        out.stderr,
        format!(
            "Error response from daemon: cannot kill container: kk: container {id} is not running\n"
        )
    );
    let out = w.cmd(["kill", "nosuch"]).code(1);
    assert_eq!(
        out.stderr,
        "Error response from daemon: No such container: nosuch\n"
    );
    w.cmd(["rm", "kk"]).ok();
}

#[test]
fn logs_follow_a_detached_container_while_it_writes() {
    let w = World::new();
    detached(
        &w,
        "talker",
        "for i in 1 2 3 4 5; do echo out $i; echo err $i >&2; sleep 0.2; done",
    );
    let follower = w
        .cmd(["logs", "-f", "talker"])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = follower.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "out 1\nout 2\nout 3\nout 4\nout 5\n",
        "-f follows until the container ends"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "err 1\nerr 2\nerr 3\nerr 4\nerr 5\n"
    );
    let tail = w.cmd(["logs", "--tail", "2", "talker"]).ok();
    assert_eq!(tail.stdout, "out 5\n");
    assert_eq!(tail.stderr, "err 5\n");
    let stamped = w.cmd(["logs", "-t", "--tail", "2", "talker"]).ok();
    let (time, text) = stamped.stdout.split_once(' ').unwrap();
    assert_eq!(text, "out 5\n");
    assert!(time.len() == 30 && time.ends_with('Z'), "{time}");
    assert_eq!(
        w.cmd(["logs", "--since", "1h", "talker"])
            .ok()
            .lines()
            .len(),
        5
    );
    assert_eq!(
        w.cmd(["logs", "--since", "2099-01-01T00:00:00Z", "talker"])
            .ok()
            .stdout,
        ""
    );
    // The json-file log, as docker keeps it.
    let id = w
        .cmd(["ps", "-aq", "--no-trunc"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let log = std::fs::read_to_string(
        w.store()
            .join("containers")
            .join(&id)
            .join("container-json.log"),
    )
    .unwrap();
    let entries: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 10);
    let first = entries.iter().find(|e| e["stream"] == "stdout").unwrap();
    assert_eq!(first["log"], "out 1\n");
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    w.cmd(["rm", "talker"]).ok();
}

#[test]
fn exec_joins_a_running_container() {
    let w = World::new();
    detached(&w, "host", "echo hi > /tmp/mark; echo ready; sleep 600");
    wait_for_log(&w, "host", "ready");
    let out = w
        .cmd([
            "exec",
            "host",
            "sh",
            "-c",
            "cat /tmp/mark; hostname; ps -o pid,args",
        ])
        .ok();
    let lines = out.lines();
    assert_eq!(lines[0], "hi", "the container's files");
    let ps = w.cmd(["ps", "--format", "{{.ID}}"]).ok().stdout;
    assert_eq!(lines[1], ps.trim(), "its host name");
    assert!(
        lines
            .iter()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "sleep", "600"]),
        "its pid namespace: {}",
        out.stdout
    );
    let out = w.cmd(["exec", "host", "sh", "-c", "exit 3"]).code(3);
    assert_eq!(out.stderr, "");
    let out = w
        .cmd([
            "exec",
            "-u",
            "nobody",
            "-w",
            "/tmp",
            "-e",
            "A=b",
            "host",
            "sh",
            "-c",
            "id -u; pwd; echo $A",
        ])
        .ok();
    assert_eq!(out.stdout, "65534\n/tmp\nb\n");
    let out = w.cmd(["exec", "host", "nope"]).code(127);
    assert!(
        out.stderr.contains("executable file not found"),
        "{}",
        out.stderr
    );
    w.cmd(["exec", "-d", "host", "sh", "-c", "echo late > /tmp/d"])
        .ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    while w.cmd(["exec", "host", "cat", "/tmp/d"]).run().stdout != "late\n" {
        assert!(Instant::now() < deadline, "exec -d never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    w.cmd(["kill", "host"]).ok();
    w.cmd(["wait", "host"]).ok();
    let out = w.cmd(["exec", "host", "true"]).code(1);
    assert!(out.stderr.contains("is not running"), "{}", out.stderr);
    w.cmd(["rm", "host"]).ok();
}

#[test]
fn create_restart_and_rename() {
    let w = World::new();
    let id = w
        .cmd([
            "create",
            "--name",
            "later",
            "bb",
            "sh",
            "-c",
            "echo run; sleep 600",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert!(is_hex(&id, 64));
    assert_eq!(status(&w, "later"), "Created");
    assert_eq!(w.cmd(["start", "later"]).ok().stdout, "later\n");
    wait_for_log(&w, "later", "run");
    assert_eq!(
        w.cmd(["restart", "-t", "0", "later"]).ok().stdout,
        "later\n"
    );
    assert!(status(&w, "later").starts_with("Up "));
    wait_for_log(&w, "later", "run\nrun\n");
    w.cmd(["create", "--name", "other", "bb", "true"]).ok();
    let out = w.cmd(["rename", "later", "other"]).code(1);
    assert!(out.stderr.contains("is already in use"), "{}", out.stderr);
    w.cmd(["rename", "later", "renamed"]).ok();
    assert!(status(&w, "renamed").starts_with("Up "));
    let out = w.cmd(["rename", "renamed", "bad name"]).code(1);
    assert!(
        out.stderr.contains("Invalid container name"),
        "{}",
        out.stderr
    );
    w.cmd(["rm", "-f", "renamed", "other"]).ok();
}

#[test]
fn cp_never_follows_a_containers_symlink_out_of_its_root() {
    let w = World::new();
    detached(
        &w,
        "files",
        "ln -s /etc /hostetc; ln -s /etc/hostname /name; mkdir -p /d/sub; echo in > /d/sub/f; \
         ln -s ../../../../etc/passwd /d/up; echo ready; sleep 600",
    );
    wait_for_log(&w, "files", "ready");
    let out = w.work().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let o = out.to_str().unwrap();
    // A symlink is copied as a link, never as the host file it names.
    w.cmd(["cp", "files:/hostetc", o]).ok();
    assert_eq!(
        std::fs::read_link(out.join("hostetc")).unwrap(),
        std::path::Path::new("/etc")
    );
    // Through a link, the path resolves inside the container's root.
    w.cmd(["cp", "files:/hostetc/passwd", &format!("{o}/pw")])
        .ok();
    assert_eq!(
        std::fs::read_to_string(out.join("pw")).unwrap(),
        BUSYBOX_PASSWD,
        "the container's /etc/passwd, not the host's"
    );
    // -L: what the link names, inside the container, under the link's name.
    w.cmd(["cp", "-L", "files:/d/up", &format!("{o}/followed")])
        .ok();
    assert_eq!(
        std::fs::read_to_string(out.join("followed")).unwrap(),
        BUSYBOX_PASSWD,
        "../../../../etc/passwd stays inside the container's root"
    );
    w.cmd(["cp", "files:/d", o]).ok();
    assert_eq!(
        std::fs::read_to_string(out.join("d/sub/f")).unwrap(),
        "in\n"
    );
    assert!(out.join("d/up").is_symlink());
    let e = w.cmd(["cp", "files:/d/up/x", o]).code(1);
    assert!(e.stderr.contains("Could not find the file"), "{}", e.stderr);
    // Into the container: a destination through a link stays inside too.
    let src = w.write("hello", b"hi\n");
    w.cmd(["cp", src.to_str().unwrap(), "files:/hostetc/"]).ok();
    assert_eq!(
        w.cmd(["exec", "files", "cat", "/etc/hello"]).ok().stdout,
        "hi\n"
    );
    w.cmd(["cp", src.to_str().unwrap(), "files:/name"]).ok();
    assert_eq!(w.cmd(["exec", "files", "cat", "/name"]).ok().stdout, "hi\n");
    // Stopped: through its layers.
    w.cmd(["stop", "-t", "0", "files"]).ok();
    w.cmd(["cp", src.to_str().unwrap(), "files:/stopped"]).ok();
    w.cmd(["cp", "files:/etc/hello", &format!("{o}/back")]).ok();
    assert_eq!(std::fs::read_to_string(out.join("back")).unwrap(), "hi\n");
    let tar = w.cmd(["export", "files"]).ok();
    assert!(
        tar.stdout.contains("stopped"),
        "export holds the copied file"
    );
    let listed = w.sh("\"$STRATA\" export files | tar tf -").ok();
    for want in ["bin/busybox", "d/sub/f", "stopped", "etc/hello", "proc"] {
        assert!(listed.lines().contains(&want), "{want}: {}", listed.stdout);
    }
    w.cmd(["start", "files"]).ok();
    wait_for_log(&w, "files", "ready\nready\n");
    assert_eq!(
        w.cmd(["exec", "files", "cat", "/stopped"]).ok().stdout,
        "hi\n"
    );
    let listed = w.sh("\"$STRATA\" export files | tar tf -").ok();
    assert!(listed.lines().contains(&"proc"));
    assert!(
        !listed.lines().iter().any(|l| l.starts_with("proc/")),
        "a running container's /proc is left out"
    );
    w.cmd(["rm", "-f", "files"]).ok();
}

#[test]
fn inspect_of_a_container_follows_docker() {
    let w = World::new();
    let id = detached(&w, "seen", "echo ready; sleep 600");
    wait_for_log(&w, "seen", "ready");
    for args in [
        &["container", "inspect", "seen"][..],
        &["inspect", "seen"][..],
    ] {
        let out = w.cmd(args).ok();
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let c = &v[0];
        assert_eq!(c["Id"], id);
        assert_eq!(c["Name"], "/seen");
        assert_eq!(c["Path"], "sh");
        assert_eq!(c["Args"][0], "-c");
        assert_eq!(c["State"]["Status"], "running");
        assert_eq!(c["State"]["Running"], true);
        assert!(c["State"]["Pid"].as_i64().unwrap() > 1);
        assert_eq!(c["Config"]["Image"], "bb");
        assert!(c["Mounts"].is_array());
        assert!(c["NetworkSettings"].is_object());
    }
    // docker's key order: the top-level keys as printed.
    let out = w.cmd(["container", "inspect", "seen"]).ok();
    let top: Vec<&str> = out
        .lines()
        .into_iter()
        .filter_map(|l| l.strip_prefix("    \"")?.split_once('"').map(|(k, _)| k))
        .collect();
    let want = [
        "Id",
        "Created",
        "Path",
        "Args",
        "State",
        "Image",
        "Name",
        "Mounts",
        "Config",
        "NetworkSettings",
    ];
    let shown: Vec<&str> = top.iter().copied().filter(|k| want.contains(k)).collect();
    assert_eq!(shown, want, "{top:?}");
    let f = w
        .cmd([
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "seen",
        ])
        .ok();
    assert_eq!(f.stdout, "running 0\n");
    w.cmd(["kill", "seen"]).ok();
    w.cmd(["wait", "seen"]).ok();
    let f = w
        .cmd([
            "container",
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}",
            "seen",
        ])
        .ok();
    assert_eq!(f.stdout, "exited 137 0\n");
    let out = w.cmd(["container", "inspect", "nosuch"]).code(1);
    assert_eq!(out.stderr, "Error: No such container: nosuch\n");
    w.cmd(["rm", "seen"]).ok();
}

#[test]
fn ps_filters_latest_last_and_sizes() {
    let w = World::new();
    w.cmd(["run", "--name", "three", "bb", "sh", "-c", "exit 3"])
        .code(3);
    w.cmd(["run", "--name", "zero", "bb", "true"]).ok();
    detached(&w, "alive", "sleep 600");
    let names = |args: &[&str]| {
        let mut a = vec!["ps", "--format", "{{.Names}}"];
        a.extend_from_slice(args);
        w.cmd(a)
            .ok()
            .lines()
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&[]), ["alive"]);
    assert_eq!(names(&["-f", "status=exited"]), ["zero", "three"]);
    assert_eq!(names(&["-f", "exited=3"]), ["three"]);
    assert_eq!(names(&["-a", "-f", "name=ze"]), ["zero"]);
    assert_eq!(
        names(&["-a", "-f", "ancestor=bb", "-f", "status=running"]),
        ["alive"]
    );
    assert_eq!(names(&["-l"]), ["alive"]);
    assert_eq!(names(&["-n", "2"]), ["alive", "zero"]);
    let id = w
        .cmd(["ps", "-q", "--no-trunc", "-f", "name=three", "-a"])
        .ok();
    assert_eq!(
        names(&["-a", "-f", &format!("id={}", &id.stdout[..8])]),
        ["three"]
    );
    let out = w.cmd(["ps", "-f", "bogus=1"]).code(1);
    assert_eq!(out.single_error(), "Error: invalid filter 'bogus'");
    let sized = w.cmd(["ps", "-s"]).ok();
    let t = Table::parse(&sized.stdout);
    assert!(
        t.column("SIZE")[0].contains("(virtual "),
        "{}",
        sized.stdout
    );

    // top: the container's processes only.
    let top = w.cmd(["top", "alive"]).ok();
    assert!(top.lines()[0].contains("PID"), "{}", top.stdout);
    assert_eq!(top.lines().len(), 2, "{}", top.stdout);
    assert!(top.lines()[1].ends_with("sleep 600"), "{}", top.stdout);

    // container prune: the stopped ones, not the running one.
    let out = w.cmd(["container", "prune", "-f"]).ok();
    assert!(
        out.stdout.starts_with("Deleted Containers:\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Total reclaimed space: "),
        "{}",
        out.stdout
    );
    assert_eq!(names(&["-a"]), ["alive"]);
    w.cmd(["rm", "-f", "alive"]).ok();
    // system prune -a: and then the unused image.
    let out = w.cmd(["system", "prune", "-a", "-f"]).ok();
    assert!(out.stdout.contains("untagged: bb:latest"), "{}", out.stdout);
    assert!(w.cmd(["images", "-q"]).ok().stdout.is_empty());
}

#[test]
fn attach_shows_the_output_and_returns_the_exit_code() {
    let w = World::new();
    detached(&w, "att", "echo early; sleep 1; echo late; exit 4");
    wait_for_log(&w, "att", "early");
    let out = w.cmd(["attach", "att"]).code(4);
    assert_eq!(out.stdout, "late\n", "from the moment of attaching");
    let out = w.cmd(["attach", "att"]).code(1);
    assert!(out
        .stderr
        .contains("You cannot attach to a stopped container"));
    w.cmd(["rm", "att"]).ok();
}

/// `run --stop-signal` is what `stop` sends: a container that ignores SIGTERM and
/// ends on SIGUSR1 exits with the status its trap gives, not killed after the timeout.
#[test]
fn stop_sends_the_signal_run_recorded() {
    let w = World::new();
    let out = w
        .cmd([
            "run",
            "-d",
            "--stop-signal",
            "USR1",
            "--name",
            "usr1",
            "bb",
            "sh",
            "-c",
            "trap '' TERM; trap 'exit 7' USR1; echo ready; while :; do sleep 0.05; done",
        ])
        .ok();
    assert!(is_hex(out.stdout.trim(), 64), "{:?}", out.stdout);
    wait_for_log(&w, "usr1", "ready");
    w.cmd(["stop", "-t", "30", "usr1"]).ok();
    assert_eq!(w.cmd(["wait", "usr1"]).ok().stdout, "7\n");
    assert!(
        status(&w, "usr1").starts_with("Exited (7)"),
        "{}",
        status(&w, "usr1")
    );
}

/// `wait` on a container that was created and never started waits, as docker's does
/// since 28.0, through its first run: it prints the exit code once another process
/// started it and it ended.
#[test]
fn wait_on_a_created_container_waits_for_its_first_run() {
    let w = World::new();
    w.cmd(["create", "--name", "fresh", "bb", "sh", "-c", "exit 5"])
        .ok();
    let mut waiter = w
        .cmd(["wait", "fresh"])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        waiter.try_wait().unwrap().is_none(),
        "wait returned before the container ran"
    );
    assert_eq!(status(&w, "fresh"), "Created");
    w.cmd(["start", "fresh"]).ok();
    assert_eq!(
        waited(waiter),
        "5\n",
        "the exit code of the run it waited for"
    );
    w.cmd(["rm", "fresh"]).ok();
}

/// An attached run keeps its output in the json-file log as docker does: shown as it
/// comes, and by `logs` after it ended (with `--rm` the container and its log go).
#[test]
fn logs_show_an_attached_runs_output_after_it_ended() {
    let w = World::new();
    let out = w
        .cmd([
            "run",
            "--name",
            "fg",
            "bb",
            "sh",
            "-c",
            "echo out; echo err >&2; printf 'no newline'; exit 3",
        ])
        .code(3);
    assert_eq!(out.stdout, "out\nno newline");
    assert_eq!(out.stderr, "err\n");
    let logs = w.cmd(["logs", "fg"]).ok();
    assert_eq!(logs.stdout, "out\nno newline");
    assert_eq!(logs.stderr, "err\n");
    w.cmd(["start", "-a", "fg"]).code(3);
    assert_eq!(
        w.cmd(["logs", "fg"]).ok().stdout,
        "out\nno newlineout\nno newline",
        "start -a appends to it"
    );
    w.cmd(["rm", "fg"]).ok();
    w.cmd(["run", "--rm", "--name", "gone", "bb", "echo", "hi"])
        .ok();
    let out = w.cmd(["logs", "gone"]).code(1);
    assert!(out.stderr.contains("No such container"), "{}", out.stderr);
}

/// A pseudo-terminal for strata's standard streams, its output collected by a thread.
struct Pty {
    master: std::fs::File,
    slave: std::fs::File,
    seen: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Pty {
    fn new(rows: u16, cols: u16) -> Pty {
        use rustix::pty::OpenptFlags;
        let master =
            rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
                .unwrap();
        rustix::pty::grantpt(&master).unwrap();
        rustix::pty::unlockpt(&master).unwrap();
        let name = rustix::pty::ptsname(&master, Vec::new()).unwrap();
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().unwrap())
            .unwrap();
        let master: std::fs::File = master.into();
        let pty = Pty {
            seen: collect(master.try_clone().unwrap()),
            master,
            slave,
        };
        pty.resize(rows, cols);
        pty
    }

    fn resize(&self, rows: u16, cols: u16) {
        let ws = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&self.master, ws).unwrap();
    }

    /// Sets `cmd`'s standard streams to the terminal's other side.
    fn attach(&self, cmd: &mut std::process::Command) {
        cmd.stdin(self.slave.try_clone().unwrap())
            .stdout(self.slave.try_clone().unwrap())
            .stderr(self.slave.try_clone().unwrap());
    }

    fn type_in(&self, text: &str) {
        use std::io::Write;
        (&self.master).write_all(text.as_bytes()).unwrap();
    }

    /// Waits until the output shows `want`.
    fn expect(&self, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.seen.lock().unwrap().contains(want) {
            assert!(
                Instant::now() < deadline,
                "never saw {want:?}: {:?}",
                self.seen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// `exec -t` gives the process a terminal of strata's size, and a later size follows
/// it on SIGWINCH (as a terminal sends it when its window changes).
#[test]
fn exec_with_a_terminal_follows_its_size() {
    let w = World::new();
    detached(&w, "sized", "echo ready; sleep 600");
    wait_for_log(&w, "sized", "ready");
    let pty = Pty::new(30, 100);
    let mut cmd = w
        .cmd([
            "exec",
            "-it",
            "sized",
            "sh",
            "-c",
            "stty size; read x; stty size",
        ])
        .command();
    pty.attach(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    pty.expect("30 100");
    pty.resize(40, 120);
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::WINCH,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    pty.type_in("\n");
    pty.expect("40 120");
    assert!(child.wait().unwrap().success());
    w.cmd(["rm", "-f", "sized"]).ok();
}

/// The cgroups of a container's first process, as it sees them.
fn cgroups_in(w: &World, name: &str) -> String {
    w.cmd(["exec", name, "cat", "/proc/1/cgroup"]).ok().stdout
}

/// An exec'd process joins the container's cgroup: it sees the cgroups of the
/// container's first process, and the host lists it in that cgroup's cgroup.procs.
/// As root the container has a cgroup of its own (a limit); an ordinary user's limits
/// need a systemd user scope, so there the check is that exec sees the same cgroups.
#[test]
fn exec_joins_the_containers_cgroup() {
    let w = World::new();
    let mut args = vec!["run", "-d", "--name", "grouped"];
    if is_root() {
        args.extend(["--pids-limit", "50"]);
    }
    args.extend(["bb", "sh", "-c", "echo ready; sleep 600"]);
    w.cmd(args).ok();
    wait_for_log(&w, "grouped", "ready");
    let theirs = cgroups_in(&w, "grouped");
    let ours = w
        .cmd(["exec", "grouped", "cat", "/proc/self/cgroup"])
        .ok()
        .stdout;
    assert_eq!(ours, theirs, "exec's cgroups are the container's");
    if is_root() {
        let pids = theirs
            .lines()
            .find_map(|l| l.split_once(":pids:").map(|(_, p)| p.to_string()))
            .or_else(|| {
                theirs
                    .lines()
                    .find_map(|l| l.strip_prefix("0::").map(str::to_string))
            })
            .unwrap();
        assert!(pids.starts_with("/strata/"), "{theirs}");
        let v1 = std::path::Path::new("/sys/fs/cgroup/pids").exists();
        let procs = if v1 {
            format!("/sys/fs/cgroup/pids{pids}/cgroup.procs")
        } else {
            format!("/sys/fs/cgroup{pids}/cgroup.procs")
        };
        let count = || std::fs::read_to_string(&procs).unwrap().lines().count();
        let before = count();
        assert!(before >= 1, "the container's process is in {procs}");
        w.cmd(["exec", "-d", "grouped", "sleep", "30"]).ok();
        let deadline = Instant::now() + Duration::from_secs(10);
        while count() != before + 1 {
            assert!(
                Instant::now() < deadline,
                "exec -d's process never joined {procs}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    w.cmd(["rm", "-f", "grouped"]).ok();
}

/// Collects a child's standard output in a thread.
fn collect(out: impl Read + Send + 'static) -> std::sync::Arc<std::sync::Mutex<String>> {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        let mut out = out;
        let mut buf = [0u8; 1024];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            s.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    seen
}

/// `attach` to a container started with `-di`: typed input reaches its process, and
/// a signal `attach` receives is passed on to it (`--sig-proxy`, the default).
#[test]
fn attach_forwards_input_and_signals() {
    let w = World::new();
    w.cmd([
        "run",
        "-di",
        "--name",
        "reader",
        "bb",
        "sh",
        "-c",
        "trap 'echo term; exit 9' TERM; echo ready; \
         while :; do if read -t 1 l; then echo got $l; fi; done",
    ])
    .ok();
    wait_for_log(&w, "reader", "ready");
    let mut attach = w
        .cmd(["attach", "reader"])
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen = collect(attach.stdout.take().unwrap());
    let mut input = attach.stdin.take().unwrap();
    std::io::Write::write_all(&mut input, b"hello\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.lock().unwrap().contains("got hello") {
        assert!(
            Instant::now() < deadline,
            "no echo: {:?}",
            seen.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(attach.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let code = attach.wait().unwrap().code();
    assert_eq!(code, Some(9), "the container's exit code after its trap");
    assert!(seen.lock().unwrap().contains("term"));
    let out = w
        .cmd(["attach", "--detach-keys", "ctrl-", "reader"])
        .code(1);
    assert!(out
        .stderr
        .contains("You cannot attach to a stopped container"));
    w.cmd(["rm", "reader"]).ok();
}

/// `attach` to a container started with `-dit`: the terminal is the container's, of
/// `attach`'s size, and ctrl-p ctrl-q leaves it running.
#[test]
fn attach_to_a_terminal_and_detach_with_the_keys() {
    let w = World::new();
    w.cmd(["run", "-dit", "--name", "shell", "bb", "sh"]).ok();
    let pty = Pty::new(24, 81);
    let mut cmd = w.cmd(["attach", "shell"]).command();
    pty.attach(&mut cmd);
    let mut attach = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    pty.type_in("echo hi-$((1+1)); stty size\r");
    pty.expect("hi-2");
    pty.expect("24 81");
    pty.type_in("\x10\x11");
    let ended = attach.wait().unwrap();
    assert!(ended.success(), "detaching is no error: {ended:?}");
    assert!(status(&w, "shell").starts_with("Up "), "still running");
    w.cmd(["rm", "-f", "shell"]).ok();
}
