//! The pull pipeline: manifest (index → platform), config, then the missing layers a
//! few at a time, each one stream from socket to disk in one transaction.
//!
//! [`pull`] runs named steps: `find_manifest` (`find`: mirrors first, then the
//! registry), `fetch_config`, a [`LayerPlan`] of the image's layers by chain ID
//! (layers already in the store are not fetched), `claim_layers` (the missing layers
//! are claimed in the store, so that other pulls and loads needing them wait for this
//! one; a layer another process claimed first is waited for and then reused, or
//! fetched here when that process failed), `fetch_layers` (`layers`: a few
//! worker threads take the missing layers in turn; each reads the blob, resuming with `Range` after breaks, and hands it to
//! [`crate::ingest::ingest_layer_verified`]:
//! the bytes are written to a staged blob and checked against the manifest's digest,
//! decompressed on a second thread, hashed (the DiffID, checked against the config) and
//! unpacked under Landlock), and one [`ImageWriter::commit`] of layers, config,
//! manifest, image, repository digest and tag together; on any error the staging
//! directory goes away and the store is as it was. `error` holds [`PullError`].

mod error;
mod find;
mod layers;
mod policy;

pub use error::{Cancelled, PullError};
pub use policy::{image_for_run, ImageForRunError};

use super::client::{Client, MAX_MANIFEST};
use super::endpoint::endpoint;
use super::progress::Reporter;
use super::Options;
use crate::image::document::Descriptor;
use crate::image::plan::{claim_missing, LayerPlan, Reuse};
use crate::image::platform::Platform;
use crate::image::writer::{Assembly, ImageWriter, NewImage};
use crate::image::ImageConfig;
use crate::reference::Reference;
use error::parse_digest;
use find::{config_and_layers, find_manifest, manifest_error};
use layers::fetch_layers;
use std::io::Read;
use store_layout::{Db, Digest, LayerClaims, Store, StoreError};

/// The largest config blob accepted.
const MAX_CONFIG: u64 = 16 << 20;

/// What a pull did.
pub struct Pulled {
    /// The image ID.
    pub id: Digest,
    /// Whether anything new arrived or a tag moved.
    pub changed: bool,
}

/// Where the pulled image is named: its tag (none for a pull by digest) and repository
/// digest.
struct Names {
    tag: Option<String>,
    repo_digest: String,
    shown: String,
}

/// For an image the store has whole: records the tag and repository digest if they are
/// new; returns whether anything changed.
fn name_present(
    store: &Store,
    db: &Db,
    id: &Digest,
    layers: &[Descriptor],
    names: &Names,
    rep: &Reporter,
) -> Result<bool, PullError> {
    let img = &db.images()[id];
    let up_to_date = img.repo_digests.contains(&names.repo_digest)
        && names
            .tag
            .as_ref()
            .is_none_or(|t| db.tags().get(t) == Some(id));
    if !up_to_date {
        for l in layers {
            let d = parse_digest(&l.digest, "layer")?;
            rep.status(d.short(), "Already exists");
        }
        let mut w = ImageWriter::new(Assembly::Pull);
        w.name(id, names.tag.clone(), Some(names.repo_digest.clone()));
        w.update(store)?;
    }
    Ok(!up_to_date)
}

/// GETs the config blob and checks it against its digest and the manifest.
fn fetch_config(
    client: &Client,
    id: &Digest,
    layers: usize,
) -> Result<(Vec<u8>, ImageConfig), PullError> {
    let (bytes, _) = client.get_small(
        &client.url(&format!("blobs/{id}")),
        "*/*",
        MAX_CONFIG,
        &format!("config {id}"),
    )?;
    let got = Digest::of(&bytes);
    if got != *id {
        return Err(PullError::DigestMismatch {
            what: "config",
            want: id.to_string(),
            got,
        });
    }
    let config = ImageConfig::from_slice(&bytes)
        .map_err(|e| PullError::Invalid(format!("invalid config {id}: {e}")))?;
    if config.rootfs.diff_ids.len() != layers {
        return Err(PullError::Invalid(format!(
            "invalid image: the manifest lists {} layers but the config has {} DiffIDs",
            layers,
            config.rootfs.diff_ids.len()
        )));
    }
    Ok((bytes, config))
}

/// Claims the layers `plan` lacks, waiting for the processes that are making any of
/// them ([`claim_missing`]), and plans again: what they made is reused, not fetched.
/// `blobs` are the layers' blob digests, for the progress lines.
fn claim_layers(
    store: &Store,
    mut plan: LayerPlan,
    blobs: &[Digest],
    rep: &Reporter,
) -> Result<(LayerPlan, LayerClaims), PullError> {
    let chains: Vec<Digest> = plan.layers().iter().map(|l| l.chain.clone()).collect();
    let short = |chain: &Digest| {
        let i = chains.iter().position(|c| c == chain)?;
        Some(blobs[i].short())
    };
    let mut waiting = |chain: &Digest| {
        if let Some(s) = short(chain) {
            rep.status(s, "Waiting for another process");
        }
    };
    let was_missing: Vec<bool> = plan.layers().iter().map(|l| !l.is_stored()).collect();
    let claims = claim_missing(store, &mut [&mut plan], Reuse::Record, &mut waiting)?;
    for ((l, blob), before) in plan.layers().iter().zip(blobs).zip(was_missing) {
        if before && l.is_stored() {
            rep.done(blob.short(), "Already exists");
        }
    }
    Ok((plan, claims))
}

