//! Why an archive cannot be saved or loaded.

use crate::image::writer::WriteError;
use crate::ingest::IngestError;
use std::io;
use store_layout::{Digest, StoreError};

/// Why an archive cannot be saved or loaded; `Display` is the one line the user sees.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The archive is malformed (a member's name, a document, a missing member).
    #[error("invalid archive: {0}")]
    Invalid(String),
    /// A blob is not what the digest naming it says.
    #[error("blob {want} does not match its digest (it is {got})")]
    DigestMismatch {
        /// The digest that names it.
        want: Digest,
        /// The digest of its bytes.
        got: Digest,
    },
    /// A layer's DiffID is not the one its config lists.
    #[error("layer {n} of {image}: DiffID mismatch: config says {want}, layer is {got}")]
    DiffIdMismatch {
        /// 1-based position in the image.
        n: usize,
        /// The image, as the user knows it.
        image: String,
        /// The config's DiffID.
        want: Digest,
        /// The layer's.
        got: Digest,
    },
    /// A config lists a DiffID that is not a digest.
    #[error("layer {n} of {image}: invalid DiffID in the config: {message}")]
    BadDiffId {
        /// 1-based position in the image.
        n: usize,
        /// The image, as the user knows it.
        image: String,
        /// What is wrong with it.
        message: String,
    },
    /// A layer could not be unpacked.
    #[error("layer {n} of {image}")]
    Layer {
        /// 1-based position in the image.
        n: usize,
        /// The image, as the user knows it.
        image: String,
        /// What went wrong.
        #[source]
        source: Box<ArchiveError>,
    },
    /// Reading or writing failed (`what` names the member, blob or file).
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A stored blob no longer matches its digest (save).
    #[error("blob {0} in the store does not match its digest")]
    Corrupt(Digest),
    /// A stored document is larger than strata parses.
    #[error("blob {0} is larger than {1} bytes")]
    TooLarge(Digest, u64),
    /// A layer member could not be unpacked.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The images could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A worker thread stopped (the message says which).
    #[error("{0}")]
    Stopped(&'static str),
    /// Writing the archive failed.
    #[error(transparent)]
    Output(io::Error),
    /// The reader of the archive went away (a closed pipe): nothing more to say.
    #[error("the output was closed")]
    Closed,
    /// A stored image's manifest cannot be read.
    #[error("cannot read the manifest of {image}")]
    Manifest {
        /// The image, as the user named it.
        image: String,
        /// What went wrong.
        #[source]
        source: Box<ArchiveError>,
    },
    /// A stored image's manifest is not valid.
    #[error("the manifest of {image} is not valid")]
    InvalidManifest {
        /// The image, as the user named it.
        image: String,
        /// What is wrong.
        #[source]
        source: serde_json::Error,
    },
    /// A stored image or tag is not what it should be.
    #[error("{0}")]
    Stored(String),
}

impl ArchiveError {
    /// An `invalid archive: …` error.
    pub fn invalid(msg: impl Into<String>) -> ArchiveError {
        ArchiveError::Invalid(msg.into())
    }

    /// An I/O error while doing `what`.
    pub fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> ArchiveError {
        let what = what.into();
        move |source| ArchiveError::Io { what, source }
    }
}
