//! `strata tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]`.

use crate::context::Ctx;
use crate::reference::Reference;
use crate::resolve::resolve;
use anyhow::{anyhow, bail, Result};
use store_layout::StoreError;

/// Arguments of `tag`.
#[derive(clap::Args, Debug)]
pub struct TagArgs {
    /// The image to name.
    pub source: String,
    /// The new name.
    pub target: String,
}

/// Runs `tag`.
pub fn run(ctx: &Ctx, args: &TagArgs) -> Result<()> {
    let target = Reference::parse(&args.target).map_err(|e| {
        anyhow!(
            "Error parsing reference: {:?} is not a valid repository/tag: {e}",
            args.target
        )
    })?;
    if target.digest().is_some() {
        bail!("refusing to create a tag with a digest reference");
    }
    let full = target.with_default_tag().full_string();
    let source = args.source.clone();
    let mut not_found = None;
    ctx.store.update(|db| {
        match resolve(db, &source) {
            Ok((id, _)) => {
                db.tag(full, &id)?;
            }
            Err(e) => not_found = Some(e),
        }
        Ok::<_, StoreError>(())
    })?;
    if let Some(e) = not_found {
        return Err(e.into());
    }
    Ok(())
}
