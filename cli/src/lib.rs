//! strata: a daemonless, Docker-compatible container image tool.
//!
//! The binary in `main.rs` is a thin shell over this library. Modules follow the data
//! flow: references name images, `layer` turns archives into directories, `image`
//! holds the OCI types strata writes, `commands` implements each verb, `output` formats
//! what users see.

pub mod layer;
pub mod output;
pub mod reference;
