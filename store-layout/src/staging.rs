//! Staging directories: where new layers and blobs are made before they become visible.
//!
//! Each staging directory `tmp/stage-ID` has a lock file `tmp/stage-ID.lock` that its
//! owner holds for as long as it lives. A staging directory whose lock can be taken, or
//! that has no lock file, has lost its owner and is removed when the store is next opened.
//!
//! The lock file is locked before the directory is made, and the owner checks after
//! locking that the file it locked is still the one at the lock's path: a recovery that
//! took the fresh, still unlocked file in between and removed it makes the owner start
//! again, rather than hold a lock on a file no one else can see.

use crate::atomic::unique_name;
use crate::error::IoContext;
use crate::lock::StoreLock;
use crate::Result;
use std::fs;
use std::path::{Path, PathBuf};

/// A private directory under the store's `tmp/`, removed on drop unless consumed.
pub struct StagingDir {
    path: PathBuf,
    lock_path: PathBuf,
    _lock: Option<StoreLock>,
    keep: bool,
}

impl StagingDir {
    pub(crate) fn create(tmp: &Path) -> Result<Self> {
        loop {
            if let Some(dir) = Self::create_named(tmp, &unique_name("stage"))? {
                return Ok(dir);
            }
        }
    }

    /// Locks `tmp/NAME.lock` and makes `tmp/NAME`; `None` when a recovery removed the
    /// lock file between its creation and its locking.
    fn create_named(tmp: &Path, name: &str) -> Result<Option<Self>> {
        let path = tmp.join(name);
        let lock_path = tmp.join(format!("{name}.lock"));
        let lock = StoreLock::exclusive(&lock_path)?;
        if !lock.is_at(&lock_path)? {
            return Ok(None);
        }
        fs::create_dir(&path).at(&path)?;
        Ok(Some(StagingDir {
            path,
            lock_path,
            _lock: Some(lock),
            keep: false,
        }))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks the directory as moved away: it is no longer removed on drop.
    pub(crate) fn consumed(mut self) {
        self.keep = true;
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = remove_tree(&self.path);
        }
        let _ = fs::remove_file(&self.lock_path);
    }
}

/// Whether the entry `name` of `tmp/` (whose entries are `names`) belongs to a live
/// process: a staging directory, its lock file or a layer claim whose lock is held, or
/// trash that a live process is deleting.
pub(crate) fn is_live(tmp: &Path, name: &str, names: &[String]) -> Result<bool> {
    if let Some(stem) = name.strip_suffix(".lock") {
        let owned = stem.starts_with("stage-") || crate::claim::is_claim(name);
        return Ok(owned && lock_held(&tmp.join(name))?);
    }
    if name.starts_with("stage-") {
        let lock = format!("{name}.lock");
        return Ok(names.contains(&lock) && lock_held(&tmp.join(lock))?);
    }
    Ok(name.starts_with("trash-") && owner_alive(name))
}

fn lock_held(path: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        _ => {}
    }
    Ok(StoreLock::try_exclusive(path)?.is_none())
}

/// Whether the process whose ID a temporary name (`PREFIX-PID-…`) holds is still alive.
pub(crate) fn owner_alive(name: &str) -> bool {
    let pid = name
        .trim_start_matches('.')
        .split('-')
        .nth(1)
        .and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(pid) => pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists(),
        None => false,
    }
}

/// Removes a directory tree, making read-only directories writable as it goes.
pub(crate) fn remove_tree(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => return fs::remove_file(path),
        Ok(_) => {}
    }
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(_) => {
            make_writable(path);
            remove_walk(path)
        }
    }
}

/// Removes a tree entry by entry. A directory that cannot be listed may still be an
/// empty one that can be removed: overlayfs leaves its `work/work` directory owned by
/// the mounter (root) with mode 000 in an ordinary user's container directory.
fn remove_walk(path: &Path) -> std::io::Result<()> {
    match fs::read_dir(path) {
        Ok(rd) => {
            for e in rd {
                let e = e?;
                if e.file_type()?.is_dir() {
                    remove_walk(&e.path())?;
                } else {
                    fs::remove_file(e.path())?;
                }
            }
            fs::remove_dir(path)
        }
        Err(e) => fs::remove_dir(path).map_err(|_| e),
    }
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = fs::symlink_metadata(path) {
        if m.is_dir() {
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
            if let Ok(rd) = fs::read_dir(path) {
                for e in rd.flatten() {
                    make_writable(&e.path());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recovery that takes a new staging lock file before its owner locks it and
    /// removes it must not leave the owner holding a lock on a file no one can see.
    #[test]
    fn a_recovery_in_the_gap_does_not_orphan_the_staging_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let lock_path = tmp.path().join("stage-x.lock");
        let recovery = StoreLock::exclusive(&lock_path).unwrap();
        let dir = tmp.path().to_path_buf();
        let owner = std::thread::spawn(move || {
            let mut tries = 0;
            loop {
                tries += 1;
                if let Some(s) = StagingDir::create_named(&dir, "stage-x").unwrap() {
                    return (s, tries);
                }
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        fs::remove_file(&lock_path).unwrap();
        drop(recovery);
        let (staging, tries) = owner.join().unwrap();
        assert_eq!(tries, 2, "the owner saw its lock file go and started again");
        assert!(staging.path().is_dir());
        assert!(
            StoreLock::try_exclusive(&lock_path).unwrap().is_none(),
            "the lock file at the path is the one the owner holds"
        );
        drop(staging);
        assert!(!tmp.path().join("stage-x").exists());
    }
}
