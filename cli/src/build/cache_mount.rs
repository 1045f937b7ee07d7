//! `RUN --mount=type=cache`: directories kept in the store across builds
//! (`ROOT/build-mounts/HASH`, by `id` or target), shared between RUNs as BuildKit shares
//! them (`sharing=`): `shared` (the default) lets every RUN use one at once, `locked`
//! lets one RUN at a time use it (the others wait), `private` gives a RUN that finds it
//! in use an instance of its own (`HASH-N`, kept for later builds too). A RUN holds a
//! lock on the directory while it runs. A new cache starts empty, or with `source` of
//! the stage or image `from=` names.

use super::cache::Key;
use super::copy::{copy_item, Ownership, Target};
use super::error::{io, Result};
use super::tree::Root;
use crate::dockerfile::{Mount, Sharing};
use rustix::fs::FlockOperation;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use store_layout::Store;

/// A cache directory in use by one RUN: the lock on it goes when this does.
pub struct CacheUse {
    /// The host directory.
    pub dir: PathBuf,
    _lock: OwnedFd,
}

/// What a new cache directory starts with: `source` of another stage's root.
pub struct Seed<'r> {
    /// The stage's (or image's) root.
    pub root: &'r Root,
    /// The path in it.
    pub source: String,
}

/// The cache directory `m` uses at `target`, made (seeded, with its owner and mode) if
/// new, and locked as its sharing mode says (waiting, for `locked`).
pub fn open(store: &Store, m: &Mount, target: &str, seed: Option<&Seed<'_>>) -> Result<CacheUse> {
    let mut key = Key::new(None);
    key.add(m.id.as_deref().unwrap_or(target).as_bytes());
    let base = store.root().join("build-mounts").join(key.finish());
    for n in 0usize.. {
        let dir = match n {
            0 => base.clone(),
            n => base.with_extension(n.to_string()),
        };
        if !dir.exists() {
            make(&dir, m, seed).map_err(io(
                format!("cannot make the cache mount directory {}", dir.display()),
                &dir,
            ))?;
        }
        let fail = || {
            io(
                format!("cannot lock the cache mount {}", dir.display()),
                &dir,
            )
        };
        let fd = rustix::fs::open(
            &dir,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| fail()(e.into()))?;
        let op = match m.sharing {
            Sharing::Shared => FlockOperation::LockShared,
            Sharing::Locked => FlockOperation::LockExclusive,
            Sharing::Private => FlockOperation::NonBlockingLockExclusive,
        };
        match rustix::fs::flock(&fd, op) {
            Ok(()) => return Ok(CacheUse { dir, _lock: fd }),
            Err(rustix::io::Errno::WOULDBLOCK) => continue,
            Err(e) => return Err(fail()(e.into())),
        }
    }
    unreachable!("an unbounded search ends with a free instance")
}

/// Makes the cache directory `dir` (through a temporary one of this thread's, renamed).
/// Stages built at the same time may both make it: the one that renames second finds it
/// there and uses it.
fn make(dir: &Path, m: &Mount, seed: Option<&Seed<'_>>) -> std::io::Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    std::fs::create_dir_all(dir.parent().expect("a parent"))?;
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.with_extension(format!("new-{}-{n}", std::process::id()));
    std::fs::DirBuilder::new().mode(0o755).create(&tmp)?;
    let made = fill(&tmp, m, seed).and_then(|()| {
        // Never over a directory another stage made (and may have mounted) already.
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            &tmp,
            rustix::fs::CWD,
            dir,
            rustix::fs::RenameFlags::NOREPLACE,
        )
        .map_err(std::io::Error::from)
    });
    match made {
        Err(_) if dir.is_dir() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
        Ok(()) => Ok(()),
    }
}

/// Gives the new directory `tmp` its seed, mode and owner.
fn fill(tmp: &Path, m: &Mount, seed: Option<&Seed<'_>>) -> std::io::Result<()> {
    if let Some(s) = seed {
        let dest = Root::open(tmp)?;
        let own = Ownership {
            owner: None,
            preserve: true,
            mode: None,
        };
        let target = Target {
            path: "",
            is_dir: true,
        };
        copy_item(s.root, &s.source, &|_, _| true, &dest, &target, &own)?;
    }
    std::fs::set_permissions(
        tmp,
        std::fs::Permissions::from_mode(m.mode.unwrap_or(0o755)),
    )?;
    std::os::unix::fs::chown(tmp, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))
}
