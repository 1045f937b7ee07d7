//! `strata rename CONTAINER NEW_NAME` and `strata create`: a container's name, and a
//! container made without starting it.

use crate::container::lookup::find;
use crate::container::names::valid_name;
use crate::context::Ctx;
use anyhow::{anyhow, bail, Result};

/// Arguments of `rename`.
#[derive(clap::Args, Debug)]
pub struct RenameArgs {
    /// The container.
    pub container: String,
    /// Its new name.
    pub new_name: String,
}

/// Runs `rename`.
pub fn rename(ctx: &Ctx, args: &RenameArgs) -> Result<()> {
    let new = args.new_name.strip_prefix('/').unwrap_or(&args.new_name);
    if !valid_name(new) {
        bail!("Invalid container name ({new}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    let rec = find(&ctx.store, &args.container)?;
    if rec.name == new {
        bail!("Renaming a container with the same name as its current name");
    }
    ctx.store
        .rename_container(&rec.id, new, |all| match all.iter().find(|c| c.name == new) {
            Some(c) => Err(anyhow!(
                "Conflict. The container name \"/{new}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                c.id
            )),
            None => Ok(()),
        })??;
    Ok(())
}

/// Runs `create`: the container of `run`, made but not started; prints its ID.
pub fn create(ctx: &Ctx, args: &super::run::RunArgs) -> Result<()> {
    if let Some(n) = &args.name {
        if !valid_name(n) {
            bail!("Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
        }
    }
    let (rec, _) = super::run::create(ctx, args)?;
    crate::output::out(&rec.id)?;
    Ok(())
}
