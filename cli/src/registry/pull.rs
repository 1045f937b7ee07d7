//! The pull pipeline: manifest (index → platform), config, then every missing layer at
//! once, each one stream from socket to disk in one transaction.
//!
//! [`pull`] runs named steps: [`find_manifest`] (mirrors first, then the registry),
//! [`fetch_config`], a [`LayerPlan`] of the image's layers by chain ID (layers already
//! in the store are not fetched), [`fetch_layers`] (a thread per missing layer reads the
//! blob, resuming with `Range` after breaks, and hands it to [`ingest_layer_verified`]:
//! the bytes are written to a staged blob and checked against the manifest's digest,
//! decompressed on a second thread, hashed (the DiffID, checked against the config) and
//! unpacked under Landlock), and one [`ImageWriter::commit`] of layers, config,
//! manifest, image, repository digest and tag together; on any error the staging
//! directory goes away and the store is as it was.

use super::client::{Client, MAX_MANIFEST};
use super::endpoint::{self, endpoint};
use super::progress::Reporter;
use super::slots::Slots;
use super::{Options, RegistryError};
use crate::image::document::{Descriptor, Document};
use crate::image::media_type::{self, ACCEPT_MANIFESTS, DOCKER_SCHEMA1_PREFIX};
use crate::image::plan::{LayerPlan, LayerState, PlannedLayer, Reuse};
use crate::image::platform::{select, Platform};
use crate::image::writer::{
    stage_layer, Assembly, ImageLayers, ImageWriter, NewImage, UnpackedLayer, WriteError,
};
use crate::image::ImageConfig;
use crate::ingest::{ingest_layer_verified, IngestError};
use crate::reference::Reference;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use store_layout::{BlobRef, Db, Digest, Store, StoreError};

/// The largest config blob accepted.
const MAX_CONFIG: u64 = 16 << 20;

/// How many layers are fetched and unpacked at once. Each pipeline holds about 10 MiB
/// of buffers and four threads, so this bounds a pull's memory and threads whatever the
/// number of layers; images with up to this many missing layers get them all at once.
const MAX_LAYERS_AT_ONCE: usize = 8;

/// Why a pull failed; `Display` is the one line the user sees.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The image could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The registry has no such manifest.
    #[error("manifest for {reference} not found: {message}")]
    NotFound {
        /// The reference, as the user knows it.
        reference: String,
        /// The registry's words.
        message: String,
    },
    /// The registry refused access.
    #[error("pull access denied for {name}, repository does not exist or may require 'strata login': {message}")]
    AccessDenied {
        /// The repository, as the user knows it.
        name: String,
        /// The registry's words.
        message: String,
    },
    /// A document or blob is not what its digest says.
    #[error("{what} {want} does not match its digest (it is {got})")]
    DigestMismatch {
        /// `manifest` or `config`.
        what: &'static str,
        /// The digest that names it.
        want: String,
        /// The digest of what came.
        got: Digest,
    },
    /// The registry sent a document strata cannot use.
    #[error("{0}")]
    Invalid(String),
    /// A layer could not be fetched or unpacked.
    #[error("layer {n} ({digest})")]
    Layer {
        /// 1-based position in the image.
        n: usize,
        /// The blob's digest.
        digest: Digest,
        /// What went wrong.
        #[source]
        source: IngestError,
    },
    /// A layer's DiffID is not the one the config lists.
    #[error("layer {n} ({digest}): DiffID mismatch: config says {want}, layer is {got}")]
    DiffIdMismatch {
        /// 1-based position in the image.
        n: usize,
        /// The blob's digest.
        digest: Digest,
        /// The config's DiffID.
        want: Digest,
        /// The layer's.
        got: Digest,
    },
    /// The layer was not fetched (or stopped) because another layer failed.
    #[error("{0}")]
    Cancelled(Cancelled),
    /// A layer thread panicked.
    #[error("a layer thread panicked")]
    Panicked,
}

