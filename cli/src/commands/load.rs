//! `strata load [-i FILE] [-q]`: images from a docker archive (`manifest.json`, also the
//! legacy `ID/layer.tar` form) or an OCI image layout (`index.json`, also a multi-platform
//! one, resolved to this machine's platform), plain or gzip, zstd, xz or bzip2
//! compressed.
//!
//! The archive is read once, as a stream. Each regular member is written to the
//! transaction's scratch directory and hashed as it goes by (names with `..`, absolute
//! names, links leaving the archive and `*.json` members too large to parse are refused,
//! the last on their header). A tar's `manifest.json` may come
//! last, so which member is which is known only at the end; but a large member that may
//! be a layer the store lacks (docker writes the layers first) is unpacked while it is
//! still being written, on a pool of worker threads. Then every config and layer is
//! verified against the digests that name it and the DiffIDs its config lists, the
//! layers nobody unpacked yet are unpacked in parallel, layer members become blobs by
//! renaming them, and everything commits in one transaction: on any error nothing is
//! visible, and the work done ahead is thrown away with the transaction.

use crate::archive::{
    digest_of_member, Descriptor, DockerManifestEntry, Index, Manifest, ANN_IMAGE_NAME,
    ANN_REF_NAME, DOCKER_LIST, MAX_JSON, OCI_INDEX,
};
use crate::clock::now_unix;
use crate::context::Ctx;
use crate::image::config::host_arch;
use crate::image::manifest::{manifest_bytes, oci_manifest};
use crate::image::ImageConfig;
use crate::ingest::{unpack_layer, Unpacked};
use crate::progress::ByteBar;
use crate::reference::{familiar, Reference};
use anyhow::{anyhow, bail, Context, Result};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use store_layout::{chain_id, BlobRef, Db, Digest, ImageRecord, LayerRecord, Sha256Writer, Txn};

/// Members at least this large that may be layers are unpacked while they are read.
const EARLY_MIN: u64 = 1 << 20;
/// Bytes read from a member at a time.
const CHUNK: usize = 1 << 20;
/// How deep image indexes may nest in an OCI archive.
const MAX_INDEX_DEPTH: usize = 4;

/// Arguments of `load`.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Read from a tar archive file, instead of STDIN.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Suppress the load output (the progress bar; the `Loaded image` lines stay, as
    /// with docker).
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
}

/// An image the archive describes, before anything is verified.
struct Planned {
    /// Member holding the config.
    config: String,
    /// The config's digest when something names it (member name, OCI descriptor).
    config_digest: Option<Digest>,
    /// Members holding the layers and the blob digests that name them, if any.
    layers: Vec<(String, Option<Digest>)>,
    /// Full references.
    tags: Vec<String>,
}

/// A layer the store lacks, to unpack in this transaction (one per chain ID).
struct Task {
    /// 1-based position in the image, and the image's name, for messages.
    n: usize,
    name: String,
    member: String,
    file: MemberFile,
    diff_id: Digest,
    parent: Option<Digest>,
    chain: Digest,
}

/// Where an image's layer comes from.
enum LayerSource {
    /// Already in the store: its blob and unpacked size.
    Stored(BlobRef, u64),
    /// Unpacked in this transaction: index into the tasks.
    Task(usize),
}

/// An image to add, once its layers are in.
struct NewImage {
    id: Digest,
    config_bytes: Vec<u8>,
    config: ImageConfig,
    layers: Vec<(Digest, LayerSource)>,
}

/// Runs `load`.
pub fn run(ctx: &Ctx, args: &LoadArgs) -> Result<()> {
    let (input, total): (Box<dyn Read + Send>, Option<u64>) = match &args.input {
        Some(p) => {
            let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
            (Box::new(f), len)
        }
        None => (Box::new(io::stdin()), None),
    };
    let bar = if args.quiet {
        ByteBar::hidden()
    } else {
        ByteBar::new("Loading", total)
    };
    let r = load(ctx, bar.wrap_read(input));
    bar.finish();
    for l in r? {
        crate::output::out(&l)?;
    }
    Ok(())
}

