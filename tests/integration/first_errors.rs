//! The errors a new user meets first say what to do: no helper answering (see also
//! setuid.rs), no subordinate id range.

use std::os::unix::process::CommandExt;
use std::path::Path;

use strata_tests::helper::Helper;
use strata_tests::{is_root, Env, Output};

/// A user with no line in /etc/subuid (the root pass runs strata as this uid).
const NOBODY: u32 = 65534;

fn owned_by(dir: &Path, uid: u32) {
    for e in strata_tests::walk(dir) {
        std::os::unix::fs::lchown(dir.join(e), Some(uid), Some(uid)).unwrap();
    }
    std::os::unix::fs::lchown(dir, Some(uid), Some(uid)).unwrap();
}

/// Runs strata with `args` in `env` as `uid` (root pass) or as this user, through the
/// helper on `socket` if given, else the one the environment gives strata.
fn strata_as(env: &Env, uid: Option<u32>, socket: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = env.cmd(args);
    if let Some(s) = socket {
        cmd = cmd.env("STRATA_HELPER_SOCKET", s);
    }
    run_as(cmd.command(), uid)
}

fn run_as(mut c: std::process::Command, uid: Option<u32>) -> Output {
    if let Some(u) = uid {
        c.uid(u).gid(u);
    }
    let out = c.output().unwrap();
    Output {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// Without a subordinate range an image's other uids are not mapped, and strata says
/// what to add; with one (the test user's) they run.
#[test]
fn an_unmapped_image_user_says_how_to_add_a_subordinate_range() {
    // As root the test starts a helper for uid 65534; as a user strata reaches the helper
    // the test user's environment gives it: the socket, or in the setuid pass of the
    // package test (no socket answering) the setuid helper.
    let helper = is_root().then(Helper::get);
    let socket = helper.as_ref().map(|h| h.socket());
    let env = Env::new();
    let uid = is_root().then_some(NOBODY);
    if let Some(u) = uid {
        let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
        assert!(
            !subuid
                .lines()
                .any(|l| l.starts_with("nobody:") || l.starts_with("65534:")),
            "this test needs uid {u} to have no /etc/subuid range"
        );
        owned_by(env.path(), u);
    }
    let tar = env.write("bb.tar", strata_tests::busybox_rootfs_tar(false));
    let imported = strata_as(&env, uid, socket, &["import", tar.to_str().unwrap(), "bb"]);
    assert_eq!(imported.code, 0, "import: {}", imported.stderr);
    let out = strata_as(
        &env,
        uid,
        socket,
        &["run", "--rm", "--user", "1000", "bb", "id", "-u"],
    );
    if uid.is_none() {
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "1000\n"),
            "{}",
            out.stderr
        );
        return;
    }
    assert_eq!(out.code, 125, "{out:?}");
    let err = out.single_error();
    for want in [
        "setuid 1000: EINVAL",
        "uid 1000 is not mapped: user nobody has no subordinate ids",
        "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 nobody",
        "nobody:100000:65536` in /etc/subuid and /etc/subgid",
        "without one, only images and --user that run as root work",
    ] {
        assert!(err.contains(want), "missing {want:?} in: {err}");
    }
    let root = strata_as(&env, uid, socket, &["run", "--rm", "bb", "id", "-u"]);
    assert_eq!(
        (root.code, root.stdout.as_str()),
        (0, "0\n"),
        "{}",
        root.stderr
    );
}

/// An ordinary user's --root or STRATA_ROOT that another user owns (here /tmp, root's)
/// is refused before anything is written there, naming its owner and what to do.
#[test]
fn a_store_of_another_user_says_whose_it_is() {
    let env = Env::new();
    let uid = is_root().then_some(NOBODY);
    if let Some(u) = uid {
        owned_by(env.path(), u);
    }
    let me = uid.unwrap_or_else(|| rustix::process::getuid().as_raw());
    let none = env.path().join("no-helper.sock");
    let by_flag = strata_as(&env, uid, Some(&none), &["--root", "/tmp", "images"]);
    let by_env = run_as(
        env.cmd(["pull", "busybox"])
            .env("STRATA_ROOT", "/tmp")
            .command(),
        uid,
    );
    for out in [by_flag, by_env] {
        assert_eq!(out.code, 1, "{out:?}");
        let err = out.single_error();
        let want = "Error: the store /tmp belongs to root (uid 0), not to you, ";
        assert!(err.starts_with(want), "{err}");
        assert!(err.contains(&format!("(uid {me}): each user has a store of their own; leave --root and STRATA_ROOT unset to use yours (~/.local/share/strata), or give a directory you own")), "{err}");
    }
    assert!(!Path::new("/tmp/blobs").exists() && !Path::new("/tmp/layers").exists());
}
