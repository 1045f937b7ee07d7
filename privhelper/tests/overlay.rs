//! The overlay mount itself, as root: layers stack, and the mount is never in the
//! mount table. Skipped (with a message) only when not root; CI runs it as root.

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use strata_helper::{mount_overlay, OverlaySpec};

fn opath(p: &std::path::Path) -> OwnedFd {
    rustix::fs::open(
        p,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap()
}

#[test]
fn layers_stack_in_a_detached_mount() {
    if !rustix::process::geteuid().is_root() {
        eprintln!(
            "not root: the in-process mount needs CAP_SYS_ADMIN (the server tests cover non-root)"
        );
        return;
    }
    let t = tempfile::tempdir().unwrap();
    for d in ["l1", "l2", "upper", "work"] {
        fs::create_dir(t.path().join(d)).unwrap();
    }
    fs::write(t.path().join("l1/a"), "bottom").unwrap();
    fs::write(t.path().join("l1/b"), "only-bottom").unwrap();
    fs::write(t.path().join("l2/a"), "top").unwrap();
    let (l1, l2) = (opath(&t.path().join("l1")), opath(&t.path().join("l2")));
    let (up, wk) = (
        opath(&t.path().join("upper")),
        opath(&t.path().join("work")),
    );
    let before = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let m = mount_overlay(&OverlaySpec {
        lowers: vec![l2.as_fd(), l1.as_fd()],
        upper: up.as_fd(),
        work: wk.as_fd(),
        restricted: true,
    })
    .unwrap();
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
