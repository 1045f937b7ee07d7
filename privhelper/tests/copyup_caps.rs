//! Which capabilities overlay copy-up really needs from the mounter. Overlayfs keeps the
//! credentials of the thread that created the superblock and does all work on the
//! layers with them; capabilities are per thread, so this test builds the mount on a
//! thread holding the helper's set minus one capability and then, with full
//! credentials, does what containers do: read private files, write (copy up) files of
//! other owners, setgid files, files with file capabilities and device nodes, delete
//! (whiteout) and replace directories (opaque). Root only.

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::thread::{capabilities, set_capabilities, CapabilitySet, CapabilitySets};
use strata_helper::{mount_overlay, privilege::KEEP, OverlaySpec};

fn opath(p: &Path) -> OwnedFd {
    rustix::fs::open(
        p,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap()
}

fn build(dir: &Path) {
    let l = dir.join("lower");
    for d in [
        "lower",
        "lower/priv",
        "lower/gone",
        "lower/repl",
        "lower/sgdir",
        "upper",
        "work",
    ] {
        fs::create_dir(dir.join(d)).unwrap();
    }
    fs::write(l.join("priv/secret"), "s").unwrap();
    fs::write(l.join("owned"), "o").unwrap();
    fs::write(l.join("setgid"), "g").unwrap();
    fs::write(l.join("fcap"), "c").unwrap();
    fs::write(l.join("gone/x"), "x").unwrap();
    fs::write(l.join("repl/y"), "y").unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        l.join("null"),
        rustix::fs::FileType::CharacterDevice,
        Mode::from_raw_mode(0o666),
        rustix::fs::makedev(1, 3),
    )
    .unwrap();
    // security.capability v2 for cap_net_raw+ep
    let cap: [u8; 20] = [
        0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    for p in [
        "priv/secret",
        "owned",
        "setgid",
        "fcap",
        "gone/x",
        "repl/y",
        "null",
        "priv",
        "gone",
        "repl",
        "sgdir",
        "",
    ] {
        std::os::unix::fs::lchown(l.join(p), Some(100_000), Some(100_000)).unwrap();
    }
    // After chown, which clears file capabilities.
    rustix::fs::setxattr(
        l.join("fcap"),
        "security.capability",
        &cap,
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    fs::set_permissions(l.join("priv"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(l.join("priv/secret"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(l.join("setgid"), fs::Permissions::from_mode(0o2755)).unwrap();
    fs::set_permissions(l.join("sgdir"), fs::Permissions::from_mode(0o2775)).unwrap();
    for d in ["upper", "work"] {
        std::os::unix::fs::lchown(dir.join(d), Some(1000), Some(1000)).unwrap();
    }
}

/// Runs the operations, returning the names of those that failed.
fn exercise(m: &OwnedFd) -> Vec<String> {
    let mut failed = Vec::new();
    let mut t = |name: &str, r: Result<(), String>| {
        if let Err(e) = r {
            failed.push(format!("{name} ({e})"));
        }
    };
    let open = |p: &str, f: OFlags| {
        rustix::fs::openat(m, p, f | OFlags::CLOEXEC, Mode::from_raw_mode(0o644))
            .map_err(|e| e.to_string())
    };
    t(
        "read a private file",
        open("priv/secret", OFlags::RDONLY).map(drop),
    );
    t(
        "copy up another owner's file",
        open("owned", OFlags::WRONLY).map(drop),
    );
    // A metadata change copies up without writing (a write would clear setgid and
    // file capabilities itself).
    let touch = |p: &str| {
        let ts = rustix::fs::Timestamps {
            last_access: rustix::fs::Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            },
            last_modification: rustix::fs::Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            },
        };
        rustix::fs::utimensat(m, p, &ts, rustix::fs::AtFlags::empty()).map_err(|e| e.to_string())
    };
    t("copy up a setgid file", touch("setgid"));
    t("copy up a file with file capabilities", touch("fcap"));
    t(
        "copy up a device node",
        rustix::fs::chmodat(
            m,
            "null",
            Mode::from_raw_mode(0o600),
            rustix::fs::AtFlags::empty(),
        )
        .map_err(|e| e.to_string()),
    );
    t(
        "create in a setgid directory",
        open("sgdir/new", OFlags::WRONLY | OFlags::CREATE).map(drop),
    );
    t(
        "create in a copied-up directory",
        open("priv/new", OFlags::WRONLY | OFlags::CREATE).map(drop),
    );
    t(
        "delete a lower file (whiteout)",
        rustix::fs::unlinkat(m, "gone/x", rustix::fs::AtFlags::empty()).map_err(|e| e.to_string()),
    );
    t(
        "replace a lower directory (opaque)",
        (|| {
            rustix::fs::unlinkat(m, "repl/y", rustix::fs::AtFlags::empty())
                .map_err(|e| e.to_string())?;
            rustix::fs::unlinkat(m, "repl", rustix::fs::AtFlags::REMOVEDIR)
                .map_err(|e| e.to_string())?;
            rustix::fs::mkdirat(m, "repl", Mode::from_raw_mode(0o755)).map_err(|e| e.to_string())
        })(),
    );
    failed
}

/// What the copies in upper must keep: owner, setgid bit, file capabilities.
fn verify_upper(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut bad = Vec::new();
    let u = dir.join("upper");
    match fs::metadata(u.join("owned")) {
        Ok(m) if m.uid() == 100_000 => {}
        Ok(m) => bad.push(format!("copied-up file owned by {} (want 100000)", m.uid())),
        Err(e) => bad.push(format!("no copied-up file ({e})")),
    }
    match fs::metadata(u.join("setgid")) {
        Ok(m) if m.mode() & 0o7777 == 0o2755 => {}
        Ok(m) => bad.push(format!(
            "setgid file copied up with mode {:o} (want 2755)",
            m.mode() & 0o7777
        )),
        Err(e) => bad.push(format!("no copied-up setgid file ({e})")),
    }
    match fs::metadata(u.join("sgdir")) {
        Ok(m) if m.mode() & 0o7777 == 0o2775 => {}
        Ok(m) => bad.push(format!(
            "setgid directory copied up with mode {:o} (want 2775)",
            m.mode() & 0o7777
        )),
        Err(e) => bad.push(format!("no copied-up setgid directory ({e})")),
    }
    match fs::metadata(u.join("sgdir/new")) {
        Ok(m) if m.gid() == 100_000 => {}
        Ok(m) => bad.push(format!(
            "file in a setgid directory has gid {} (want 100000)",
            m.gid()
        )),
        Err(e) => bad.push(format!("no file in the setgid directory ({e})")),
    }
    let mut buf = [0u8; 64];
    if rustix::fs::getxattr(u.join("fcap"), "security.capability", &mut buf).is_err() {
        bad.push("file capabilities lost in copy-up".into());
    }
    bad
}

fn mount_with(dir: &Path, caps: CapabilitySet) -> Result<OwnedFd, String> {
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let now = capabilities(None).unwrap();
        set_capabilities(
            None,
            CapabilitySets {
                effective: caps,
                permitted: now.permitted,
                inheritable: CapabilitySet::empty(),
            },
        )
        .unwrap();
        let (l, u, w) = (
            opath(&dir.join("lower")),
            opath(&dir.join("upper")),
            opath(&dir.join("work")),
        );
        mount_overlay(&OverlaySpec {
            lowers: vec![l.as_fd()],
            upper: u.as_fd(),
            work: w.as_fd(),
            restricted: true,
        })
        .map_err(|e| e.to_string())
    })
    .join()
    .unwrap()
}

#[test]
fn copy_up_needs_the_helpers_capabilities() {
    if !rustix::process::geteuid().is_root() {
        // Not a silent skip: straight to the terminal, past the test harness's capture.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "copy_up_needs_the_helpers_capabilities: NOT RUN as uid {}: it needs root (the root pass of scripts/test.sh runs it)",
            rustix::process::geteuid().as_raw()
        );
        return;
    }
    let t = tempfile::tempdir().unwrap();
    fs::create_dir(t.path().join("all")).unwrap();
    build(&t.path().join("all"));
    let m = mount_with(&t.path().join("all"), KEEP).unwrap();
    let mut failed = exercise(&m);
    failed.extend(verify_upper(&t.path().join("all")));
    assert!(
        failed.is_empty(),
        "with the helper's capabilities: {failed:?}"
    );
    let mut report = String::new();
    let mut unneeded = Vec::new();
    for (name, cap) in KEEP.iter_names() {
        let d = t.path().join(name);
        fs::create_dir(&d).unwrap();
        build(&d);
        let r = match mount_with(&d, KEEP - cap) {
            Err(e) => vec![format!("the mount itself ({e})")],
            Ok(m) => {
                let mut r = exercise(&m);
                r.extend(verify_upper(&d));
                r
            }
        };
        if r.is_empty() {
            unneeded.push(name);
        }
        report.push_str(&format!("without CAP_{name}: {r:?}\n"));
    }
    eprintln!("{report}");
    assert!(unneeded.is_empty(), "kept but not needed: {unneeded:?}");
}