/// How many times a pull starts again when a layer it reused was removed (by `rmi` or
/// `prune`) before it committed.
const LAYER_GONE_RETRIES: u32 = 2;

/// Pulls the image `r` (with a tag or digest) into `store`. A layer that was in the
/// store when the pull began and was removed before it committed is fetched again.
pub fn pull(
    store: &Store,
    r: &Reference,
    platform: &Platform,
    opts: &Options,
    rep: &Reporter,
) -> Result<Pulled, PullError> {
    let mut tries = 0;
    loop {
        match pull_once(store, r, platform, opts, rep) {
            Err(PullError::Store(StoreError::NotFound(_))) if tries < LAYER_GONE_RETRIES => {
                tries += 1;
            }
            result => return result,
        }
    }
}

fn pull_once(
    store: &Store,
    r: &Reference,
    platform: &Platform,
    opts: &Options,
    rep: &Reporter,
) -> Result<Pulled, PullError> {
    let (client, m) = find_manifest(r, platform, opts)?;
    let (id, descs) = config_and_layers(&m)?;
    crate::ingest::check_layer_count(descs.len())?;
    rep.line(&format!(
        "{}: Pulling from {}",
        r.digest().or(r.tag()).unwrap_or("latest"),
        r.path()
    ));
    let names = Names {
        tag: r
            .digest()
            .is_none()
            .then(|| r.with_default_tag().full_string()),
        repo_digest: format!("{}@{}", r.name(), m.top),
        shown: r.familiar_string(),
    };

    let db = store.db()?;
    let present = db.images().get(&id).is_some_and(|img| {
        img.layers.iter().all(|c| db.layers().contains_key(c)) && store.has_blob(&id)
    });
    if present {
        // Complete already: at most a tag or repository digest to record.
        let changed = name_present(store, &db, &id, &descs, &names, rep)?;
        rep.line(&format!("Digest: {}", m.top));
        rep.line(&if changed {
            format!("Status: Downloaded newer image for {}", names.shown)
        } else {
            format!("Status: Image is up to date for {}", names.shown)
        });
        return Ok(Pulled { id, changed });
    }

    let (config_bytes, config) = fetch_config(&client, &id, descs.len())?;
    let diff_ids = config
        .rootfs
        .diff_ids
        .iter()
        .map(|d| parse_digest(d, "DiffID in the config"))
        .collect::<Result<Vec<_>, _>>()?;
    let blobs = descs
        .iter()
        .map(|d| parse_digest(&d.digest, "layer"))
        .collect::<Result<Vec<_>, _>>()?;
    let plan = LayerPlan::new(&db, diff_ids, Reuse::Record);
    for (l, blob) in plan.layers().iter().zip(&blobs) {
        if l.is_stored() {
            rep.done(blob.short(), "Already exists");
        } else {
            rep.status(blob.short(), "Pulling fs layer");
        }
    }
    // Held until the commit: others that need these layers wait for this pull.
    let (plan, _claims) = claim_layers(store, plan, &blobs, rep)?;

    let txn = store.begin()?;
    let layers = fetch_layers(&txn, &client, rep, &plan, &descs).inspect_err(|_| rep.clear())?;
    let image = NewImage {
        config: &config,
        config_bytes: Some(&config_bytes),
        manifest: Some(&m.bytes),
        layers,
        parent: None,
    }
    .stage(&txn)?;
    let mut w = ImageWriter::new(Assembly::Pull);
    let id = w.add(image);
    w.name(&id, names.tag, Some(names.repo_digest));
    w.commit(store, txn)?;
    for (i, _) in plan.missing() {
        rep.done(
            parse_digest(&descs[i].digest, "layer")?.short(),
            "Pull complete",
        );
    }
    rep.line(&format!("Digest: {}", m.top));
    rep.line(&format!(
        "Status: Downloaded newer image for {}",
        names.shown
    ));
    Ok(Pulled { id, changed: true })
}

/// The tags of a repository (`GET /v2/REPO/tags/list`, following `Link` pages).
pub fn list_tags(r: &Reference, opts: &Options) -> Result<Vec<String>, PullError> {
    let ep = endpoint(r.domain(), opts)?;
    let client = Client::new(ep, r.path(), "pull")?;
    let mut url = client.url("tags/list");
    let mut tags = Vec::new();
    for _ in 0..1000 {
        let resp = client
            .send(
                "GET",
                &url,
                &[],
                &super::client::Body::Empty,
                &format!("tags of {}", r.familiar_name()),
            )
            .map_err(|e| manifest_error(e, r))?;
        let next = resp.header("Link").and_then(|l| {
            let s = l.split(';').next()?.trim();
            Some(s.trim_start_matches('<').trim_end_matches('>').to_string())
        });
        let v: serde_json::Value = serde_json::from_reader(resp.into_reader().take(MAX_MANIFEST))
            .map_err(|e| {
            PullError::Invalid(format!("invalid tag list for {}: {e}", r.familiar_name()))
        })?;
        if let Some(a) = v.get("tags").and_then(|t| t.as_array()) {
            tags.extend(a.iter().filter_map(|t| t.as_str().map(str::to_string)));
        }
        match next {
            Some(n) => url = client.absolute(&n),
            None => break,
        }
    }
    Ok(tags)
}
