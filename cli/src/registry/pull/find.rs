//! Finding the image manifest a reference names: on Docker Hub's mirrors first, then on
//! the registry; through an image index to the platform's manifest; every document
//! checked against the digest that names it.

use super::error::{parse_digest, PullError};
use crate::image::document::{Descriptor, Document};
use crate::image::media_type::{self, ACCEPT_MANIFESTS, DOCKER_SCHEMA1_PREFIX};
use crate::image::platform::{select, Platform};
use crate::reference::Reference;
use crate::registry::client::{Client, MAX_MANIFEST};
use crate::registry::endpoint;
use crate::registry::{Options, RegistryError};
use store_layout::Digest;

/// Maps an error fetching the manifest to docker's wording.
pub(super) fn manifest_error(e: RegistryError, r: &Reference) -> PullError {
    let denied = |message: &str| PullError::AccessDenied {
        name: r.familiar_name(),
        message: message.to_string(),
    };
    match &e {
        RegistryError::Status {
            code: 404, message, ..
        } => PullError::NotFound {
            reference: r.familiar_string(),
            message: message.clone(),
        },
        RegistryError::Status {
            code: 401 | 403,
            message,
            ..
        } => denied(message),
        // Refused credentials; a token endpoint that failed in passing is said as it is.
        RegistryError::Auth(m) if m.starts_with("unauthorized") => denied(m),
        _ => PullError::Registry(e),
    }
}

/// The manifest of the image to pull.
pub(super) struct Fetched {
    /// The digest of what the reference names (the index, for a multi-platform image).
    pub top: Digest,
    /// The image manifest, as served.
    pub bytes: Vec<u8>,
    /// Its digest.
    pub digest: Digest,
    /// It, parsed.
    pub doc: Document,
}

/// GETs the manifest `reference` (a tag or digest) names and checks it against `want`.
fn get_manifest(
    client: &Client,
    r: &Reference,
    reference: &str,
    what: &str,
    want: Option<&str>,
) -> Result<(Vec<u8>, String, Digest), PullError> {
    let (bytes, ct) = client
        .get_small(
            &client.url(&format!("manifests/{reference}")),
            ACCEPT_MANIFESTS,
            MAX_MANIFEST,
            what,
        )
        .map_err(|e| manifest_error(e, r))?;
    let got = Digest::of(&bytes);
    if let Some(want) = want.filter(|w| *w != got.as_str()) {
        return Err(PullError::DigestMismatch {
            what: "manifest",
            want: want.to_string(),
            got,
        });
    }
    Ok((bytes, ct, got))
}

/// Fetches the manifest `r` names and, through an index, the one for `platform`.
fn fetch_manifest(
    client: &Client,
    r: &Reference,
    platform: &Platform,
) -> Result<Fetched, PullError> {
    let reference = r
        .digest()
        .map(str::to_string)
        .or_else(|| r.tag().map(str::to_string))
        .unwrap_or_else(|| "latest".to_string());
    let what = format!("manifest for {}", r.familiar_string());
    let (bytes, ct, top) = get_manifest(client, r, &reference, &what, r.digest())?;
    let doc: Document = serde_json::from_slice(&bytes).map_err(|e| {
        PullError::Invalid(format!("invalid manifest for {}: {e}", r.familiar_string()))
    })?;
    if !doc.is_index(&ct) {
        if doc.schema_version == 1 || ct.starts_with(DOCKER_SCHEMA1_PREFIX) {
            return Err(PullError::Invalid(format!(
                "{}: schema 1 manifests are not supported",
                r.familiar_string()
            )));
        }
        return Ok(Fetched {
            top: top.clone(),
            bytes,
            digest: top,
            doc,
        });
    }
    let list = doc.manifests.as_deref().unwrap_or_default();
    let chosen = select(list, |d| d.platform.as_ref(), platform).ok_or_else(|| {
        PullError::Invalid(format!(
            "no matching manifest for {platform} in the manifest list entries"
        ))
    })?;
    let d = parse_digest(&chosen.digest, "manifest list entry")?;
    let (mbytes, mct, _) = get_manifest(
        client,
        r,
        d.as_str(),
        &format!("manifest {d}"),
        Some(d.as_str()),
    )?;
    let m: Document = serde_json::from_slice(&mbytes)
        .map_err(|e| PullError::Invalid(format!("invalid manifest {d}: {e}")))?;
    if m.is_index(&mct) {
        return Err(PullError::Invalid(format!(
            "manifest {d}: nested image indexes are not supported"
        )));
    }
    Ok(Fetched {
        top,
        bytes: mbytes,
        digest: d,
        doc: m,
    })
}

/// Finds the manifest: on Docker Hub's mirrors first, in order (the first that has it
/// serves the whole pull), else on the registry itself.
pub(super) fn find_manifest(
    r: &Reference,
    platform: &Platform,
    opts: &Options,
) -> Result<(Client, Fetched), PullError> {
    if r.domain() == crate::reference::DEFAULT_DOMAIN {
        for url in endpoint::config()?.mirrors {
            let Ok(ep) = endpoint::mirror_endpoint(&url, opts) else {
                continue;
            };
            let Ok(client) = Client::new(ep, r.path(), "pull") else {
                continue;
            };
            if let Ok(m) = fetch_manifest(&client, r, platform) {
                return Ok((client, m));
            }
        }
    }
    let client = Client::new(endpoint::endpoint(r.domain(), opts)?, r.path(), "pull")?;
    let m = fetch_manifest(&client, r, platform)?;
    Ok((client, m))
}

/// The config's digest and the layers of a manifest, refusing layers strata cannot
/// unpack.
pub(super) fn config_and_layers(m: &Fetched) -> Result<(Digest, Vec<Descriptor>), PullError> {
    let config =
        m.doc.config.as_ref().ok_or_else(|| {
            PullError::Invalid(format!("invalid manifest {}: no config", m.digest))
        })?;
    let layers: Vec<Descriptor> = m.doc.layers.clone().unwrap_or_default();
    if let Some(l) = layers
        .iter()
        .find(|l| !media_type::is_unpackable_layer(&l.media_type) || !l.urls.is_empty())
    {
        return Err(PullError::Invalid(format!(
            "layer {} has unsupported media type {:?}",
            l.digest, l.media_type
        )));
    }
    Ok((parse_digest(&config.digest, "config")?, layers))
}
