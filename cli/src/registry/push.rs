//! The push pipeline: every blob of the image at once, each skipped when the registry
//! has it (HEAD), mounted from another repository of the same registry when a local
//! image came from there, or uploaded (POST, then one monolithic PUT streamed from the
//! store); then the manifest.
//!
//! Layers stored uncompressed (imported or loaded as plain tar, committed) are compressed
//! once, in parallel (see `compress`), while they are uploaded (a chunked `PATCH`), into
//! new blobs that the store remembers (`Db::compressed`), so the next push of the same
//! layer sends the same bytes without compressing again.

use super::client::{Body, Client};
use super::compress::gzip_parallel;
use super::endpoint::endpoint;
use super::manifest::Document;
use super::progress::{ByteCounter, Reporter};
use super::{Options, RegistryError};
use crate::image::manifest::{manifest_bytes, oci_manifest, LAYER_GZIP, LAYER_TAR, LAYER_ZSTD};
use crate::layer::readahead::{self, Feeder};
use crate::reference::Reference;
use crate::resolve::resolve;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use store_layout::{BlobRef, Digest, Store, Txn};

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

/// The compressed copies the store already has of uncompressed layer blobs.
fn known_copies(
    store: &Store,
    db: &store_layout::Db,
    raw: &[BlobRef],
    how: LayerCompression,
) -> BTreeMap<Digest, BlobRef> {
    raw.iter()
        .filter_map(|b| {
            db.compressed()
                .get(&b.digest)
                .and_then(|v| v.iter().find(|c| c.media_type == how.media_type()))
                .filter(|c| store.has_blob(&c.digest))
                .map(|c| (b.digest.clone(), c.clone()))
        })
        .collect()
}

