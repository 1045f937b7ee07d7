//! COPY and ADD into a build container's root: directories created as needed (with the
//! owner the step gives), files, directories and symlinks copied from a source root
//! with their modes and times, owned by root (context) or as they were (another stage),
//! unless `--chown`/`--chmod` say otherwise; a local tar archive unpacked by ADD.

use super::tree::{kind, walk, Event, Root};
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, Gid, Mode, OFlags, Stat, Timespec, Timestamps, Uid};
use std::io;

/// How copied files are owned and moded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ownership {
    /// `--chown`: the owner of everything copied (and of directories made for it).
    pub owner: Option<(u32, u32)>,
    /// Keep the sources' owners (`--from`); else root owns what has no `--chown`.
    pub preserve: bool,
    /// `--chmod`.
    pub mode: Option<u32>,
}

impl Ownership {
    fn ids(&self, st: &Stat) -> (u32, u32) {
        match (self.owner, self.preserve) {
            (Some(o), _) => o,
            (None, true) => (st.st_uid, st.st_gid),
            (None, false) => (0, 0),
        }
    }

    fn mode(&self, st: &Stat) -> u32 {
        self.mode.unwrap_or(st.st_mode & 0o7777)
    }

    /// The owner of directories made on the way to the destination.
    pub fn new_dirs(&self) -> (u32, u32) {
        self.owner.unwrap_or((0, 0))
    }
}

const DIR: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

fn errno(e: &io::Error) -> Option<i32> {
    e.raw_os_error()
}

fn chown_at(dir: &OwnedFd, name: &str, (uid, gid): (u32, u32)) -> io::Result<()> {
    Ok(rustix::fs::chownat(
        dir,
        name,
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )?)
}

fn times(st: &Stat) -> Timestamps {
    let t = Timespec {
        tv_sec: st.st_mtime,
        tv_nsec: st.st_mtime_nsec as _,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Opens directory `rel` of `dest`, making it and its missing parents (mode 0755, owned
/// by `owner`) on the way; symlinks on the way are followed inside the root.
pub fn mkdir_p(dest: &Root, rel: &str, owner: (u32, u32)) -> io::Result<OwnedFd> {
    let mut cur = dest.open_at("", DIR)?;
    let mut prefix = String::new();
    for comp in rel.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(comp);
        cur = match dest.open_at(&prefix, OFlags::RDONLY | OFlags::DIRECTORY) {
            Ok(fd) => fd,
            Err(e) if errno(&e) == Some(libc::ENOENT) => {
                rustix::fs::mkdirat(&cur, comp, Mode::from_raw_mode(0o755))?;
                let fd = rustix::fs::openat(&cur, comp, DIR, Mode::empty())?;
                rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o755))?;
                rustix::fs::fchown(
                    &fd,
                    Some(Uid::from_raw(owner.0)),
                    Some(Gid::from_raw(owner.1)),
                )?;
                fd
            }
            Err(e) => return Err(e),
        };
    }
    Ok(cur)
}

/// Removes `name` in `dir` unless it is a directory (so a file or link replaces it).
fn clear(dir: &OwnedFd, name: &str) -> io::Result<()> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if kind(&st) != libc::S_IFDIR => {
            Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?)
        }
        _ => Ok(()),
    }
}

