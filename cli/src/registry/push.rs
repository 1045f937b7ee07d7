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
use super::progress::{ByteCounter, Reporter};
use super::{Options, RegistryError};
use crate::image::document::Document;
use crate::image::manifest::{manifest_bytes, oci_manifest};
use crate::image::media_type::{LAYER_GZIP, LAYER_TAR, LAYER_ZSTD};
use crate::layer::readahead::{self, Feeder};
use crate::reference::Reference;
use crate::resolve::resolve;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use store_layout::{BlobRef, Db, Digest, Store, StoreError, Txn};

/// Why a push failed; `Display` is the line the user sees (its causes follow).
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// No local image has the name and tag.
    #[error("An image does not exist locally with the tag: {0}")]
    NotLocal(String),
    /// The name resolved to an image the store does not hold.
    #[error("No such image: {0}")]
    NoSuchImage(String),
    /// The image's stored manifest cannot be read.
    #[error("cannot read the manifest of {name}")]
    ReadManifest {
        /// The image, as the user named it.
        name: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The image's stored manifest is not a manifest.
    #[error("the manifest of {name} is not valid")]
    InvalidManifest {
        /// The image, as the user named it.
        name: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The image's config cannot be read.
    #[error("cannot read the config of {name}")]
    ReadConfig {
        /// The image, as the user named it.
        name: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// A layer of the image has no record in the store.
    #[error("layer {layer} of {name} is missing from the store")]
    MissingLayer {
        /// The layer's chain ID.
        layer: Digest,
        /// The image, as the user named it.
        name: String,
    },
    /// A layer of the image was kept without its archive.
    #[error("layer {layer} of {name} has no stored archive to push")]
    NoArchive {
        /// The layer's chain ID.
        layer: Digest,
        /// The image, as the user named it.
        name: String,
    },
    /// Compressing a stored uncompressed layer failed.
    #[error("cannot compress a layer")]
    Compress(#[source] io::Error),
    /// A stored blob does not hash to its name.
    #[error("stored blob {digest} is corrupt (it hashes to {read})")]
    Corrupt {
        /// The blob's name.
        digest: Digest,
        /// What its bytes hash to.
        read: Digest,
    },
    /// A worker thread panicked (`an upload thread`, `a compression thread`).
    #[error("{0} panicked")]
    Panicked(&'static str),
    /// The registry refused or could not be reached.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

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
/// and hands the compressed bytes to the upload through `chan` as well.
fn compress_into(
    store: &Store,
    txn: &Txn,
    raw: &BlobRef,
    how: LayerCompression,
    chan: Feeder,
    counter: &ByteCounter,
) -> Result<BlobRef, PushError> {
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
            gzip_parallel(&mut src, &mut tee, threads).map_err(PushError::Compress)?;
        }
        LayerCompression::Zstd => {
            let mut enc = zstd::Encoder::new(&mut tee, 3).map_err(PushError::Compress)?;
            io::copy(&mut src, &mut enc).map_err(PushError::Compress)?;
            enc.finish().map_err(PushError::Compress)?;
        }
    }
    let Tee { file, chan } = tee;
    if let Some(c) = chan {
        c.finish();
    }
    let w = file
        .into_inner()
        .map_err(|e| PushError::Compress(e.into_error()))?;
    let (_, read, _) = src.finish();
    if read != raw.digest {
        return Err(PushError::Corrupt {
            digest: raw.digest.clone(),
            read,
        });
    }
    let (digest, size) = txn.finish_blob(w, None)?;
    Ok(BlobRef {
        digest,
        media_type: how.media_type().to_string(),
        size,
    })
}

/// Opens an upload session (`POST blobs/uploads/`): its absolute location, and the
/// smallest chunk the registry takes when it names one.
fn open_session(client: &Client, what: &str) -> Result<(String, Option<u64>), RegistryError> {
    let resp = client.send(
        "POST",
        &client.url("blobs/uploads/"),
        &[],
        &Body::Empty,
        what,
    )?;
    let l = resp
        .header("Location")
        .ok_or_else(|| RegistryError::Invalid(format!("{what}: no Location in the answer")))?;
    Ok((client.absolute(l), chunk_min(&resp)))
}

/// The URL that closes the upload session at `location` with the blob's digest.
fn closing_url(location: &str, d: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={d}")
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
) -> Result<(BlobRef, String), PushError> {
    let what = format!("blob upload for layer {}", raw.digest);
    let (loc, _) = open_session(client, &what)?;
    let (tx, rx) = readahead::stage(16, 1 << 20);
    let body = Body::Once(std::sync::Mutex::new(Some(Box::new(rx))));
    let (made, patched) = std::thread::scope(|s| {
        let h = s.spawn(|| compress_into(store, txn, raw, how, tx, counter));
        let patched = client.send("PATCH", &loc, &[], &body, &what);
        drop(body);
        let made = h
            .join()
            .unwrap_or(Err(PushError::Panicked("a compression thread")));
        (made, patched)
    });
    let blob = made?;
    let d = &blob.digest;
    if let Ok(resp) = patched {
        let next = resp
            .header("Location")
            .map(|l| client.absolute(l))
            .unwrap_or(loc);
        let closing = client.send("PUT", &closing_url(&next, d), &[], &Body::Empty, &what);
        if closing.is_ok() {
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
    client.send("PUT", &closing_url(&location, d), &[], &Body::Empty, what)?;
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
        None => open_session(client, &what)?,
    };
    if let Some(min) = min.filter(|_| u.blob.size > 0) {
        let chunk = min.max(CHUNK_FLOOR);
        send_chunked(client, open, u.blob.size, location, chunk, d, &what)?;
        return Ok("Pushed".into());
    }
    let url = closing_url(&location, d);
    let whole = || open(0);
    client.send("PUT", &url, &[], &Body::Stream(&whole, u.blob.size), &what)?;
    Ok("Pushed".into())
}

/// The local image a push sends, as the store holds it.
struct Local {
    /// The image ID (its config's digest).
    id: Digest,
    /// The config's size.
    config_size: u64,
    /// The stored manifest.
    manifest: Document,
    /// The stored manifest's bytes.
    manifest_bytes: Vec<u8>,
    /// Each layer's blob as stored, bottom first.
    blobs: Vec<BlobRef>,
    /// Each layer's DiffID, bottom first.
    diff_ids: Vec<Digest>,
}

/// Reads the local image `r` names: its manifest, config size and layer blobs.
fn read_local(store: &Store, db: &Db, r: &Reference) -> Result<Local, PushError> {
    let name = || r.familiar_string();
    let (id, _) = resolve(db, &r.full_string())
        .map_err(|_| PushError::NotLocal(r.without_tag_or_digest().familiar_string()))?;
    let img = db
        .images()
        .get(&id)
        .ok_or_else(|| PushError::NoSuchImage(name()))?;
    let manifest_bytes =
        store
            .read_blob(&img.manifest)
            .map_err(|source| PushError::ReadManifest {
                name: name(),
                source,
            })?;
    let manifest: Document =
        serde_json::from_slice(&manifest_bytes).map_err(|source| PushError::InvalidManifest {
            name: name(),
            source,
        })?;
    let config_size = store
        .open_blob(&id)
        .and_then(|f| {
            f.metadata().map_err(|e| StoreError::Io {
                path: store.blob_path(&id),
                source: e,
            })
        })
        .map_err(|source| PushError::ReadConfig {
            name: name(),
            source,
        })?
        .len();
    let mut blobs = Vec::new();
    let mut diff_ids = Vec::new();
    for c in &img.layers {
        let rec = db.layers().get(c).ok_or_else(|| PushError::MissingLayer {
            layer: c.clone(),
            name: name(),
        })?;
        let b = rec.blob.clone().ok_or_else(|| PushError::NoArchive {
            layer: c.clone(),
            name: name(),
        })?;
        blobs.push(b);
        diff_ids.push(rec.diff_id.clone());
    }
    Ok(Local {
        id,
        config_size,
        manifest,
        manifest_bytes,
        blobs,
        diff_ids,
    })
}

/// Each layer's blob to send: as stored, or a compressed copy an earlier push made;
/// `None` for an uncompressed layer that must be compressed now.
fn blobs_to_send(
    store: &Store,
    db: &Db,
    stored: &[BlobRef],
    how: LayerCompression,
) -> Vec<Option<BlobRef>> {
    let raw: Vec<BlobRef> = stored
        .iter()
        .filter(|b| is_uncompressed(&b.media_type))
        .cloned()
        .collect();
    let known = known_copies(store, db, &raw, how);
    stored
        .iter()
        .map(|b| {
            if is_uncompressed(&b.media_type) {
                known.get(&b.digest).cloned()
            } else {
                Some(b.clone())
            }
        })
        .collect()
}

/// Other repositories of `r`'s registry that hold a blob, from local images' names
/// (at most three a blob): where it can be mounted from.
fn mount_sources(db: &Db, r: &Reference) -> BTreeMap<Digest, Vec<String>> {
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
    sources
}

/// What a push sends: the blobs to upload (layers top first, each once, then the
/// config), and the uncompressed layers to compress while they are uploaded (with
/// the short DiffID the user sees).
fn plan_uploads(
    local: &Local,
    blobs: &[Option<BlobRef>],
    sources: &BTreeMap<Digest, Vec<String>>,
) -> (Vec<Upload>, Vec<(String, BlobRef)>) {
    let mut uploads: Vec<Upload> = Vec::new();
    let mut to_compress: Vec<(String, BlobRef)> = Vec::new();
    let layers = blobs.iter().zip(&local.blobs).zip(&local.diff_ids).rev();
    for ((b, stored), diff) in layers {
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
        short: local.id.short().to_string(),
        blob: BlobRef {
            digest: local.id.clone(),
            media_type: String::new(),
            size: local.config_size,
        },
        mount_from: Vec::new(),
        config: true,
    });
    (uploads, to_compress)
}

/// Uploads one stored blob from the store, with its status line unless it is the
/// config.
fn upload_stored(
    client: &Client,
    store: &Store,
    rep: &Reporter,
    u: &Upload,
) -> Result<(), RegistryError> {
    if !u.config {
        rep.start(&u.short, "Pushing", u.blob.size);
    }
    let counter = if u.config {
        ByteCounter::none()
    } else {
        rep.counter(&u.short)
    };
    let path = store.blob_path(&u.blob.digest);
    let open = |offset: u64| open_file_at(&path, offset, &counter);
    let st = send_blob(client, &open, u)?;
    if !u.config {
        rep.done(&u.short, &st);
    }
    Ok(())
}

/// What the upload and compression threads of one push share.
struct Sending<'a> {
    client: &'a Client,
    store: &'a Store,
    rep: &'a Reporter,
    txn: Option<&'a Txn>,
    how: LayerCompression,
}

impl Sending<'_> {
    /// Sends every blob in its own thread; returns the compressed copies made
    /// (uncompressed blob → compressed blob). The first failure is returned, after
    /// every thread has ended.
    fn run(
        &self,
        uploads: &[Upload],
        to_compress: &[(String, BlobRef)],
    ) -> Result<BTreeMap<Digest, BlobRef>, PushError> {
        let (sent, made) = std::thread::scope(|s| {
            let sending: Vec<_> = uploads
                .iter()
                .map(|u| s.spawn(move || upload_stored(self.client, self.store, self.rep, u)))
                .collect();
            let compressing: Vec<_> = to_compress
                .iter()
                .map(|(short, raw)| s.spawn(move || self.compress_one(short, raw)))
                .collect();
            let sent: Vec<Result<(), RegistryError>> = sending
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(RegistryError::Invalid("an upload thread panicked".into()))
                    })
                })
                .collect();
            let made: Vec<Result<(Digest, BlobRef), PushError>> = compressing
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or(Err(PushError::Panicked("an upload thread")))
                })
                .collect();
            (sent, made)
        });
        for res in sent {
            if let Err(e) = res {
                self.rep.clear();
                return Err(e.into());
            }
        }
        let mut fresh: BTreeMap<Digest, BlobRef> = BTreeMap::new();
        for res in made {
            match res {
                Ok((k, b)) => {
                    fresh.insert(k, b);
                }
                Err(e) => {
                    self.rep.clear();
                    return Err(e);
                }
            }
        }
        Ok(fresh)
    }

    /// Compresses one stored uncompressed layer while it is uploaded; returns the
    /// stored digest and the compressed blob.
    fn compress_one(&self, short: &str, raw: &BlobRef) -> Result<(Digest, BlobRef), PushError> {
        let txn = self.txn.expect("a transaction for compressed copies");
        // The bar counts the layer's uncompressed bytes as they are compressed (and so
        // sent).
        self.rep.start(short, "Pushing", raw.size);
        let counter = self.rep.counter(short);
        let (blob, st) = compress_and_send(self.client, self.store, txn, raw, self.how, &counter)?;
        self.rep.done(short, &st);
        Ok((raw.digest.clone(), blob))
    }
}

