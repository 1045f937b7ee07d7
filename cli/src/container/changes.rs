//! Reading a container's writable layer: what changed (`diff`), and the same as a layer
//! tar with `.wh.` whiteouts (`commit`). Only the upper directory is walked; lower
//! layers are looked up path by path.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// One line of `diff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `A path`: new.
    Added(String),
    /// `C path`: there before, changed (or a directory with changes inside).
    Changed(String),
    /// `D path`: deleted.
    Deleted(String),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added(p) => write!(f, "A {p}"),
            Change::Changed(p) => write!(f, "C {p}"),
            Change::Deleted(p) => write!(f, "D {p}"),
        }
    }
}

fn is_whiteout(m: &fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(path: &Path) -> bool {
    let mut v = [0u8; 4];
    ["user.overlay.opaque", "trusted.overlay.opaque"]
        .iter()
        .any(|k| matches!(rustix::fs::lgetxattr(path, *k, &mut v), Ok(n) if n >= 1 && v[0] == b'y'))
}

/// Whether `rel` exists in the lower layers (topmost first), honouring whiteouts.
fn in_lowers(lowers: &[PathBuf], rel: &str) -> bool {
    for l in lowers {
        if let Ok(m) = fs::symlink_metadata(l.join(rel)) {
            return !is_whiteout(&m);
        }
    }
    false
}

/// Names in a directory of the lower layers, as the merged view shows them.
fn lower_names(lowers: &[PathBuf], rel: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut hidden = BTreeSet::new();
    for l in lowers {
        let dir = l.join(rel);
        let Ok(rd) = fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if hidden.contains(&name) || names.contains(&name) {
                continue;
            }
            match e.metadata() {
                Ok(m) if is_whiteout(&m) => {
                    hidden.insert(name);
                }
                _ => {
                    names.insert(name);
                }
            }
        }
        if is_opaque(&dir) {
            break;
        }
    }
    names
}

fn sorted_entries(dir: &Path) -> io::Result<Vec<(String, fs::Metadata)>> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let m = fs::symlink_metadata(e.path())?;
        v.push((e.file_name().to_string_lossy().into_owned(), m));
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(v)
}

/// The changes of `upper` against `lowers` (topmost first), sorted by path.
pub fn diff(upper: &Path, lowers: &[PathBuf]) -> io::Result<Vec<Change>> {
    let mut out = Vec::new();
    walk_diff(upper, "", lowers, &mut out)?;
    Ok(out)
}

fn walk_diff(upper: &Path, rel: &str, lowers: &[PathBuf], out: &mut Vec<Change>) -> io::Result<()> {
    let dir = upper.join(rel);
    let entries = sorted_entries(&dir)?;
    if !rel.is_empty() && is_opaque(&dir) {
        let present: BTreeSet<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        for gone in lower_names(lowers, rel) {
            if !present.contains(gone.as_str()) {
                out.push(Change::Deleted(format!("/{rel}/{gone}")));
            }
        }
    }
    for (name, m) in entries {
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let shown = format!("/{child}");
        if is_whiteout(&m) {
            out.push(Change::Deleted(shown));
            continue;
        }
        out.push(if in_lowers(lowers, &child) {
            Change::Changed(shown)
        } else {
            Change::Added(shown)
        });
        if m.is_dir() {
            walk_diff(upper, &child, lowers, out)?;
        }
    }
    Ok(())
}

/// Writes `upper` as a layer tar: whiteouts become `.wh.NAME`, opaque directories get
/// `.wh..wh..opq`, hard links inside the layer stay links. Entries come in sorted
/// order with their owners, modes and times, so the same upper gives the same bytes.
pub fn write_layer_tar(upper: &Path, out: impl Write) -> io::Result<()> {
    let mut b = tar::Builder::new(out);
    b.mode(tar::HeaderMode::Complete);
    b.follow_symlinks(false);
    let mut links: HashMap<(u64, u64), String> = HashMap::new();
    tar_dir(&mut b, upper, "", &mut links)?;
    b.into_inner()?.flush()
}

fn header_from(m: &fs::Metadata, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(m.mode() & 0o7777);
    h.set_uid(m.uid() as u64);
    h.set_gid(m.gid() as u64);
    h.set_mtime(m.mtime().max(0) as u64);
    h.set_size(0);
    h
}

