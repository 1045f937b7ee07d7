//! File trees read and written through directory descriptors: a [`Root`] resolves every
//! path inside itself (`openat2` with `RESOLVE_IN_ROOT`, so `..` and symlinks, absolute
//! or not, never leave it), and [`walk`] visits a tree without following symlinks.
//! The build context, another stage's files and a build container's root are all roots.

use rustix::fd::OwnedFd;
use rustix::fs::{openat2, AtFlags, Mode, OFlags, ResolveFlags, Stat};
use std::io;
use std::path::Path;

/// A directory that paths are resolved inside of.
pub struct Root {
    fd: OwnedFd,
}

/// What [`walk`] meets, with the path relative to the walked item (`""` for the item).
pub enum Event<'a> {
    /// A directory, before its content.
    Enter(&'a str, &'a Stat),
    /// A directory, after its content.
    Leave(&'a str, &'a Stat),
    /// A regular file, open for reading.
    File(&'a str, &'a Stat, &'a OwnedFd),
    /// A symbolic link and its target.
    Symlink(&'a str, &'a Stat, &'a str),
}

/// Whether `st` is a directory, regular file or symlink.
pub fn kind(st: &Stat) -> u32 {
    st.st_mode & libc::S_IFMT
}

const DIR: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

impl Root {
    /// The directory at `path` (of the host) as a root.
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = rustix::fs::open(path, DIR, Mode::empty())?;
        Ok(Root { fd })
    }

    /// A directory descriptor (a mount's) as a root.
    pub fn from_fd(fd: OwnedFd) -> Root {
        Root { fd }
    }

    /// Opens `rel` inside the root, following symlinks only inside it.
    pub fn open_at(&self, rel: &str, flags: OFlags) -> io::Result<OwnedFd> {
        let rel = rel.trim_start_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        Ok(openat2(
            &self.fd,
            rel,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )?)
    }

    /// The status of `rel` (symlinks followed inside the root), or None if it is not there.
    pub fn stat(&self, rel: &str) -> io::Result<Option<Stat>> {
        match self.open_at(rel, OFlags::PATH) {
            Ok(fd) => Ok(Some(rustix::fs::fstat(&fd)?)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The content of the file `rel`, or None if it is not there.
    pub fn read(&self, rel: &str) -> io::Result<Option<Vec<u8>>> {
        match self.open_at(rel, OFlags::RDONLY) {
            Ok(fd) => {
                let mut v = Vec::new();
                io::Read::read_to_end(&mut std::fs::File::from(fd), &mut v)?;
                Ok(Some(v))
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The names in directory `rel`, sorted.
    pub fn list(&self, rel: &str) -> io::Result<Vec<String>> {
        let fd = self.open_at(rel, OFlags::RDONLY | OFlags::DIRECTORY)?;
        names(&fd)
    }
}

fn names(dir: &OwnedFd) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for e in rustix::fs::Dir::read_from(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name != "." && name != ".." {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

/// Visits the item `item` of `root` (symlinks in its path followed inside the root) and,
/// for a directory, everything below it in sorted order without following symlinks.
/// `keep` is asked about each path below the item (relative to it) and may leave it out.
pub fn walk(
    root: &Root,
    item: &str,
    keep: &dyn Fn(&str, bool) -> bool,
    visit: &mut dyn FnMut(Event<'_>) -> io::Result<()>,
) -> io::Result<()> {
    let fd = root.open_at(item, OFlags::PATH)?;
    let st = rustix::fs::fstat(&fd)?;
    match kind(&st) {
        libc::S_IFDIR => {
            let dir = root.open_at(item, OFlags::RDONLY | OFlags::DIRECTORY)?;
            visit(Event::Enter("", &st))?;
            walk_dir(&dir, "", keep, visit)?;
            visit(Event::Leave("", &st))
        }
        libc::S_IFREG => {
            let f = root.open_at(item, OFlags::RDONLY)?;
            visit(Event::File("", &st, &f))
        }
        _ => Ok(()),
    }
}

fn walk_dir(
    dir: &OwnedFd,
    rel: &str,
    keep: &dyn Fn(&str, bool) -> bool,
    visit: &mut dyn FnMut(Event<'_>) -> io::Result<()>,
) -> io::Result<()> {
    for name in names(dir)? {
        let path = join(rel, &name);
        let st = rustix::fs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)?;
        let is_dir = kind(&st) == libc::S_IFDIR;
        if !keep(&path, is_dir) {
            continue;
        }
        match kind(&st) {
            libc::S_IFDIR => {
                let sub = rustix::fs::openat(dir, name.as_str(), DIR, Mode::empty())?;
                visit(Event::Enter(&path, &st))?;
                walk_dir(&sub, &path, keep, visit)?;
                visit(Event::Leave(&path, &st))?;
            }
            libc::S_IFREG => {
                let f = rustix::fs::openat(
                    dir,
                    name.as_str(),
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                visit(Event::File(&path, &st, &f))?;
            }
            libc::S_IFLNK => {
                let target = rustix::fs::readlinkat(dir, name.as_str(), Vec::new())?;
                visit(Event::Symlink(&path, &st, &target.to_string_lossy()))?;
            }
            _ => {}
        }
    }
    Ok(())
}
