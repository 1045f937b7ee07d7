//! Containers: `run`, `ps`, `start`, `rm`, `diff` and `commit` on real overlay mounts,
//! as root and (through the helper) as an ordinary user. Every test checks that the
//! host's mount table is the same afterwards.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use strata_tests::*;

/// The lines of the host's mount table that this test's strata could add: mounts on
/// paths in the test's own directory, and overlays the helper builds (source `strata`)
/// wherever they are. Other tests (the helper's FUSE test, other test binaries, a
/// benchmark) mount and unmount their own things at any moment, elsewhere.
pub(crate) fn host_mounts(own: &std::path::Path) -> Vec<String> {
    let own = own.canonicalize().unwrap();
    let own = own.to_str().unwrap();
    let mut v: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| {
            // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE OPTIONS"
            let point = l.split(' ').nth(4).unwrap_or("");
            let source = l.split(" - ").nth(1).and_then(|r| r.split(' ').nth(1));
            point == own || point.starts_with(&format!("{own}/")) || source == Some("strata")
        })
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// An environment with the busybox image as `bb`, and a check on drop that strata
/// left no mount in the host's mount table.
pub(crate) struct World {
    env: Env,
    mounts: Vec<String>,
}

impl World {
    pub(crate) fn new() -> World {
        let env = Env::new();
        env.import_busybox("bb");
        World {
            mounts: host_mounts(env.path()),
            env,
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_eq!(
                host_mounts(self.env.path()),
                self.mounts,
                "the host's mount table changed"
            );
        }
    }
}

impl std::ops::Deref for World {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

#[test]
fn run_prints_output_and_returns_the_exit_status() {
    let w = World::new();
    let out = w.cmd(["run", "--rm", "bb", "echo", "hello world"]).ok();
    assert_eq!(out.stdout, "hello world\n");
    w.cmd(["run", "--rm", "bb", "sh", "-c", "exit 3"]).code(3);
    let out = w.cmd(["ps", "-a", "-q"]).ok();
    assert_eq!(out.stdout, "", "--rm leaves no container");
}

#[test]
fn run_exit_codes_follow_docker() {
    let w = World::new();
    let out = w.cmd(["run", "--rm", "bb", "no-such-command"]).code(127);
    assert_eq!(
        out.single_error(),
        "Error: exec: \"no-such-command\": executable file not found in $PATH"
    );
    w.cmd(["run", "--rm", "bb", "/etc"]).code(126);
    w.cmd(["run", "--rm", "bb", "/etc/passwd"]).code(126);
    // Not pulled (`run` pulling a missing image is tested against a registry of its own).
    let out = w
        .cmd(["run", "--rm", "--pull", "never", "nosuchimage", "true"])
        .code(125);
    assert_eq!(
        out.single_error(),
        "Error: No such image: nosuchimage:latest"
    );
    let out = w
        .cmd(["run", "--rm", "-u", "nobody2", "bb", "true"])
        .code(125);
    assert!(out.single_error().contains("unable to find user nobody2"));
    w.cmd(["run", "--rm", "-w", "relative", "bb", "true"])
        .code(125);
    w.cmd(["run", "--rm", "--network", "bridge2", "bb", "true"])
        .code(125);
    assert_eq!(w.cmd(["ps", "-a", "-q"]).ok().stdout, "");
}

#[test]
fn run_applies_the_image_config_and_flags() {
    let w = World::new();
    w.cmd([
        "import",
        "-c",
        "ENV A=1 B=2",
        "-c",
        "WORKDIR /srv",
        "-c",
        "CMD [\"sh\", \"-c\", \"echo $A $B $(pwd) $(id -u)\"]",
        "-",
        "cfg",
    ])
    .stdin(busybox_rootfs_tar(false))
    .ok();
    assert_eq!(w.cmd(["run", "--rm", "cfg"]).ok().stdout, "1 2 /srv 0\n");
    let env_file = w.write("env.list", b"# comment\nB=from-file\n");
    let out = w
        .cmd(["run", "--rm", "-e", "A=x", "--env-file"])
        .arg(&env_file)
        .args(["-w", "/tmp", "-u", "1000:1000", "cfg"])
        .ok();
    assert_eq!(out.stdout, "x from-file /tmp 1000\n");
    let out = w
        .cmd([
            "run",
            "--rm",
            "--hostname",
            "box1",
            "--entrypoint",
            "cat",
            "cfg",
            "/etc/hostname",
        ])
        .ok();
    assert_eq!(out.stdout, "box1\n");
    let out = w
        .cmd([
            "run",
            "--rm",
            "bb",
            "sh",
            "-c",
            "cat /etc/hostname; echo $HOME; echo $(ls /dev)",
        ])
        .ok();
    let lines = out.lines();
    assert_eq!(lines[1], "/root");
    for d in [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "shm",
    ] {
        assert!(
            lines[2].split(' ').any(|x| x == d),
            "/dev lacks {d}: {}",
            lines[2]
        );
    }
}

#[test]
fn run_in_new_namespaces() {
    let w = World::new();
    // pid 1 is the command itself; the host's processes are not visible.
    let out = w
        .cmd([
            "run",
            "--rm",
            "bb",
            "sh",
            "-c",
            "echo $$; echo /proc/[0-9]*",
        ])
        .ok();
    // The shell is pid 1 and the only process: the host's are not there.
    assert_eq!(out.lines(), ["1", "/proc/1"], "{}", out.stdout);
    let out = w
        .cmd([
            "run",
            "--rm",
            "--network",
            "none",
            "bb",
            "sh",
            "-c",
            "busybox tail -n +3 /proc/net/dev | busybox cut -d: -f1 | busybox tr -d ' '",
        ])
        .ok();
    assert_eq!(out.stdout, "lo\n");
}

#[test]
fn run_with_a_terminal() {
    let w = World::new();
    // `script` gives strata a pseudo-terminal as its standard streams.
    let cmdline = format!(
        "{} run -it --rm bb sh -c 'busybox tty; echo in-tty; exit 7'",
        strata_bin().display()
    );
    let out = w
        .sh(&format!("script -qec \"{cmdline}\" /dev/null"))
        .stdin("")
        .code(7);
    assert!(out.stdout.contains("/dev/pts/0"), "{}", out.stdout);
    assert!(out.stdout.contains("in-tty"), "{}", out.stdout);
    let out = w
        .cmd(["run", "-it", "--rm", "bb", "true"])
        .stdin("")
        .code(1);
    assert_eq!(out.single_error(), "Error: the input device is not a TTY");
    let out = w
        .cmd(["run", "-i", "--rm", "bb", "sh"])
        .stdin("echo from-stdin\nexit 5\n")
        .code(5);
    assert_eq!(out.stdout, "from-stdin\n");
}

#[test]
fn volumes_bind_host_directories() {
    let w = World::new();
    let host = w.path().join("vol");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("in"), "from-host").unwrap();
    let rw = format!("{}:/mnt/data", host.display());
    w.cmd([
        "run",
        "--rm",
        "-v",
        &rw,
        "bb",
        "sh",
        "-c",
        "cat /mnt/data/in; echo out > /mnt/data/out",
    ])
    .ok();
    assert_eq!(std::fs::read_to_string(host.join("out")).unwrap(), "out\n");
    let ro = format!("{}:/ro:ro", host.display());
    let out = w
        .cmd(["run", "--rm", "-v", &ro, "bb", "sh", "-c", "echo x > /ro/y"])
        .fails();
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    w.cmd(["run", "--rm", "-v", "/no/such/dir:/x", "bb", "true"])
        .code(125);
}