/// Loads the archive read from `input`; returns the lines to print.
fn load(ctx: &Ctx, input: impl Read + Send) -> Result<Vec<String>> {
    let mut input = BufReader::with_capacity(1 << 20, input);
    if input
        .fill_buf()
        .context("cannot read the archive")?
        .is_empty()
    {
        bail!("invalid archive: empty input");
    }
    let (_, plain) = crate::layer::decompress::decompress(input)
        .context("invalid archive: cannot decompress")?;

    let txn = ctx.store.begin()?;
    let db = ctx.store.db()?;
    let root = txn.scratch().join("archive");
    std::fs::create_dir(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let mut ar = read_archive(&txn, &db, plain, root, workers)?;

    let plans = if member_path(&ar, "manifest.json")?.is_file() {
        docker_plans(&ar)?
    } else if member_path(&ar, "index.json")?.is_file() {
        oci_plans(&ar)?
    } else {
        bail!("invalid archive: no manifest.json or index.json");
    };

    // Check every config and every member's digest, and list the layers to unpack.
    let mut tasks: Vec<Task> = Vec::new();
    let mut task_of: HashMap<Digest, usize> = HashMap::new();
    let mut new_images: Vec<NewImage> = Vec::new();
    let mut records: Vec<(Digest, Vec<String>)> = Vec::new();
    for plan in &plans {
        let config_bytes = read_json_member(&ar, &plan.config)?;
        let id = Digest::of(&config_bytes);
        if let Some(want) = &plan.config_digest {
            if *want != id {
                bail!("blob {want} does not match its digest (it is {id})");
            }
        }
        let name = plan
            .tags
            .first()
            .map(|t| familiar(t))
            .unwrap_or_else(|| id.to_string());
        let config = ImageConfig::from_slice(&config_bytes)
            .map_err(|e| anyhow!("invalid archive: config of {name} is not valid: {e}"))?;
        if config.rootfs.diff_ids.len() != plan.layers.len() {
            bail!(
                "invalid archive: {name} lists {} layers but its config has {} DiffIDs",
                plan.layers.len(),
                config.rootfs.diff_ids.len()
            );
        }
        let known = db.images.contains_key(&id) || records.iter().any(|(r, _)| *r == id);
        records.push((id.clone(), plan.tags.clone()));
        if known {
            continue;
        }
        let mut parent: Option<Digest> = None;
        let mut layers = Vec::new();
        for (i, (member, want_blob)) in plan.layers.iter().enumerate() {
            let n = i + 1;
            let diff_id = Digest::parse(&config.rootfs.diff_ids[i])
                .map_err(|e| anyhow!("layer {n} of {name}: invalid DiffID in the config: {e}"))?;
            let chain = chain_id(parent.as_ref(), &diff_id);
            let file = member_file(&ar, member)?;
            if let Some(want) = want_blob {
                if file.digest != *want {
                    bail!(
                        "blob {want} does not match its digest (it is {})",
                        file.digest
                    );
                }
            }
            let stored = db
                .layers
                .get(&chain)
                .and_then(|l| l.blob.clone().map(|b| (b, l.size)));
            let source = if let Some((blob, size)) = stored {
                LayerSource::Stored(blob, size)
            } else if let Some(&t) = task_of.get(&chain) {
                LayerSource::Task(t)
            } else {
                task_of.insert(chain.clone(), tasks.len());
                tasks.push(Task {
                    n,
                    name: name.clone(),
                    member: member.clone(),
                    file,
                    diff_id,
                    parent: parent.clone(),
                    chain: chain.clone(),
                });
                LayerSource::Task(tasks.len() - 1)
            };
            layers.push((chain.clone(), source));
            parent = Some(chain);
        }
        new_images.push(NewImage {
            id,
            config_bytes,
            config,
            layers,
        });
    }

    // Unpack what was not unpacked while reading, in parallel; check every DiffID.
    let mut early: Vec<Option<Result<Unpacked>>> = tasks
        .iter()
        .map(|t| ar.early.remove(&t.file.clean))
        .collect();
    let pending: Vec<usize> = (0..tasks.len()).filter(|&i| early[i].is_none()).collect();
    let done = unpack_files(&txn, &tasks, &pending, workers);
    for (i, r) in pending.into_iter().zip(done) {
        early[i] = Some(r);
    }
    let mut blobs_of: Vec<(BlobRef, u64)> = Vec::with_capacity(tasks.len());
    let mut adopted: HashSet<Digest> = HashSet::new();
    for (t, r) in tasks.iter().zip(early) {
        let u = r
            .expect("every layer was unpacked")
            .with_context(|| format!("layer {} of {}", t.n, t.name))?;
        let got = u.diff_id.clone().unwrap_or_else(|| t.file.digest.clone());
        if got != t.diff_id {
            bail!(
                "layer {} of {}: DiffID mismatch: config says {}, layer is {got}",
                t.n,
                t.name,
                t.diff_id
            );
        }
        let blob = match &u.tar_blob {
            Some(b) => b.clone(),
            None => {
                if adopted.insert(t.file.digest.clone()) {
                    txn.adopt_blob(&t.file.path, &t.file.digest)?;
                }
                BlobRef {
                    digest: t.file.digest.clone(),
                    media_type: u.media_type().to_string(),
                    size: t.file.size,
                }
            }
        };
        txn.add_layer(
            u.index,
            t.chain.clone(),
            LayerRecord {
                diff_id: t.diff_id.clone(),
                parent: t.parent.clone(),
                size: u.stats.size,
                blob: Some(blob.clone()),
            },
        );
        blobs_of.push((blob, u.stats.size));
    }

    let mut images: HashMap<Digest, ImageRecord> = HashMap::new();
    for img in new_images {
        let mut blobs = Vec::new();
        let mut chains = Vec::new();
        let mut size = 0u64;
        for (chain, source) in img.layers {
            let (blob, layer_size) = match source {
                LayerSource::Stored(b, s) => (b, s),
                LayerSource::Task(t) => blobs_of[t].clone(),
            };
            blobs.push(blob);
            size += layer_size;
            chains.push(chain);
        }
        let stored = txn.put_blob(&img.config_bytes)?;
        debug_assert_eq!(stored, img.id);
        let manifest = manifest_bytes(&oci_manifest(
            &img.id,
            img.config_bytes.len() as u64,
            &blobs,
        ));
        let manifest_digest = txn.put_blob(&manifest)?;
        images.insert(
            img.id,
            ImageRecord {
                manifest: manifest_digest,
                layers: chains,
                created: img.config.created.clone(),
                size,
                repo_digests: Vec::new(),
                labels: img.config.labels(),
                parent: None,
                added: now_unix(),
            },
        );
    }

    let lines: Vec<String> = records
        .iter()
        .flat_map(|(id, tags)| {
            if tags.is_empty() {
                vec![format!("Loaded image ID: {id}")]
            } else {
                tags.iter()
                    .map(|t| format!("Loaded image: {}", familiar(t)))
                    .collect()
            }
        })
        .collect();
    ctx.store.commit(txn, move |db| {
        for (id, tags) in records {
            if let Some(r) = images.remove(&id) {
                db.images.entry(id.clone()).or_insert(r);
            } else if !db.images.contains_key(&id) {
                return Err(store_layout::StoreError::NotFound(format!(
                    "image {id} (removed while loading)"
                )));
            }
            for t in tags {
                db.tags.insert(t, id.clone());
            }
        }
        Ok(())
    })?;
    Ok(lines)
}

/// Unpacks the layer members of `tasks` listed in `which` from their (complete) files,
/// `workers` at a time; the results are in the order of `which`.
fn unpack_files(
    txn: &Txn,
    tasks: &[Task],
    which: &[usize],
    workers: usize,
) -> Vec<Result<Unpacked>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Unpacked>>>> =
        Mutex::new((0..which.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers.min(which.len()) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = which.get(k) else { break };
                let t = &tasks[i];
                let r = File::open(&t.file.path)
                    .with_context(|| format!("cannot read member {:?}", t.member))
                    .and_then(|f| Ok(unpack_layer(txn, f)?));
                lock(&results)[k] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow!("the unpacking thread panicked"))))
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A regular member, as read: the file it was written to, its sha256 and size.
#[derive(Clone)]
struct MemberFile {
    /// The member's clean name (the key of [`Extracted::files`]).
    clean: String,
    path: PathBuf,
    digest: Digest,
    size: u64,
}

