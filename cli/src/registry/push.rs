//! The push pipeline: every blob of the image at once, each skipped when the registry
//! has it (HEAD), mounted from another repository of the same registry when a local
//! image came from there, or uploaded (POST, then one monolithic PUT streamed from the
//! store); then the manifest.
//!
//! Layers stored uncompressed (imported or loaded as plain tar) are compressed once, in
//! parallel, into new blobs that the store remembers (`Db::compressed`), so the next
//! push of the same layer sends the same bytes without compressing again.

use super::client::{Body, Client};
use super::endpoint::endpoint;
use super::manifest::Document;
use super::progress::Reporter;
use super::{Options, RegistryError};
use crate::image::manifest::{manifest_bytes, oci_manifest, LAYER_GZIP, LAYER_TAR, LAYER_ZSTD};
use crate::reference::Reference;
use crate::resolve::resolve;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use store_layout::{BlobRef, Digest, Store};

/// How layers stored uncompressed are compressed for the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LayerCompression {
    /// gzip (every registry and client reads it).
    Gzip,
    /// zstd (OCI 1.1).
    Zstd,
}

impl LayerCompression {
    fn media_type(self) -> &'static str {
        match self {
            LayerCompression::Gzip => LAYER_GZIP,
            LayerCompression::Zstd => LAYER_ZSTD,
        }
    }
}

fn is_uncompressed(mt: &str) -> bool {
    mt == LAYER_TAR || mt == "application/vnd.docker.image.rootfs.diff.tar"
}

/// One blob to send.
struct Upload {
    /// What the user sees (the layer's DiffID, short; the config's ID).
    short: String,
    blob: BlobRef,
    /// Other repositories of the same registry that have it.
    mount_from: Vec<String>,
    /// Whether it is the config (no status line).
    config: bool,
}

/// What a push did.
pub struct Pushed {
    /// The manifest digest.
    pub digest: Digest,
    /// The manifest's size.
    pub size: usize,
}

/// Compresses the stored uncompressed layer blobs that have no compressed copy yet, all
/// at once, and commits the copies; returns uncompressed digest → compressed blob.
fn compress_layers(
    store: &Store,
    blobs: &[BlobRef],
    how: LayerCompression,
) -> Result<BTreeMap<Digest, BlobRef>> {
    let db = store.db()?;
    let mut out = BTreeMap::new();
    let mut todo: Vec<&BlobRef> = Vec::new();
    for b in blobs {
        let known = db
            .compressed
            .get(&b.digest)
            .and_then(|v| v.iter().find(|c| c.media_type == how.media_type()))
            .filter(|c| store.has_blob(&c.digest));
        match known {
            Some(c) => {
                out.insert(b.digest.clone(), c.clone());
            }
            None if !todo.iter().any(|t| t.digest == b.digest) => todo.push(b),
            None => {}
        }
    }
    if todo.is_empty() {
        return Ok(out);
    }
    let txn = store.begin()?;
    let made: Vec<Result<(Digest, BlobRef)>> = std::thread::scope(|s| {
        let hs: Vec<_> =
            todo.iter()
                .map(|b| {
                    let txn = &txn;
                    s.spawn(move || -> Result<(Digest, BlobRef)> {
                        let mut src = store_layout::Sha256Writer::new(
                            io::BufReader::with_capacity(1 << 20, store.open_blob(&b.digest)?),
                        );
                        let w = txn.blob_writer()?;
                        let w = match how {
                            LayerCompression::Gzip => {
                                let mut enc = flate2::write::GzEncoder::new(
                                    io::BufWriter::with_capacity(1 << 20, w),
                                    flate2::Compression::fast(),
                                );
                                io::copy(&mut src, &mut enc).context("cannot compress a layer")?;
                                enc.finish()
                                    .and_then(|b| b.into_inner().map_err(|e| e.into_error()))
                                    .context("cannot compress a layer")?
                            }
                            LayerCompression::Zstd => {
                                let mut enc =
                                    zstd::Encoder::new(io::BufWriter::with_capacity(1 << 20, w), 3)
                                        .context("cannot compress a layer")?;
                                io::copy(&mut src, &mut enc).context("cannot compress a layer")?;
                                let mut bw = enc.finish().context("cannot compress a layer")?;
                                bw.flush().context("cannot compress a layer")?;
                                bw.into_inner()
                                    .map_err(|e| e.into_error())
                                    .context("cannot compress a layer")?
                            }
                        };
                        let (_, read, _) = src.finish();
                        if read != b.digest {
                            bail!("stored blob {} is corrupt (it hashes to {read})", b.digest);
                        }
                        let (digest, size) = txn.finish_blob(w, None)?;
                        Ok((
                            b.digest.clone(),
                            BlobRef {
                                digest,
                                media_type: how.media_type().to_string(),
                                size,
                            },
                        ))
                    })
                })
                .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a compression thread panicked")))
            })
            .collect()
    });
    let made = made.into_iter().collect::<Result<Vec<_>>>()?;
    let record = made.clone();
    store.commit(txn, move |db| {
        for (k, c) in record {
            let v = db.compressed.entry(k).or_default();
            if !v.iter().any(|x| x.digest == c.digest) {
                v.push(c);
            }
        }
        Ok(())
    })?;
    out.extend(made);
    Ok(out)
}

