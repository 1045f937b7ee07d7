//! What every command starts from: the store root, the open store, and whether files
//! are owned through a user namespace.

use std::path::{Path, PathBuf};
use store_layout::{Store, StoreError};

/// Why there is no store to work on.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// A configuration file is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// No flag or variable names the store, and there is no home directory.
    #[error("cannot find the store: set HOME, XDG_DATA_HOME or STRATA_ROOT")]
    NoRoot,
    /// `--root` names a directory that does not exist (for a command that only reads).
    #[error("no store at {}: the directory does not exist (check --root)", .0.display())]
    Missing(PathBuf),
    /// The store cannot be opened (or created).
    #[error("cannot open the store at {}", root.display())]
    Open {
        /// The store root.
        root: PathBuf,
        /// Why.
        #[source]
        source: StoreError,
    },
}

/// The store root for this user: `--root`, then `STRATA_ROOT`, then `root` in the
/// configuration files ([`crate::config`]), then `/var/lib/strata` for root, then
/// `$XDG_DATA_HOME/strata`, then `~/.local/share/strata`. Fails when a configuration
/// file is invalid, so that every command does.
pub fn store_root(flag: Option<PathBuf>) -> Result<PathBuf, ContextError> {
    let settings = crate::config::load()?;
    if let Some(r) = flag {
        return Ok(r);
    }
    if let Some(r) = std::env::var_os("STRATA_ROOT").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(r));
    }
    let is_root = rustix::process::geteuid().is_root() && !crate::userns::in_child();
    if let Some(r) = settings.store_root(is_root) {
        return Ok(r.to_path_buf());
    }
    if is_root {
        return Ok(PathBuf::from("/var/lib/strata"));
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(x).join("strata"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .ok_or(ContextError::NoRoot)?;
    Ok(PathBuf::from(home).join(".local/share/strata"))
}

/// A command's view of strata: the open store.
pub struct Ctx {
    /// The store.
    pub store: Store,
}

impl Ctx {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<Ctx, ContextError> {
        let store = Store::open(root).map_err(|source| ContextError::Open {
            root: root.to_path_buf(),
            source,
        })?;
        Ok(Ctx { store })
    }

    /// Opens the store at `root` for a command that only reads: nothing is created, and
    /// a store that is not there reads as empty, unless `named` (the `--root` flag named
    /// it), where a directory that does not exist is an error (a mistyped path).
    pub fn open_existing(root: &Path, named: bool) -> Result<Ctx, ContextError> {
        if named && !root.exists() {
            return Err(ContextError::Missing(root.to_path_buf()));
        }
        let store = Store::open_existing(root).map_err(|source| ContextError::Open {
            root: root.to_path_buf(),
            source,
        })?;
        Ok(Ctx { store })
    }
}