/// The manifest to send and its media type: the stored one when it names exactly
/// these blobs, else a new OCI manifest.
fn manifest_to_send(local: Local, blobs: &[BlobRef]) -> (Vec<u8>, String) {
    let stored = &local.manifest;
    let same = stored.layers.as_ref().is_some_and(|ls| {
        ls.len() == blobs.len()
            && ls
                .iter()
                .zip(blobs)
                .all(|(l, b)| l.digest == b.digest.as_str())
    }) && stored
        .config
        .as_ref()
        .is_some_and(|c| c.digest == local.id.as_str());
    if same {
        let mt = stored.kind("");
        (local.manifest_bytes, mt)
    } else {
        (
            manifest_bytes(&oci_manifest(&local.id, local.config_size, blobs)),
            crate::image::media_type::OCI_MANIFEST.to_string(),
        )
    }
}

/// Records what a push made: the compressed copies (for the next push) and the
/// image's repository digest, in one commit (of `txn`, which holds the copies).
fn remember(
    store: &Store,
    txn: Option<Txn>,
    fresh: BTreeMap<Digest, BlobRef>,
    id: Digest,
    repo_digest: String,
) -> Result<(), StoreError> {
    let record = move |db: &mut Db| {
        for (k, c) in fresh {
            db.add_compressed(k, c);
        }
        if db.images().contains_key(&id) {
            db.add_repo_digest(&id, repo_digest)?;
        }
        Ok(())
    };
    match txn {
        Some(t) => store.commit(t, record)?,
        None => store.update(record)?,
    };
    Ok(())
}