/// Sends one blob; returns the status line (`Pushed`, `Layer already exists`,
/// `Mounted from …`).
fn send_blob(client: &Client, store: &Store, u: &Upload) -> Result<String, RegistryError> {
    let d = &u.blob.digest;
    if client.has_blob(d)? {
        return Ok("Layer already exists".into());
    }
    let what = format!("blob upload {d}");
    let mut location = None;
    // One mount attempt, from the first repository known to have the blob; a registry
    // that cannot mount answers 202 with an ordinary upload session.
    if let Some(from) = u.mount_from.first() {
        let url = format!("{}?mount={d}&from={from}", client.url("blobs/uploads/"));
        let resp = client.send("POST", &url, &[], &Body::Empty, &what)?;
        if resp.status() == 201 {
            return Ok(format!("Mounted from {from}"));
        }
        location = resp.header("Location").map(|l| client.absolute(l));
    }
    let location = match location {
        Some(l) => l,
        None => {
            let resp = client.send(
                "POST",
                &client.url("blobs/uploads/"),
                &[],
                &Body::Empty,
                &what,
            )?;
            let l = resp.header("Location").ok_or_else(|| {
                RegistryError::Invalid(format!("{what}: no Location in the answer"))
            })?;
            client.absolute(l)
        }
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let url = format!("{location}{sep}digest={d}");
    let open = || -> io::Result<Box<dyn Read + Send>> {
        let f = store
            .open_blob(d)
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Box::new(io::BufReader::with_capacity(1 << 20, f)))
    };
    client.send("PUT", &url, &[], &Body::Stream(&open, u.blob.size), &what)?;
    Ok("Pushed".into())
}

