//! Why a pull failed, as types: a layer given up because another one failed is
//! [`PullError::Cancelled`] (or a read that failed with [`Cancelled`]), told by type.

use crate::image::writer::WriteError;
use crate::ingest::IngestError;
use crate::registry::RegistryError;
use std::io;
use store_layout::{Digest, StoreError};

/// Why a pull failed; `Display` is the one line the user sees.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The image could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The registry has no such manifest.
    #[error("manifest for {reference} not found: {message}")]
    NotFound {
        /// The reference, as the user knows it.
        reference: String,
        /// The registry's words.
        message: String,
    },
    /// The registry refused access.
    #[error("pull access denied for {name}, repository does not exist or may require 'strata login': {message}")]
    AccessDenied {
        /// The repository, as the user knows it.
        name: String,
        /// The registry's words.
        message: String,
    },
    /// A document or blob is not what its digest says.
    #[error("{what} {want} does not match its digest (it is {got})")]
    DigestMismatch {
        /// `manifest` or `config`.
        what: &'static str,
        /// The digest that names it.
        want: String,
        /// The digest of what came.
        got: Digest,
    },
    /// The image has more layers than strata takes.
    #[error(transparent)]
    TooManyLayers(#[from] crate::ingest::TooManyLayers),
    /// The registry sent a document strata cannot use.
    #[error("{0}")]
    Invalid(String),
    /// A layer could not be fetched or unpacked.
    #[error("layer {n} ({digest})")]
    Layer {
        /// 1-based position in the image.
        n: usize,
        /// The blob's digest.
        digest: Digest,
        /// What went wrong.
        #[source]
        source: IngestError,
    },
    /// A layer's DiffID is not the one the config lists.
    #[error("layer {n} ({digest}): DiffID mismatch: config says {want}, layer is {got}")]
    DiffIdMismatch {
        /// 1-based position in the image.
        n: usize,
        /// The blob's digest.
        digest: Digest,
        /// The config's DiffID.
        want: Digest,
        /// The layer's.
        got: Digest,
    },
    /// The layer was not fetched (or stopped) because another layer failed.
    #[error("{0}")]
    Cancelled(Cancelled),
    /// A layer thread panicked.
    #[error("a layer thread panicked")]
    Panicked,
}

/// A layer given up because another layer of the same pull failed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("cancelled: another layer failed")]
pub struct Cancelled;

impl PullError {
    /// Whether this is a layer given up because another one failed (not a failure of
    /// its own), also when it surfaced as its reader's error.
    pub fn is_cancelled(&self) -> bool {
        if matches!(self, PullError::Cancelled(_)) {
            return true;
        }
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cur {
            let io_inner = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref());
            if io_inner.is_some_and(|i| i.is::<Cancelled>()) {
                return true;
            }
            cur = e.source();
        }
        false
    }
}

/// A digest a registry's document names, parsed (`what` says which, for the message).
pub(super) fn parse_digest(s: &str, what: &str) -> Result<Digest, PullError> {
    Digest::parse(s)
        .map_err(|_| PullError::Invalid(format!("{what}: unsupported or invalid digest {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer_error(source: io::Error) -> PullError {
        PullError::Layer {
            n: 2,
            digest: Digest::of(b"layer"),
            source: IngestError::Read(source),
        }
    }

    #[test]
    fn a_cancelled_layer_is_told_by_its_type_not_its_text() {
        assert!(PullError::Cancelled(Cancelled).is_cancelled());
        assert!(layer_error(io::Error::other(Cancelled)).is_cancelled());
        let lookalike = io::Error::other("cancelled: another layer failed");
        assert!(!layer_error(lookalike).is_cancelled());
        assert!(!PullError::Panicked.is_cancelled());
    }
}
