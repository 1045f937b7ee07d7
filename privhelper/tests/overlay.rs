//! The overlay mount itself: layers stack, writes land in upper, and the mount is never
//! in the mount table. As root it runs twice, in process (`mount_overlay`, after the
//! same descriptor checks the server makes) and through a helper it starts on a
//! temporary socket; as any other user it goes through the helper named by
//! `STRATA_HELPER_SOCKET` and fails (never skips) when there is none.

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use strata_helper::{check_layer_fd, client, mount_overlay, OverlaySpec};

fn opath(p: &Path) -> OwnedFd {
    rustix::fs::open(
        p,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap()
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A helper started on a temporary socket, killed on drop.
struct Helper {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Helper {
    fn start() -> Helper {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("helper.sock");
        let child = Command::new(env!("CARGO_BIN_EXE_strata-helper"))
            .args(["serve", "--socket"])
            .arg(&socket)
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let t = Instant::now();
        while !socket.exists() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the helper did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Helper {
            child,
            socket,
            _dir: dir,
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stack_and_check(mount: impl Fn(&[OwnedFd], &OwnedFd, &OwnedFd) -> OwnedFd) {
    let t = tempfile::tempdir().unwrap();
    for d in ["l1", "l2", "upper", "work"] {
        fs::create_dir(t.path().join(d)).unwrap();
    }
    fs::write(t.path().join("l1/a"), "bottom").unwrap();
    fs::write(t.path().join("l1/b"), "only-bottom").unwrap();
    fs::write(t.path().join("l2/a"), "top").unwrap();
    let lowers = [opath(&t.path().join("l2")), opath(&t.path().join("l1"))];
    let (up, wk) = (
        opath(&t.path().join("upper")),
        opath(&t.path().join("work")),
    );
    let before = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let m = mount(&lowers, &up, &wk);
    let read = |name: &str| {
        let fd = rustix::fs::openat(
            &m,
            name,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        std::io::read_to_string(fs::File::from(fd)).unwrap()
    };
    assert_eq!(read("a"), "top");
    assert_eq!(read("b"), "only-bottom");
    let fd = rustix::fs::openat(
        &m,
        "new",
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CREATE | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
    drop(fd);
    assert!(
        t.path().join("upper/new").exists(),
        "a write lands in upper"
    );
    assert_eq!(before, fs::read_to_string("/proc/self/mountinfo").unwrap());
}

#[test]
fn layers_stack_in_a_detached_mount() {
    if is_root() {
        stack_and_check(|lowers, up, wk| {
            for fd in lowers.iter().chain([up, wk]) {
                check_layer_fd(fd.as_fd(), 0).unwrap();
            }
            mount_overlay(&OverlaySpec {
                lowers: lowers.iter().map(|f| f.as_fd()).collect(),
                upper: up.as_fd(),
                work: wk.as_fd(),
                restricted: true,
            })
            .unwrap()
        });
    }
    let helper = is_root().then(Helper::start);
    let socket = match &helper {
        Some(h) => h.socket.clone(),
        None => match std::env::var_os(strata_helper::SOCKET_ENV) {
            Some(s) => PathBuf::from(s),
            None => panic!(
                "not root and STRATA_HELPER_SOCKET is not set: start `strata-helper serve --socket PATH` as root and export STRATA_HELPER_SOCKET=PATH (scripts/test.sh does)"
            ),
        },
    };
    stack_and_check(|lowers, up, wk| {
        let l: Vec<_> = lowers.iter().map(|f| f.as_fd()).collect();
        client::request_mount(&socket, &l, up.as_fd(), wk.as_fd()).unwrap_or_else(|e| panic!("{e}"))
    });
}