/// An archive read into `root`: its regular files by (clean) name, its symbolic and hard
/// links as aliases (member name → target member name, never created on disk), and the
/// layers unpacked while it was read, by member name.
struct Extracted {
    root: PathBuf,
    files: HashMap<String, MemberFile>,
    links: HashMap<String, String>,
    early: HashMap<String, Result<Unpacked>>,
}

/// The member name a link points at, resolved inside the archive: symbolic link targets
/// are relative to the link's directory, hard link targets to the archive's root.
fn link_target(name: &str, target: &str, symbolic: bool) -> Result<String> {
    let what = if symbolic { "symbolic" } else { "hard" };
    let leaves = || {
        anyhow!("invalid archive: member {name:?} is a {what} link that leaves the archive ({target:?})")
    };
    if target.starts_with('/') {
        return Err(leaves());
    }
    let mut parts: Vec<&str> = Vec::new();
    if symbolic {
        parts = clean_name(name)?;
        parts.pop();
    }
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(leaves());
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(leaves());
    }
    Ok(parts.join("/"))
}

/// The parts of a member name, or an error when it leaves the archive.
fn clean_name(name: &str) -> Result<Vec<&str>> {
    if name.starts_with('/') {
        bail!("invalid archive: member {name:?} has an absolute name");
    }
    let mut parts = Vec::new();
    for p in name.split('/') {
        match p {
            "" | "." => {}
            ".." => bail!("invalid archive: member {name:?} leaves the archive"),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        bail!("invalid archive: member {name:?} has an empty name");
    }
    Ok(parts)
}

/// The clean name of member `name`, following links inside the archive.
fn resolve_member(ar: &Extracted, name: &str) -> Result<String> {
    let mut cur = clean_name(name)?.join("/");
    let mut hops = 0;
    while let Some(t) = ar.links.get(&cur) {
        hops += 1;
        if hops > 16 {
            bail!("invalid archive: member {name:?}: too many levels of links");
        }
        cur = t.clone();
    }
    Ok(cur)
}

/// Where member `name` was written (following links inside the archive).
fn member_path(ar: &Extracted, name: &str) -> Result<PathBuf> {
    Ok(ar.root.join(resolve_member(ar, name)?))
}

/// The regular file member `name` is (following links).
fn member_file(ar: &Extracted, name: &str) -> Result<MemberFile> {
    let clean = resolve_member(ar, name)?;
    if let Some(f) = ar.files.get(&clean) {
        return Ok(f.clone());
    }
    if ar.root.join(&clean).exists() {
        bail!("invalid archive: member {name:?} is not a regular file");
    }
    bail!("invalid archive: member {name:?} is missing")
}

/// Reads a JSON member of at most [`MAX_JSON`] bytes.
fn read_json_member(ar: &Extracted, name: &str) -> Result<Vec<u8>> {
    let f = member_file(ar, name)?;
    if f.size > MAX_JSON {
        return Err(too_large(name));
    }
    std::fs::read(&f.path).with_context(|| format!("cannot read member {name:?}"))
}

/// The refusal of a JSON member larger than [`MAX_JSON`].
fn too_large(name: &str) -> anyhow::Error {
    anyhow!("invalid archive: member {name:?} is larger than {MAX_JSON} bytes")
}

/// How far the reading thread has written a member, for a worker that unpacks it at the
/// same time.
#[derive(Default)]
struct Growth {
    state: Mutex<(u64, Option<bool>)>,
    cond: Condvar,
}

impl Growth {
    fn grew(&self, n: u64) {
        lock(&self.state).0 += n;
        self.cond.notify_all();
    }

    /// The member is whole (`true`), or will never be (`false`).
    fn end(&self, whole: bool) {
        let mut st = lock(&self.state);
        if st.1.is_none() {
            st.1 = Some(whole);
        }
        drop(st);
        self.cond.notify_all();
    }
}

/// Reads a member file while the reading thread is still writing it.
struct FollowReader {
    file: File,
    pos: u64,
    growth: Arc<Growth>,
}

impl Read for FollowReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let avail = {
            let mut st = lock(&self.growth.state);
            loop {
                if st.0 > self.pos {
                    break st.0 - self.pos;
                }
                match st.1 {
                    Some(true) => return Ok(0),
                    Some(false) => {
                        return Err(io::Error::other("the archive ended inside this member"))
                    }
                    None => st = self.growth.cond.wait(st).unwrap_or_else(|e| e.into_inner()),
                }
            }
        };
        let want = buf.len().min(usize::try_from(avail).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// Marks a member as never to be whole if reading it stops early.
struct EndGuard(Arc<Growth>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.end(false);
    }
}

/// A member whose unpacking was started while it is read.
struct EarlyJob {
    name: String,
    path: PathBuf,
    growth: Arc<Growth>,
}

/// What the store already holds, to leave alone layers it may have: every layer blob's
/// digest and size, and every DiffID.
struct Known {
    hexes: HashSet<String>,
    sizes: HashSet<u64>,
}

impl Known {
    fn of(db: &Db) -> Known {
        let mut hexes = HashSet::new();
        let mut sizes = HashSet::new();
        for l in db.layers.values() {
            hexes.insert(l.diff_id.hex().to_string());
            if let Some(b) = &l.blob {
                hexes.insert(b.digest.hex().to_string());
                sizes.insert(b.size);
            }
        }
        Known { hexes, sizes }
    }

    /// Whether member `clean` of `size` bytes is worth unpacking before the archive's
    /// index says what it is: it is large, is not named as a JSON document, and cannot be
    /// a layer the store already has (no stored layer blob has its size, no stored blob
    /// or DiffID has the digest in its name).
    fn unpack_early(&self, clean: &str, size: u64) -> bool {
        if size < EARLY_MIN {
            return false;
        }
        let base = clean.rsplit('/').next().unwrap_or(clean);
        if base.ends_with(".json")
            || matches!(base, "json" | "repositories" | "oci-layout" | "VERSION")
        {
            return false;
        }
        let hex = base.strip_suffix(".tar").unwrap_or(base);
        !self.hexes.contains(hex) && !self.sizes.contains(&size)
    }
}

/// Reads the archive: writes its regular files under `root` (hashing each), keeps its
/// links as aliases, and unpacks large members that may be new layers on `workers`
/// threads while they are written.
fn read_archive(
    txn: &Txn,
    db: &Db,
    plain: impl Read,
    root: PathBuf,
    workers: usize,
) -> Result<Extracted> {
    let known = Known::of(db);
    let (jobs_tx, jobs_rx) = std::sync::mpsc::channel::<EarlyJob>();
    let jobs_rx = Mutex::new(jobs_rx);
    let early: Mutex<HashMap<String, Result<Unpacked>>> = Mutex::new(HashMap::new());
    let (files, links) = std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let job = lock(&jobs_rx).recv();
                let Ok(job) = job else { break };
                let r = File::open(&job.path)
                    .with_context(|| format!("cannot read member {:?}", job.name))
                    .and_then(|file| {
                        Ok(unpack_layer(
                            txn,
                            FollowReader {
                                file,
                                pos: 0,
                                growth: job.growth.clone(),
                            },
                        )?)
                    });
                lock(&early).insert(job.name, r);
            });
        }
        let r = extract(plain, &root, &known, &jobs_tx);
        drop(jobs_tx);
        r
    })?;
    Ok(Extracted {
        root,
        files,
        links,
        early: early.into_inner().unwrap_or_else(|e| e.into_inner()),
    })
}

