//! The on-disk image store of strata.
//!
//! A store is a directory that holds content-addressed blobs, unpacked layers keyed by
//! chain ID, and one metadata database (images, layers and tags). It knows nothing about
//! the network, processes or mounts. Every write goes to a temporary place first, is
//! fsynced and renamed into place; every change that touches several places is recorded
//! in a journal first so that a process killed at any instant leaves either the old state
//! or the new one, and the next writer cleans up what is left.

mod atomic;
mod blobs;
mod check;
mod claim;
mod containers;
mod db;
mod digest;
mod error;
mod lock;
mod measure;
mod staging;
mod store;

pub use atomic::{fsync_dir, write_file_atomic};
pub use blobs::BlobWriter;
pub use check::{CheckDepth, CheckReport, LeftoverKind, Problem, Repairs};
pub use claim::LayerClaims;
pub use containers::{valid_container_id, ContainerRecord, ContainerState, ContainerStatus};
pub use db::{AmbiguousId, BlobRef, Db, ImageRecord, LayerRecord};
pub use digest::{chain_id, Digest, Sha256Writer};
pub use error::StoreError;
pub use lock::StoreLock;
pub use staging::StagingDir;
pub use store::{LayerSlot, NewLayer, RemovedImage, Store, Txn, LAYOUT_VERSION};

/// Result type of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
