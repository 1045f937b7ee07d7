//! The pull pipeline: manifest (index → platform), config, then every missing layer at
//! once, each one stream from socket to disk in one transaction.
//!
//! Each missing layer gets a thread that reads the blob (resuming with `Range` after
//! breaks) and hands it to [`ingest_layer_verified`]: the bytes are written to a staged
//! blob and checked against the manifest's digest, decompressed on a second thread,
//! hashed (the DiffID, checked against the config) and unpacked under Landlock. Layers
//! already in the store (by chain ID) are not fetched. Only when every layer is verified
//! does the transaction commit the layers, config, manifest, image and tag together; on
//! any error the staging directory goes away and the store is as it was.

use super::client::{Client, MAX_MANIFEST};
use super::endpoint::{self, endpoint};
use super::manifest::{self, Descriptor, Document, Platform};
use super::progress::Reporter;
use super::slots::Slots;
use super::{Options, RegistryError};
use crate::clock::now_unix;
use crate::image::ImageConfig;
use crate::ingest::ingest_layer_verified;
use crate::reference::Reference;
use anyhow::{anyhow, bail, Context, Result};
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use store_layout::{chain_id, BlobRef, Digest, ImageRecord, LayerRecord, Store};

/// The largest config blob accepted.
const MAX_CONFIG: u64 = 16 << 20;

/// What a pull did.
pub struct Pulled {
    /// The image ID.
    pub id: Digest,
    /// Whether anything new arrived or a tag moved.
    pub changed: bool,
}

/// Layer media types strata can unpack.
fn supported_layer(mt: &str) -> bool {
    mt.is_empty()
        || matches!(
            mt,
            "application/vnd.oci.image.layer.v1.tar"
                | "application/vnd.oci.image.layer.v1.tar+gzip"
                | "application/vnd.oci.image.layer.v1.tar+zstd"
                | "application/vnd.docker.image.rootfs.diff.tar.gzip"
                | "application/vnd.docker.image.rootfs.diff.tar"
                | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        )
}

fn parse_digest(s: &str, what: &str) -> Result<Digest> {
    Digest::parse(s).map_err(|_| anyhow!("{what}: unsupported or invalid digest {s:?}"))
}

/// Maps an error fetching the manifest to docker's wording.
fn manifest_error(e: RegistryError, r: &Reference) -> anyhow::Error {
    let shown = r.familiar_string();
    match &e {
        RegistryError::Status { code: 404, message, .. } => {
            anyhow!("manifest for {shown} not found: {message}")
        }
        RegistryError::Status {
            code: 401 | 403,
            message,
            ..
        } => anyhow!(
            "pull access denied for {}, repository does not exist or may require 'strata login': {message}",
            r.familiar_name()
        ),
        // Refused credentials; a token endpoint that failed in passing is said as it is.
        RegistryError::Auth(m) if m.starts_with("unauthorized") => anyhow!(
            "pull access denied for {}, repository does not exist or may require 'strata login': {m}",
            r.familiar_name()
        ),
        _ => anyhow!(e),
    }
}

/// Reads that stop once another layer of the same pull has failed.
/// How many layers are fetched and unpacked at once. Each pipeline holds about 10 MiB
/// of buffers and four threads, so this bounds a pull's memory and threads whatever the
/// number of layers; images with up to this many missing layers get them all at once.
const MAX_LAYERS_AT_ONCE: usize = 8;

struct Cancellable<'a, R> {
    inner: R,
    failed: &'a AtomicBool,
}

impl<R: Read> Read for Cancellable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed.load(Ordering::Relaxed) {
            return Err(io::Error::other("cancelled: another layer failed"));
        }
        self.inner.read(buf)
    }
}

