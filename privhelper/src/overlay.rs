//! Building a detached overlay mount from directory descriptors with the new mount API.
//!
//! Nothing here resolves a path: every layer arrives as an open descriptor, and the
//! result is a detached mount (an `fsmount` descriptor) that appears in no mount table
//! until its owner attaches it with `move_mount`.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::mount::{
    fsconfig_create, fsconfig_set_fd, fsconfig_set_flag, fsconfig_set_string, fsmount, fsopen,
    FsMountFlags, FsOpenFlags, MountAttrFlags,
};

/// The kernel's limit on overlay lower layers.
pub const MAX_LOWERS: usize = 500;

/// The directories of one overlay mount.
pub struct OverlaySpec<'a> {
    /// Lower layers, topmost first.
    pub lowers: Vec<BorrowedFd<'a>>,
    /// The writable upper directory.
    pub upper: BorrowedFd<'a>,
    /// The overlay work directory (on the same filesystem as `upper`).
    pub work: BorrowedFd<'a>,
    /// Mount with nosuid and nodev (always, for callers other than root).
    pub restricted: bool,
}

/// Why the overlay could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// No lower layer, or more than the kernel takes.
    #[error("an overlay needs 1 to {MAX_LOWERS} lower layers, got {0}")]
    LowerCount(usize),
    /// A kernel without `lowerdir+` takes all the lowers in one option, which fsconfig
    /// caps at 255 bytes.
    #[error(
        "this kernel takes the lower layers only as one lowerdir option, and {layers} \
         layers need {bytes} bytes there (fsconfig takes at most {}; Linux 6.8 or later \
         takes any number)",
        MAX_OPTION - 1
    )]
    TooManyForKernel {
        /// The number of lower layers.
        layers: usize,
        /// The length of the joined option.
        bytes: usize,
    },
    /// A mount API call failed.
    #[error("{step}: {errno}{}", hint(*.errno))]
    Sys {
        /// The call or option that failed.
        step: String,
        /// The kernel's answer.
        errno: Errno,
    },
}

/// fsconfig's limit on a string value, with its terminating NUL (`strndup_user`).
const MAX_OPTION: usize = 256;

fn hint(errno: Errno) -> &'static str {
    match errno {
        Errno::PERM | Errno::ACCESS => {
            " (the helper lacks CAP_SYS_ADMIN, or a layer is not accessible to it)"
        }
        Errno::NOSYS => " (this kernel has no new mount API; it needs Linux 5.2 or later)",
        Errno::INVAL => {
            " (the kernel refused the overlay options, or the layers are not in the helper's \
             mount namespace, e.g. a systemd unit with ProtectSystem=; see dmesg for overlayfs)"
        }
        Errno::NODEV => {
            " (this kernel has no overlayfs loaded: as root run `modprobe overlay`, and add a line `overlay` to /etc/modules-load.d/strata.conf to load it at boot)"
        }
        _ => "",
    }
}

fn sys<T>(step: &str, r: rustix::io::Result<T>) -> Result<T, MountError> {
    r.map_err(|errno| MountError::Sys {
        step: step.to_string(),
        errno,
    })
}

/// How the layers are named to overlayfs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerOptions {
    /// `lowerdir+` per layer, `upperdir`, `workdir`, all by descriptor
    /// (`FSCONFIG_SET_FD`: Linux 6.13, and O_PATH descriptors from 6.15).
    Descriptors,
    /// `lowerdir+` per layer, `upperdir`, `workdir` as `/proc/self/fd/N` paths of the
    /// same descriptors (string-valued `lowerdir+`: Linux 6.8).
    ProcPaths,
    /// One `lowerdir` of all the `/proc/self/fd/N` paths joined by `:` (kernels without
    /// `lowerdir+`): at most 255 bytes, about 13 layers.
    JoinedProcPaths,
}

/// Builds the overlay and returns the detached mount.
///
/// Layers are passed by descriptor ([`LayerOptions::Descriptors`]); a kernel that
/// refuses that (before 6.13, or 6.13 and 6.14 with O_PATH descriptors) gets
/// `/proc/self/fd/N` paths of the same descriptors, one `lowerdir+` each, and a kernel
/// without `lowerdir+` (before 6.8) one joined `lowerdir`. The overlay always uses
/// `userxattr` (opaque directories are marked `user.overlay.opaque`, and redirect_dir
/// and metacopy stay off over untrusted layers).
pub fn mount_overlay(spec: &OverlaySpec<'_>) -> Result<OwnedFd, MountError> {
    let fs = context(spec)?;
    match fsconfig_set_fd(fs.as_fd(), "lowerdir+", spec.lowers[0]) {
        Ok(()) => return finish(fs, spec, LayerOptions::Descriptors, 1),
        Err(Errno::INVAL | Errno::BADF) => {}
        Err(errno) => return sys("fsconfig lowerdir+", Err(errno)),
    }
    match fsconfig_set_string(fs.as_fd(), "lowerdir+", proc_path(&spec.lowers[0])) {
        // A kernel whose overlay still has the legacy mount interface (before 6.5)
        // accepts any option here and refuses it only at create.
        Ok(()) if !is_legacy()? => finish(fs, spec, LayerOptions::ProcPaths, 1),
        Ok(()) => finish(context(spec)?, spec, LayerOptions::JoinedProcPaths, 0),
        Err(Errno::INVAL) => finish(fs, spec, LayerOptions::JoinedProcPaths, 0),
        Err(errno) => sys("fsconfig lowerdir+", Err(errno)),
    }
}