fn tar_dir<W: Write>(
    b: &mut tar::Builder<W>,
    upper: &Path,
    rel: &str,
    links: &mut HashMap<(u64, u64), String>,
) -> io::Result<()> {
    let dir = upper.join(rel);
    for (name, m) in sorted_entries(&dir)? {
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let path = upper.join(&child);
        let ft = m.file_type();
        if is_whiteout(&m) {
            let wh = if rel.is_empty() {
                format!(".wh.{name}")
            } else {
                format!("{rel}/.wh.{name}")
            };
            // Owned by root, as docker writes them: overlayfs makes whiteouts with the
            // mounter's credentials (the helper: root on the host, a uid that a rootless
            // user's namespace does not map).
            let mut h = header_from(&m, tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            b.append_data(&mut h, wh, io::empty())?;
        } else if ft.is_dir() {
            let mut h = header_from(&m, tar::EntryType::Directory);
            b.append_data(&mut h, format!("{child}/"), io::empty())?;
            if is_opaque(&path) {
                let mut h = header_from(&m, tar::EntryType::Regular);
                h.set_mode(0o644);
                b.append_data(&mut h, format!("{child}/.wh..wh..opq"), io::empty())?;
            }
            tar_dir(b, upper, &child, links)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&path)?;
            let mut h = header_from(&m, tar::EntryType::Symlink);
            b.append_link(&mut h, &child, target)?;
        } else if ft.is_file() {
            if m.nlink() > 1 {
                if let Some(first) = links.get(&(m.dev(), m.ino())) {
                    let mut h = header_from(&m, tar::EntryType::Link);
                    b.append_link(&mut h, &child, first)?;
                    continue;
                }
                links.insert((m.dev(), m.ino()), child.clone());
            }
            let mut h = header_from(&m, tar::EntryType::Regular);
            h.set_size(m.len());
            let f = fs::File::open(&path)?;
            b.append_data(&mut h, &child, f)?;
        } else {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else if ft.is_fifo() {
                tar::EntryType::Fifo
            } else {
                continue; // sockets do not go into layers
            };
            let mut h = header_from(&m, kind);
            let rdev = m.rdev();
            h.set_device_major(libc::major(rdev))?;
            h.set_device_minor(libc::minor(rdev))?;
            b.append_data(&mut h, &child, io::empty())?;
        }
    }
    Ok(())
}