type Members = (HashMap<String, MemberFile>, HashMap<String, String>);

/// The reading loop of [`read_archive`].
fn extract(
    plain: impl Read,
    root: &Path,
    known: &Known,
    jobs: &std::sync::mpsc::Sender<EarlyJob>,
) -> Result<Members> {
    let mut files = HashMap::new();
    let mut links = HashMap::new();
    let mut archive = tar::Archive::new(plain);
    let entries = archive
        .entries()
        .map_err(|e| anyhow!("invalid archive: not a tar archive: {e}"))?;
    let mut first = true;
    let mut buf = vec![0u8; CHUNK];
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) if first => bail!("invalid archive: not a tar archive: {e}"),
            Err(e) => bail!("invalid archive: {e}"),
        };
        first = false;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        use tar::EntryType as E;
        match kind {
            E::Regular | E::Continuous => {}
            E::Directory | E::XGlobalHeader => continue,
            E::Symlink | E::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                let resolved = link_target(&name, &target, kind == E::Symlink)?;
                links.insert(clean_name(&name)?.join("/"), resolved);
                continue;
            }
            _ => bail!("invalid archive: member {name:?} is not a regular file or directory"),
        }
        let clean = clean_name(&name)?.join("/");
        if files.contains_key(&clean) {
            bail!("invalid archive: member {name:?} appears twice");
        }
        let size = entry.size();
        // A JSON document too large to parse is refused on its header, before its bytes
        // are read or written.
        if size > MAX_JSON && clean.ends_with(".json") {
            return Err(too_large(&name));
        }
        let path = root.join(&clean);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow!("invalid archive: cannot extract member {name:?}: {e}"))?;
        }
        let mut f = File::create(&path)
            .map_err(|e| anyhow!("invalid archive: cannot extract member {name:?}: {e}"))?;
        let growth = if known.unpack_early(&clean, size) {
            let g = Arc::new(Growth::default());
            // The workers outlive this loop, so the job can always be sent.
            let _ = jobs.send(EarlyJob {
                name: clean.clone(),
                path: path.clone(),
                growth: g.clone(),
            });
            Some(EndGuard(g))
        } else {
            None
        };
        let mut hashed = Sha256Writer::new(&mut f);
        let mut n = 0u64;
        while n < size {
            let want = buf
                .len()
                .min(usize::try_from(size - n).unwrap_or(usize::MAX));
            let got = match entry.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => bail!("invalid archive: cannot read member {name:?}: {e}"),
            };
            hashed
                .write_all(&buf[..got])
                .map_err(|e| anyhow!("cannot extract member {name:?}: {e}"))?;
            n += got as u64;
            if let Some(g) = &growth {
                g.0.grew(got as u64);
            }
        }
        if n != size {
            bail!("invalid archive: member {name:?} is truncated ({n} of {size} bytes)");
        }
        let (_, digest, _) = hashed.finish();
        if let Some(g) = growth {
            g.0.end(true);
        }
        files.insert(
            clean.clone(),
            MemberFile {
                clean,
                path,
                digest,
                size,
            },
        );
    }
    if first {
        bail!("invalid archive: no manifest.json or index.json");
    }
    Ok((files, links))
}

