//! strata: a daemonless, Docker-compatible container image tool.
//!
//! The binary in `main.rs` is a thin shell over this library. Modules follow the data
//! flow: `reference` names images, `layer` turns archives into directories, `ingest`
//! streams a layer from its source into the store, `image` holds the formats strata
//! writes, `registry` talks to image registries (pull, push, login), `commands` implements each verb, `output` formats what users see, `userns`
//! runs an ordinary user's file work inside a user namespace.

pub mod archive;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod container;
pub mod context;
pub mod dockerfile;
pub mod error;
pub mod image;
pub mod image_filter;
pub mod ingest;
pub mod layer;
pub mod manpages;
pub mod output;
pub mod progress;
pub mod reference;
pub mod registry;
pub mod resolve;
pub mod setuid_helper;
pub mod userns;

pub use error::SilentExit;
