//! Cross-process locks on the store, by `flock(2)`.

use crate::error::IoContext;
use crate::Result;
use rustix::fs::FlockOperation;
use rustix::io::Errno;
use std::fs::{File, OpenOptions};
use std::path::Path;

/// An exclusive lock on the store's metadata, held until dropped.
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Blocks until the exclusive lock on `path` is held.
    pub fn exclusive(path: &Path) -> Result<Self> {
        let file = open_lock_file(path)?;
        flock(&file, FlockOperation::LockExclusive).at(path)?;
        Ok(StoreLock { _file: file })
    }

    /// Whether the file locked is still the one at `path` (not removed or replaced).
    pub(crate) fn is_at(&self, path: &Path) -> Result<bool> {
        use std::os::unix::fs::MetadataExt;
        let held = self._file.metadata().at(path)?;
        match std::fs::metadata(path) {
            Ok(m) => Ok(m.dev() == held.dev() && m.ino() == held.ino()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).at(path),
        }
    }

    /// Takes the exclusive lock on `path` if no one holds it; `None` otherwise.
    pub fn try_exclusive(path: &Path) -> Result<Option<Self>> {
        let file = open_lock_file(path)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(StoreLock { _file: file })),
            Err(e) if e.raw_os_error() == Some(Errno::WOULDBLOCK.raw_os_error()) => Ok(None),
            Err(e) => Err(e).at(path),
        }
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .at(path)
}

/// `flock(2)`, retried on EINTR.
fn flock(file: &File, op: FlockOperation) -> std::io::Result<()> {
    loop {
        match rustix::fs::flock(file, op) {
            Err(Errno::INTR) => continue,
            r => return r.map_err(std::io::Error::from),
        }
    }
}