fn docker_plans(root: &Extracted) -> Result<Vec<Planned>> {
    let data = read_json_member(root, "manifest.json")?;
    let entries: Vec<DockerManifestEntry> = serde_json::from_slice(&data)
        .map_err(|e| anyhow!("invalid archive: manifest.json is not valid: {e}"))?;
    if entries.is_empty() {
        bail!("invalid archive: manifest.json lists no images");
    }
    entries
        .into_iter()
        .map(|e| {
            let tags = e
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| full_tag(t))
                .collect::<Result<Vec<_>>>()?;
            Ok(Planned {
                config_digest: digest_of_member(&e.config),
                config: e.config,
                layers: e
                    .layers
                    .into_iter()
                    .map(|l| {
                        let d = if l.trim_start_matches("./").starts_with("blobs/") {
                            digest_of_member(&l)
                        } else {
                            None
                        };
                        (l, d)
                    })
                    .collect(),
                tags,
            })
        })
        .collect()
}

fn full_tag(t: &str) -> Result<String> {
    let r = Reference::parse(t).map_err(|e| anyhow!("invalid archive: tag {t:?}: {e}"))?;
    if r.digest().is_some() {
        bail!("invalid archive: tag {t:?} is a digest reference");
    }
    Ok(r.with_default_tag().full_string())
}

