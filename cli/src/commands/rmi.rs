//! `strata rmi [-f] [--no-prune] IMAGE...`: untag and delete images, as docker does.

use crate::context::Ctx;
use crate::reference::familiar;
use crate::resolve::{resolve, Matched};
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};
use store_layout::{Db, Digest, StoreError};

/// Arguments of `rmi`.
#[derive(clap::Args, Debug)]
pub struct RmiArgs {
    /// Images to remove.
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Force removal of the image.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Do not delete untagged parents.
    #[arg(long)]
    pub no_prune: bool,
}

/// What removing one argument did, in the order docker prints it.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `Untagged:` lines (familiar references).
    pub untagged: Vec<String>,
    /// Image IDs deleted.
    pub deleted: Vec<Digest>,
}

/// Untags or deletes what `arg` names in `db`. The caller's commit removes the layers
/// and blobs that nothing uses any more.
/// `used` maps the images that containers use to one such container's ID and whether
/// it is running: such an image is not deleted (a stopped container's image only with
/// `force`, and its layers stay while the container does).
pub fn remove_one(
    db: &mut Db,
    arg: &str,
    force: bool,
    no_prune: bool,
    used: &BTreeMap<Digest, (String, bool)>,
) -> Result<Outcome, String> {
    let (id, matched) = resolve(db, arg).map_err(|e| match e {
        // docker names the image as it was typed here.
        crate::resolve::ResolveError::NotFound(_) => format!("No such image: {arg}"),
        other => other.to_string(),
    })?;
    let last_name = match &matched {
        Matched::Tag(_) | Matched::RepoDigest(_) => {
            let img = db.images().get(&id);
            db.tags_of(&id).len() + img.map_or(0, |i| i.repo_digests.len()) <= 1
        }
        Matched::Id => true,
    };
    if let (true, Some((cid, running))) = (last_name, used.get(&id)) {
        let short = &cid[..12.min(cid.len())];
        if *running {
            return Err(format!(
                "conflict: unable to delete {} (cannot be forced) - image is being used by running container {short}",
                id.short()
            ));
        }
        if !force {
            return Err(match matched {
                Matched::Id => format!(
                    "conflict: unable to delete {} (must be forced) - image is being used by stopped container {short}",
                    id.short()
                ),
                _ => format!(
                    "conflict: unable to remove repository reference \"{arg}\" (must force) - container {short} is using its referenced image {}",
                    id.short()
                ),
            });
        }
    }
    let mut out = Outcome::default();
    let has_children =
        |db: &Db, id: &Digest| db.images().values().any(|i| i.parent.as_ref() == Some(id));
    match matched {
        Matched::Tag(full) => {
            db.untag(&full);
            out.untagged.push(familiar(&full));
        }
        Matched::RepoDigest(rd) => {
            db.remove_repo_digest(&id, &rd);
            out.untagged.push(familiar(&rd));
        }
        Matched::Id => {
            let tags: Vec<String> = db.tags_of(&id).iter().map(|s| s.to_string()).collect();
            let repos: BTreeSet<&str> = tags
                .iter()
                .map(|t| t.rsplit_once(':').map_or(t.as_str(), |(r, _)| r))
                .collect();
            if repos.len() > 1 && !force {
                return Err(format!(
                    "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    id.short()
                ));
            }
            if has_children(db, &id) {
                return Err(format!(
                    "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
                    id.short()
                ));
            }
            for t in tags {
                db.untag(&t);
                out.untagged.push(familiar(&t));
            }
            if let Some(img) = db.images().get(&id) {
                for rd in &img.repo_digests {
                    out.untagged.push(familiar(rd));
                }
            }
        }
    }
    // Delete the image once nothing names it, then its untagged parents.
    let mut cur = Some(id);
    while let Some(id) = cur.take() {
        if !db.tags_of(&id).is_empty() || has_children(db, &id) {
            break;
        }
        if !out.deleted.is_empty() && used.contains_key(&id) {
            break;
        }
        if let Some(img) = db.images().get(&id) {
            if !img.repo_digests.is_empty() && !out.deleted.is_empty() {
                break;
            }
        }
        let Some(img) = db.remove_image(&id) else {
            break;
        };
        out.deleted.push(id);
        if !no_prune {
            cur = img.parent;
        }
    }
    Ok(out)
}

/// Runs `rmi`.
pub fn run(ctx: &Ctx, args: &RmiArgs) -> Result<()> {
    let used = images_in_use(ctx)?;
    let mut failed = false;
    for arg in &args.images {
        let result = ctx.store.update(|db| {
            Ok::<_, StoreError>(remove_one(db, arg, args.force, args.no_prune, &used))
        });
        match result {
            Ok((Ok(outcome), removed)) => {
                for u in &outcome.untagged {
                    crate::output::out(&format!("Untagged: {u}"))?;
                }
                for d in &outcome.deleted {
                    crate::output::out(&format!("Deleted: {d}"))?;
                }
                for l in &removed.layers {
                    crate::output::out(&format!("Deleted: {l}"))?;
                }
            }
            Ok((Err(msg), _)) => {
                eprintln!("Error: {msg}");
                failed = true;
            }
            Err(e) => {
                eprintln!("Error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        return Err(crate::error::SilentExit(1).into());
    }
    Ok(())
}

/// The images that containers use, with one container's ID and whether it runs
/// (a running one wins).
pub fn images_in_use(ctx: &Ctx) -> Result<BTreeMap<Digest, (String, bool)>> {
    let mut used: BTreeMap<Digest, (String, bool)> = BTreeMap::new();
    for c in ctx.store.containers()? {
        let running = crate::container::lookup::live_state(&ctx.store, &c.id)?.status
            == store_layout::ContainerStatus::Running;
        let e = used
            .entry(c.image.clone())
            .or_insert((c.id.clone(), running));
        if running && !e.1 {
            *e = (c.id.clone(), true);
        }
    }
    Ok(used)
}