#[test]
fn commit_keeps_additions_deletions_and_replacements() {
    let w = World::new();
    w.cmd([
        "run",
        "--name",
        "base",
        "bb",
        "sh",
        "-c",
        "mkdir /srv && echo a > /srv/a && echo b > /srv/b",
    ])
    .ok();
    w.cmd(["commit", "base", "base2"]).ok();
    w.cmd([
        "run",
        "--name",
        "c1",
        "base2",
        "sh",
        "-c",
        "echo new > /newfile && rm /bin/ls && mkdir -p /data && echo v1 > /data/motd \
         && rm -rf /srv && mkdir /srv && echo fresh > /srv/only",
    ])
    .ok();
    let diff = w.cmd(["diff", "c1"]).ok();
    let lines = diff.lines();
    for want in [
        "A /newfile",
        "D /bin/ls",
        "C /bin",
        "A /data",
        "A /data/motd",
        "C /srv",
        "A /srv/only",
        "D /srv/a",
        "D /srv/b",
    ] {
        assert!(
            lines.contains(&want),
            "diff lacks {want:?}:\n{}",
            diff.stdout
        );
    }
    let out = w
        .cmd([
            "commit",
            "-m",
            "my change",
            "-a",
            "tester",
            "c1",
            "demo/committed:1",
        ])
        .ok();
    let id = out.stdout.trim_end();
    assert!(is_sha256_id(id), "commit prints the ID: {:?}", out.stdout);
    let out = w
        .cmd([
            "run",
            "--rm",
            "--entrypoint",
            "sh",
            "demo/committed:1",
            "-c",
            "cat /newfile /data/motd; ls /bin/ls 2>&1; ls /srv",
        ])
        .ok();
    assert!(out.stdout.starts_with("new\nv1\n"), "{}", out.stdout);
    assert!(
        out.stdout.contains("No such file or directory"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.ends_with("\nonly\n"), "{}", out.stdout);
    let img = w.inspect("demo/committed:1");
    assert_eq!(img["Comment"], "my change");
    assert_eq!(img["Author"], "tester");
    assert_eq!(img["RootFS"]["Layers"].as_array().unwrap().len(), 3);
    let hist = w
        .cmd(["history", "--format", "{{.Comment}}", "demo/committed:1"])
        .ok();
    assert_eq!(hist.lines()[0], "my change");
}

#[test]
fn a_container_goes_on_after_commit_without_changing_the_image() {
    let w = World::new();
    w.cmd([
        "run",
        "--name",
        "c2",
        "bb",
        "sh",
        "-c",
        "echo run >> /log; cat /log",
    ])
    .ok();
    w.cmd(["commit", "c2", "snap"]).ok();
    let out = w.cmd(["start", "-a", "c2"]).ok();
    assert_eq!(out.stdout, "run\nrun\n");
    let out = w.cmd(["run", "--rm", "snap", "cat", "/log"]).ok();
    assert_eq!(out.stdout, "run\n", "the image has the log as committed");
    // The committed image's command is the container's.
    let out = w.cmd(["run", "--rm", "snap"]).ok();
    assert_eq!(out.stdout, "run\nrun\n");
    w.cmd([
        "commit",
        "-c",
        "CMD [\"echo\", \"changed\"]",
        "c2",
        "snap:2",
    ])
    .ok();
    assert_eq!(w.cmd(["run", "--rm", "snap:2"]).ok().stdout, "changed\n");
}

#[test]
fn ps_start_and_rm() {
    let w = World::new();
    let out = w
        .cmd(["run", "-d", "--name", "bg", "bb", "sleep", "60"])
        .ok();
    let id = out.stdout.trim_end().to_string();
    assert!(is_hex(&id, 64), "run -d prints the ID: {:?}", out.stdout);
    let ps = w.cmd(["ps"]).ok();
    let t = Table::parse(&ps.stdout);
    assert_eq!(t.column("NAMES"), ["bg"]);
    assert_eq!(t.column("CONTAINER ID"), [id[..12].to_string()]);
    assert!(t.column("STATUS")[0].starts_with("Up "), "{}", ps.stdout);
    assert_eq!(t.column("COMMAND"), ["\"sleep 60\""]);
    let out = w.cmd(["rm", "bg"]).code(1);
    assert!(out
        .single_error()
        .contains("You cannot remove a running container"));
    let out = w.cmd(["rm", "-f", "bg"]).ok();
    assert_eq!(out.stdout, "bg\n");
    assert_eq!(w.cmd(["ps", "-a", "-q"]).ok().stdout, "");

    w.cmd([
        "run",
        "--name",
        "once",
        "bb",
        "sh",
        "-c",
        "echo x >> /n; wc -l < /n",
    ])
    .ok();
    let out = w
        .cmd(["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        .ok();
    assert!(out.stdout.starts_with("once Exited (0) "), "{}", out.stdout);
    assert_eq!(
        w.cmd(["ps", "-q"]).ok().stdout,
        "",
        "ps without -a shows running ones"
    );
    assert_eq!(w.cmd(["start", "-a", "once"]).ok().stdout, "2\n");
    assert_eq!(w.cmd(["start", "once"]).ok().stdout, "once\n");
    let out = w.cmd(["run", "--name", "once", "bb", "true"]).code(125);
    assert!(
        out.single_error().contains("is already in use"),
        "{}",
        out.stderr
    );
    let out = w.cmd(["rm", "nosuch"]).code(1);
    assert_eq!(out.single_error(), "Error: No such container: nosuch");
    // Wait for the detached start to finish, then remove by ID prefix.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !w.cmd(["ps", "-q"]).ok().stdout.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let cid = w.cmd(["ps", "-a", "-q"]).ok().stdout.trim().to_string();
    w.cmd(["rm", &cid[..6]]).ok();
    assert_eq!(w.cmd(["ps", "-a", "-q"]).ok().stdout, "");
}

#[test]
fn rmi_refuses_an_image_that_a_container_uses() {
    let w = World::new();
    w.cmd(["run", "--name", "user", "bb", "true"]).ok();
    let out = w.cmd(["rmi", "bb"]).code(1);
    assert!(out.single_error().contains("container"), "{}", out.stderr);
    w.cmd(["rmi", "-f", "bb"]).ok();
    // The container keeps its layers and still starts.
    assert_eq!(w.cmd(["start", "-a", "user"]).ok().code, 0);
    w.cmd(["rm", "user"]).ok();
    // As with docker, the image stayed for the container, without a name.
    let dangling = w.cmd(["images", "-q", "-f", "dangling=true"]).ok();
    assert_eq!(dangling.lines().len(), 1, "{dangling:?}");
    w.cmd(["rmi", dangling.stdout.trim()]).ok();
    assert_eq!(w.store_entries("layers"), Vec::<String>::new());
}

#[test]
fn killing_run_leaves_no_container_process_and_no_mount() {
    let w = World::new();
    let mut child = w
        .cmd(["run", "--name", "victim", "bb", "sleep", "300"])
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while w.cmd(["ps", "-q"]).ok().stdout.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the container never showed as running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ps = w.cmd(["ps", "-a", "--format", "{{.Status}}"]).ok();
        if ps.stdout.starts_with("Exited (137)") {
            break;
        }
        assert!(Instant::now() < deadline, "still: {}", ps.stdout);
        std::thread::sleep(Duration::from_millis(20));
    }
    // No `sleep 300` of ours survives (it dies with strata, a moment later).
    let store = w.store().display().to_string();
    let survivors = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                std::fs::read(e.path().join("cmdline"))
                    .map(|c| c == b"sleep\x00300\x00")
                    .unwrap_or(false)
                    && std::fs::read_to_string(e.path().join("mountinfo"))
                        .map(|m| m.contains(&store))
                        .unwrap_or(false)
            })
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while survivors() > 0 {
        assert!(
            Instant::now() < deadline,
            "the container's process outlived strata"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    w.cmd(["rm", "victim"]).ok();
}

/// A docker archive of busybox plus `n` one-file layers.
fn many_layer_archive(n: usize) -> Vec<u8> {
    let mut layers: Vec<Vec<u8>> = vec![busybox_rootfs_tar(false).to_vec()];
    for i in 0..n {
        let mut t = RootfsBuilder::new();
        t.dir("layers", 0o755);
        t.file(
            &format!("layers/f{i:03}"),
            0o644,
            format!("{i}\n").as_bytes(),
        );
        layers.push(t.finish());
    }
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    let config = serde_json::json!({
        "architecture": go_arch(), "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let config = serde_json::to_vec(&config).unwrap();
    let config_name = format!("{}.json", sha256_hex(&config));
    let names: Vec<String> = layers
        .iter()
        .map(|l| format!("{}/layer.tar", sha256_hex(l)))
        .collect();
    let manifest =
        serde_json::json!([{"Config": config_name, "RepoTags": ["many:layers"], "Layers": names}]);
    let mut t = RootfsBuilder::new();
    t.file(&config_name, 0o644, &config);
    for (name, data) in names.iter().zip(&layers) {
        t.file(name, 0o644, data);
    }
    t.file(
        "manifest.json",
        0o644,
        &serde_json::to_vec(&manifest).unwrap(),
    );
    t.finish()
}

#[test]
fn an_image_of_200_layers_runs() {
    let w = World::new();
    let archive = w.write("many.tar", &many_layer_archive(199));
    w.cmd(["load", "-i"]).arg(&archive).ok();
    let out = w
        .cmd([
            "run",
            "--rm",
            "many:layers",
            "sh",
            "-c",
            "ls /layers | wc -l; cat /layers/f000 /layers/f198",
        ])
        .ok();
    assert_eq!(out.lines(), ["199", "0", "198"]);
}

#[test]
fn containers_get_docker_default_capabilities_and_a_masked_proc() {
    let w = World::new();
    let out = w
        .cmd([
            "run",
            "--rm",
            "bb",
            "sh",
            "-c",
            "busybox grep CapBnd /proc/self/status; echo x > /proc/sys/kernel/hostname",
        ])
        .fails();
    assert_eq!(out.stdout, "CapBnd:\t00000000a80425fb\n");
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    let out = w
        .cmd(["run", "--rm", "bb", "sh", "-c", "cat /proc/keys | wc -c"])
        .ok();
    assert_eq!(out.stdout.trim(), "0", "/proc/keys is masked");
}

#[test]
fn a_committed_layer_matches_its_archive() {
    // commit copies a stopped container's files straight into the new layer while it
    // writes the layer's tar; the files loaded back from that tar must be the same.
    let w = World::new();
    w.cmd([
        "run",
        "--name",
        "src",
        "bb",
        "sh",
        "-c",
        "mkdir -p /t/d && echo a > /t/f && busybox ln /t/f /t/d/hl && busybox ln -s ../f /t/d/sl \
         && chmod 4750 /t/f && busybox chown 1000:1001 /t/d && busybox mkfifo /t/p \
         && busybox touch -d '2020-01-02 03:04:05' /t/f && rm /bin/ls",
    ])
    .ok();
    w.cmd(["commit", "src", "fast:1"]).ok();
    let archive = w.path().join("fast.tar");
    w.cmd(["save", "-o"]).arg(&archive).arg("fast:1").ok();
    let other = Env::new();
    other.cmd(["load", "-i"]).arg(&archive).ok();
    let list =
        "busybox find /t /bin -exec busybox stat -c '%n %a %u %g %Y %h %F' {} + | busybox sort";
    let a = w.cmd(["run", "--rm", "fast:1", "sh", "-c", list]).ok();
    let b = other.cmd(["run", "--rm", "fast:1", "sh", "-c", list]).ok();
    assert_eq!(a.stdout, b.stdout);
    assert!(
        a.stdout.contains("/t/f 4750 0 0 1577934245 2 regular file"),
        "{}",
        a.stdout
    );
    assert!(a.stdout.contains("/t/d 755 1000 1001"), "{}", a.stdout);
    assert!(a.stdout.contains("/t/p 644 0 0"), "{}", a.stdout);
    assert!(!a.stdout.contains("/bin/ls "), "{}", a.stdout);
}

#[test]
fn commit_of_a_running_container() {
    let w = World::new();
    w.cmd([
        "run",
        "-d",
        "--name",
        "live",
        "bb",
        "sh",
        "-c",
        "echo x > /y; sleep 60",
    ])
    .ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !w.cmd(["diff", "live"]).ok().stdout.contains("A /y") {
        assert!(Instant::now() < deadline, "the container never wrote /y");
        std::thread::sleep(Duration::from_millis(20));
    }
    w.cmd(["commit", "live", "live:1"]).ok();
    assert_eq!(
        w.cmd(["run", "--rm", "live:1", "cat", "/y"]).ok().stdout,
        "x\n"
    );
    w.cmd(["rm", "-f", "live"]).ok();
}

/// Runs `script` in a new container `name` of `image` (kept), which must succeed.
fn run_named(w: &World, name: &str, image: &str, script: &str) {
    w.cmd(["run", "--name", name, image, "sh", "-c", script])
        .ok();
}

/// Runs `script` in a container of `image` and returns its standard output.
fn sh_in(w: &World, image: &str, script: &str) -> String {
    w.cmd(["run", "--rm", image, "sh", "-c", script])
        .ok()
        .stdout
}

#[test]
fn a_copied_up_lower_file_commits_its_new_content_and_the_base_keeps_the_old() {
    let w = World::new();
    run_named(&w, "b1", "bb", "mkdir /srv && echo old > /srv/f");
    w.cmd(["commit", "b1", "base"]).ok();
    // /srv/f is in a lower layer now: writing it copies it up into the container.
    run_named(&w, "c1", "base", "echo new > /srv/f");
    assert_eq!(w.cmd(["diff", "c1"]).ok().lines(), ["C /srv", "C /srv/f"]);
    w.cmd(["commit", "c1", "next"]).ok();
    assert_eq!(sh_in(&w, "next", "cat /srv/f"), "new\n");
    assert_eq!(
        sh_in(&w, "base", "cat /srv/f"),
        "old\n",
        "the base image is unchanged"
    );
    assert_eq!(
        w.inspect("next")["RootFS"]["Layers"]
            .as_array()
            .unwrap()
            .len(),
        w.inspect("base")["RootFS"]["Layers"]
            .as_array()
            .unwrap()
            .len()
            + 1
    );
    // The container itself goes on with its own copy.
    let out = w.cmd(["start", "-a", "c1"]).ok();
    assert_eq!(out.stdout, "");
    assert_eq!(sh_in(&w, "base", "cat /srv/f"), "old\n");
}

#[test]
fn a_file_replaced_by_a_directory_and_a_directory_by_a_file_survive_commit() {
    let w = World::new();
    run_named(
        &w,
        "b1",
        "bb",
        "mkdir -p /srv/dir/sub && echo x > /srv/dir/sub/x && echo file > /srv/file",
    );
    w.cmd(["commit", "b1", "base"]).ok();
    run_named(
        &w,
        "c1",
        "base",
        "rm /srv/file && mkdir /srv/file && echo inner > /srv/file/inner \
         && rm -rf /srv/dir && echo now-a-file > /srv/dir",
    );
    w.cmd(["commit", "c1", "swapped"]).ok();
    let out = sh_in(
        &w,
        "swapped",
        "test -d /srv/file && echo dir; ls /srv/file; test -f /srv/dir && echo file; cat /srv/dir",
    );
    assert_eq!(out, "dir\ninner\nfile\nnow-a-file\n");
    // And back again in a second commit on top.
    run_named(
        &w,
        "d1",
        "swapped",
        "rm -rf /srv/file && echo file-again > /srv/file && rm /srv/dir && mkdir /srv/dir",
    );
    w.cmd(["commit", "d1", "back"]).ok();
    let out = sh_in(
        &w,
        "back",
        "cat /srv/file; ls -A /srv/dir; test -d /srv/dir && echo dir",
    );
    assert_eq!(
        out, "file-again\ndir\n",
        "the new directory hides the old sub/"
    );
    assert_eq!(
        sh_in(&w, "base", "cat /srv/file /srv/dir/sub/x"),
        "file\nx\n"
    );
}

/// The members of a tar archive (names and contents).
fn tar_members(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut ar = tar::Archive::new(data);
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut v).unwrap();
            (name, v)
        })
        .collect()
}

#[test]
fn a_committed_layer_holds_whiteouts_and_an_opaque_directory() {
    let w = World::new();
    run_named(
        &w,
        "b1",
        "bb",
        "mkdir /srv && echo a > /srv/a && echo b > /srv/b",
    );
    w.cmd(["commit", "b1", "base"]).ok();
    run_named(
        &w,
        "c1",
        "base",
        "rm /bin/ls && rm -rf /srv && mkdir /srv && echo fresh > /srv/only",
    );
    w.cmd(["commit", "c1", "wh"]).ok();
    let file = w.path().join("wh.tar");
    w.cmd(["save", "-o"]).arg(&file).arg("wh").ok();
    let archive = tar_members(&std::fs::read(&file).unwrap());
    let manifest = &archive
        .iter()
        .find(|(n, _)| n == "manifest.json")
        .expect("manifest.json")
        .1;
    let manifest: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    let top = manifest[0]["Layers"].as_array().unwrap().last().unwrap();
    let layer = &archive
        .iter()
        .find(|(n, _)| n == top.as_str().unwrap())
        .expect("the top layer's member")
        .1;
    let names: Vec<String> = tar_members(layer)
        .into_iter()
        .map(|(n, _)| n.trim_end_matches('/').to_string())
        .collect();
    for want in ["bin/.wh.ls", "srv", "srv/.wh..wh..opq", "srv/only"] {
        assert!(
            names.iter().any(|n| n == want),
            "the layer lacks {want}: {names:?}"
        );
    }
    for never in ["srv/a", "srv/b", "srv/.wh.a", "bin/ls"] {
        assert!(
            !names.iter().any(|n| n == never),
            "the layer has {never}: {names:?}"
        );
    }
}

#[test]
fn entrypoint_and_user_apply_as_docker_does() {
    let w = World::new();
    w.cmd([
        "import",
        "-c",
        r#"ENTRYPOINT ["sh", "-c", "echo $(id -u) \"$@\"", "ep"]"#,
        "-c",
        r#"CMD ["x", "y"]"#,
        "-c",
        "USER 1000",
        "-",
        "epu",
    ])
    .stdin(busybox_rootfs_tar(false))
    .ok();
    assert_eq!(w.cmd(["run", "--rm", "epu"]).ok().stdout, "1000 x y\n");
    assert_eq!(
        w.cmd(["run", "--rm", "epu", "a", "b c"]).ok().stdout,
        "1000 a b c\n",
        "arguments replace CMD and follow the entrypoint"
    );
    assert_eq!(
        w.cmd(["run", "--rm", "-u", "0", "epu"]).ok().stdout,
        "0 x y\n"
    );
    assert_eq!(
        w.cmd([
            "run",
            "--rm",
            "-u",
            "1234:5678",
            "--entrypoint",
            "id",
            "epu",
            "-g"
        ])
        .ok()
        .stdout,
        "5678\n"
    );
    // --entrypoint drops the image's CMD, as docker does.
    assert_eq!(
        w.cmd(["run", "--rm", "--entrypoint", "echo", "epu"])
            .ok()
            .stdout,
        "\n"
    );
    assert_eq!(
        w.cmd(["run", "--rm", "--entrypoint", "id", "epu", "-u"])
            .ok()
            .stdout,
        "1000\n"
    );
    // commit -c sets them on a committed image in the same way.
    w.cmd(["run", "--name", "c1", "bb", "true"]).ok();
    w.cmd([
        "commit",
        "-c",
        r#"ENTRYPOINT ["echo", "from-ep"]"#,
        "-c",
        "USER 33",
        "-c",
        r#"CMD ["arg"]"#,
        "c1",
        "ep2",
    ])
    .ok();
    assert_eq!(w.cmd(["run", "--rm", "ep2"]).ok().stdout, "from-ep arg\n");
    assert_eq!(
        w.cmd(["run", "--rm", "--entrypoint", "id", "ep2", "-u"])
            .ok()
            .stdout,
        "33\n"
    );
    let cfg = &w.inspect("ep2")["Config"];
    assert_eq!(cfg["User"], "33");
    assert_eq!(cfg["Entrypoint"], serde_json::json!(["echo", "from-ep"]));
}

#[test]
fn etc_hosts_and_resolv_conf_are_the_containers_own() {
    let w = World::new();
    let out = sh_in(&w, "bb", "hostname; cat /etc/hosts");
    let (name, hosts) = out.split_once('\n').unwrap();
    assert_eq!(
        name.len(),
        12,
        "the hostname is the short container ID: {name}"
    );
    let lines: Vec<&str> = hosts.lines().collect();
    assert!(lines.contains(&"127.0.0.1\tlocalhost"), "{hosts}");
    assert!(
        lines
            .iter()
            .any(|l| l.split_whitespace().skip(1).any(|h| h == name)),
        "/etc/hosts does not name the host {name}:\n{hosts}"
    );
    let out = w
        .cmd([
            "run",
            "--rm",
            "--hostname",
            "box1",
            "bb",
            "cat",
            "/etc/hosts",
        ])
        .ok();
    assert!(
        out.stdout.lines().any(|l| l == "127.0.1.1\tbox1"),
        "{}",
        out.stdout
    );
    // The host's network: the host's resolv.conf as it is.
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let on_host = w
        .cmd([
            "run",
            "--rm",
            "--network",
            "host",
            "bb",
            "cat",
            "/etc/resolv.conf",
        ])
        .ok()
        .stdout;
    assert_eq!(on_host, host);
    // No network: docker's copy, without nameservers on the host's loopback (and its
    // public defaults when none is left).
    let none = w
        .cmd([
            "run",
            "--rm",
            "--network",
            "none",
            "bb",
            "cat",
            "/etc/resolv.conf",
        ])
        .ok()
        .stdout;
    let servers = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("nameserver "))
            .map(|s| s.trim().to_string())
            .collect()
    };
    let remote: Vec<String> = servers(&host)
        .into_iter()
        .filter(|s| !s.starts_with("127.") && s != "::1")
        .collect();
    if remote.is_empty() {
        assert_eq!(servers(&none), ["8.8.8.8", "8.8.4.4"], "{none}");
    } else {
        assert_eq!(servers(&none), remote, "{none}");
    }
    for l in host.lines().filter(|l| !l.starts_with("nameserver")) {
        assert!(none.lines().any(|n| n == l), "{l:?} is lost:\n{none}");
    }
    // The files are mounted over the image's: they never reach the writable layer.
    w.cmd(["run", "--name", "c1", "bb", "true"]).ok();
    assert_eq!(w.cmd(["diff", "c1"]).ok().stdout, "");
}