fn oci_blob_member(digest: &str) -> Result<(String, Digest)> {
    let d = Digest::parse(digest)
        .map_err(|e| anyhow!("invalid archive: unsupported digest {digest:?}: {e}"))?;
    Ok((crate::archive::blob_member(&d), d))
}

/// The digest and bytes of the image manifest `desc` names: the manifest itself, or, for
/// an image index (or docker manifest list, also nested), the manifest in it for this
/// machine's platform (`linux/amd64` on x86-64), as docker loads a multi-platform archive.
fn image_manifest(ar: &Extracted, desc: &Descriptor, depth: usize) -> Result<(Digest, Vec<u8>)> {
    let (member, digest) = oci_blob_member(&desc.digest)?;
    let bytes = read_json_member(ar, &member)?;
    let got = Digest::of(&bytes);
    if got != digest {
        bail!("blob {digest} does not match its digest (it is {got})");
    }
    let is_index = desc.media_type == OCI_INDEX
        || desc.media_type == DOCKER_LIST
        || (desc.media_type.is_empty()
            && serde_json::from_slice::<serde_json::Value>(&bytes)
                .is_ok_and(|v| v.get("manifests").is_some() && v.get("config").is_none()));
    if !is_index {
        return Ok((digest, bytes));
    }
    if depth >= MAX_INDEX_DEPTH {
        bail!("invalid archive: image indexes nest more than {MAX_INDEX_DEPTH} deep");
    }
    let index: Index = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow!("invalid archive: index {digest} is not valid: {e}"))?;
    let (os, arch) = ("linux", host_arch());
    let found = index.manifests.iter().find(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.os == os && p.architecture == arch)
    });
    match found {
        Some(d) => image_manifest(ar, d, depth + 1),
        None => bail!("invalid archive: index {digest} has no image for {os}/{arch}"),
    }
}

