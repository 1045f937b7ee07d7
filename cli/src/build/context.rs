//! The build context: a directory, a tar archive from standard input (unpacked into a
//! scratch directory of the store that goes with the build), or nothing (a Dockerfile
//! on standard input). It is read only through a [`Root`], so nothing outside it is
//! ever read, and `.dockerignore` hides what it lists.

use super::error::{io, Result};
use super::ignore::Ignore;
use super::tree::Root;
use std::path::Path;
use store_layout::{Store, Txn};

/// An open build context.
pub struct BuildContext {
    /// Its root.
    pub root: Root,
    /// Its `.dockerignore`.
    pub ignore: Ignore,
    _scratch: Option<Txn>,
}

impl BuildContext {
    /// The directory `dir`; `ignore_file` is a `.dockerignore` beside a named Dockerfile
    /// that wins over the context's own.
    pub fn dir(dir: &Path, ignore_file: Option<&Path>) -> Result<BuildContext> {
        let root = Root::open(dir).map_err(io(
            format!("unable to prepare context: cannot open {}", dir.display()),
            dir,
        ))?;
        let own = match ignore_file.map(std::fs::read) {
            Some(Ok(text)) => Some(text),
            _ => root
                .read(".dockerignore")
                .map_err(io("cannot read .dockerignore", dir.join(".dockerignore")))?,
        };
        let ignore = Ignore::parse(&String::from_utf8_lossy(&own.unwrap_or_default()));
        Ok(BuildContext {
            root,
            ignore,
            _scratch: None,
        })
    }

    /// A tar archive, plain or compressed (`strata build - < context.tar`), unpacked into the store's scratch
    /// space; or an empty context when `data` is `None`.
    pub fn archive(store: &Store, data: Option<&[u8]>) -> Result<BuildContext> {
        let txn = store.begin()?;
        let dir = txn.scratch().join("context");
        std::fs::create_dir(&dir).map_err(io(format!("cannot create {}", dir.display()), &dir))?;
        if let Some(data) = data {
            let (_, plain) = crate::layer::decompress::decompress(data)
                .map_err(io("cannot read the context archive", "-"))?;
            let mut a = tar::Archive::new(plain);
            a.set_preserve_permissions(true);
            a.set_preserve_mtime(true);
            a.unpack(&dir)
                .map_err(io("cannot unpack the context archive", &dir))?;
        }
        let mut ctx = BuildContext::dir(&dir, None)?;
        ctx._scratch = Some(txn);
        Ok(ctx)
    }

    /// Whether `path` (relative to the context root) is part of the context; an
    /// excluded directory is still walked when exceptions may bring back its content.
    pub fn keeps(&self, path: &str, is_dir: bool) -> bool {
        !self.ignore.excluded(path) || (is_dir && self.ignore.has_exceptions())
    }
}
