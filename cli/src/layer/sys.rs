//! Thin wrappers over the `*at` system calls the unpacker uses.
//!
//! Everything takes a directory descriptor and a single name (or a path that `openat2`
//! resolves beneath the descriptor), never a path from the root of the host.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub(crate) type Result<T> = io::Result<T>;

fn check(ret: libc::c_int) -> Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Retries a call while it fails with EINTR.
fn retry<T>(mut f: impl FnMut() -> Result<T>) -> Result<T> {
    loop {
        match f() {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            r => return r,
        }
    }
}

/// Resolution flags for everything the unpacker opens: never leave the directory, never follow
/// a symlink (a layer may contain any symlink), never follow /proc magic links.
pub(crate) const RESOLVE_STRICT: u64 =
    libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;

/// `openat2(2)` with `how.resolve = resolve`.
pub(crate) fn openat2(
    dirfd: RawFd,
    path: &CStr,
    flags: libc::c_int,
    mode: u32,
    resolve: u64,
) -> Result<OwnedFd> {
    let mut tries = 0;
    loop {
        // SAFETY: open_how is a plain C struct; zeroed is a valid value.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (flags | libc::O_CLOEXEC) as u64;
        how.mode = if flags & (libc::O_CREAT | libc::O_TMPFILE) != 0 {
            mode as u64
        } else {
            0
        };
        how.resolve = resolve;
        // SAFETY: the pointers are valid for the duration of the call.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd,
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel returned a new descriptor that we now own.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            // RESOLVE_BENEATH returns EAGAIN when a rename raced with the lookup.
            Some(libc::EAGAIN) if tries < 16 => tries += 1,
            _ => return Err(e),
        }
    }
}

pub(crate) fn openat(dirfd: RawFd, name: &CStr, flags: libc::c_int, mode: u32) -> Result<OwnedFd> {
    retry(|| {
        // SAFETY: name is NUL-terminated.
        let fd = unsafe {
            libc::openat(
                dirfd,
                name.as_ptr(),
                flags | libc::O_CLOEXEC,
                mode as libc::c_uint,
            )
        };
        if fd < 0 {
            Err(io::Error::last_os_error())
        } else {
            // SAFETY: a fresh descriptor.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        }
    })
}

pub(crate) fn mkdirat(dirfd: RawFd, name: &CStr, mode: u32) -> Result<()> {
    // SAFETY: name is NUL-terminated.
    check(unsafe { libc::mkdirat(dirfd, name.as_ptr(), mode as libc::mode_t) })
}

pub(crate) fn mknodat(dirfd: RawFd, name: &CStr, mode: u32, dev: libc::dev_t) -> Result<()> {
    // SAFETY: name is NUL-terminated.
    check(unsafe { libc::mknodat(dirfd, name.as_ptr(), mode as libc::mode_t, dev) })
}

pub(crate) fn symlinkat(target: &CStr, dirfd: RawFd, name: &CStr) -> Result<()> {
    // SAFETY: both strings are NUL-terminated.
    check(unsafe { libc::symlinkat(target.as_ptr(), dirfd, name.as_ptr()) })
}

/// `linkat` without AT_SYMLINK_FOLLOW: a symlink source is linked itself, never followed.
pub(crate) fn linkat(olddir: RawFd, oldname: &CStr, newdir: RawFd, newname: &CStr) -> Result<()> {
    // SAFETY: both strings are NUL-terminated.
    check(unsafe { libc::linkat(olddir, oldname.as_ptr(), newdir, newname.as_ptr(), 0) })
}

pub(crate) fn unlinkat(dirfd: RawFd, name: &CStr, flags: libc::c_int) -> Result<()> {
    // SAFETY: name is NUL-terminated.
    check(unsafe { libc::unlinkat(dirfd, name.as_ptr(), flags) })
}

pub(crate) fn fchownat_nofollow(dirfd: RawFd, name: &CStr, uid: u32, gid: u32) -> Result<()> {
    // SAFETY: name is NUL-terminated.
    check(unsafe { libc::fchownat(dirfd, name.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) })
}

pub(crate) fn fchown(fd: RawFd, uid: u32, gid: u32) -> Result<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::fchown(fd, uid, gid) })
}

pub(crate) fn fchmod(fd: RawFd, mode: u32) -> Result<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::fchmod(fd, mode as libc::mode_t) })
}

/// Changes the mode of `name` (not a symlink) without following a symlink there:
/// `fchmodat2(AT_SYMLINK_NOFOLLOW)` (Linux 6.6), else a check and `fchmodat`.
pub(crate) fn fchmodat_nofollow(dirfd: RawFd, name: &CStr, mode: u32) -> Result<()> {
    // SAFETY: name is NUL-terminated.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fchmodat2,
            dirfd,
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
    if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
        return Err(io::Error::from_raw_os_error(libc::ELOOP));
    }
    // SAFETY: name is NUL-terminated.
    check(unsafe { libc::fchmodat(dirfd, name.as_ptr(), mode as libc::mode_t, 0) })
}

