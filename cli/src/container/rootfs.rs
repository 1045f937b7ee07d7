//! Assembling a container's root inside its new mount namespace, then entering it.
//!
//! Every mount is made detached (`fsmount`, `open_tree`) and attached onto a descriptor
//! that was resolved with `RESOLVE_IN_ROOT` from the container's root, so a symlink in
//! an image can never send a mount (or a created mount point) outside the container.
//! All of it happens before `pivot_root`, while the host's /proc is still visible to the
//! kernel's "fully visible proc" check that a user namespace's proc mount needs. What is
//! mounted where comes from the container's [`ContainerPlan`].

use super::plan::ContainerPlan;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags, ResolveFlags, CWD};
use rustix::io::Errno;
use rustix::mount::{
    fsconfig_create, fsconfig_set_string, fsmount, fsopen, move_mount, open_tree, FsMountFlags,
    FsOpenFlags, MountAttrFlags, MountPropagationFlags, MoveMountFlags, OpenTreeFlags,
    UnmountFlags,
};
use std::path::{Path, PathBuf};

/// The container's image filesystem, before it becomes its root.
pub struct Rootfs {
    /// The directory the overlay is attached on (in this mount namespace only).
    pub attach_at: PathBuf,
    /// The detached overlay mount.
    pub overlay: OwnedFd,
    /// Image filesystems mounted in it.
    pub layers: Vec<LayersTree>,
}

/// An image filesystem to mount in the container: its overlay, attached first on a
/// directory of the container's own, then `source` of it bound on `target`.
pub struct LayersTree {
    /// The detached overlay mount.
    pub overlay: OwnedFd,
    /// Where it is attached (in the container's mount namespace only).
    pub attach_at: PathBuf,
    /// The path in it that is mounted, relative.
    pub source: String,
    /// Where in the container, relative to its root.
    pub target: String,
    /// Mounted read-only.
    pub readonly: bool,
}

/// A failed step, with the error number for hints.
#[derive(Debug)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn step<T>(what: impl FnOnce() -> String, r: rustix::io::Result<T>) -> Result<T, SetupError> {
    r.map_err(|e| SetupError(format!("{}: {e}", what())))
}

/// Builds the root from `rootfs` as `plan` says and makes it this process's root
/// directory. Runs in the container's first process, in its new mount namespace.
pub fn enter(plan: &ContainerPlan, rootfs: &Rootfs) -> Result<(), SetupError> {
    step(
        || "make mounts private".into(),
        rustix::mount::mount_change(
            "/",
            MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
        ),
    )?;
    step(
        || format!("attach the overlay on {}", rootfs.attach_at.display()),
        move_mount(
            rootfs.overlay.as_fd(),
            "",
            CWD,
            &rootfs.attach_at,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        ),
    )?;
    let root = step(
        || "open the container root".into(),
        rustix::fs::open(
            &rootfs.attach_at,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ),
    )?;
    let root = root.as_fd();

    let nosuid_nodev = MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_NODEV;
    let proc = new_fs(
        "proc",
        &[],
        nosuid_nodev | MountAttrFlags::MOUNT_ATTR_NOEXEC,
    )?;
    attach(&proc, root, "proc")?;

    mask_proc(root, plan)?;

    if plan.host_dev {
        // --privileged: the host's devices, as they are.
        attach(&bind_tree(Path::new("/dev"), true)?, root, "dev")?;
    } else {
        let dev = new_fs(
            "tmpfs",
            &[("mode", "755"), ("size", "65536k")],
            MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_STRICTATIME,
        )?;
        attach(&dev, root, "dev")?;
        let devdir = resolve(root, "dev", true)?;
        populate_dev(devdir.as_fd(), plan)?;
    }

    if plan.sysfs {
        // sysfs needs a network namespace of our own; skip it quietly where refused.
        if let Ok(sys) = new_fs(
            "sysfs",
            &[],
            nosuid_nodev | MountAttrFlags::MOUNT_ATTR_NOEXEC | MountAttrFlags::MOUNT_ATTR_RDONLY,
        ) {
            attach(&sys, root, "sys")?;
        }
    }

    for b in &plan.binds {
        let is_dir = b.source.is_dir();
        let tree = bind_tree(&b.source, b.recursive)?;
        if b.readonly {
            set_readonly(tree.as_fd())
                .map_err(|e| SetupError(format!("{}: {e}", b.source.display())))?;
        }
        if b.create_target {
            ensure_path(root, &b.target, is_dir)?;
        }
        attach(&tree, root, &b.target)?;
    }
    for l in &rootfs.layers {
        mount_layers(root, l)?;
    }
    for t in &plan.tmpfs {
        let size = t.size.map(|s| ("size", s.to_string()));
        let mode = t.mode.map(|m| ("mode", format!("{m:o}")));
        let opts: Vec<(&str, &str)> = size
            .iter()
            .chain(mode.iter())
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let fs = new_fs("tmpfs", &opts, nosuid_nodev)?;
        let rel = t.target.trim_start_matches('/');
        ensure_path(root, rel, true)?;
        attach(&fs, root, rel)?;
    }

    if plan.read_only {
        // Only the image's filesystem: /proc, /dev, the binds and tmpfs keep theirs.
        set_attr_readonly(root, false)
            .map_err(|e| SetupError(format!("make the root read-only: {e}")))?;
    }
    step(
        || "set the host name".into(),
        rustix::system::sethostname(plan.hostname.as_bytes()),
    )?;
    step(
        || "enter the container root".into(),
        rustix::process::fchdir(root),
    )?;
    step(
        || "pivot_root".into(),
        rustix::process::pivot_root(".", "."),
    )?;
    step(
        || "detach the host's root".into(),
        rustix::mount::unmount(".", UnmountFlags::DETACH),
    )?;
    step(|| "chdir /".into(), rustix::process::chdir("/"))?;
    Ok(())
}

