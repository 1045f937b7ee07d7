//! The helper's setuid mode: `strata-helper once`, installed setuid root, started by an
//! ordinary user's strata on a socket pair when no helper socket answers.
//!
//! The setuid copy: as root each test makes its own (root-owned, mode 4755, in a
//! temporary directory) and runs it as uid 65534; as the unprivileged test user it is the
//! copy scripts/test.sh made (`STRATA_TEST_SETUID_HELPER`), which the test user runs.

use std::fs;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use strata_tests::helper::{helper_bin, opath};
use strata_tests::{is_root, Env};

/// The uid the root pass runs the setuid helper as.
const OTHER: u32 = 65534;

/// A setuid-root copy of the helper and who runs it (None: this process's user).
struct SetuidHelper {
    _dir: Option<tempfile::TempDir>,
    path: PathBuf,
    run_as: Option<u32>,
}

fn setuid_helper() -> &'static SetuidHelper {
    static ONE: std::sync::OnceLock<SetuidHelper> = std::sync::OnceLock::new();
    ONE.get_or_init(make_setuid_helper)
}

fn make_setuid_helper() -> SetuidHelper {
    if !is_root() {
        let path = std::env::var_os("STRATA_TEST_SETUID_HELPER").map(PathBuf::from).expect(
            "STRATA_TEST_SETUID_HELPER must name a setuid-root strata-helper (scripts/test.sh makes one)",
        );
        return SetuidHelper {
            _dir: None,
            path,
            run_as: None,
        };
    }
    let dir = tempfile::Builder::new()
        .prefix("strata-setuid.")
        .tempdir()
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("strata-helper");
    fs::copy(helper_bin(), &path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o4755)).unwrap();
    SetuidHelper {
        _dir: Some(dir),
        path,
        run_as: Some(OTHER),
    }
}

impl SetuidHelper {
    /// Starts `cmd`, again while another test thread's fork still holds the copy open
    /// for writing (ETXTBSY, until that child's exec).
    fn spawn(cmd: &mut Command) -> std::process::Child {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            match cmd.spawn() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && Instant::now() < end => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                r => return r.unwrap(),
            }
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.path);
        if let Some(uid) = self.run_as {
            c.uid(uid).gid(uid);
        }
        c
    }

    /// The invoker's uid.
    fn uid(&self) -> u32 {
        self.run_as
            .unwrap_or_else(|| rustix::process::getuid().as_raw())
    }
}

/// A lower, upper and work directory owned by `uid`.
fn stack(uid: u32) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("strata-setuid-stack.")
        .tempdir()
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    for d in ["lower", "upper", "work"] {
        fs::create_dir(dir.path().join(d)).unwrap();
    }
    fs::write(dir.path().join("lower/file"), "from the lower layer").unwrap();
    if is_root() {
        for p in ["lower", "lower/file", "upper", "work"] {
            std::os::unix::fs::lchown(dir.path().join(p), Some(uid), Some(uid)).unwrap();
        }
    }
    dir
}

fn mount_over(conn: &UnixStream, dir: &Path, lower: &Path) -> Result<OwnedFd, String> {
    let (l, u, w) = (
        opath(lower),
        opath(&dir.join("upper")),
        opath(&dir.join("work")),
    );
    strata_helper::client::request_mount_over(
        conn,
        Path::new("setuid"),
        &[l.as_fd()],
        u.as_fd(),
        w.as_fd(),
    )
    .map_err(|e| e.to_string())
}

#[test]
fn setuid_helper_refuses_to_serve() {
    let h = setuid_helper();
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let sock = dir.path().join("root.sock");
    for args in [
        vec![
            "serve".to_string(),
            "--socket".into(),
            sock.display().to_string(),
        ],
        vec!["serve".into()],
    ] {
        let mut cmd = h.command();
        cmd.args(&args).stdin(Stdio::null()).stderr(Stdio::piped());
        let out = SetuidHelper::spawn(&mut cmd).wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "setuid `strata-helper {args:?}` ran: {err}"
        );
        assert!(
            err.contains("refusing to run \"serve\" setuid (real uid ")
                && err.contains("effective uid 0)"),
            "setuid `strata-helper {args:?}` said: {err}"
        );
        assert!(!sock.exists(), "setuid serve made {}", sock.display());
    }
}

/// Reads `/proc/PID/<file>`'s line starting with `key`.
fn proc_line(pid: u32, file: &str, key: &str) -> String {
    let text = fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
    text.lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/{file}"))
        .to_string()
}

