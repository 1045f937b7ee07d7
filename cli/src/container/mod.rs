//! The container runtime: what a container is (`spec`), how its root filesystem is put
//! together inside its own mount namespace (`rootfs`), how its process starts (`process`)
//! and is watched (`launch`, `tty`), and how its writable layer is read back (`changes`).

pub mod changes;
pub mod launch;
pub mod lookup;
pub mod names;
pub mod process;
pub mod rootfs;
pub mod spec;
pub mod tty;
