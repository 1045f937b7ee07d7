//! `cp` and `export`: files in and out of a container's root without ever following
//! one of its symlinks out of it. Paths in the container are resolved with
//! `openat2(RESOLVE_IN_ROOT)` from a descriptor of its root (`/proc/PID/root` while it
//! runs, its overlay mounted detached — seen by nothing else — when it does not), and
//! trees are walked one `openat(O_NOFOLLOW)` at a time: a symlink is copied as a link.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use store_layout::{ContainerRecord, Store};

/// Why a copy failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// A path in the container that is not there.
    #[error("Could not find the file {0} in container {1}")]
    NotFound(String, String),
    /// A file or directory on either side, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The container's root could not be reached.
    #[error(transparent)]
    Launch(#[from] super::launch::LaunchError),
}

fn io_at(path: impl std::fmt::Display) -> impl FnOnce(rustix::io::Errno) -> CopyError {
    move |e| CopyError::Io {
        path: path.to_string(),
        source: e.into(),
    }
}

fn std_at(path: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> CopyError {
    move |source| CopyError::Io {
        path: path.to_string(),
        source,
    }
}

/// A descriptor of a container's root, and what keeps it valid.
pub struct ContainerRoot {
    /// The root directory.
    pub fd: OwnedFd,
}

/// The root of `rec`: through its first process while it runs, else its overlay.
pub fn open_root(store: &Store, rec: &ContainerRecord) -> Result<ContainerRoot, CopyError> {
    let state =
        super::lookup::live_state(store, &rec.id).map_err(|e| CopyError::Launch(e.into()))?;
    if let (Some(pid), Some(start)) = (state.init_pid, state.init_start) {
        if state.status == store_layout::ContainerStatus::Running {
            let path = format!("/proc/{pid}/root");
            // An ordinary user reads a running container's files as root of its user
            // namespace (from any other, its /proc/PID/root is refused).
            super::exec::join_user_ns_of(pid).map_err(io_at(format!("/proc/{pid}/ns/user")))?;
            let fd = rustix::fs::open(
                &path,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(io_at(&path))?;
            if super::lookup::process_start(pid) == Some(start) {
                return Ok(ContainerRoot { fd });
            }
        }
    }
    let dir = store
        .container_dir(&rec.id)
        .map_err(|e| CopyError::Launch(e.into()))?;
    Ok(ContainerRoot {
        fd: super::launch::overlay(store, rec, &dir)?,
    })
}

/// Opens `path` (absolute in the container) below `root`, symlinks resolved inside it.
fn resolve(root: BorrowedFd<'_>, path: &str, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    rustix::fs::openat2(
        root,
        rel,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
}

/// Splits a container path into its parent and last component (`.` for the root).
fn split(path: &str) -> (String, String) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((p, n)) if !n.is_empty() => (format!("/{}", p.trim_start_matches('/')), n.to_string()),
        _ if trimmed.is_empty() => ("/".into(), ".".into()),
        _ => ("/".into(), trimmed.to_string()),
    }
}

/// What a walk of the container's tree produces: files on the host, or a tar stream.
pub trait Sink {
    /// A directory (before its entries).
    fn dir(&mut self, rel: &Path, st: &Stat) -> Result<(), CopyError>;
    /// A regular file and its contents.
    fn file(&mut self, rel: &Path, st: &Stat, data: File) -> Result<(), CopyError>;
    /// A symlink and its target.
    fn symlink(&mut self, rel: &Path, st: &Stat, target: &Path) -> Result<(), CopyError>;
    /// A device, fifo or socket.
    fn special(&mut self, rel: &Path, st: &Stat) -> Result<(), CopyError>;
}

/// Walks the entry `name` of directory `parent` into `sink` as `rel`, never following a
/// symlink. With `one_fs` (a device number), what is mounted on the tree (a running
/// container's /proc, /dev, /sys, bound files) is left out: a directory mounted on
/// is kept empty, a file bound is left out.
pub fn walk(
    parent: BorrowedFd<'_>,
    name: &str,
    rel: &Path,
    sink: &mut dyn Sink,
    one_fs: Option<u64>,
) -> Result<(), CopyError> {
    let shown = rel.display().to_string();
    let st = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW).map_err(io_at(&shown))?;
    let mounted = one_fs.is_some_and(|d| d != st.st_dev);
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            sink.dir(rel, &st)?;
            if mounted {
                return Ok(());
            }
            let fd = rustix::fs::openat(
                parent,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(io_at(&shown))?;
            let mut names = Vec::new();
            for e in rustix::fs::Dir::read_from(&fd).map_err(io_at(&shown))? {
                let e = e.map_err(io_at(&shown))?;
                let n = e.file_name().to_string_lossy().into_owned();
                if n != "." && n != ".." {
                    names.push(n);
                }
            }
            names.sort();
            for n in names {
                walk(fd.as_fd(), &n, &rel.join(&n), sink, one_fs)?;
            }
            Ok(())
        }
        _ if mounted => Ok(()),
        FileType::RegularFile => {
            let fd = rustix::fs::openat(
                parent,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(io_at(&shown))?;
            sink.file(rel, &st, File::from(fd))
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(parent, name, Vec::new()).map_err(io_at(&shown))?;
            let target = PathBuf::from(std::ffi::OsStr::from_bytes(target.as_bytes()));
            sink.symlink(rel, &st, &target)
        }
        _ => sink.special(rel, &st),
    }
}