/// Mounts `source` of an image filesystem on its target: the overlay is attached on a
/// directory of the container's, the source resolved inside it (never leaving it) and
/// bound.
fn mount_layers(root: BorrowedFd<'_>, l: &LayersTree) -> Result<(), SetupError> {
    step(
        || format!("attach an image filesystem on {}", l.attach_at.display()),
        move_mount(
            l.overlay.as_fd(),
            "",
            CWD,
            &l.attach_at,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        ),
    )?;
    let top = step(
        || format!("open {}", l.attach_at.display()),
        rustix::fs::open(
            &l.attach_at,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ),
    )?;
    let source = step(
        || format!("resolve /{} in the mounted image", l.source),
        rustix::fs::openat2(
            top.as_fd(),
            if l.source.is_empty() {
                "."
            } else {
                l.source.as_str()
            },
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT,
        ),
    )?;
    let is_dir = rustix::fs::fstat(&source)
        .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir())
        .unwrap_or(true);
    let tree = step(
        || format!("bind /{} of the mounted image", l.source),
        open_tree(
            source.as_fd(),
            "",
            OpenTreeFlags::OPEN_TREE_CLONE
                | OpenTreeFlags::OPEN_TREE_CLOEXEC
                | OpenTreeFlags::AT_EMPTY_PATH,
        ),
    )?;
    if l.readonly {
        set_readonly(tree.as_fd()).map_err(|e| SetupError(format!("/{}: {e}", l.target)))?;
    }
    ensure_path(root, &l.target, is_dir)?;
    attach(&tree, root, &l.target)
}