fn oci_plans(root: &Extracted) -> Result<Vec<Planned>> {
    let data = read_json_member(root, "index.json")?;
    let index: Index = serde_json::from_slice(&data)
        .map_err(|e| anyhow!("invalid archive: index.json is not valid: {e}"))?;
    let mut plans = Vec::new();
    for desc in &index.manifests {
        let (digest, bytes) = image_manifest(root, desc, 0)?;
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow!("invalid archive: manifest {digest} is not valid: {e}"))?;
        let (config, config_digest) = oci_blob_member(&m.config.digest)?;
        let layers = m
            .layers
            .iter()
            .map(|l| oci_blob_member(&l.digest).map(|(p, d)| (p, Some(d))))
            .collect::<Result<Vec<_>>>()?;
        let tag = desc.annotations.get(ANN_IMAGE_NAME).cloned().or_else(|| {
            // skopeo writes `name:tag` here, docker and the OCI spec only the tag.
            desc.annotations
                .get(ANN_REF_NAME)
                .filter(|n| n.contains(':') || n.contains('/'))
                .cloned()
        });
        let tags = match tag {
            Some(t) => vec![full_tag(&t)?],
            None => Vec::new(),
        };
        // One image under several names is listed once per name.
        if let Some(p) = plans
            .iter_mut()
            .find(|p: &&mut Planned| p.config_digest.as_ref() == Some(&config_digest))
        {
            p.tags.extend(tags);
            continue;
        }
        plans.push(Planned {
            config,
            config_digest: Some(config_digest),
            layers,
            tags,
        });
    }
    if plans.is_empty() {
        bail!("invalid archive: index.json lists no images");
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            clean_name("./blobs/sha256/x").unwrap(),
            ["blobs", "sha256", "x"]
        );
        assert!(clean_name("../x").is_err());
        assert!(clean_name("a/../../x").is_err());
        assert!(clean_name("/etc/passwd").is_err());
        assert!(clean_name("./").is_err());
        assert_eq!(
            link_target("a/layer.tar", "../b.tar", true).unwrap(),
            "b.tar"
        );
        assert_eq!(
            link_target("a/layer.tar", "a/b.tar", false).unwrap(),
            "a/b.tar"
        );
        assert!(link_target("a/layer.tar", "../../b.tar", true).is_err());
        assert!(link_target("x", "/etc/passwd", true).is_err());
        assert!(link_target("x", "../y", false).is_err());
    }

    #[test]
    fn which_members_are_unpacked_early() {
        let hex = "a".repeat(64);
        let known = Known {
            hexes: HashSet::from([hex.clone()]),
            sizes: HashSet::from([5 << 20]),
        };
        let big = 3 << 20;
        assert!(known.unpack_early("abc/layer.tar", big));
        assert!(known.unpack_early(&format!("blobs/sha256/{}", "b".repeat(64)), big));
        assert!(!known.unpack_early("abc/layer.tar", EARLY_MIN - 1), "small");
        assert!(
            !known.unpack_early("abc/layer.tar", 5 << 20),
            "a stored blob's size"
        );
        assert!(
            !known.unpack_early(&format!("blobs/sha256/{hex}"), big),
            "stored"
        );
        assert!(
            !known.unpack_early(&format!("{hex}.tar"), big),
            "stored DiffID"
        );
        for name in [
            "manifest.json",
            "index.json",
            "x.json",
            "abc/json",
            "repositories",
        ] {
            assert!(!known.unpack_early(name, big), "{name}");
        }
    }

    #[test]
    fn a_follow_reader_reads_what_is_written_and_fails_when_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        let mut w = File::create(&path).unwrap();
        for whole in [true, false] {
            let growth = Arc::new(Growth::default());
            let mut r = FollowReader {
                file: File::open(&path).unwrap(),
                pos: 0,
                growth: growth.clone(),
            };
            let reader = std::thread::spawn(move || {
                let mut out = Vec::new();
                r.read_to_end(&mut out).map(|_| out)
            });
            w.write_all(b"hello ").unwrap();
            growth.grew(6);
            w.write_all(b"world").unwrap();
            growth.grew(5);
            growth.end(whole);
            let got = reader.join().unwrap();
            if whole {
                assert_eq!(got.unwrap(), b"hello world");
            } else {
                assert!(got.is_err());
            }
            w.set_len(0).unwrap();
            w = File::create(&path).unwrap();
        }
    }
}