/// Builds the overlay naming the layers only as `how` says, without falling back (for
/// tests of the fallbacks on kernels that have the newer options).
pub fn mount_overlay_with(
    spec: &OverlaySpec<'_>,
    how: LayerOptions,
) -> Result<OwnedFd, MountError> {
    finish(context(spec)?, spec, how, 0)
}

/// A new overlay context with `source` and `userxattr` set.
fn context(spec: &OverlaySpec<'_>) -> Result<OwnedFd, MountError> {
    let n = spec.lowers.len();
    if n == 0 || n > MAX_LOWERS {
        return Err(MountError::LowerCount(n));
    }
    let fs = sys(
        "fsopen overlay",
        fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC),
    )?;
    sys(
        "fsconfig source",
        fsconfig_set_string(fs.as_fd(), "source", "strata"),
    )?;
    sys(
        "fsconfig userxattr",
        fsconfig_set_flag(fs.as_fd(), "userxattr"),
    )?;
    Ok(fs)
}

/// Whether overlayfs uses the legacy mount interface, which takes any option name
/// (the new one, from Linux 6.5, refuses unknown names at once).
fn is_legacy() -> Result<bool, MountError> {
    let probe = sys(
        "fsopen overlay",
        fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC),
    )?;
    Ok(fsconfig_set_flag(probe.as_fd(), "strata-probe").is_ok())
}

fn proc_path(fd: &BorrowedFd<'_>) -> String {
    use std::os::fd::AsRawFd;
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Sets the layers from lower `done` on (the ones before are set), then creates and
/// mounts the overlay.
fn finish(
    fs: OwnedFd,
    spec: &OverlaySpec<'_>,
    how: LayerOptions,
    done: usize,
) -> Result<OwnedFd, MountError> {
    let fs = fs.as_fd();
    match how {
        LayerOptions::Descriptors => {
            for l in &spec.lowers[done..] {
                sys("fsconfig lowerdir+", fsconfig_set_fd(fs, "lowerdir+", l))?;
            }
        }
        LayerOptions::ProcPaths => {
            for l in &spec.lowers[done..] {
                sys(
                    "fsconfig lowerdir+",
                    fsconfig_set_string(fs, "lowerdir+", proc_path(l)),
                )?;
            }
        }
        LayerOptions::JoinedProcPaths => {
            let lowers: Vec<String> = spec.lowers.iter().map(proc_path).collect();
            let joined = lowers.join(":");
            if joined.len() >= MAX_OPTION {
                return Err(MountError::TooManyForKernel {
                    layers: lowers.len(),
                    bytes: joined.len(),
                });
            }
            sys(
                "fsconfig lowerdir",
                fsconfig_set_string(fs, "lowerdir", joined),
            )?;
        }
    }
    for (key, dir) in [("upperdir", &spec.upper), ("workdir", &spec.work)] {
        let set = if how == LayerOptions::Descriptors {
            fsconfig_set_fd(fs, key, dir)
        } else {
            fsconfig_set_string(fs, key, proc_path(dir))
        };
        sys(&format!("fsconfig {key}"), set)?;
    }
    sys("fsconfig create", fsconfig_create(fs))?;
    let mut attrs = MountAttrFlags::empty();
    if spec.restricted {
        attrs |= MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_NODEV;
    }
    sys("fsmount", fsmount(fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs))
}

/// Hands the overlay's private `work/work` directory, which the kernel has just made
/// (owned by the mounter, this process's uid, mode 000), to the caller `uid` who owns
/// `work`, so that an ordinary user can later delete their own container. Opened without
/// following symlinks and changed only if it is a directory of the mounter, by
/// descriptor. The caller gets `rwx` through a POSIX ACL entry (the mounter owns the
/// directory, so this needs neither `chown` nor a capability, and the service's system
/// call filter can deny the whole `@privileged` group); on a filesystem without ACLs
/// the directory is made mode 0777 instead, which is as private as `work` itself.
pub fn give_workdir(work: BorrowedFd<'_>, uid: u32) -> Result<(), MountError> {
    use rustix::fs::{fchmod, fsetxattr, fstat, openat, FileType, Mode, OFlags, XattrFlags};
    let inner = sys(
        "open work/work",
        openat(
            work,
            "work",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ),
    )?;
    let st = sys("fstat work/work", fstat(&inner))?;
    let mounter = rustix::process::geteuid().as_raw();
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory || st.st_uid != mounter {
        return Err(MountError::Sys {
            step: "work/work is not the overlay's own directory".into(),
            errno: Errno::PERM,
        });
    }
    // system.posix_acl_access, version 2: (tag u16, perm u16, id u32) entries sorted by
    // tag: owner rwx, user `uid` rwx, group ---, mask rwx, other ---.
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (0x01u16, 7u16, u32::MAX),
        (0x02, 7, uid),
        (0x04, 0, u32::MAX),
        (0x10, 7, u32::MAX),
        (0x20, 0, u32::MAX),
    ] {
        acl.extend_from_slice(&tag.to_le_bytes());
        acl.extend_from_slice(&perm.to_le_bytes());
        acl.extend_from_slice(&id.to_le_bytes());
    }
    match fsetxattr(&inner, "system.posix_acl_access", &acl, XattrFlags::empty()) {
        Ok(()) => Ok(()),
        Err(Errno::OPNOTSUPP) => sys(
            "chmod work/work",
            fchmod(&inner, Mode::from_raw_mode(0o777)),
        ),
        Err(errno) => Err(MountError::Sys {
            step: "set the ACL of work/work".into(),
            errno,
        }),
    }
}
