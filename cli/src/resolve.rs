//! Finding an image from what a user typed: a reference (`busybox`, `demo/app:1`,
//! `name@sha256:…`) or an image ID or unique ID prefix, in docker's order.

use crate::reference::Reference;
use store_layout::{Db, Digest};

/// How an argument matched an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matched {
    /// By a tag; holds the full stored reference.
    Tag(String),
    /// By a repository digest (`name@sha256:…`).
    RepoDigest(String),
    /// By image ID or prefix.
    Id,
}

/// Why an argument matched nothing.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Nothing has that name or ID.
    #[error("No such image: {0}")]
    NotFound(String),
    /// Neither a valid reference nor an image ID.
    #[error("{0}")]
    Invalid(String),
    /// An ID prefix that more than one image starts with.
    #[error("{0}: ambiguous image ID prefix")]
    Ambiguous(String),
}

/// Resolves `arg` to an image ID in `db`.
pub fn resolve(db: &Db, arg: &str) -> Result<(Digest, Matched), ResolveError> {
    let parse_result = Reference::parse(arg);
    let parsed = parse_result.as_ref().ok();
    if let Some(r) = parsed {
        if let Some(d) = r.digest() {
            let want = format!("{}@{}", r.name(), d);
            for (id, img) in db.images() {
                if img.repo_digests.contains(&want) {
                    return Ok((id.clone(), Matched::RepoDigest(want)));
                }
            }
        } else {
            let full = r.clone().with_default_tag().full_string();
            if let Some(id) = db.tags().get(&full) {
                return Ok((id.clone(), Matched::Tag(full)));
            }
        }
    }
    let looks_like_id = {
        let p = arg.strip_prefix("sha256:").unwrap_or(arg);
        !p.is_empty() && p.len() <= 64 && p.bytes().all(|b| b.is_ascii_hexdigit())
    };
    if looks_like_id {
        match db.find_by_id_prefix(arg) {
            Ok(Some(id)) => return Ok((id, Matched::Id)),
            Ok(None) => {}
            Err(_) => return Err(ResolveError::Ambiguous(arg.to_string())),
        }
    }
    if let Err(e) = &parse_result {
        return Err(ResolveError::Invalid(e.to_string()));
    }
    let shown = match parsed {
        Some(r) if r.digest().is_none() && !arg.starts_with("sha256:") => {
            r.clone().with_default_tag().familiar_string()
        }
        _ => arg.to_string(),
    };
    Err(ResolveError::NotFound(shown))
}