/// Pushes the local image `r` (with its tag) to its registry.
pub fn push(
    store: &Store,
    r: &Reference,
    opts: &Options,
    rep: &Reporter,
    how: LayerCompression,
) -> Result<Pushed> {
    let db = store.db()?;
    let (id, _) = resolve(&db, &r.full_string()).map_err(|_| {
        anyhow!(
            "An image does not exist locally with the tag: {}",
            r.without_tag_or_digest().familiar_string()
        )
    })?;
    let img = db
        .images
        .get(&id)
        .ok_or_else(|| anyhow!("No such image: {}", r.familiar_string()))?;
    let stored_manifest = store
        .read_blob(&img.manifest)
        .with_context(|| format!("cannot read the manifest of {}", r.familiar_string()))?;
    let stored: Document = serde_json::from_slice(&stored_manifest)
        .with_context(|| format!("the manifest of {} is not valid", r.familiar_string()))?;
    let config_size = store
        .open_blob(&id)
        .and_then(|f| {
            f.metadata().map_err(|e| store_layout::StoreError::Io {
                path: store.blob_path(&id),
                source: e,
            })
        })
        .with_context(|| format!("cannot read the config of {}", r.familiar_string()))?
        .len();

    // The blobs as stored, and which must be compressed first.
    let mut stored_blobs = Vec::new();
    let mut diff_ids = Vec::new();
    for c in &img.layers {
        let rec = db.layers.get(c).ok_or_else(|| {
            anyhow!(
                "layer {c} of {} is missing from the store",
                r.familiar_string()
            )
        })?;
        let b = rec.blob.clone().ok_or_else(|| {
            anyhow!(
                "layer {c} of {} has no stored archive to push",
                r.familiar_string()
            )
        })?;
        stored_blobs.push(b);
        diff_ids.push(rec.diff_id.clone());
    }
    let raw: Vec<BlobRef> = stored_blobs
        .iter()
        .filter(|b| is_uncompressed(&b.media_type))
        .cloned()
        .collect();
    let compressed = if raw.is_empty() {
        BTreeMap::new()
    } else {
        compress_layers(store, &raw, how)?
    };
    let blobs: Vec<BlobRef> = stored_blobs
        .iter()
        .map(|b| {
            compressed
                .get(&b.digest)
                .cloned()
                .unwrap_or_else(|| b.clone())
        })
        .collect();

    // Other repositories of this registry that hold a layer, from local images' names.
    let mut client = Client::new(endpoint(r.domain(), opts)?, r.path(), "pull,push")?;
    let mut sources: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
    for other in db.images.values() {
        let names = other
            .repo_digests
            .iter()
            .filter_map(|rd| Reference::parse(rd).ok())
            .filter(|o| o.domain() == r.domain() && o.path() != r.path());
        for o in names {
            for c in &other.layers {
                let Some(b) = db.layers.get(c).and_then(|l| l.blob.as_ref()) else {
                    continue;
                };
                let copies = db.compressed.get(&b.digest).into_iter().flatten();
                for d in std::iter::once(&b.digest).chain(copies.map(|c| &c.digest)) {
                    let v = sources.entry(d.clone()).or_default();
                    if !v.contains(&o.path().to_string()) && v.len() < 3 {
                        v.push(o.path().to_string());
                    }
                }
            }
        }
    }
    for repos in sources.values() {
        for repo in repos {
            client.add_scope(&format!("repository:{repo}:pull"));
        }
    }

    rep.line(&format!(
        "The push refers to repository [{}]",
        r.without_tag_or_digest().familiar_string()
    ));
    let mut uploads: Vec<Upload> = Vec::new();
    for (b, diff) in blobs.iter().zip(&diff_ids).rev() {
        if uploads.iter().any(|u| u.blob.digest == b.digest) {
            continue;
        }
        uploads.push(Upload {
            short: diff.short().to_string(),
            blob: b.clone(),
            mount_from: sources.get(&b.digest).cloned().unwrap_or_default(),
            config: false,
        });
    }
    uploads.push(Upload {
        short: id.short().to_string(),
        blob: BlobRef {
            digest: id.clone(),
            media_type: String::new(),
            size: config_size,
        },
        mount_from: Vec::new(),
        config: true,
    });
    for u in uploads.iter().filter(|u| !u.config) {
        rep.status(&u.short, "Preparing");
    }
    let results: Vec<Result<String, RegistryError>> = std::thread::scope(|s| {
        let hs: Vec<_> = uploads
            .iter()
            .map(|u| {
                let client = &client;
                s.spawn(move || {
                    if !u.config {
                        rep.start(&u.short, "Pushing", u.blob.size);
                    }
                    let res = send_blob(client, store, u);
                    if let (Ok(st), false) = (&res, u.config) {
                        rep.done(&u.short, st);
                    }
                    res
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(RegistryError::Invalid("an upload thread panicked".into()))
                })
            })
            .collect()
    });
    for res in results {
        if let Err(e) = res {
            rep.clear();
            return Err(anyhow!(e));
        }
    }

    // The stored manifest when it names exactly these blobs, else a new OCI manifest.
    let same = stored.layers.as_ref().is_some_and(|ls| {
        ls.len() == blobs.len()
            && ls
                .iter()
                .zip(&blobs)
                .all(|(l, b)| l.digest == b.digest.as_str())
    }) && stored
        .config
        .as_ref()
        .is_some_and(|c| c.digest == id.as_str());
    let (manifest, media_type) = if same {
        let mt = stored.kind("");
        (stored_manifest, mt)
    } else {
        (
            manifest_bytes(&oci_manifest(&id, config_size, &blobs)),
            super::manifest::OCI_MANIFEST.to_string(),
        )
    };
    let tag = r.tag().unwrap_or("latest");
    client
        .send(
            "PUT",
            &client.url(&format!("manifests/{tag}")),
            &[],
            &Body::Bytes(&manifest, &media_type),
            &format!("manifest for {}", r.familiar_string()),
        )
        .map_err(|e| anyhow!(e))?;
    let digest = Digest::of(&manifest);
    let rd = format!("{}@{digest}", r.name());
    let id2 = id.clone();
    store.update(move |db| {
        if let Some(img) = db.images.get_mut(&id2) {
            if !img.repo_digests.contains(&rd) {
                img.repo_digests.push(rd);
            }
        }
        Ok(())
    })?;
    rep.line(&format!("{tag}: digest: {digest} size: {}", manifest.len()));
    Ok(Pushed {
        digest,
        size: manifest.len(),
    })
}