/// Fetches the manifest `r` names and, through an index, the one for `platform`.
/// Returns (top digest, image manifest bytes, its digest, parsed manifest).
fn fetch_manifest(
    client: &Client,
    r: &Reference,
    platform: &Platform,
) -> Result<(Digest, Vec<u8>, Digest, Document)> {
    let reference = r
        .digest()
        .map(str::to_string)
        .or_else(|| r.tag().map(str::to_string))
        .unwrap_or_else(|| "latest".to_string());
    let what = format!("manifest for {}", r.familiar_string());
    let (bytes, ct) = client
        .get_small(
            &client.url(&format!("manifests/{reference}")),
            manifest::ACCEPT,
            MAX_MANIFEST,
            &what,
        )
        .map_err(|e| manifest_error(e, r))?;
    let top = Digest::of(&bytes);
    if let Some(want) = r.digest() {
        if top.as_str() != want {
            bail!("manifest {want} does not match its digest (it is {top})");
        }
    }
    let doc: Document = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow!("invalid manifest for {}: {e}", r.familiar_string()))?;
    if !doc.is_index(&ct) {
        if doc.schema_version == 1
            || ct.starts_with("application/vnd.docker.distribution.manifest.v1")
        {
            bail!(
                "{}: schema 1 manifests are not supported",
                r.familiar_string()
            );
        }
        return Ok((top.clone(), bytes, top, doc));
    }
    let list = doc.manifests.as_deref().unwrap_or_default();
    let chosen = manifest::select(list, platform).ok_or_else(|| {
        anyhow!("no matching manifest for {platform} in the manifest list entries")
    })?;
    let d = parse_digest(&chosen.digest, "manifest list entry")?;
    let (mbytes, mct) = client
        .get_small(
            &client.url(&format!("manifests/{d}")),
            manifest::ACCEPT,
            MAX_MANIFEST,
            &format!("manifest {d}"),
        )
        .map_err(|e| manifest_error(e, r))?;
    let got = Digest::of(&mbytes);
    if got != d {
        bail!("manifest {d} does not match its digest (it is {got})");
    }
    let m: Document =
        serde_json::from_slice(&mbytes).map_err(|e| anyhow!("invalid manifest {d}: {e}"))?;
    if m.is_index(&mct) {
        bail!("manifest {d}: nested image indexes are not supported");
    }
    Ok((top, mbytes, d, m))
}

