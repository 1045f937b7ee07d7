//! Staging directories: where new layers and blobs are made before they become visible.
//!
//! Each staging directory `tmp/stage-ID` has a lock file `tmp/stage-ID.lock` that its
//! owner holds for as long as it lives. A staging directory whose lock can be taken has
//! lost its owner and is removed when the store is next opened for writing.

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
        let name = unique_name("stage");
        let path = tmp.join(&name);
        let lock_path = tmp.join(format!("{name}.lock"));
        let lock = StoreLock::exclusive(&lock_path)?;
        fs::create_dir(&path).at(&path)?;
        Ok(StagingDir {
            path,
            lock_path,
            _lock: Some(lock),
            keep: false,
        })
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
