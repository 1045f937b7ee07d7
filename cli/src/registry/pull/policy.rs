//! The image a container or a build starts from: the local one, or pulled first as the
//! pull policy says (docker's `missing`: only when no local image has that name), with
//! docker's lines on standard error.

use super::{pull, PullError};
use crate::config::PullPolicy;
use crate::image::platform::Platform;
use crate::reference::{Reference, ReferenceError};
use crate::registry::progress::Reporter;
use crate::registry::Options;
use crate::resolve::{resolve, ResolveError};
use store_layout::{Db, Digest, Store, StoreError};

/// Why there is no image to start from.
#[derive(Debug, thiserror::Error)]
pub enum ImageForRunError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The name is not in the store (and the policy does not pull), or is invalid.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The name is not a reference that can be pulled.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// The pull failed.
    #[error(transparent)]
    Pull(#[from] PullError),
}

/// Returns the ID of the image `name` and the database it was found in, pulling it
/// first for this machine's platform when `policy` says so.
pub fn image_for_run(
    store: &Store,
    name: &str,
    policy: PullPolicy,
) -> Result<(Digest, Db), ImageForRunError> {
    let db = store.db()?;
    let local = resolve(&db, name);
    let fetch = matches!(
        (&local, policy),
        (_, PullPolicy::Always) | (Err(ResolveError::NotFound(_)), PullPolicy::Missing)
    );
    if !fetch {
        let (id, _) = local?;
        return Ok((id, db));
    }
    let r = Reference::parse(name)?.with_default_tag();
    if local.is_err() {
        eprintln!("Unable to find image '{}' locally", r.familiar_string());
    }
    let rep = Reporter::stderr_lines();
    pull(store, &r, &Platform::host(), &Options::default(), &rep)?;
    let db = store.db()?;
    let (id, _) = resolve(&db, &r.full_string())?;
    Ok((id, db))
}