fn timespecs(atime: (i64, u32), mtime: (i64, u32)) -> [libc::timespec; 2] {
    [
        libc::timespec {
            tv_sec: atime.0 as libc::time_t,
            tv_nsec: atime.1 as _,
        },
        libc::timespec {
            tv_sec: mtime.0 as libc::time_t,
            tv_nsec: mtime.1 as _,
        },
    ]
}

pub(crate) fn futimens(fd: RawFd, atime: (i64, u32), mtime: (i64, u32)) -> Result<()> {
    let ts = timespecs(atime, mtime);
    // SAFETY: ts is a valid array of two timespecs.
    check(unsafe { libc::futimens(fd, ts.as_ptr()) })
}

pub(crate) fn utimensat_nofollow(
    dirfd: RawFd,
    name: &CStr,
    atime: (i64, u32),
    mtime: (i64, u32),
) -> Result<()> {
    let ts = timespecs(atime, mtime);
    // SAFETY: name is NUL-terminated and ts valid.
    check(unsafe { libc::utimensat(dirfd, name.as_ptr(), ts.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) })
}

pub(crate) fn fsetxattr(fd: RawFd, name: &CStr, value: &[u8]) -> Result<()> {
    // SAFETY: name is NUL-terminated, value is a valid slice.
    check(unsafe { libc::fsetxattr(fd, name.as_ptr(), value.as_ptr().cast(), value.len(), 0) })
}

/// Sets an xattr on `name` inside the directory `dirfd` without following `name` if it is a
/// symlink. The directory is reached through its descriptor (/proc/self/fd), so no path
/// chosen by the archive is resolved from the host's root.
pub(crate) fn lsetxattr_at(dirfd: RawFd, name: &CStr, xname: &CStr, value: &[u8]) -> Result<()> {
    let mut path = format!("/proc/self/fd/{dirfd}/").into_bytes();
    path.extend_from_slice(name.to_bytes());
    let path = CString::new(path).map_err(io::Error::other)?;
    // SAFETY: strings are NUL-terminated, value is a valid slice.
    check(unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            xname.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
}

pub(crate) fn fstatat(dirfd: RawFd, name: &CStr) -> Result<libc::stat> {
    // SAFETY: stat is plain data; the kernel fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatat(dirfd, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st)
}

/// Bytes an unprivileged writer may still use on the filesystem of `fd`, or None when the
/// filesystem does not report its size (f_blocks == 0).
pub(crate) fn free_bytes(fd: RawFd) -> Result<Option<u64>> {
    // SAFETY: statvfs is plain data; the kernel fills it.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatvfs(fd, &mut st) })?;
    if st.f_blocks == 0 {
        return Ok(None);
    }
    Ok(Some(
        (st.f_bavail as u64).saturating_mul(st.f_frsize as u64),
    ))
}

/// Removes `name` in `dirfd` whatever it is; a directory is removed with everything in it,
/// never following a symlink. A missing name is not an error.
pub(crate) fn remove_all(dirfd: RawFd, name: &CStr) -> Result<()> {
    match unlinkat(dirfd, name, 0) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {}
        Err(e) => return Err(e),
    }
    let fd = openat(
        dirfd,
        name,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        0,
    )?;
    let raw = fd.as_raw_fd();
    // Collect the names first: removing while reading a directory may skip entries.
    let mut names = Vec::new();
    {
        let dup = openat(raw, c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        // SAFETY: fdopendir takes ownership of the descriptor on success.
        let dir = unsafe { libc::fdopendir(std::os::fd::IntoRawFd::into_raw_fd(dup)) };
        if dir.is_null() {
            return Err(io::Error::last_os_error());
        }
        let result = loop {
            // SAFETY: dir is a valid DIR*; errno is reset to tell the end from an error.
            unsafe { *libc::__errno_location() = 0 };
            let ent = unsafe { libc::readdir64(dir) };
            if ent.is_null() {
                let e = io::Error::last_os_error();
                break if errno_of(&e) == 0 { Ok(()) } else { Err(e) };
            }
            // SAFETY: d_name is NUL-terminated within the entry.
            let n = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) };
            if n != c"." && n != c".." {
                names.push(n.to_owned());
            }
        };
        // SAFETY: dir is valid and closed once.
        unsafe { libc::closedir(dir) };
        result?;
    }
    for n in &names {
        remove_all(raw, n)?;
    }
    drop(fd);
    match unlinkat(dirfd, name, libc::AT_REMOVEDIR) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        r => r,
    }
}

fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}