/// Writes a walked tree to a host path.
pub struct HostSink {
    /// Where the walk's top entry goes.
    pub dest: PathBuf,
}

impl HostSink {
    fn path(&self, rel: &Path) -> PathBuf {
        let mut p = self.dest.clone();
        p.extend(rel.components().skip(1));
        p
    }
}

impl Sink for HostSink {
    fn dir(&mut self, rel: &Path, st: &Stat) -> Result<(), CopyError> {
        use std::os::unix::fs::DirBuilderExt;
        let p = self.path(rel);
        if !p.is_dir() {
            std::fs::DirBuilder::new()
                .mode(st.st_mode & 0o7777)
                .create(&p)
                .map_err(std_at(p.display()))?;
        }
        Ok(())
    }

    fn file(&mut self, rel: &Path, st: &Stat, mut data: File) -> Result<(), CopyError> {
        use std::os::unix::fs::OpenOptionsExt;
        let p = self.path(rel);
        if p.is_symlink() {
            std::fs::remove_file(&p).map_err(std_at(p.display()))?;
        }
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(st.st_mode & 0o7777)
            .open(&p)
            .map_err(std_at(p.display()))?;
        std::io::copy(&mut data, &mut out).map_err(std_at(p.display()))?;
        Ok(())
    }

    fn symlink(&mut self, rel: &Path, _: &Stat, target: &Path) -> Result<(), CopyError> {
        let p = self.path(rel);
        if p.symlink_metadata().is_ok() {
            std::fs::remove_file(&p).map_err(std_at(p.display()))?;
        }
        std::os::unix::fs::symlink(target, &p).map_err(std_at(p.display()))
    }

    fn special(&mut self, _: &Path, _: &Stat) -> Result<(), CopyError> {
        Ok(())
    }
}

/// Writes a walked tree as a tar stream (`export`, `cp CONTAINER:SRC -`).
pub struct TarSink<W: Write> {
    /// The archive.
    pub tar: tar::Builder<W>,
}

fn header(st: &Stat, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid.into());
    h.set_gid(st.st_gid.into());
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(size);
    h
}

impl<W: Write> TarSink<W> {
    fn add(&mut self, h: &mut tar::Header, rel: &Path, data: impl Read) -> Result<(), CopyError> {
        let rel = rel.strip_prefix(".").unwrap_or(rel);
        self.tar
            .append_data(h, rel, data)
            .map_err(std_at(rel.display()))
    }
}

impl<W: Write> Sink for TarSink<W> {
    fn dir(&mut self, rel: &Path, st: &Stat) -> Result<(), CopyError> {
        if rel.as_os_str() == "." {
            return Ok(());
        }
        self.add(
            &mut header(st, tar::EntryType::Directory, 0),
            rel,
            std::io::empty(),
        )
    }

    fn file(&mut self, rel: &Path, st: &Stat, data: File) -> Result<(), CopyError> {
        let mut h = header(st, tar::EntryType::Regular, st.st_size as u64);
        self.add(&mut h, rel, data.take(st.st_size as u64))
    }

    fn symlink(&mut self, rel: &Path, st: &Stat, target: &Path) -> Result<(), CopyError> {
        let mut h = header(st, tar::EntryType::Symlink, 0);
        let rel = rel.strip_prefix(".").unwrap_or(rel);
        self.tar
            .append_link(&mut h, rel, target)
            .map_err(std_at(rel.display()))
    }

    fn special(&mut self, rel: &Path, st: &Stat) -> Result<(), CopyError> {
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::CharacterDevice => tar::EntryType::Char,
            FileType::BlockDevice => tar::EntryType::Block,
            FileType::Fifo => tar::EntryType::Fifo,
            _ => return Ok(()),
        };
        let mut h = header(st, kind, 0);
        let _ = h.set_device_major(rustix::fs::major(st.st_rdev));
        let _ = h.set_device_minor(rustix::fs::minor(st.st_rdev));
        self.add(&mut h, rel, std::io::empty())
    }
}