#[test]
fn start_i_runs_a_stopped_container_again_with_its_changes() {
    let w = World::new();
    let out = w
        .cmd(["run", "-i", "--name", "s1", "bb", "sh"])
        .stdin("echo one > /f\ncat /f\n")
        .ok();
    assert_eq!(out.stdout, "one\n");
    let out = w
        .cmd(["start", "-i", "s1"])
        .stdin("cat /f\necho two >> /f\ncat /f\nexit 4\n")
        .code(4);
    assert_eq!(out.stdout, "one\none\ntwo\n");
    let out = w.cmd(["start", "-a", "s1"]).ok();
    assert_eq!(out.stdout, "", "start -a gives the command no input");
    w.cmd(["commit", "s1", "kept"]).ok();
    assert_eq!(sh_in(&w, "kept", "cat /f"), "one\ntwo\n");
}

#[test]
fn signals_sent_to_strata_reach_the_command() {
    use std::io::BufRead;
    let w = World::new();
    for (sig, name) in [
        (libc::SIGINT, "INT"),
        (libc::SIGQUIT, "QUIT"),
        (libc::SIGHUP, "HUP"),
        (libc::SIGUSR1, "USR1"),
        (libc::SIGUSR2, "USR2"),
        (libc::SIGTERM, "TERM"),
    ] {
        let script = format!(
            "trap 'echo got-{name}; exit 42' {name}; echo ready; while :; do sleep 1; done"
        );
        let mut child = w
            .cmd(["run", "--rm", "bb", "sh", "-c", &script])
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // If the signal never arrives the command loops forever: end it (and so this
        // test's reads) after a minute, and the output shows what went wrong.
        let (done, stop) = std::sync::mpsc::channel::<()>();
        let pid = child.id() as i32;
        let watchdog = std::thread::spawn(move || {
            if stop.recv_timeout(Duration::from_secs(60)).is_err() {
                // SAFETY: the child is not reaped before `done` is sent, so pid is ours.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        });
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n", "SIG{name}: the container did not start");
        // SAFETY: a signal to the strata process this test started.
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        let _ = done.send(());
        watchdog.join().unwrap();
        let status = child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(rest, format!("got-{name}\n"), "SIG{name}; stderr: {err}");
        assert_eq!(status.code(), Some(42), "SIG{name}; stderr: {err}");
    }
    assert_eq!(w.cmd(["ps", "-a", "-q"]).ok().stdout, "");
}

/// A uid the root pass plays a user without a passwd entry or subordinate ids with.
const NO_SUBUID: u32 = 54321;

/// The rootless fallback of a user who has no /etc/subuid range, a user namespace that
/// maps only the user: here a user whom strata cannot give one (the root pass: a uid
/// with no passwd entry and no range; the unprivileged pass: no `newuidmap` on PATH,
/// which strata meets the same way). The overlay's whiteouts are made by the helper
/// (root on the host, a uid this namespace does not map), and commit must still take
/// deletions of lower files.
#[test]
fn a_user_without_subordinate_ids_commits_deletions_of_lower_files() {
    let env = Env::new();
    let helper = is_root().then(|| strata_tests::helper::Helper::start(&[]));
    let prefix = if is_root() {
        for p in walk(env.path()).into_iter().chain([PathBuf::new()]) {
            let p = env.path().join(p);
            std::os::unix::fs::lchown(&p, Some(NO_SUBUID), Some(NO_SUBUID)).unwrap();
        }
        format!("setpriv --reuid={NO_SUBUID} --regid={NO_SUBUID} --clear-groups -- ")
    } else {
        String::new()
    };
    let strata = |args: &[&str]| {
        let words: Vec<String> = args.iter().map(|a| quote(a.as_ref())).collect();
        let mut c = env.sh(&format!(
            "{prefix}env PATH=/no-newuidmap-here \"$STRATA\" {}",
            words.join(" ")
        ));
        if let Some(h) = &helper {
            c = c.env("STRATA_HELPER_SOCKET", h.socket());
        }
        c
    };
    strata(&["import", "-", "bb"])
        .stdin(busybox_rootfs_tar(false))
        .ok();
    let map = strata(&["run", "--rm", "bb", "cat", "/proc/self/uid_map"]).ok();
    let fields: Vec<&str> = map.stdout.split_whitespace().collect();
    let me = if is_root() {
        NO_SUBUID
    } else {
        rustix::process::getuid().as_raw()
    };
    assert_eq!(
        fields,
        ["0", me.to_string().as_str(), "1"],
        "not a single-uid map: {}",
        map.stdout
    );
    strata(&[
        "run",
        "--name",
        "b1",
        "bb",
        "sh",
        "-c",
        "mkdir /srv && echo a > /srv/a && echo b > /srv/b",
    ])
    .ok();
    strata(&["commit", "b1", "base"]).ok();
    strata(&[
        "run",
        "--name",
        "c1",
        "base",
        "sh",
        "-c",
        "rm /bin/ls && rm -rf /srv && mkdir /srv && echo n > /srv/n",
    ])
    .ok();
    let diff = strata(&["diff", "c1"]).ok();
    for want in ["D /bin/ls", "D /srv/a", "A /srv/n"] {
        assert!(diff.lines().contains(&want), "{}", diff.stdout);
    }
    strata(&["commit", "c1", "after"]).ok();
    let out = strata(&[
        "run",
        "--rm",
        "after",
        "sh",
        "-c",
        "ls /bin/ls 2>/dev/null || echo gone; ls /srv",
    ])
    .ok();
    assert_eq!(out.stdout, "gone\nn\n");
    let owners = strata(&[
        "run",
        "--rm",
        "after",
        "sh",
        "-c",
        "stat -c %u /srv /srv/n /bin",
    ])
    .ok();
    assert_eq!(owners.stdout, "0\n0\n0\n");
    strata(&["rm", "b1", "c1"]).ok();
    strata(&["rmi", "after", "base", "bb"]).ok();
}
