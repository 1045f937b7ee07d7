//! strata: a daemonless, Docker-compatible container image tool.
//!
//! The binary in `main.rs` is a thin shell over this library. Modules follow the data
//! flow, lowest first:
//!
//! - `reference` names images; `resolve` finds one in the store; `config` reads
//!   config.toml; `clock`, `error` and `output` (with `progress`) are what every layer
//!   above may use to tell the time, report a failure and print.
//! - `layer` turns archives into directories (decompress, unpack, read-ahead); `ingest`
//!   streams one layer from its source into a store transaction.
//! - `image` holds the documents strata reads and writes and assembles images (the
//!   layer plan and the one image writer); `image_filter` chooses which a listing shows.
//! - `archive` reads and writes save/load archives; `registry` talks to registries
//!   (pull, push, auth); `dockerfile` parses and expands Dockerfiles, and `build` runs
//!   them (docker's classic builder: a build container per RUN, a cache in the store).
//! - `container` is the runtime (spec, plan, applier, launch, changes); `userns` runs an
//!   ordinary user's file work inside a user namespace.
//! - `commands` implements each verb (arguments, orchestration, output) and `cli`
//!   parses the command line and dispatches; nothing below them imports them.

pub mod archive;
pub mod build;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod container;
pub mod context;
pub mod dockerfile;
pub mod error;
pub mod flags;
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
pub mod units;
pub mod userns;

pub use error::SilentExit;
