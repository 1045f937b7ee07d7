//! The image formats strata reads and writes, and how an image is assembled:
//!
//! - `config`: image configs (strata's own serde types, see there why);
//! - `document`: manifests, indexes and descriptors as strata reads them (see there
//!   why not `oci-spec`);
//! - `manifest`: the OCI manifests strata writes (`oci-spec` types);
//! - `media_type`: every media type, in one place;
//! - `platform`: `os/arch[/variant]`, and choosing an index entry for one;
//! - `plan`: an image's layers by chain ID against the store (stored or missing);
//! - `writer`: staging layers, config, manifest and record, and the one commit that
//!   adds images, tags and repository digests;
//! - `changes`: `-c/--change` instructions.

pub mod changes;
pub mod config;
pub mod document;
pub mod manifest;
pub mod media_type;
pub mod plan;
pub mod platform;
pub mod writer;

pub use config::{ContainerConfig, History, ImageConfig, RootFs};