/// Copies a stopped container's `upper` into a new layer directory `dest` exactly as
/// unpacking [`write_layer_tar`]'s output would make it (owners, modes, whole-second
/// times, hard links, whiteouts as 0/0 devices, `user.overlay.opaque`), but with the
/// kernel copying file data. Every step works on directory descriptors without
/// following symlinks. Returns the bytes of file content (a hard-linked file once).
pub fn copy_upper(upper: &Path, dest: &Path) -> io::Result<u64> {
    use rustix::fs::{open, Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let src = open(upper, flags, Mode::empty())?;
    let dst = open(dest, flags, Mode::empty())?;
    let mut links = HashMap::new();
    let mut size = 0;
    copy_dir(&src, &dst, &dst, "", &mut links, &mut size)?;
    let st = rustix::fs::fstat(&src)?;
    finish_meta(&dst, None, &st, true)?;
    Ok(size)
}

type Fd = rustix::fd::OwnedFd;

fn finish_meta(
    dir: &Fd,
    name: Option<&str>,
    st: &rustix::fs::Stat,
    is_dir: bool,
) -> io::Result<()> {
    use rustix::fs::{chownat, fchown, AtFlags, Gid, Timespec, Timestamps, Uid};
    let (uid, gid) = (Uid::from_raw(st.st_uid), Gid::from_raw(st.st_gid));
    let t = Timespec {
        tv_sec: st.st_mtime as _,
        tv_nsec: 0,
    };
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    match name {
        None => {
            fchown(dir, Some(uid), Some(gid))?;
            if is_dir {
                rustix::fs::fchmod(dir, rustix::fs::Mode::from_raw_mode(st.st_mode & 0o7777))?;
            }
            rustix::fs::futimens(dir, &times)?;
        }
        Some(n) => {
            chownat(dir, n, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)?;
            rustix::fs::utimensat(dir, n, &times, AtFlags::SYMLINK_NOFOLLOW)?;
        }
    }
    Ok(())
}

/// Copies the entries of `src` into `dst`; `root` is the destination's top, for hard
/// links to a first name in another directory (all of it made here, so no symlinks).
fn copy_dir(
    src: &Fd,
    dst: &Fd,
    root: &Fd,
    rel: &str,
    links: &mut HashMap<(u64, u64), String>,
    size: &mut u64,
) -> io::Result<()> {
    use rustix::fs::{
        fstat, mkdirat, mknodat, openat, readlinkat, statat, symlinkat, AtFlags, FileType, Mode,
        OFlags,
    };
    let dirflags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut names = Vec::new();
    for e in rustix::fs::Dir::read_from(src)? {
        let e = e?;
        let n = e.file_name().to_string_lossy().into_owned();
        if n != "." && n != ".." {
            names.push(n);
        }
    }
    names.sort();
    for name in names {
        let st = statat(src, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)?;
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                mkdirat(dst, name.as_str(), Mode::from_raw_mode(0o700))?;
                let s = openat(src, name.as_str(), dirflags, Mode::empty())?;
                let d = openat(dst, name.as_str(), dirflags, Mode::empty())?;
                let mut v = [0u8; 4];
                if matches!(rustix::fs::fgetxattr(&s, "user.overlay.opaque", &mut v), Ok(n) if n >= 1 && v[0] == b'y')
                    || matches!(rustix::fs::fgetxattr(&s, "trusted.overlay.opaque", &mut v), Ok(n) if n >= 1 && v[0] == b'y')
                {
                    rustix::fs::fsetxattr(
                        &d,
                        "user.overlay.opaque",
                        b"y",
                        rustix::fs::XattrFlags::empty(),
                    )?;
                }
                copy_dir(&s, &d, root, &child, links, size)?;
                let now = fstat(&s)?;
                finish_meta(&d, None, &now, true)?;
            }
            FileType::RegularFile => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = links.get(&key) {
                        rustix::fs::linkat(
                            root,
                            first.as_str(),
                            dst,
                            name.as_str(),
                            AtFlags::empty(),
                        )?;
                        continue;
                    }
                }
                let s = openat(
                    src,
                    name.as_str(),
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                let d = openat(
                    dst,
                    name.as_str(),
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )?;
                let mut left = st.st_size as u64;
                while left > 0 {
                    let n = rustix::fs::copy_file_range(&s, None, &d, None, left as usize)?;
                    if n == 0 {
                        break;
                    }
                    left -= n as u64;
                }
                *size += st.st_size as u64;
                if st.st_nlink > 1 {
                    links.insert(key, child.clone());
                }
                finish_meta(&d, None, &st, false)?;
                rustix::fs::fchmod(&d, mode)?;
            }
            FileType::Symlink => {
                let target = readlinkat(src, name.as_str(), Vec::new())?;
                symlinkat(target.as_c_str(), dst, name.as_str())?;
                finish_meta(dst, Some(&name), &st, false)?;
            }
            kind @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
                mknodat(dst, name.as_str(), kind, mode, st.st_rdev)?;
                let mut st = st;
                if kind == FileType::CharacterDevice && st.st_rdev == 0 {
                    // A whiteout: root's, as unpacking the tar's `.wh.` entry makes it
                    // (overlayfs made this one as the helper, whose uid a single-uid
                    // user namespace does not map, so it cannot be given that owner).
                    st.st_uid = 0;
                    st.st_gid = 0;
                }
                finish_meta(dst, Some(&name), &st, false)?;
            }
            _ => {}
        }
    }
    Ok(())
}
/// Why a container's upper directory could not become a layer.
#[derive(Debug, thiserror::Error)]
pub enum UpperLayerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store_layout::StoreError),
    /// The upper directory could not be read into the layer tar.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The upper directory.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The upper directory could not be copied into the layer directory.
    #[error("cannot copy {}: {source}", path.display())]
    Copy {
        /// The upper directory.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The copying thread panicked.
    #[error("the copying thread panicked")]
    Panicked,
}

/// A new layer from the upper directory, made once: the tar goes to a blob (its digest
/// is the DiffID) while the kernel copies the files into the layer directory. Only for a
/// stopped container, whose upper directory cannot change in between (commit, build).
pub fn layer_from_upper(
    txn: &store_layout::Txn,
    upper: &Path,
) -> Result<crate::ingest::Ingested, UpperLayerError> {
    let (slot, layer_dir) = txn.layer_dir()?;
    let (blob, size) = std::thread::scope(|s| {
        let copy = s.spawn(|| copy_upper(upper, &layer_dir));
        let blob = (|| -> Result<(store_layout::Digest, u64), UpperLayerError> {
            let mut w = txn.blob_writer()?;
            write_layer_tar(upper, io::BufWriter::with_capacity(1 << 20, &mut w)).map_err(
                |source| UpperLayerError::Read {
                    path: upper.to_path_buf(),
                    source,
                },
            )?;
            Ok(txn.finish_blob(w, None)?)
        })();
        let size = copy
            .join()
            .map_err(|_| UpperLayerError::Panicked)?
            .map_err(|source| UpperLayerError::Copy {
                path: upper.to_path_buf(),
                source,
            })?;
        Ok::<_, UpperLayerError>((blob?, size))
    })?;
    let (digest, blob_size) = blob;
    Ok(crate::ingest::Ingested {
        slot,
        diff_id: digest.clone(),
        blob: store_layout::BlobRef {
            digest,
            media_type: crate::image::media_type::LAYER_TAR.to_string(),
            size: blob_size,
        },
        stats: crate::layer::unpack::UnpackStats {
            size,
            ..Default::default()
        },
    })
}