/// A layer given up because another layer of the same pull failed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("cancelled: another layer failed")]
pub struct Cancelled;

impl PullError {
    /// Whether this is a layer given up because another one failed (not a failure of
    /// its own), also when it surfaced as its reader's error.
    pub fn is_cancelled(&self) -> bool {
        if matches!(self, PullError::Cancelled(_)) {
            return true;
        }
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cur {
            let io_inner = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref());
            if io_inner.is_some_and(|i| i.is::<Cancelled>()) {
                return true;
            }
            cur = e.source();
        }
        false
    }
}

/// What a pull did.
pub struct Pulled {
    /// The image ID.
    pub id: Digest,
    /// Whether anything new arrived or a tag moved.
    pub changed: bool,
}

fn parse_digest(s: &str, what: &str) -> Result<Digest, PullError> {
    Digest::parse(s)
        .map_err(|_| PullError::Invalid(format!("{what}: unsupported or invalid digest {s:?}")))
}

/// Maps an error fetching the manifest to docker's wording.
fn manifest_error(e: RegistryError, r: &Reference) -> PullError {
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

/// Reads that stop once another layer of the same pull has failed.
struct Cancellable<'a, R> {
    inner: R,
    failed: &'a AtomicBool,
}

impl<R: Read> Read for Cancellable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed.load(Ordering::Relaxed) {
            return Err(io::Error::other(Cancelled));
        }
        self.inner.read(buf)
    }
}

