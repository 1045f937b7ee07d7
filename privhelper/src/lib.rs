//! strata's privileged overlay mount helper, as a library: the mount itself
//! ([`overlay`]), the checks every layer descriptor must pass ([`check`]), the wire
//! protocol ([`proto`], described byte for byte in the crate's README), the client that
//! the CLI links ([`client`]) and the server that the `strata-helper` binary runs
//! ([`server`], [`privilege`]).

use std::path::PathBuf;

pub mod check;
pub mod client;
pub mod overlay;
pub mod privilege;
pub mod proto;
pub mod server;

pub use check::{check_layer_fd, CheckError};
pub use client::{request_mount, ClientError};
pub use overlay::{
    mount_overlay, mount_overlay_with, LayerOptions, MountError, OverlaySpec, MAX_LOWERS,
};

/// Where the helper listens unless told otherwise (systemd's `strata-helper.socket`).
pub const DEFAULT_SOCKET: &str = "/run/strata/helper.sock";

/// The environment variable that names another socket (tests, hand-started helpers).
pub const SOCKET_ENV: &str = "STRATA_HELPER_SOCKET";

/// The helper's socket: `$STRATA_HELPER_SOCKET` if set (and not empty), else
/// [`DEFAULT_SOCKET`].
pub fn socket_path() -> PathBuf {
    match std::env::var_os(SOCKET_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_SOCKET),
    }
}
