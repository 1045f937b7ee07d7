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

use strata_helper::{
    check_layer_fd, client, mount_overlay, mount_overlay_with, LayerOptions, MountError,
    OverlaySpec,
};

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
    let read = |name: &str| read_in(&m, name);
    assert_eq!(read("a"), "top");
    assert_eq!(read("b"), "only-bottom");
    writes_land_in_upper(&m, t.path(), &before);
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

/// Set in the copy of this test binary that [`as_mounter`] starts in a user namespace.
const IN_USERNS: &str = "STRATA_TEST_OVERLAY_IN_USERNS";

/// Runs the test `name` where this process may build overlays: here as root; as any
/// other user, in a copy of this test binary started in a user and mount namespace of
/// its own (`unshare --user --map-root-user --mount`), where the user is root and
/// overlayfs may be mounted over the user's own directories. Returns false in the
/// parent that started the copy (the copy did the work, and its failure fails this).
fn as_mounter(name: &str) -> bool {
    if is_root() || std::env::var_os(IN_USERNS).is_some() {
        return true;
    }
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "--"])
        .arg(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(IN_USERNS, "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run unshare (util-linux): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{name} in a user namespace:\n{text}");
    assert!(
        text.contains("1 passed"),
        "{name} did not run in the user namespace:\n{text}"
    );
    false
}

/// `n` layers in `t`: layer `i` holds `f<i>` and its own `who` (the top one, 0, wins).
fn layers(t: &Path, n: usize) -> (Vec<OwnedFd>, OwnedFd, OwnedFd) {
    for i in 0..n {
        let l = t.join(format!("l{i}"));
        fs::create_dir(&l).unwrap();
        fs::write(l.join(format!("f{i}")), format!("layer {i}")).unwrap();
        fs::write(l.join("who"), format!("{i}")).unwrap();
    }
    fs::create_dir(t.join("upper")).unwrap();
    fs::create_dir(t.join("work")).unwrap();
    let lowers = (0..n).map(|i| opath(&t.join(format!("l{i}")))).collect();
    (lowers, opath(&t.join("upper")), opath(&t.join("work")))
}

/// A file created in the overlay `m` of directory `t` lands in `t/upper`, and the mount
/// table is still `before`.
fn writes_land_in_upper(m: &OwnedFd, t: &Path, before: &str) {
    create_in(m, "new");
    assert!(t.join("upper/new").exists(), "a write lands in upper");
    assert_eq!(before, fs::read_to_string("/proc/self/mountinfo").unwrap());
}

fn create_in(m: &OwnedFd, name: &str) {
    rustix::fs::openat(
        m,
        name,
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CREATE | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap_or_else(|e| panic!("create {name} in the overlay: {e}"));
}

fn read_in(m: &OwnedFd, name: &str) -> String {
    let fd = rustix::fs::openat(
        m,
        name,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap_or_else(|e| panic!("open {name} in the overlay: {e}"));
    std::io::read_to_string(fs::File::from(fd)).unwrap()
}

/// The fallback for kernels whose `lowerdir+` takes no descriptor (before 6.13, and
/// O_PATH descriptors before 6.15): one string `lowerdir+` of `/proc/self/fd/N` per
/// layer, forced here on a kernel that has the descriptor form, stacks 150 layers (a
/// joined `lowerdir` of them would be about 2,800 bytes, far over fsconfig's 255).
#[test]
fn the_proc_path_fallback_stacks_150_layers() {
    if !as_mounter("the_proc_path_fallback_stacks_150_layers") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let n = 150;
    let (lowers, up, wk) = layers(t.path(), n);
    let before = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let m = mount_overlay_with(
        &OverlaySpec {
            lowers: lowers.iter().map(|f| f.as_fd()).collect(),
            upper: up.as_fd(),
            work: wk.as_fd(),
            restricted: true,
        },
        LayerOptions::ProcPaths,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read_in(&m, "who"), "0", "the first lower is the top one");
    for i in 0..n {
        assert_eq!(read_in(&m, &format!("f{i}")), format!("layer {i}"));
    }
    writes_land_in_upper(&m, t.path(), &before);
}

/// The last resort, for kernels without `lowerdir+` (before 6.8): one joined
/// `lowerdir`, which works for a few layers and is refused, saying why, when it would
/// not fit in fsconfig's 255 bytes.
#[test]
fn the_joined_lowerdir_fallback_stacks_few_layers_and_refuses_many() {
    if !as_mounter("the_joined_lowerdir_fallback_stacks_few_layers_and_refuses_many") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (lowers, up, wk) = layers(t.path(), 30);
    let spec = |n: usize| OverlaySpec {
        lowers: lowers[..n].iter().map(|f| f.as_fd()).collect(),
        upper: up.as_fd(),
        work: wk.as_fd(),
        restricted: true,
    };
    let m = mount_overlay_with(&spec(5), LayerOptions::JoinedProcPaths)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read_in(&m, "who"), "0");
    assert_eq!(read_in(&m, "f4"), "layer 4");
    drop(m);
    let e = mount_overlay_with(&spec(30), LayerOptions::JoinedProcPaths).unwrap_err();
    assert!(
        matches!(e, MountError::TooManyForKernel { layers: 30, bytes } if bytes > 255),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with(
            "this kernel takes the lower layers only as one lowerdir option, and 30 layers need "
        ),
        "{msg}"
    );
    assert!(msg.contains("at most 255"), "{msg}");
    // The automatic choice on this kernel takes all of them.
    let m = mount_overlay(&spec(30)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read_in(&m, "f29"), "layer 29");
}
