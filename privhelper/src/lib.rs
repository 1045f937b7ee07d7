//! strata's privileged overlay mount helper: the mount itself, and (later) the wire
//! protocol, server and client.

pub mod overlay;

pub use overlay::{mount_overlay, MountError, OverlaySpec, MAX_LOWERS};
