//! The `*at` system calls the unpacker uses, over rustix.
//!
//! Everything takes a directory descriptor and a single name (or a path that `openat2`
//! resolves beneath the descriptor), never a path from the root of the host. Each call
//! retries on EINTR and reports a `std::io::Error` carrying the errno.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::{
    AtFlags, Dev, FileType, Mode, OFlags, ResolveFlags, Stat, Timespec, Timestamps, XattrFlags,
};
use rustix::io::Errno;

pub(crate) type Result<T> = io::Result<T>;

/// Retries a call while it fails with EINTR, and turns its errno into an `io::Error`.
fn retry<T>(mut f: impl FnMut() -> rustix::io::Result<T>) -> Result<T> {
    loop {
        match f() {
            Err(Errno::INTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// Resolution flags for everything the unpacker opens: never leave the directory, never follow
/// a symlink (a layer may contain any symlink), never follow /proc magic links.
pub(crate) const RESOLVE_STRICT: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// `openat2(2)` with `how.resolve = resolve`; the descriptor is close-on-exec.
pub(crate) fn openat2(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: OFlags,
    mode: u32,
    resolve: ResolveFlags,
) -> Result<OwnedFd> {
    let mode = if flags.intersects(OFlags::CREATE | OFlags::TMPFILE) {
        Mode::from_raw_mode(mode)
    } else {
        Mode::empty()
    };
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(dirfd, path, flags | OFlags::CLOEXEC, mode, resolve) {
            Ok(fd) => return Ok(fd),
            Err(Errno::INTR) => continue,
            // RESOLVE_BENEATH returns EAGAIN when a rename raced with the lookup.
            Err(Errno::AGAIN) if tries < 16 => tries += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `openat(2)`; the descriptor is close-on-exec.
pub(crate) fn openat(
    dirfd: BorrowedFd<'_>,
    name: &CStr,
    flags: OFlags,
    mode: u32,
) -> Result<OwnedFd> {
    let mode = Mode::from_raw_mode(mode);
    retry(|| rustix::fs::openat(dirfd, name, flags | OFlags::CLOEXEC, mode))
}

pub(crate) fn mkdirat(dirfd: BorrowedFd<'_>, name: &CStr, mode: u32) -> Result<()> {
    retry(|| rustix::fs::mkdirat(dirfd, name, Mode::from_raw_mode(mode)))
}

/// `mknodat(2)`: `mode` holds the file type and the permission bits, as in C.
pub(crate) fn mknodat(dirfd: BorrowedFd<'_>, name: &CStr, mode: u32, dev: Dev) -> Result<()> {
    let kind = FileType::from_raw_mode(mode);
    let perm = Mode::from_raw_mode(mode);
    retry(|| rustix::fs::mknodat(dirfd, name, kind, perm, dev))
}

pub(crate) fn symlinkat(target: &CStr, dirfd: BorrowedFd<'_>, name: &CStr) -> Result<()> {
    retry(|| rustix::fs::symlinkat(target, dirfd, name))
}

/// `linkat` without AT_SYMLINK_FOLLOW: a symlink source is linked itself, never followed.
pub(crate) fn linkat(
    olddir: BorrowedFd<'_>,
    oldname: &CStr,
    newdir: BorrowedFd<'_>,
    newname: &CStr,
) -> Result<()> {
    retry(|| rustix::fs::linkat(olddir, oldname, newdir, newname, AtFlags::empty()))
}

pub(crate) fn unlinkat(dirfd: BorrowedFd<'_>, name: &CStr, flags: AtFlags) -> Result<()> {
    retry(|| rustix::fs::unlinkat(dirfd, name, flags))
}

fn ids(uid: u32, gid: u32) -> (Option<rustix::fs::Uid>, Option<rustix::fs::Gid>) {
    (
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )
}

pub(crate) fn fchownat_nofollow(
    dirfd: BorrowedFd<'_>,
    name: &CStr,
    uid: u32,
    gid: u32,
) -> Result<()> {
    let (u, g) = ids(uid, gid);
    retry(|| rustix::fs::chownat(dirfd, name, u, g, AtFlags::SYMLINK_NOFOLLOW))
}

pub(crate) fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> Result<()> {
    let (u, g) = ids(uid, gid);
    retry(|| rustix::fs::fchown(fd, u, g))
}

pub(crate) fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> Result<()> {
    retry(|| rustix::fs::fchmod(fd, Mode::from_raw_mode(mode)))
}

/// Changes the mode of `name` (not a symlink) without following a symlink there:
/// `fchmodat2(AT_SYMLINK_NOFOLLOW)` (Linux 6.6), else a check and `fchmodat`.
pub(crate) fn fchmodat_nofollow(dirfd: BorrowedFd<'_>, name: &CStr, mode: u32) -> Result<()> {
    // rustix has no fchmodat2 (its chmodat refuses AT_SYMLINK_NOFOLLOW), hence libc here.
    // SAFETY: the descriptor is borrowed for the call, `name` is NUL-terminated and the
    // other arguments are plain integers; the kernel keeps no pointer after returning.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fchmodat2,
            dirfd.as_raw_fd(),
            name.as_ptr(),
            mode as libc::c_uint,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::ENOSYS) {
        return Err(e);
    }
    let st = fstatat(dirfd, name)?;
    if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
        return Err(Errno::LOOP.into());
    }
    retry(|| rustix::fs::chmodat(dirfd, name, Mode::from_raw_mode(mode), AtFlags::empty()))
}

fn timestamps(atime: (i64, u32), mtime: (i64, u32)) -> Timestamps {
    let ts = |(sec, nsec): (i64, u32)| Timespec {
        tv_sec: sec,
        tv_nsec: nsec.into(),
    };
    Timestamps {
        last_access: ts(atime),
        last_modification: ts(mtime),
    }
}

pub(crate) fn futimens(fd: BorrowedFd<'_>, atime: (i64, u32), mtime: (i64, u32)) -> Result<()> {
    let ts = timestamps(atime, mtime);
    retry(|| rustix::fs::futimens(fd, &ts))
}

pub(crate) fn utimensat_nofollow(
    dirfd: BorrowedFd<'_>,
    name: &CStr,
    atime: (i64, u32),
    mtime: (i64, u32),
) -> Result<()> {
    let ts = timestamps(atime, mtime);
    retry(|| rustix::fs::utimensat(dirfd, name, &ts, AtFlags::SYMLINK_NOFOLLOW))
}

pub(crate) fn fsetxattr(fd: BorrowedFd<'_>, name: &CStr, value: &[u8]) -> Result<()> {
    retry(|| rustix::fs::fsetxattr(fd, name, value, XattrFlags::empty()))
}

/// Sets an xattr on `name` inside the directory `dirfd` without following `name` if it is a
/// symlink. The directory is reached through its descriptor (/proc/self/fd), so no path
/// chosen by the archive is resolved from the host's root.
pub(crate) fn lsetxattr_at(
    dirfd: BorrowedFd<'_>,
    name: &CStr,
    xname: &CStr,
    value: &[u8],
) -> Result<()> {
    let mut path = format!("/proc/self/fd/{}/", dirfd.as_raw_fd()).into_bytes();
    path.extend_from_slice(name.to_bytes());
    let path = CString::new(path).map_err(io::Error::other)?;
    retry(|| rustix::fs::lsetxattr(path.as_c_str(), xname, value, XattrFlags::empty()))
}

/// `fstatat(AT_SYMLINK_NOFOLLOW)`.
pub(crate) fn fstatat(dirfd: BorrowedFd<'_>, name: &CStr) -> Result<Stat> {
    retry(|| rustix::fs::statat(dirfd, name, AtFlags::SYMLINK_NOFOLLOW))
}

/// Bytes an unprivileged writer may still use on the filesystem of `fd`, or None when the
/// filesystem does not report its size (f_blocks == 0).
pub(crate) fn free_bytes(fd: BorrowedFd<'_>) -> Result<Option<u64>> {
    let st = retry(|| rustix::fs::fstatvfs(fd))?;
    if st.f_blocks == 0 {
        return Ok(None);
    }
    Ok(Some(st.f_bavail.saturating_mul(st.f_frsize)))
}

/// Removes `name` in `dirfd` whatever it is; a directory is removed with everything in it,
/// never following a symlink. A missing name is not an error.
pub(crate) fn remove_all(dirfd: BorrowedFd<'_>, name: &CStr) -> Result<()> {
    match unlinkat(dirfd, name, AtFlags::empty()) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {}
        Err(e) => return Err(e),
    }
    let fd = openat(
        dirfd,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW,
        0,
    )?;
    let mut dir = rustix::fs::Dir::new(fd)?;
    // Collect the names first: removing while reading a directory may skip entries.
    let mut names = Vec::new();
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let n = entry.file_name();
        if n != c"." && n != c".." {
            names.push(n.to_owned());
        }
    }
    let fd = dir.fd()?;
    for n in &names {
        remove_all(fd.as_fd(), n)?;
    }
    drop(dir);
    match unlinkat(dirfd, name, AtFlags::REMOVEDIR) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        r => r,
    }
}
