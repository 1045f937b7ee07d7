//! Errors of the store; each carries the path it concerns.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O error on a path of the store.
    #[error("{path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The store's file system is full (or the user's quota spent): what strata was
    /// doing, and where; what was being changed was not.
    #[error("no space left on device to {what} in {}: nothing was changed", dir.display())]
    NoSpace {
        /// What strata was doing, in words.
        what: String,
        /// The directory it was writing in.
        dir: PathBuf,
    },
    /// A digest string that is not `sha256:` and 64 lower-case hex digits.
    #[error("invalid digest {0:?}: expected sha256: and 64 lower-case hex digits")]
    InvalidDigest(String),
    /// Content whose digest is not the one expected.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was checked.
        what: String,
        /// The digest it should have had.
        expected: String,
        /// The digest it had.
        actual: String,
    },
    /// A store written by another layout version.
    #[error(
        "{path}: store layout version {found:?} is not supported (this strata writes {expected:?})"
    )]
    Version {
        /// The version file.
        path: PathBuf,
        /// What the file holds.
        found: String,
        /// What this build supports.
        expected: String,
    },
    /// Metadata that does not parse.
    #[error("{path}: corrupt metadata: {source}")]
    Corrupt {
        /// The file that failed to parse.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A blob, layer or image that is not in the store.
    #[error("{0}: not found in the store")]
    NotFound(String),
}

/// Adds the path to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T, StoreError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T, StoreError> {
        self.map_err(|source| io_error(path.into(), source))
    }
}

/// An I/O error on `path`: [`StoreError::NoSpace`] when the disk is full, saying what
/// the path is for, else [`StoreError::Io`].
pub(crate) fn io_error(path: PathBuf, source: std::io::Error) -> StoreError {
    let full = [rustix::io::Errno::NOSPC, rustix::io::Errno::DQUOT]
        .iter()
        .any(|e| source.raw_os_error() == Some(e.raw_os_error()));
    if !full {
        return StoreError::Io { path, source };
    }
    let dir = path.parent().map(PathBuf::from).unwrap_or_default();
    StoreError::NoSpace {
        what: purpose(&path),
        dir,
    }
}

/// What a path of the store is written for, in words.
fn purpose(path: &std::path::Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let under = |d: &str| path.components().any(|c| c.as_os_str() == d);
    match name.as_str() {
        "db.json" => "save the image database".into(),
        "journal.json" => "record the change in the journal".into(),
        "layout-version" => "create the store".into(),
        "state.json" | "container.json" => "write the container's record".into(),
        _ if under("containers") => "create the container".into(),
        _ if under("layers") => "unpack a layer".into(),
        _ if under("blobs") => "store a blob".into(),
        _ => format!("write {}", path.display()),
    }
}
