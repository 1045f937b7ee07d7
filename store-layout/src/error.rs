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
        self.map_err(|source| StoreError::Io {
            path: path.into(),
            source,
        })
    }
}