/// Writes to a staged blob and, while the upload takes them, to a read-ahead stage.
struct Tee<W> {
    file: W,
    chan: Option<Feeder>,
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write_all(buf)?;
        if let Some(c) = &self.chan {
            if !c.send_copy(buf) {
                // The upload stopped; the blob is still written, for a second try.
                self.chan = None;
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Compresses a stored uncompressed layer into a new blob of `txn` (`how`, in parallel)
/// and writes the compressed bytes to `out` as well.
fn compress_into(
    store: &Store,
    txn: &Txn,
    raw: &BlobRef,
    how: LayerCompression,
    chan: Feeder,
    counter: &ByteCounter,
) -> Result<BlobRef> {
    let mut src = store_layout::Sha256Writer::new(io::BufReader::with_capacity(
        1 << 20,
        counter.wrap(store.open_blob(&raw.digest)?, 0),
    ));
    let mut tee = Tee {
        file: io::BufWriter::with_capacity(1 << 20, txn.blob_writer()?),
        chan: Some(chan),
    };
    match how {
        LayerCompression::Gzip => {
            let threads = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2);
            gzip_parallel(&mut src, &mut tee, threads).context("cannot compress a layer")?;
        }
        LayerCompression::Zstd => {
            let mut enc = zstd::Encoder::new(&mut tee, 3).context("cannot compress a layer")?;
            io::copy(&mut src, &mut enc).context("cannot compress a layer")?;
            enc.finish().context("cannot compress a layer")?;
        }
    }
    let Tee { file, chan } = tee;
    if let Some(c) = chan {
        c.finish();
    }
    let w = file
        .into_inner()
        .map_err(|e| e.into_error())
        .context("cannot compress a layer")?;
    let (_, read, _) = src.finish();
    if read != raw.digest {
        bail!(
            "stored blob {} is corrupt (it hashes to {read})",
            raw.digest
        );
    }
    let (digest, size) = txn.finish_blob(w, None)?;
    Ok(BlobRef {
        digest,
        media_type: how.media_type().to_string(),
        size,
    })
}

/// Compresses a layer while it is uploaded (one chunked `PATCH`, then `PUT ?digest=`);
/// when the streamed upload fails, the compressed blob (kept in `txn`) is uploaded again
/// as a whole. Returns the compressed blob and the status line.
fn compress_and_send(
    client: &Client,
    store: &Store,
    txn: &Txn,
    raw: &BlobRef,
    how: LayerCompression,
    counter: &ByteCounter,
) -> Result<(BlobRef, String)> {
    let what = format!("blob upload for layer {}", raw.digest);
    let start = client.send(
        "POST",
        &client.url("blobs/uploads/"),
        &[],
        &Body::Empty,
        &what,
    )?;
    let loc = start
        .header("Location")
        .map(|l| client.absolute(l))
        .ok_or_else(|| anyhow!("{what}: no Location in the answer"))?;
    let (tx, rx) = readahead::stage(16, 1 << 20);
    let body = Body::Once(std::sync::Mutex::new(Some(Box::new(rx))));
    let (made, patched) = std::thread::scope(|s| {
        let h = s.spawn(|| compress_into(store, txn, raw, how, tx, counter));
        let patched = client.send("PATCH", &loc, &[], &body, &what);
        drop(body);
        let made = h
            .join()
            .unwrap_or_else(|_| Err(anyhow!("a compression thread panicked")));
        (made, patched)
    });
    let blob = made?;
    let d = &blob.digest;
    if let Ok(resp) = patched {
        let next = resp
            .header("Location")
            .map(|l| client.absolute(l))
            .unwrap_or(loc);
        let sep = if next.contains('?') { '&' } else { '?' };
        if client
            .send(
                "PUT",
                &format!("{next}{sep}digest={d}"),
                &[],
                &Body::Empty,
                &what,
            )
            .is_ok()
        {
            return Ok((blob, "Pushed".into()));
        }
    }
    let staged = txn.scratch().join("blobs").join(d.hex());
    let open = |offset: u64| open_file_at(&staged, offset, &ByteCounter::none());
    let u = Upload {
        short: String::new(),
        blob: blob.clone(),
        mount_from: Vec::new(),
        config: false,
    };
    let status = send_blob(client, &open, &u)?;
    Ok((blob, status))
}

/// Opens a stored blob at a byte offset (a retry or a chunk starts anywhere).
type OpenAt<'a> = &'a (dyn Fn(u64) -> io::Result<Box<dyn Read + Send>> + Sync);

/// Opens the file `path` at `offset`, buffered, its bytes counted on `counter`.
fn open_file_at(
    path: &std::path::Path,
    offset: u64,
    counter: &ByteCounter,
) -> io::Result<Box<dyn Read + Send>> {
    use std::io::Seek;
    let mut f = std::fs::File::open(path)?;
    f.seek(io::SeekFrom::Start(offset))?;
    Ok(counter.wrap(io::BufReader::with_capacity(1 << 20, f), offset))
}

/// The smallest chunk the registry takes, from an upload session's start
/// (`OCI-Chunk-Min-Length`), when it names one.
fn chunk_min(resp: &ureq::Response) -> Option<u64> {
    resp.header("OCI-Chunk-Min-Length")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
}

/// The smallest chunk sent to a registry that asks for chunks (fewer round trips than
/// a tiny minimum would make).
const CHUNK_FLOOR: u64 = 1 << 20;

/// Sends a blob of `size` bytes into the upload session at `location` in `PATCH`
/// chunks of `chunk` bytes (each with its `Content-Range`, all but the last of that
/// size), following each answer's `Location`, then closes it with `PUT ?digest=`.
fn send_chunked(
    client: &Client,
    open: OpenAt<'_>,
    size: u64,
    mut location: String,
    chunk: u64,
    d: &Digest,
    what: &str,
) -> Result<(), RegistryError> {
    let mut off = 0;
    while off < size {
        let (start, len) = (off, chunk.min(size - off));
        let part =
            move || -> io::Result<Box<dyn Read + Send>> { Ok(Box::new(open(start)?.take(len))) };
        let range = format!("{start}-{}", start + len - 1);
        let resp = client.send(
            "PATCH",
            &location,
            &[("Content-Range", &range)],
            &Body::Stream(&part, len),
            what,
        )?;
        if let Some(l) = resp.header("Location") {
            location = client.absolute(l);
        }
        off += len;
    }
    let sep = if location.contains('?') { '&' } else { '?' };
    client.send(
        "PUT",
        &format!("{location}{sep}digest={d}"),
        &[],
        &Body::Empty,
        what,
    )?;
    Ok(())
}

/// Sends one blob; returns the status line (`Pushed`, `Layer already exists`,
/// `Mounted from …`). The upload is one monolithic `PUT`, or chunks when the registry
/// names a minimum chunk size.
fn send_blob(client: &Client, open: OpenAt<'_>, u: &Upload) -> Result<String, RegistryError> {
    let d = &u.blob.digest;
    if client.has_blob(d)? {
        return Ok("Layer already exists".into());
    }
    let what = format!("blob upload {d}");
    let mut session = None;
    // One mount attempt, from the first repository known to have the blob; a registry
    // that cannot mount answers 202 with an ordinary upload session.
    if let Some(from) = u.mount_from.first() {
        let url = format!("{}?mount={d}&from={from}", client.url("blobs/uploads/"));
        let resp = client.send("POST", &url, &[], &Body::Empty, &what)?;
        if resp.status() == 201 {
            return Ok(format!("Mounted from {from}"));
        }
        session = resp
            .header("Location")
            .map(|l| (client.absolute(l), chunk_min(&resp)));
    }
    let (location, min) = match session {
        Some(s) => s,
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
            (client.absolute(l), chunk_min(&resp))
        }
    };
    if let Some(min) = min.filter(|_| u.blob.size > 0) {
        let chunk = min.max(CHUNK_FLOOR);
        send_chunked(client, open, u.blob.size, location, chunk, d, &what)?;
        return Ok("Pushed".into());
    }
    let sep = if location.contains('?') { '&' } else { '?' };
    let url = format!("{location}{sep}digest={d}");
    let whole = || open(0);
    client.send("PUT", &url, &[], &Body::Stream(&whole, u.blob.size), &what)?;
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
        .images()
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
        let rec = db.layers().get(c).ok_or_else(|| {
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
    // Copies compressed by an earlier push are sent as they are; the others are
    // compressed while they are uploaded, into a transaction that keeps them.
    let known = known_copies(store, &db, &raw, how);
    let mut blobs: Vec<Option<BlobRef>> = stored_blobs
        .iter()
        .map(|b| {
            if is_uncompressed(&b.media_type) {
                known.get(&b.digest).cloned()
            } else {
                Some(b.clone())
            }
        })
        .collect();
    let txn = if blobs.iter().any(Option::is_none) {
        Some(store.begin()?)
    } else {
        None
    };

    // Other repositories of this registry that hold a layer, from local images' names.
    let mut client = Client::new(endpoint(r.domain(), opts)?, r.path(), "pull,push")?;
    let mut sources: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
    for other in db.images().values() {
        let names = other
            .repo_digests
            .iter()
            .filter_map(|rd| Reference::parse(rd).ok())
            .filter(|o| o.domain() == r.domain() && o.path() != r.path());
        for o in names {
            for c in &other.layers {
                let Some(b) = db.layers().get(c).and_then(|l| l.blob.as_ref()) else {
                    continue;
                };
                let copies = db.compressed().get(&b.digest).into_iter().flatten();
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
    let mut to_compress: Vec<(String, BlobRef)> = Vec::new();
    for ((b, stored), diff) in blobs.iter().zip(&stored_blobs).zip(&diff_ids).rev() {
        let Some(b) = b else {
            if !to_compress.iter().any(|(_, r)| r.digest == stored.digest) {
                to_compress.push((diff.short().to_string(), stored.clone()));
            }
            continue;
        };
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
    for short in uploads
        .iter()
        .filter(|u| !u.config)
        .map(|u| &u.short)
        .chain(to_compress.iter().map(|(s, _)| s))
    {
        rep.status(short, "Preparing");
    }
    let (sent, made) = std::thread::scope(|s| {
        let client = &client;
        let sending: Vec<_> = uploads
            .iter()
            .map(|u| {
                s.spawn(move || -> Result<(), RegistryError> {
                    if !u.config {
                        rep.start(&u.short, "Pushing", u.blob.size);
                    }
                    let d = &u.blob.digest;
                    let counter = if u.config {
                        ByteCounter::none()
                    } else {
                        rep.counter(&u.short)
                    };
                    let path = store.blob_path(d);
                    let open = |offset: u64| open_file_at(&path, offset, &counter);
                    let st = send_blob(client, &open, u)?;
                    if !u.config {
                        rep.done(&u.short, &st);
                    }
                    Ok(())
                })
            })
            .collect();
        let compressing: Vec<_> = to_compress
            .iter()
            .map(|(short, raw)| {
                let txn = txn.as_ref().expect("a transaction for compressed copies");
                s.spawn(move || -> Result<(Digest, BlobRef)> {
                    // The bar counts the layer's uncompressed bytes as they are compressed
                    // (and so sent).
                    rep.start(short, "Pushing", raw.size);
                    let counter = rep.counter(short);
                    let (blob, st) = compress_and_send(client, store, txn, raw, how, &counter)?;
                    rep.done(short, &st);
                    Ok((raw.digest.clone(), blob))
                })
            })
            .collect();
        let sent: Vec<Result<(), RegistryError>> = sending
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(RegistryError::Invalid("an upload thread panicked".into()))
                })
            })
            .collect();
        let made: Vec<Result<(Digest, BlobRef)>> = compressing
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("an upload thread panicked")))
            })
            .collect();
        (sent, made)
    });
    for res in sent {
        if let Err(e) = res {
            rep.clear();
            return Err(anyhow!(e));
        }
    }
    let mut fresh: BTreeMap<Digest, BlobRef> = BTreeMap::new();
    for res in made {
        match res {
            Ok((k, b)) => {
                fresh.insert(k, b);
            }
            Err(e) => {
                rep.clear();
                return Err(e);
            }
        }
    }
    let blobs: Vec<BlobRef> = blobs
        .iter_mut()
        .zip(&stored_blobs)
        .map(|(b, stored)| {
            b.take()
                .or_else(|| fresh.get(&stored.digest).cloned())
                .expect("every layer was sent")
        })
        .collect();

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
    let record = move |db: &mut store_layout::Db| {
        for (k, c) in fresh {
            db.add_compressed(k, c);
        }
        if db.images().contains_key(&id2) {
            db.add_repo_digest(&id2, rd)?;
        }
        Ok(())
    };
    match txn {
        Some(t) => store.commit(t, record)?,
        None => store.update(record)?,
    };
    rep.line(&format!("{tag}: digest: {digest} size: {}", manifest.len()));
    Ok(Pushed {
        digest,
        size: manifest.len(),
    })
}