/// Writes regular file `name` in `dir` from `src`, with `st`'s mode and time.
pub fn write_file(
    dir: &OwnedFd,
    name: &str,
    src: &mut dyn io::Read,
    st: &Stat,
    own: &Ownership,
) -> io::Result<()> {
    clear(dir, name)?;
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?;
    let mut f = std::fs::File::from(fd);
    io::copy(src, &mut f)?;
    let (uid, gid) = own.ids(st);
    rustix::fs::fchown(&f, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
    rustix::fs::fchmod(&f, Mode::from_raw_mode(own.mode(st)))?;
    rustix::fs::futimens(&f, &times(st))?;
    Ok(())
}

fn write_symlink(
    dir: &OwnedFd,
    name: &str,
    target: &str,
    st: &Stat,
    own: &Ownership,
) -> io::Result<()> {
    clear(dir, name)?;
    rustix::fs::symlinkat(target, dir, name)?;
    chown_at(dir, name, own.ids(st))?;
    rustix::fs::utimensat(dir, name, &times(st), AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

fn enter_dir(dir: &OwnedFd, name: &str) -> io::Result<OwnedFd> {
    if let Err(e) = rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
        if e != rustix::io::Errno::EXIST {
            return Err(e.into());
        }
        clear(dir, name)?;
        match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::EXIST => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(rustix::fs::openat(dir, name, DIR, Mode::empty())?)
}

fn finish_dir(fd: &OwnedFd, st: &Stat, own: &Ownership) -> io::Result<()> {
    let (uid, gid) = own.ids(st);
    rustix::fs::fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
    rustix::fs::fchmod(fd, Mode::from_raw_mode(own.mode(st)))?;
    rustix::fs::futimens(fd, &times(st))?;
    Ok(())
}

/// Where one source goes.
pub struct Target<'a> {
    /// The destination path in the container (relative to its root).
    pub path: &'a str,
    /// Whether the destination is a directory (it ends in `/`, exists as one, or there
    /// are several sources), so a file source keeps its name inside it.
    pub is_dir: bool,
}

fn split(path: &str) -> (&str, &str) {
    let p = path.trim_end_matches('/');
    match p.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", p),
    }
}

/// Copies source `item` of `src` (a directory's content, or a file) to `target` in
/// `dest`; `keep` leaves paths out (`.dockerignore`).
pub fn copy_item(
    src: &Root,
    item: &str,
    keep: &dyn Fn(&str, bool) -> bool,
    dest: &Root,
    target: &Target<'_>,
    own: &Ownership,
) -> io::Result<()> {
    let is_dir = src.stat(item)?.is_some_and(|st| kind(&st) == libc::S_IFDIR);
    let (parent, top) = if is_dir || target.is_dir {
        (target.path, split(item).1.to_string())
    } else {
        let (d, n) = split(target.path);
        (d, n.to_string())
    };
    let mut stack = vec![mkdir_p(dest, parent, own.new_dirs())?];
    walk(src, item, keep, &mut |ev| {
        let dir = stack.last().expect("a directory");
        match ev {
            Event::Enter("", _) | Event::Leave("", _) => Ok(()),
            Event::Enter(rel, _) => {
                let fd = enter_dir(dir, split(rel).1)?;
                stack.push(fd);
                Ok(())
            }
            Event::Leave(_, st) => {
                let fd = stack.pop().expect("entered");
                finish_dir(&fd, st, own)
            }
            Event::File(rel, st, fd) => {
                let name = if rel.is_empty() {
                    top.as_str()
                } else {
                    split(rel).1
                };
                let mut f = std::fs::File::from(fd.try_clone()?);
                write_file(dir, name, &mut f, st, own)
            }
            Event::Symlink(rel, st, t) => write_symlink(dir, split(rel).1, t, st, own),
        }
    })
}

/// Feeds what of source `item` reaches a layer (paths, kinds, modes, owners when kept,
/// sizes, content, link targets; not times) to `hash`.
pub fn hash_item(
    src: &Root,
    item: &str,
    keep: &dyn Fn(&str, bool) -> bool,
    own: &Ownership,
    hash: &mut dyn FnMut(&[u8]),
) -> io::Result<()> {
    walk(src, item, keep, &mut |ev| {
        let (tag, rel, st) = match &ev {
            Event::Enter(r, st) => ("d", *r, *st),
            Event::Leave(..) => return Ok(()),
            Event::File(r, st, _) => ("f", *r, *st),
            Event::Symlink(r, st, _) => ("l", *r, *st),
        };
        let (uid, gid) = own.ids(st);
        let line = format!("{item}\0{tag}\0{rel}\0{:o}\0{uid}:{gid}\0", own.mode(st));
        hash(line.as_bytes());
        match ev {
            Event::File(_, _, fd) => {
                let mut f = std::fs::File::from(fd.try_clone()?);
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = io::Read::read(&mut f, &mut buf)?;
                    if n == 0 {
                        break;
                    }
                    hash(&buf[..n]);
                }
                hash(b"\0");
            }
            Event::Symlink(_, _, t) => hash(t.as_bytes()),
            _ => {}
        }
        Ok(())
    })
}