/// Hides the plan's masked paths (files get /dev/null, directories an empty read-only
/// tmpfs) and makes its read-only paths read-only.
fn mask_proc(root: BorrowedFd<'_>, plan: &ContainerPlan) -> Result<(), SetupError> {
    for rel in plan.masked_paths {
        let Some(target) = existing(root, rel) else {
            continue;
        };
        let is_dir = step(|| format!("stat /{rel}"), rustix::fs::fstat(&target))
            .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir())?;
        let cover = if is_dir {
            new_fs(
                "tmpfs",
                &[("size", "0")],
                MountAttrFlags::MOUNT_ATTR_RDONLY | MountAttrFlags::MOUNT_ATTR_NOSUID,
            )?
        } else {
            bind_tree(Path::new("/dev/null"), false)?
        };
        attach_on(&cover, &target, || format!("mask /{rel}"))?;
    }
    for rel in plan.readonly_paths {
        let Some(target) = existing(root, rel) else {
            continue;
        };
        let tree = step(
            || format!("bind /{rel}"),
            open_tree(
                target.as_fd(),
                "",
                OpenTreeFlags::OPEN_TREE_CLONE
                    | OpenTreeFlags::OPEN_TREE_CLOEXEC
                    | OpenTreeFlags::AT_EMPTY_PATH
                    | OpenTreeFlags::AT_RECURSIVE,
            ),
        )?;
        set_readonly(tree.as_fd()).map_err(|e| SetupError(format!("read-only /{rel}: {e}")))?;
        attach_on(&tree, &target, || format!("read-only /{rel}"))?;
    }
    Ok(())
}

/// A new detached filesystem mount.
fn new_fs(fs: &str, opts: &[(&str, &str)], attrs: MountAttrFlags) -> Result<OwnedFd, SetupError> {
    let fd = step(
        || format!("fsopen {fs}"),
        fsopen(fs, FsOpenFlags::FSOPEN_CLOEXEC),
    )?;
    for (k, v) in opts {
        step(
            || format!("{fs} option {k}={v}"),
            fsconfig_set_string(fd.as_fd(), *k, *v),
        )?;
    }
    step(|| format!("create {fs}"), fsconfig_create(fd.as_fd()))?;
    step(
        || format!("mount {fs}"),
        fsmount(fd.as_fd(), FsMountFlags::FSMOUNT_CLOEXEC, attrs),
    )
}

/// A detached copy of a host path's mount tree.
fn bind_tree(host: &Path, recursive: bool) -> Result<OwnedFd, SetupError> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    step(
        || format!("bind {}", host.display()),
        open_tree(CWD, host, flags),
    )
}

/// Resolves `rel` inside the container root, never leaving it.
fn resolve(root: BorrowedFd<'_>, rel: &str, dir: bool) -> Result<OwnedFd, SetupError> {
    let mut flags = OFlags::PATH | OFlags::CLOEXEC;
    if dir {
        flags |= OFlags::DIRECTORY;
    }
    step(
        || format!("resolve /{rel} in the container"),
        rustix::fs::openat2(root, rel, flags, Mode::empty(), ResolveFlags::IN_ROOT),
    )
}

/// Attaches a detached mount on `rel` inside the container root.
fn attach(mount: &OwnedFd, root: BorrowedFd<'_>, rel: &str) -> Result<(), SetupError> {
    let target = resolve(root, rel, false)?;
    attach_on(mount, &target, || format!("mount on /{rel}"))
}

/// Attaches a detached mount on an already resolved target descriptor.
fn attach_on(
    mount: &OwnedFd,
    target: &OwnedFd,
    what: impl FnOnce() -> String,
) -> Result<(), SetupError> {
    step(
        what,
        move_mount(
            mount.as_fd(),
            "",
            target.as_fd(),
            "",
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
        ),
    )
}

/// `rel` inside the container root, if it exists there (the final component not
/// followed, so a symlinked /proc entry is left alone).
fn existing(root: BorrowedFd<'_>, rel: &str) -> Option<OwnedFd> {
    rustix::fs::openat2(
        root,
        rel,
        OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::IN_ROOT,
    )
    .ok()
}

