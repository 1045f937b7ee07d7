//! `strata diff CONTAINER`: files added (A), changed (C) and deleted (D) in a
//! container's writable layer.

use crate::container::changes::diff;
use crate::container::lookup::find;
use crate::context::Ctx;
use anyhow::{Context, Result};
use std::path::PathBuf;

/// Arguments of `diff`.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The container.
    pub container: String,
}

/// The container's lower directories, topmost first: its init layer, then the image's.
pub fn lowers(ctx: &Ctx, rec: &store_layout::ContainerRecord) -> Result<Vec<PathBuf>> {
    let dir = ctx.store.container_dir(&rec.id)?;
    let mut v = vec![dir.join("init")];
    v.extend(rec.layers.iter().rev().map(|c| ctx.store.layer_dir(c)));
    Ok(v)
}

/// Runs `diff`.
pub fn run(ctx: &Ctx, args: &DiffArgs) -> Result<()> {
    let rec = find(&ctx.store, &args.container)?;
    let upper = ctx.store.container_dir(&rec.id)?.join("upper");
    let changes = diff(&upper, &lowers(ctx, &rec)?)
        .with_context(|| format!("cannot read {}", upper.display()))?;
    for c in changes {
        crate::output::out(&c.to_string())?;
    }
    Ok(())
}
