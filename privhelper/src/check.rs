//! The checks every descriptor passes before it becomes part of an overlay, shared by
//! the server and the CLI's in-process (root) path.

use rustix::fd::BorrowedFd;
use rustix::fs::{fstat, fstatfs, FileType};
use rustix::io::Errno;

/// Why a descriptor may not be used as an overlay layer, upper or work directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// `fstat` or `fstatfs` failed on it.
    #[error("cannot stat it: {0}{hint}", hint = errno_hint(*.0))]
    Stat(Errno),
    /// It is not a directory.
    #[error("not a directory but a {0} (ENOTDIR)")]
    NotADirectory(&'static str),
    /// Someone other than the caller owns it.
    #[error("owned by uid {owner}, not by the caller (uid {caller}) (EPERM: pass directories of your own store)")]
    NotOwned {
        /// The directory's owner.
        owner: u32,
        /// The caller's uid.
        caller: u32,
    },
    /// It lives on a filesystem that is never stacked (FUSE, overlayfs, pseudo filesystems).
    #[error("on {0}, which the helper does not stack (EXDEV: keep the store on a local disk filesystem)")]
    Filesystem(&'static str),
}

fn errno_hint(e: Errno) -> &'static str {
    match e {
        Errno::ACCESS => {
            " (EACCES: the helper may not look at it, e.g. a FUSE mount without allow_other)"
        }
        Errno::BADF => " (EBADF: not an open descriptor)",
        _ => "",
    }
}

/// Filesystems whose directories are refused, by `statfs` magic. FUSE and overlayfs as
/// the design says (a FUSE server could stall or lie to the helper; overlay over overlay
/// nests the helper's credentials); pseudo filesystems because they are never layers.
const REFUSED_FILESYSTEMS: &[(i64, &str)] = &[
    (0x6573_5546, "fuse"),
    (0x6573_5543, "fusectl"),
    (0x794c_7630, "overlayfs"),
    (0x9fa0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x0027_e0eb, "cgroup"),
    (0x6367_7270, "cgroup2"),
    (0x1cd1, "devpts"),
    (0x7363_6673, "securityfs"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0xcafe_4a11, "bpf"),
    (0x6e73_6673, "nsfs"),
    (0x5049_4446, "pidfs"),
    (0x6265_6570, "configfs"),
    (0xde5e_81e4, "efivarfs"),
    (0x0904_1934, "anon_inodefs"),
];

/// The name of a refused filesystem type (`statfs.f_type`), or `None` if it may be used.
pub fn refused_filesystem(f_type: i64) -> Option<&'static str> {
    // f_type is a signed word on some ABIs: compare the low 32 bits.
    let t = f_type & 0xffff_ffff;
    REFUSED_FILESYSTEMS
        .iter()
        .find(|(m, _)| *m == t)
        .map(|(_, n)| *n)
}

/// Checks that `fd` is not on FUSE, overlayfs or a pseudo filesystem, and is a directory
/// owned by `caller_uid` (so root's, for a root caller). Never resolves a path.
pub fn check_layer_fd(fd: BorrowedFd<'_>, caller_uid: u32) -> Result<(), CheckError> {
    // The filesystem first: on a FUSE mount that does not allow the helper, the kernel
    // answers statfs itself (with the FUSE magic) but refuses fstat with EACCES.
    let sfs = fstatfs(fd).map_err(CheckError::Stat)?;
    #[allow(clippy::unnecessary_cast)]
    if let Some(name) = refused_filesystem(sfs.f_type as i64) {
        return Err(CheckError::Filesystem(name));
    }
    let st = fstat(fd).map_err(CheckError::Stat)?;
    let kind = FileType::from_raw_mode(st.st_mode);
    if kind != FileType::Directory {
        return Err(CheckError::NotADirectory(type_name(kind)));
    }
    if st.st_uid != caller_uid {
        return Err(CheckError::NotOwned {
            owner: st.st_uid,
            caller: caller_uid,
        });
    }
    Ok(())
}

fn type_name(t: FileType) -> &'static str {
    match t {
        FileType::RegularFile => "regular file",
        FileType::Symlink => "symbolic link",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Fifo => "fifo",
        FileType::Socket => "socket",
        FileType::Directory => "directory",
        _ => "file of unknown type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuse_overlay_and_pseudo_filesystems_are_refused() {
        assert_eq!(refused_filesystem(0x6573_5546), Some("fuse"));
        assert_eq!(refused_filesystem(0x794c_7630), Some("overlayfs"));
        assert_eq!(refused_filesystem(0x9fa0), Some("proc"));
        // sign-extended on ABIs with a signed f_type
        assert_eq!(
            refused_filesystem(0x794c_7630_i64 | !0xffff_ffff),
            Some("overlayfs")
        );
        assert_eq!(refused_filesystem(0xef53), None, "ext4");
        assert_eq!(refused_filesystem(0x0102_1994), None, "tmpfs");
        assert_eq!(refused_filesystem(0x5846_5342), None, "xfs");
        assert_eq!(refused_filesystem(0x9123_683e), None, "btrfs");
    }

    #[test]
    fn a_file_is_not_a_directory_and_proc_is_refused() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let uid = rustix::process::geteuid().as_raw();
        let fd = rustix::fs::open(
            f.path(),
            rustix::fs::OFlags::PATH,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        use rustix::fd::AsFd;
        assert_eq!(
            check_layer_fd(fd.as_fd(), uid),
            Err(CheckError::NotADirectory("regular file"))
        );
        let d = tempfile::tempdir().unwrap();
        let fd = rustix::fs::open(
            d.path(),
            rustix::fs::OFlags::PATH,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        assert_eq!(check_layer_fd(fd.as_fd(), uid), Ok(()));
        assert!(matches!(
            check_layer_fd(fd.as_fd(), uid + 1),
            Err(CheckError::NotOwned { .. })
        ));
        let me = format!("/proc/{}", std::process::id());
        let fd = rustix::fs::open(
            me.as_str(),
            rustix::fs::OFlags::PATH,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        assert_eq!(
            check_layer_fd(fd.as_fd(), uid),
            Err(CheckError::Filesystem("proc"))
        );
    }
}