/// The manifest of the image to pull.
struct Fetched {
    /// The digest of what the reference names (the index, for a multi-platform image).
    top: Digest,
    /// The image manifest, as served.
    bytes: Vec<u8>,
    /// Its digest.
    digest: Digest,
    /// It, parsed.
    doc: Document,
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
fn find_manifest(
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
fn config_and_layers(m: &Fetched) -> Result<(Digest, Vec<Descriptor>), PullError> {
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

/// One layer to fetch.
struct LayerJob<'a> {
    n: usize,
    digest: Digest,
    desc: &'a Descriptor,
    planned: &'a PlannedLayer,
}

/// What the threads of one pull share.
struct Shared<'a> {
    txn: &'a store_layout::Txn,
    client: &'a Client,
    rep: &'a Reporter,
    failed: &'a AtomicBool,
    slots: &'a Slots,
}

/// Fetches, verifies and unpacks one layer and records it in the transaction; returns
/// its blob and unpacked size.
fn fetch_layer(sh: &Shared, job: &LayerJob) -> Result<(BlobRef, u64), PullError> {
    let _slot = sh.slots.take();
    if sh.failed.load(Ordering::Relaxed) {
        return Err(PullError::Cancelled(Cancelled));
    }
    let short = job.digest.short();
    // A blob that two positions of the image share is fetched by both.
    sh.rep.start(short, "Downloading", job.desc.size);
    let on_bytes = |n: u64| sh.rep.bytes(short, n);
    let reader = Cancellable {
        inner: sh.client.blob_reader(&job.digest, job.desc.size, &on_bytes),
        failed: sh.failed,
    };
    let layer =
        ingest_layer_verified(sh.txn, reader, Some(&job.digest), &|_| {}).map_err(|source| {
            PullError::Layer {
                n: job.n,
                digest: job.digest.clone(),
                source,
            }
        })?;
    if layer.diff_id != job.planned.diff_id {
        return Err(PullError::DiffIdMismatch {
            n: job.n,
            digest: job.digest.clone(),
            want: job.planned.diff_id.clone(),
            got: layer.diff_id,
        });
    }
    let blob = BlobRef {
        digest: job.digest.clone(),
        media_type: if job.desc.media_type.is_empty() {
            layer.blob.media_type.clone()
        } else {
            job.desc.media_type.clone()
        },
        size: layer.blob.size,
    };
    let size = layer.stats.size;
    let unpacked = UnpackedLayer {
        blob: blob.clone(),
        ..layer.into_layer()
    };
    stage_layer(
        sh.txn,
        unpacked,
        job.planned.chain.clone(),
        job.planned.parent.clone(),
    );
    sh.rep.done(short, "Download complete");
    Ok((blob, size))
}

/// Fetches every missing layer of `plan` at once (at most [`MAX_LAYERS_AT_ONCE`]
/// running), into `txn`; returns the image's layers. The first real failure is the
/// error (not a layer cancelled because of it).
fn fetch_layers(
    sh: &Shared,
    plan: &LayerPlan,
    descs: &[Descriptor],
) -> Result<ImageLayers, PullError> {
    let jobs = plan
        .missing()
        .map(|(i, planned)| {
            Ok(LayerJob {
                n: i + 1,
                digest: parse_digest(&descs[i].digest, "layer")?,
                desc: &descs[i],
                planned,
            })
        })
        .collect::<Result<Vec<_>, PullError>>()?;
    let results: Vec<Result<(BlobRef, u64), PullError>> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|job| {
                s.spawn(move || {
                    let r = fetch_layer(sh, job);
                    if r.as_ref().is_err_and(|e| !e.is_cancelled()) {
                        sh.failed.store(true, Ordering::Relaxed);
                    }
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(PullError::Panicked)))
            .collect()
    });
    let mut first_err: Option<PullError> = None;
    let mut fetched = Vec::new();
    for r in results {
        match r {
            Ok(v) => fetched.push(v),
            Err(e) => {
                if first_err
                    .as_ref()
                    .is_none_or(|f| f.is_cancelled() && !e.is_cancelled())
                {
                    first_err = Some(e);
                }
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    let mut fetched = fetched.into_iter();
    let mut layers = ImageLayers::new();
    for l in plan.layers() {
        match &l.state {
            LayerState::Stored(record) => layers.push_stored(l.chain.clone(), record),
            LayerState::Missing => {
                let (blob, size) = fetched.next().expect("one result per missing layer");
                layers.push(l.chain.clone(), blob, size);
            }
        }
    }
    Ok(layers)
}

/// Pulls the image `r` (with a tag or digest) into `store`.
pub fn pull(
    store: &Store,
    r: &Reference,
    platform: &Platform,
    opts: &Options,
    rep: &Reporter,
) -> Result<Pulled, PullError> {
    let (client, m) = find_manifest(r, platform, opts)?;
    let (id, descs) = config_and_layers(&m)?;
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
    let plan = LayerPlan::new(&db, diff_ids, Reuse::Record);
    for (l, d) in plan.layers().iter().zip(&descs) {
        let short = parse_digest(&d.digest, "layer")?;
        let status = if l.is_stored() {
            "Already exists"
        } else {
            "Pulling fs layer"
        };
        rep.status(short.short(), status);
    }

    let txn = store.begin()?;
    let (failed, slots) = (AtomicBool::new(false), Slots::new(MAX_LAYERS_AT_ONCE));
    let shared = Shared {
        txn: &txn,
        client: &client,
        rep,
        failed: &failed,
        slots: &slots,
    };
    let layers = fetch_layers(&shared, &plan, &descs).inspect_err(|_| rep.clear())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn layer_error(source: io::Error) -> PullError {
        PullError::Layer {
            n: 2,
            digest: Digest::of(b"layer"),
            source: IngestError::Read(source),
        }
    }

    #[test]
    fn a_cancelled_layer_is_told_by_its_type_not_its_text() {
        assert!(PullError::Cancelled(Cancelled).is_cancelled());
        assert!(layer_error(io::Error::other(Cancelled)).is_cancelled());
        let lookalike = io::Error::other("cancelled: another layer failed");
        assert!(!layer_error(lookalike).is_cancelled());
        assert!(!PullError::Panicked.is_cancelled());
    }
}