/// Pulls the image `r` (with a tag or digest) into `store`.
pub fn pull(
    store: &Store,
    r: &Reference,
    platform: &Platform,
    opts: &Options,
    rep: &Reporter,
) -> Result<Pulled> {
    // Docker Hub's mirrors first, in order; the first that has the manifest serves the
    // whole pull.
    let mut found = None;
    if r.domain() == crate::reference::DEFAULT_DOMAIN {
        for url in endpoint::config()?.mirrors {
            let Ok(ep) = endpoint::mirror_endpoint(&url, opts) else {
                continue;
            };
            let Ok(client) = Client::new(ep, r.path(), "pull") else {
                continue;
            };
            if let Ok(m) = fetch_manifest(&client, r, platform) {
                found = Some((client, m));
                break;
            }
        }
    }
    let (client, (top, manifest_bytes, manifest_digest, m)) = match found {
        Some(f) => f,
        None => {
            let client = Client::new(endpoint::endpoint(r.domain(), opts)?, r.path(), "pull")?;
            let m = fetch_manifest(&client, r, platform)?;
            (client, m)
        }
    };
    let config_desc = m
        .config
        .as_ref()
        .ok_or_else(|| anyhow!("invalid manifest {manifest_digest}: no config"))?;
    let layers: Vec<Descriptor> = m.layers.clone().unwrap_or_default();
    for l in &layers {
        if !supported_layer(&l.media_type) || !l.urls.is_empty() {
            bail!(
                "layer {} has unsupported media type {:?}",
                l.digest,
                l.media_type
            );
        }
    }
    let id = parse_digest(&config_desc.digest, "config")?;
    let shown_ref = r.familiar_string();
    let heading = format!(
        "{}: Pulling from {}",
        r.digest().or(r.tag()).unwrap_or("latest"),
        r.path()
    );
    rep.line(&heading);

    let db = store.db()?;
    let repo_digest = format!("{}@{top}", r.name());
    let tag = if r.digest().is_none() {
        Some(r.with_default_tag().full_string())
    } else {
        None
    };

    let present = db
        .images
        .get(&id)
        .filter(|img| img.layers.iter().all(|c| db.layers.contains_key(c)) && store.has_blob(&id));
    if let Some(img) = present {
        // Complete already: at most a tag or repository digest to record.
        let up_to_date = img.repo_digests.contains(&repo_digest)
            && tag.as_ref().is_none_or(|t| db.tags.get(t) == Some(&id));
        if !up_to_date {
            for l in &layers {
                let d = parse_digest(&l.digest, "layer")?;
                rep.status(d.short(), "Already exists");
            }
            let (tag, rd, id2) = (tag.clone(), repo_digest.clone(), id.clone());
            store.update(move |db| {
                let img = db.images.get_mut(&id2).ok_or_else(|| {
                    store_layout::StoreError::NotFound(format!(
                        "image {id2} (removed while pulling)"
                    ))
                })?;
                if !img.repo_digests.contains(&rd) {
                    img.repo_digests.push(rd);
                }
                if let Some(t) = tag {
                    db.tags.insert(t, id2);
                }
                Ok(())
            })?;
        }
        rep.line(&format!("Digest: {top}"));
        rep.line(&if up_to_date {
            format!("Status: Image is up to date for {shown_ref}")
        } else {
            format!("Status: Downloaded newer image for {shown_ref}")
        });
        return Ok(Pulled {
            id,
            changed: !up_to_date,
        });
    }

    let (config_bytes, _) = client
        .get_small(
            &client.url(&format!("blobs/{id}")),
            "*/*",
            MAX_CONFIG,
            &format!("config {id}"),
        )
        .map_err(|e| anyhow!(e))?;
    let got = Digest::of(&config_bytes);
    if got != id {
        bail!("config {id} does not match its digest (it is {got})");
    }
    let config =
        ImageConfig::from_slice(&config_bytes).map_err(|e| anyhow!("invalid config {id}: {e}"))?;
    if config.rootfs.diff_ids.len() != layers.len() {
        bail!(
            "invalid image: the manifest lists {} layers but the config has {} DiffIDs",
            layers.len(),
            config.rootfs.diff_ids.len()
        );
    }

    // The plan: each layer's chain ID, and whether it must be fetched.
    struct Plan {
        short: String,
        digest: Digest,
        desc: Descriptor,
        diff_id: Digest,
        chain: Digest,
        parent: Option<Digest>,
        existing: Option<LayerRecord>,
    }
    let mut plans = Vec::new();
    let mut parent: Option<Digest> = None;
    for (i, l) in layers.iter().enumerate() {
        let digest = parse_digest(&l.digest, "layer")?;
        let diff_id = parse_digest(&config.rootfs.diff_ids[i], "DiffID in the config")?;
        let chain = chain_id(parent.as_ref(), &diff_id);
        let existing = db.layers.get(&chain).cloned();
        plans.push(Plan {
            short: digest.short().to_string(),
            digest,
            desc: l.clone(),
            diff_id,
            chain: chain.clone(),
            parent: parent.clone(),
            existing,
        });
        parent = Some(chain);
    }
    for p in &plans {
        if p.existing.is_some() {
            rep.status(&p.short, "Already exists");
        } else {
            rep.status(&p.short, "Pulling fs layer");
        }
    }

    let txn = store.begin()?;
    let failed = AtomicBool::new(false);
    let slots = Slots::new(MAX_LAYERS_AT_ONCE);
    let results: Vec<Result<Option<(u64, BlobRef)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = plans
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (txn, client, failed, slots) = (&txn, &client, &failed, &slots);
                s.spawn(move || -> Result<Option<(u64, BlobRef)>> {
                    if p.existing.is_some() {
                        return Ok(None);
                    }
                    let _slot = slots.take();
                    if failed.load(Ordering::Relaxed) {
                        bail!("cancelled: another layer failed");
                    }
                    // A blob that two positions of the image share is fetched by both.
                    rep.start(&p.short, "Downloading", p.desc.size);
                    let on_bytes = |n: u64| rep.bytes(&p.short, n);
                    let reader = Cancellable {
                        inner: client.blob_reader(&p.digest, p.desc.size, &on_bytes),
                        failed,
                    };
                    let res = ingest_layer_verified(txn, reader, Some(&p.digest), &|_| {})
                        .with_context(|| format!("layer {} ({})", i + 1, p.digest));
                    let layer = match res {
                        Ok(l) => l,
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                    };
                    if layer.diff_id != p.diff_id {
                        failed.store(true, Ordering::Relaxed);
                        bail!(
                            "layer {} ({}): DiffID mismatch: config says {}, layer is {}",
                            i + 1,
                            p.digest,
                            p.diff_id,
                            layer.diff_id
                        );
                    }
                    let blob = BlobRef {
                        digest: p.digest.clone(),
                        media_type: if p.desc.media_type.is_empty() {
                            layer.blob.media_type.clone()
                        } else {
                            p.desc.media_type.clone()
                        },
                        size: layer.blob.size,
                    };
                    txn.add_layer(
                        layer.index,
                        p.chain.clone(),
                        LayerRecord {
                            diff_id: p.diff_id.clone(),
                            parent: p.parent.clone(),
                            size: layer.stats.size,
                            blob: Some(blob.clone()),
                        },
                    );
                    rep.done(&p.short, "Download complete");
                    Ok(Some((layer.stats.size, blob)))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a layer thread panicked")))
            })
            .collect()
    });
    // The first real error (not a layer cancelled because another one failed).
    let mut first_err = None;
    let mut sizes = Vec::new();
    for res in results {
        match res {
            Ok(v) => sizes.push(v),
            Err(e) => {
                let cancelled = format!("{e:#}").contains("cancelled: another layer failed");
                if first_err.is_none()
                    || (!cancelled && first_err.as_ref().is_some_and(|(c, _)| *c))
                {
                    first_err = Some((cancelled, e));
                }
            }
        }
    }
    if let Some((_, e)) = first_err {
        rep.clear();
        return Err(e);
    }

    let mut size = 0u64;
    for (p, s) in plans.iter().zip(&sizes) {
        size += match (s, &p.existing) {
            (Some((n, _)), _) => *n,
            (None, Some(rec)) => rec.size,
            (None, None) => 0,
        };
    }
    txn.put_blob(&config_bytes)?;
    txn.put_blob(&manifest_bytes)?;
    let record = ImageRecord {
        manifest: manifest_digest,
        layers: plans.iter().map(|p| p.chain.clone()).collect(),
        created: config.created.clone(),
        size,
        repo_digests: vec![repo_digest.clone()],
        labels: config.labels(),
        parent: None,
        added: now_unix(),
    };
    let id2 = id.clone();
    store.commit(txn, move |db| {
        // A layer that was already here may have gone while this pull ran.
        for c in &record.layers {
            if !db.layers.contains_key(c) {
                return Err(store_layout::StoreError::NotFound(format!(
                    "layer {c} (removed while pulling; pull again)"
                )));
            }
        }
        let img = db.images.entry(id2.clone()).or_insert(record);
        if !img.repo_digests.contains(&repo_digest) {
            img.repo_digests.push(repo_digest);
        }
        if let Some(t) = tag {
            db.tags.insert(t, id2);
        }
        Ok(())
    })?;
    for (p, s) in plans.iter().zip(&sizes) {
        if s.is_some() {
            rep.done(&p.short, "Pull complete");
        }
    }
    rep.line(&format!("Digest: {top}"));
    rep.line(&format!("Status: Downloaded newer image for {shown_ref}"));
    Ok(Pulled { id, changed: true })
}

/// The tags of a repository (`GET /v2/REPO/tags/list`, following `Link` pages).
pub fn list_tags(r: &Reference, opts: &Options) -> Result<Vec<String>> {
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
        let v: serde_json::Value =
            serde_json::from_reader(resp.into_reader().take(MAX_MANIFEST))
                .map_err(|e| anyhow!("invalid tag list for {}: {e}", r.familiar_name()))?;
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
