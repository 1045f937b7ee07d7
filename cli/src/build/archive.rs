//! ADD of a local tar archive (plain or compressed, told by content): its entries are
//! unpacked into the destination directory instead of the file being copied.

use super::copy::{mkdir_p, write_file, Ownership};
use super::ignore::clean;
use super::tree::Root;
use crate::layer::decompress::{decompress, Compression};
use rustix::fs::{AtFlags, Gid, Timespec, Timestamps, Uid};
use std::io::{self, BufReader, Read, Seek};

/// Whether `file` holds a tar archive (after decompression).
pub fn is_archive(file: &std::fs::File) -> io::Result<bool> {
    let mut f = file.try_clone()?;
    f.rewind()?;
    let mut r = BufReader::new(f);
    let (_, mut d) = decompress(&mut r)?;
    let mut head = vec![0u8; 512];
    let mut got = 0;
    while got < head.len() {
        let n = d.read(&mut head[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got == 512 && &head[257..262] == b"ustar")
}

fn stat_of(h: &tar::Header) -> io::Result<rustix::fs::Stat> {
    // SAFETY: Stat is a plain C struct; all-zero is a valid value.
    let mut st: rustix::fs::Stat = unsafe { std::mem::zeroed() };
    st.st_mode = h.mode()? as _;
    st.st_uid = h.uid()? as u32;
    st.st_gid = h.gid()? as u32;
    st.st_mtime = h.mtime()? as _;
    Ok(st)
}

/// Unpacks the archive in `file` into directory `dest_dir` of `dest`.
pub fn unpack(
    file: &std::fs::File,
    dest: &Root,
    dest_dir: &str,
    own: &Ownership,
) -> io::Result<Compression> {
    let mut f = file.try_clone()?;
    f.rewind()?;
    let mut r = BufReader::new(f);
    let (kind, d) = decompress(&mut r)?;
    let mut archive = tar::Archive::new(d);
    let keep = Ownership {
        preserve: true,
        ..*own
    };
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = clean(&entry.path()?.to_string_lossy());
        if path.is_empty() {
            continue;
        }
        let st = stat_of(entry.header())?;
        let (parent, name) = match path.rsplit_once('/') {
            Some((p, n)) => (format!("{dest_dir}/{p}"), n.to_string()),
            None => (dest_dir.to_string(), path.clone()),
        };
        let dir = mkdir_p(dest, &parent, own.new_dirs())?;
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                let fd = mkdir_p(dest, &format!("{parent}/{name}"), own.new_dirs())?;
                let (uid, gid) = keep.owner.unwrap_or((st.st_uid, st.st_gid));
                rustix::fs::fchown(&fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
                rustix::fs::fchmod(&fd, rustix::fs::Mode::from_raw_mode(st.st_mode & 0o7777))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                write_file(&dir, &name, &mut entry, &st, &keep)?;
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name()?.unwrap_or_default();
                let _ = rustix::fs::unlinkat(&dir, name.as_str(), AtFlags::empty());
                rustix::fs::symlinkat(target.as_ref(), &dir, name.as_str())?;
                let (uid, gid) = keep.owner.unwrap_or((st.st_uid, st.st_gid));
                rustix::fs::chownat(
                    &dir,
                    name.as_str(),
                    Some(Uid::from_raw(uid)),
                    Some(Gid::from_raw(gid)),
                    AtFlags::SYMLINK_NOFOLLOW,
                )?;
                let t = Timespec {
                    tv_sec: st.st_mtime,
                    tv_nsec: 0,
                };
                let ts = Timestamps {
                    last_access: t,
                    last_modification: t,
                };
                rustix::fs::utimensat(&dir, name.as_str(), &ts, AtFlags::SYMLINK_NOFOLLOW)?;
            }
            _ => {}
        }
    }
    Ok(kind)
}