/// Creates the mount point `rel` (and its parents) inside the container root when it
/// is missing: a directory, or an empty file when a file is bound on it.
fn ensure_path(root: BorrowedFd<'_>, rel: &str, dir: bool) -> Result<(), SetupError> {
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(SetupError(format!("invalid mount path /{rel}")));
    }
    let mut sofar = String::new();
    for (i, part) in parts.iter().enumerate() {
        let parent = if sofar.is_empty() {
            ".".to_string()
        } else {
            sofar.clone()
        };
        if !sofar.is_empty() {
            sofar.push('/');
        }
        sofar.push_str(part);
        let last = i + 1 == parts.len();
        match rustix::fs::openat2(
            root,
            sofar.as_str(),
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT,
        ) {
            Ok(_) => continue,
            Err(Errno::NOENT) => {}
            Err(e) => {
                return Err(SetupError(format!(
                    "resolve /{sofar} in the container: {e}"
                )))
            }
        }
        let pfd = resolve(root, &parent, true)?;
        let r = if last && !dir {
            rustix::fs::openat(
                pfd.as_fd(),
                *part,
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Mode::from_raw_mode(0o644),
            )
            .map(drop)
        } else {
            rustix::fs::mkdirat(pfd.as_fd(), *part, Mode::from_raw_mode(0o755))
        };
        match r {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(SetupError(format!("create /{sofar} in the container: {e}"))),
        }
    }
    Ok(())
}

/// The minimal /dev: bound host devices, a private devpts, /dev/shm and the usual links.
fn populate_dev(dev: BorrowedFd<'_>, plan: &ContainerPlan) -> Result<(), SetupError> {
    let dev_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&dev));
    let dev = step(
        || "open /dev".into(),
        rustix::fs::open(
            &dev_path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ),
    )?;
    for name in plan.devices {
        step(
            || format!("create /dev/{name}"),
            rustix::fs::openat(
                dev.as_fd(),
                *name,
                OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o666),
            ),
        )?;
        let tree = bind_tree(Path::new(&format!("/dev/{name}")), false)?;
        step(
            || format!("bind /dev/{name}"),
            move_mount(
                tree.as_fd(),
                "",
                dev.as_fd(),
                *name,
                MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
            ),
        )?;
    }
    for d in ["pts", "shm", "mqueue"] {
        step(
            || format!("create /dev/{d}"),
            rustix::fs::mkdirat(dev.as_fd(), d, Mode::from_raw_mode(0o755)),
        )?;
    }
    let pts = new_fs(
        "devpts",
        &[("ptmxmode", "0666"), ("mode", "0620"), ("gid", "5")],
        MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_NOEXEC,
    )
    .or_else(|_| {
        // gid 5 (tty) is not mapped in a single-uid user namespace.
        new_fs(
            "devpts",
            &[("ptmxmode", "0666"), ("mode", "0620")],
            MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_NOEXEC,
        )
    })?;
    step(
        || "mount /dev/pts".into(),
        move_mount(
            pts.as_fd(),
            "",
            dev.as_fd(),
            "pts",
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        ),
    )?;
    let shm = new_fs(
        "tmpfs",
        &[("mode", "1777"), ("size", "65536k")],
        MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOEXEC,
    )?;
    step(
        || "mount /dev/shm".into(),
        move_mount(
            shm.as_fd(),
            "",
            dev.as_fd(),
            "shm",
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        ),
    )?;
    if let Ok(mq) = new_fs(
        "mqueue",
        &[],
        MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOEXEC,
    ) {
        let _ = move_mount(
            mq.as_fd(),
            "",
            dev.as_fd(),
            "mqueue",
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        );
    }
    for &(link, to) in plan.dev_links {
        step(
            || format!("link /dev/{link}"),
            rustix::fs::symlinkat(to, dev.as_fd(), link),
        )?;
    }
    Ok(())
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const AT_RECURSIVE: libc::c_int = 0x8000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Makes a detached mount tree read-only, recursively (`mount_setattr`).
fn set_readonly(tree: BorrowedFd<'_>) -> std::io::Result<()> {
    set_attr_readonly(tree, true)
}

/// Makes the mount at `tree` read-only, with the mounts below it when `recursive`.
fn set_attr_readonly(tree: BorrowedFd<'_>, recursive: bool) -> std::io::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // rustix has no mount_setattr.
    // SAFETY: the descriptor is borrowed for the call, the path is an empty C string and
    // the struct is sized as passed; the kernel keeps no pointer after returning.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            std::os::fd::AsRawFd::as_raw_fd(&tree),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | if recursive { AT_RECURSIVE } else { 0 },
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
