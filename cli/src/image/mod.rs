//! The image formats strata reads and writes: configs (own types, see `config`) and
//! manifests (the `oci-spec` types).

pub mod changes;
pub mod config;
pub mod manifest;

pub use config::{ContainerConfig, History, ImageConfig, RootFs};