#[test]
fn setuid_helper_distrusts_what_its_invoker_passes() {
    let h = setuid_helper();
    let dir = stack(h.uid());
    // A C library that cannot load: a loader that honoured LD_LIBRARY_PATH or LD_PRELOAD
    // would fail to start the helper.
    let bad = dir.path().join("badlib");
    fs::create_dir(&bad).unwrap();
    fs::write(bad.join("libc.so.6"), "not a library").unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let (mut watch, inherited) = std::io::pipe().unwrap();
    let (extra, stderr) = (inherited.as_raw_fd(), inherited.try_clone().unwrap());
    let mut cmd = h.command();
    cmd.arg("once")
        .env("LD_LIBRARY_PATH", &bad)
        .env("LD_PRELOAD", bad.join("libc.so.6"))
        .env("STRATA_HELPER_SOCKET", dir.path().join("elsewhere.sock"))
        .env("LISTEN_FDS", "1")
        .env("RUST_BACKTRACE", "full")
        .current_dir(dir.path())
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::from(OwnedFd::from(inherited.try_clone().unwrap())))
        .stderr(Stdio::from(OwnedFd::from(stderr)));
    // SAFETY: only async-signal-safe calls between fork and exec: the pipe's write end
    // on descriptor 7 as well, every signal blocked, SIGTERM ignored, umask 0, low soft
    // limits (the hard ones stay: without CAP_SYS_RESOURCE, which a container's root may
    // lack, the helper cannot raise them, and refuses those under what it needs).
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(extra, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
            libc::signal(libc::SIGTERM, libc::SIG_IGN);
            libc::umask(0);
            for (r, v) in [
                (libc::RLIMIT_FSIZE, 0),
                (libc::RLIMIT_NOFILE, 16),
                (libc::RLIMIT_CPU, 1),
            ] {
                let mut l = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::getrlimit(r, &mut l);
                l.rlim_cur = v;
                libc::setrlimit(r, &l);
            }
            Ok(())
        });
    }
    let mut child = SetuidHelper::spawn(&mut cmd);
    drop(inherited);
    drop(cmd);
    // The pipe's write end was the helper's descriptors 1, 2 and 7: it reads end of file
    // once the helper closed all three, while it still waits for its request.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut rest = Vec::new();
        let _ = tx.send(watch.read_to_end(&mut rest).map(|_| rest));
    });
    let got = rx.recv_timeout(Duration::from_secs(5));
    let pid = child.id();
    let running = child.try_wait().unwrap().is_none();
    let closed = matches!(&got, Ok(Ok(rest)) if rest.is_empty());
    assert!(
        running && closed,
        "the helper kept the invoker's descriptors (running: {running}, pipe: {got:?})"
    );
    assert_eq!(
        proc_line(pid, "status", "SigBlk:"),
        "SigBlk:\t0000000000000000"
    );
    assert_eq!(
        proc_line(pid, "status", "SigIgn:"),
        "SigIgn:\t0000000000001000",
        "only SIGPIPE ignored"
    );
    assert_eq!(proc_line(pid, "status", "Umask:"), "Umask:\t0077");
    for (key, want) in [
        ("Max file size", "unlimited"),
        ("Max cpu time", "unlimited"),
        ("Max open files", "1024"),
    ] {
        let line = proc_line(pid, "limits", key);
        assert!(line[key.len()..].trim_start().starts_with(want), "{line}");
    }
    let mounted = mount_over(&ours, dir.path(), &dir.path().join("lower"));
    let mount = mounted.unwrap_or_else(|e| panic!("the setuid helper did not mount: {e}"));
    let file = rustix::fs::openat(
        &mount,
        "file",
        rustix::fs::OFlags::RDONLY,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    let mut text = String::new();
    fs::File::from(file).read_to_string(&mut text).unwrap();
    assert_eq!(text, "from the lower layer");
    let status = wait_for(&mut child);
    assert!(status.success(), "once exited {status}");
}

#[test]
fn setuid_helper_acts_for_the_real_uid_and_serves_one_request() {
    let h = setuid_helper();
    let dir = stack(h.uid());
    let (ours, theirs) = UnixStream::pair().unwrap();
    let mut cmd = h.command();
    cmd.arg("once").stdin(Stdio::from(OwnedFd::from(theirs)));
    let mut child = SetuidHelper::spawn(&mut cmd);
    drop(cmd); // it holds the helper's end of the pair
    let refused = mount_over(&ours, dir.path(), Path::new("/etc"))
        .expect_err("the setuid helper mounted /etc");
    let want = format!(
        "lower 1 of 1: owned by uid 0, not by the caller (uid {})",
        h.uid()
    );
    assert!(refused.contains(&want), "refusal: {refused}");
    wait_for(&mut child);
    let second = mount_over(&ours, dir.path(), &dir.path().join("lower"));
    assert!(second.is_err(), "the setuid helper served a second request");
}

fn wait_for(child: &mut std::process::Child) -> std::process::ExitStatus {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            Instant::now() < end,
            "the setuid helper did not exit after its one request"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The whole mode: strata, as an ordinary user with no helper socket answering, runs a
/// container through the setuid helper; without one it says what to do.
#[test]
fn run_through_the_setuid_helper() {
    let env = Env::new();
    env.import_busybox("bb");
    let none = env.path().join("no-helper.sock");
    if is_root() {
        // Root mounts in process: no socket and no helper needed.
        let out = env
            .cmd(["run", "--rm", "bb", "echo", "in-process"])
            .env("STRATA_HELPER_SOCKET", &none)
            .ok();
        assert_eq!(out.stdout, "in-process\n");
        return;
    }
    let h = setuid_helper();
    let out = env
        .cmd(["run", "--rm", "bb", "echo", "through-setuid"])
        .env("STRATA_HELPER_SOCKET", &none)
        .env("STRATA_HELPER_BIN", &h.path)
        .ok();
    assert_eq!(out.stdout, "through-setuid\n");
    let info = env
        .cmd(["info"])
        .env("STRATA_HELPER_SOCKET", &none)
        .env("STRATA_HELPER_BIN", &h.path)
        .ok();
    let want = format!("the setuid helper {} mounts instead", h.path.display());
    assert!(info.stdout.contains(&want), "strata info: {}", info.stdout);
    // A helper binary that is not setuid (any existing file that is not: the first place
    // strata looks is STRATA_HELPER_BIN): strata says what to do.
    let out = env
        .cmd(["run", "--rm", "bb", "true"])
        .env("STRATA_HELPER_SOCKET", &none)
        .env("STRATA_HELPER_BIN", "/bin/sh")
        .run();
    let err = out.single_error();
    for want in [
        &format!("no strata-helper answers on {}", none.display())[..],
        "systemctl enable --now strata-helper.socket",
        "strata-helper serve --socket",
        "dpkg-statoverride --update --add root root 4755 /usr/libexec/strata/strata-helper",
    ] {
        assert!(err.contains(want), "missing {want:?} in: {err}");
    }
}