/// Pushes the local image `r` (with its tag) to its registry.
pub fn push(
    store: &Store,
    r: &Reference,
    opts: &Options,
    rep: &Reporter,
    how: LayerCompression,
) -> Result<Pushed, PushError> {
    let db = store.db()?;
    let local = read_local(store, &db, r)?;
    // Copies compressed by an earlier push are sent as they are; the others are
    // compressed while they are uploaded, into a transaction that keeps them.
    let mut blobs = blobs_to_send(store, &db, &local.blobs, how);
    let txn = if blobs.iter().any(Option::is_none) {
        Some(store.begin()?)
    } else {
        None
    };
    let mut client = Client::new(endpoint(r.domain(), opts)?, r.path(), "pull,push")?;
    let sources = mount_sources(&db, r);
    for repo in sources.values().flatten() {
        client.add_scope(&format!("repository:{repo}:pull"));
    }

    rep.line(&format!(
        "The push refers to repository [{}]",
        r.without_tag_or_digest().familiar_string()
    ));
    let (uploads, to_compress) = plan_uploads(&local, &blobs, &sources);
    let layers = uploads.iter().filter(|u| !u.config).map(|u| &u.short);
    for short in layers.chain(to_compress.iter().map(|(s, _)| s)) {
        rep.status(short, "Preparing");
    }
    let sending = Sending {
        client: &client,
        store,
        rep,
        txn: txn.as_ref(),
        how,
    };
    let fresh = sending.run(&uploads, &to_compress)?;
    let blobs: Vec<BlobRef> = blobs
        .iter_mut()
        .zip(&local.blobs)
        .map(|(b, stored)| {
            b.take()
                .or_else(|| fresh.get(&stored.digest).cloned())
                .expect("every layer was sent")
        })
        .collect();

    let id = local.id.clone();
    let (manifest, media_type) = manifest_to_send(local, &blobs);
    let tag = r.tag().unwrap_or("latest");
    client.send(
        "PUT",
        &client.url(&format!("manifests/{tag}")),
        &[],
        &Body::Bytes(&manifest, &media_type),
        &format!("manifest for {}", r.familiar_string()),
    )?;
    let digest = Digest::of(&manifest);
    remember(store, txn, fresh, id, format!("{}@{digest}", r.name()))?;
    rep.line(&format!("{tag}: digest: {digest} size: {}", manifest.len()));
    Ok(Pushed {
        digest,
        size: manifest.len(),
    })
}
