//! The container runtime: what a container is (`spec`, the configuration a record keeps;
//! `create`, its record made under the store lock),
//! what it needs (`plan`: namespaces, mounts, masks, devices, capabilities, process, as
//! plain data), how the plan is carried out in its first process (`apply`, with `rootfs`,
//! `tty` and `process`), how it is started and watched (`launch`), its network (`network`: pasta,
//! published ports), and how its writable
//! layer is read back (`changes`).

pub mod apply;
pub mod attach;
pub mod cgroup;
pub mod changes;
pub mod copy;
pub mod create;
pub mod exec;
pub mod filter;
pub mod init;
pub mod inspect;
pub mod launch;
pub mod logs;
pub mod lookup;
pub mod names;
pub mod network;
pub mod options;
pub mod plan;
pub mod process;
pub mod rootfs;
pub mod scope;
pub mod signal;
pub mod spec;
pub mod top;
pub mod tty;