/// Copies `src` of the container (its root `root`, named `cname` in messages) into
/// `sink`, as docker's `cp CONTAINER:SRC`: a symlink is copied as a link (with
/// `follow`, what it names, inside the container, under the link's name); `SRC/.`
/// copies a directory's contents.
pub fn copy_out(
    root: BorrowedFd<'_>,
    cname: &str,
    src: &str,
    follow: bool,
    sink: &mut dyn Sink,
) -> Result<(), CopyError> {
    let not_found = || CopyError::NotFound(src.to_string(), cname.to_string());
    let (_, shown_name) = split(src);
    let mut path = src.to_string();
    for _ in 0..40 {
        let (parent, name) = split(&path);
        let dir =
            resolve(root, &parent, OFlags::PATH | OFlags::DIRECTORY).map_err(|_| not_found())?;
        let st =
            rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW).map_err(|_| not_found())?;
        if follow && FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            let target =
                rustix::fs::readlinkat(&dir, &name, Vec::new()).map_err(|_| not_found())?;
            let target = target.to_string_lossy().into_owned();
            path = if target.starts_with('/') {
                target
            } else {
                format!("{parent}/{target}")
            };
            continue;
        }
        let top = if shown_name == "." {
            ".".to_string()
        } else {
            shown_name
        };
        return walk(dir.as_fd(), &name, Path::new(&top), sink, None);
    }
    Err(not_found())
}

/// Writes the container's whole filesystem, without what is mounted on it, to `sink`.
pub fn export(root: BorrowedFd<'_>, sink: &mut dyn Sink) -> Result<(), CopyError> {
    let st = rustix::fs::fstat(root).map_err(io_at("/"))?;
    walk(root, ".", Path::new("."), sink, Some(st.st_dev))
}

/// Where `cp` puts `src` on the host: into `dest` when it is a directory (unless `src`
/// ends in `/.`), else at `dest` itself.
pub fn host_target(src: &str, dest: &Path) -> PathBuf {
    let (_, name) = split(src);
    if dest.is_dir() && name != "." && !src.ends_with("/.") {
        dest.join(name)
    } else {
        dest.to_path_buf()
    }
}

/// Copies the host path `src` into the container at `dest`, as docker's
/// `cp SRC CONTAINER:DEST`: into `dest` when it is a directory, else as `dest`. `dest`
/// is resolved inside the container's root; what is created never follows a symlink.
pub fn copy_in(root: BorrowedFd<'_>, cname: &str, src: &Path, dest: &str) -> Result<(), CopyError> {
    let src_name = src
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into());
    let (dir, name) = match resolve(root, dest, OFlags::RDONLY | OFlags::DIRECTORY) {
        Ok(d) if src_name != "." && !src.ends_with(".") => (d, src_name),
        Ok(d) => (d, ".".to_string()),
        Err(_) => {
            let (parent, name) = split(dest);
            let d = resolve(root, &parent, OFlags::RDONLY | OFlags::DIRECTORY)
                .map_err(|_| CopyError::NotFound(parent, cname.to_string()))?;
            (d, name)
        }
    };
    put(src, dir.as_fd(), &name)
}

/// Creates `name` in the container's directory `dir` from the host path `src`.
fn put(src: &Path, dir: BorrowedFd<'_>, name: &str) -> Result<(), CopyError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = src.symlink_metadata().map_err(std_at(src.display()))?;
    let mode = Mode::from_raw_mode(meta.permissions().mode() & 0o7777);
    let shown = src.display().to_string();
    let existing = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok();
    let existing_kind = existing.map(|s| FileType::from_raw_mode(s.st_mode));
    if meta.is_dir() {
        if existing_kind != Some(FileType::Directory) {
            if existing.is_some() {
                rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(io_at(&shown))?;
            }
            rustix::fs::mkdirat(dir, name, mode).map_err(io_at(&shown))?;
        }
        let sub = rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_at(&shown))?;
        let mut entries: Vec<_> = std::fs::read_dir(src)
            .map_err(std_at(&shown))?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        entries.sort();
        for e in entries {
            put(&src.join(&e), sub.as_fd(), &e.to_string_lossy())?;
        }
        return Ok(());
    }
    if matches!(existing_kind, Some(k) if k != FileType::RegularFile) {
        rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(io_at(&shown))?;
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(src).map_err(std_at(&shown))?;
        if existing_kind == Some(FileType::RegularFile) {
            rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(io_at(&shown))?;
        }
        return rustix::fs::symlinkat(&target, dir, name).map_err(io_at(&shown));
    }
    if !meta.is_file() {
        return Ok(());
    }
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        mode,
    )
    .map_err(io_at(&shown))?;
    let _ = rustix::fs::fchmod(&fd, mode);
    let mut from = File::open(src).map_err(std_at(&shown))?;
    std::io::copy(&mut from, &mut File::from(fd)).map_err(std_at(&shown))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn container_paths_split_into_parent_and_name() {
        assert_eq!(split("/etc/passwd"), ("/etc".into(), "passwd".into()));
        assert_eq!(split("etc/"), ("/".into(), "etc".into()));
        assert_eq!(split("/"), ("/".into(), ".".into()));
        assert_eq!(split("/srv/."), ("/srv".into(), ".".into()));
    }
}
