//! One module per command.

pub mod build;
pub mod check;
pub mod commit;
pub mod completion;
pub mod diff;
pub mod history;
pub mod images;
pub mod import;
pub mod inspect;
pub mod load;
pub mod login;
pub mod prune;
pub mod ps;
pub mod pull;
pub mod push;
pub mod rm;
pub mod rmi;
pub mod run;
pub mod save;
pub mod setup;
pub mod start;
pub mod system;
pub mod table;
pub mod tag;

use crate::image::writer::{Assembly, ImageWriter, StagedImage};
use crate::output::out;
use anyhow::Result;

/// The full tag an image made by `import` or `commit` gets from its optional
/// `REPOSITORY[:TAG]` argument (`:latest` by default; a digest is refused).
pub fn new_image_tag(reference: Option<&str>) -> Result<Option<String>> {
    let Some(r) = reference else {
        return Ok(None);
    };
    let parsed = crate::reference::Reference::parse(r).map_err(|e| anyhow::anyhow!("{e}"))?;
    if parsed.digest().is_some() {
        anyhow::bail!("refusing to create a tag with a digest reference");
    }
    Ok(Some(parsed.with_default_tag().full_string()))
}

/// Commits a transaction that adds one image made by `assembly` (and its tag, if any),
/// then prints its ID.
pub fn commit_new_image(
    ctx: &crate::context::Ctx,
    txn: store_layout::Txn,
    assembly: Assembly,
    image: StagedImage,
    tag: Option<String>,
) -> Result<()> {
    let mut writer = ImageWriter::new(assembly);
    let id = writer.add(image);
    writer.name(&id, tag, None);
    writer.commit(&ctx.store, txn)?;
    Ok(out(id.as_str())?)
}
