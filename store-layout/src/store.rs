//! The store: its layout on disk, opening and recovery, and transactions.
//!
//! ```text
//! ROOT/layout-version      layout version, checked on open
//! ROOT/db.json             images, layers and tags (replaced atomically)
//! ROOT/lock                flock(2) target serialising every metadata change
//! ROOT/journal.json        present only while a change is being applied
//! ROOT/blobs/sha256/HEX    configs, manifests, layer archives
//! ROOT/layers/HEX/diff     unpacked layers, keyed by chain ID
//! ROOT/containers/ID/      container records and writable layers (see containers.rs)
//! ROOT/tmp/                staging directories and trash, cleaned on open
//! ```

use crate::atomic::{unique_name, write_file_atomic};
use crate::blobs::BlobWriter;
use crate::error::IoContext;
use crate::lock::StoreLock;
use crate::staging::{remove_tree, StagingDir};
use crate::{Db, Digest, LayerRecord, Result, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fs;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The layout version this build reads and writes.
pub const LAYOUT_VERSION: &str = "strata-store 1";

/// An open store.
pub struct Store {
    root: PathBuf,
}

/// A layer made in a transaction's staging area, waiting to be committed.
pub struct NewLayer {
    /// The layer's chain ID.
    pub chain_id: Digest,
    /// Its record.
    pub record: LayerRecord,
    dir: PathBuf,
}

/// What a commit removed, for reporting.
#[derive(Debug, Default)]
pub struct RemovedImage {
    /// Layers removed from disk.
    pub layers: Vec<Digest>,
    /// Bytes of layer content reclaimed.
    pub reclaimed: u64,
}

/// A change in progress: blobs and layers made in a private staging directory.
///
/// A `Txn` is `Sync`: several threads may write blobs and unpack layers into it at once.
pub struct Txn {
    staging: StagingDir,
    blobs: Mutex<Vec<Digest>>,
    layers: Mutex<Vec<NewLayer>>,
    next: AtomicUsize,
}

#[derive(Serialize, Deserialize, Default)]
struct Journal {
    layers: Vec<Digest>,
    blobs: Vec<Digest>,
}

impl Store {
    /// Opens the store at `root`, creating it if it does not exist, checking its layout
    /// version, and cleaning what killed processes left behind.
    pub fn open(root: &Path) -> Result<Store> {
        let store = Store {
            root: root.to_path_buf(),
        };
        if !store.check_version()? {
            store.create()?;
        }
        store.recover()?;
        Ok(store)
    }

    /// Opens the store at `root` as it is, without creating it or cleaning anything:
    /// for [`Store::check`], which reports what opening for use would clean. A store
    /// that does not exist is an error.
    pub fn open_as_is(root: &Path) -> Result<Store> {
        let store = Store {
            root: root.to_path_buf(),
        };
        if !store.check_version()? {
            return Err(StoreError::NotFound(format!("store {}", root.display())));
        }
        Ok(store)
    }

    /// Opens the store at `root` for reading: checks its layout version and creates,
    /// recovers and cleans nothing. A store that does not exist reads as empty.
    pub fn open_existing(root: &Path) -> Result<Store> {
        let store = Store {
            root: root.to_path_buf(),
        };
        store.check_version()?;
        Ok(store)
    }

    /// Whether the store exists, failing when it has another layout version.
    fn check_version(&self) -> Result<bool> {
        let version_path = self.root.join("layout-version");
        match fs::read_to_string(&version_path) {
            Ok(v) if v.trim_end() == LAYOUT_VERSION => Ok(true),
            Ok(v) => Err(StoreError::Version {
                path: version_path,
                found: v.trim_end().to_string(),
                expected: LAYOUT_VERSION.to_string(),
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).at(version_path),
        }
    }

    fn create(&self) -> Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        let mut b = fs::DirBuilder::new();
        b.recursive(true).mode(0o700);
        b.create(&self.root).at(&self.root)?;
        for d in ["blobs/sha256", "layers", "tmp"] {
            let p = self.root.join(d);
            b.create(&p).at(&p)?;
        }
        let _lock = StoreLock::exclusive(&self.root.join("lock"))?;
        let version_path = self.root.join("layout-version");
        if !version_path.exists() {
            write_file_atomic(&version_path, format!("{LAYOUT_VERSION}\n").as_bytes())?;
        }
        Ok(())
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn blob_dir(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }

    /// Where a blob lives (whether or not it is there).
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.blob_dir().join(d.hex())
    }

    /// Whether a blob is present.
    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).exists()
    }

    /// Reads a whole blob and verifies its digest.
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(d);
        let data = match fs::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(StoreError::NotFound(format!("blob {d}")))
            }
            Err(e) => return Err(e).at(path),
        };
        let actual = Digest::of(&data);
        if actual != *d {
            return Err(StoreError::DigestMismatch {
                what: path.display().to_string(),
                expected: d.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(data)
    }

    /// Opens a blob for streaming; the caller verifies what it reads.
    pub fn open_blob(&self, d: &Digest) -> Result<fs::File> {
        let path = self.blob_path(d);
        fs::File::open(&path).map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                StoreError::NotFound(format!("blob {d}"))
            } else {
                StoreError::Io { path, source: e }
            }
        })
    }

    /// The unpacked directory of a layer.
    pub fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.root.join("layers").join(chain_id.hex()).join("diff")
    }

    /// Reads the metadata database without locking (it is replaced atomically).
    pub fn db(&self) -> Result<Db> {
        let path = self.root.join("db.json");
        match fs::read(&path) {
            Ok(data) => {
                serde_json::from_slice(&data).map_err(|source| StoreError::Corrupt { path, source })
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Db::default()),
            Err(e) => Err(e).at(path),
        }
    }

    fn write_db(&self, db: &Db) -> Result<()> {
        let data = serde_json::to_vec(db).expect("db serialises");
        write_file_atomic(&self.root.join("db.json"), &data)
    }

    pub(crate) fn lock(&self) -> Result<StoreLock> {
        StoreLock::exclusive(&self.root.join("lock"))
    }

    /// Starts a transaction with its own staging directory.
    pub fn begin(&self) -> Result<Txn> {
        let staging = StagingDir::create(&self.tmp())?;
        for d in ["blobs", "layers"] {
            let p = staging.path().join(d);
            fs::create_dir(&p).at(&p)?;
        }
        Ok(Txn {
            staging,
            blobs: Mutex::new(Vec::new()),
            layers: Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
        })
    }

    /// Changes the metadata under the exclusive lock, with no new content.
    /// Layers and blobs that no image uses any more are removed.
    pub fn update<T>(&self, f: impl FnOnce(&mut Db) -> Result<T>) -> Result<(T, RemovedImage)> {
        self.apply(None, f)
    }

    /// Commits a transaction: its blobs and layers become visible together with the
    /// metadata change `f` makes, or not at all.
    pub fn commit<T>(
        &self,
        txn: Txn,
        f: impl FnOnce(&mut Db) -> Result<T>,
    ) -> Result<(T, RemovedImage)> {
        self.apply(Some(txn), f)
    }

    fn apply<T>(
        &self,
        txn: Option<Txn>,
        f: impl FnOnce(&mut Db) -> Result<T>,
    ) -> Result<(T, RemovedImage)> {
        let _lock = self.lock()?;
        let mut db = self.db()?;
        let before_layers: BTreeSet<Digest> = db.layers().keys().cloned().collect();
        let before_sizes: std::collections::BTreeMap<Digest, u64> = db
            .layers()
            .iter()
            .map(|(k, v)| (k.clone(), v.size))
            .collect();
        let before_blobs = db.referenced_blobs();

        let mut new_layers = Vec::new();
        let mut new_blobs = Vec::new();
        let txn = txn.map(Txn::into_parts);
        if let Some((_, layers, blobs)) = &txn {
            for l in layers {
                if !db.layers().contains_key(&l.chain_id) {
                    new_layers.push(l);
                }
            }
            for b in blobs {
                if !self.has_blob(b) {
                    new_blobs.push(b.clone());
                }
            }
        }
        for l in &new_layers {
            db.insert_layer(l.chain_id.clone(), l.record.clone());
        }
        let value = f(&mut db)?;

        let candidates = before_layers
            .iter()
            .chain(new_layers.iter().map(|l| &l.chain_id));
        let (garbage_layers, garbage_blobs) =
            self.collect_garbage(&mut db, candidates, &before_blobs)?;
        // A staged blob nothing refers to (a manifest of an image that another process
        // stored first) stays in staging and goes with it.
        let used_blobs = db.referenced_blobs();
        new_blobs.retain(|b| used_blobs.contains(b));

        let journal = Journal {
            layers: new_layers
                .iter()
                .map(|l| l.chain_id.clone())
                .chain(garbage_layers.iter().cloned())
                .collect(),
            blobs: new_blobs
                .iter()
                .chain(garbage_blobs.iter())
                .cloned()
                .collect(),
        };
        let journal_path = self.root.join("journal.json");
        let touches_disk = !journal.layers.is_empty() || !journal.blobs.is_empty();
        if touches_disk {
            write_file_atomic(
                &journal_path,
                &serde_json::to_vec(&journal).expect("journal serialises"),
            )?;
        }

        if let Some((staging, _, _)) = &txn {
            for b in &new_blobs {
                let from = staging.path().join("blobs").join(b.hex());
                let to = self.blob_path(b);
                fs::rename(&from, &to).at(&to)?;
            }
            for l in &new_layers {
                let to = self.root.join("layers").join(l.chain_id.hex());
                if to.exists() {
                    self.trash(&to)?;
                }
                fs::rename(&l.dir, &to).at(&to)?;
            }
            crate::fsync_dir(&self.blob_dir())?;
            crate::fsync_dir(&self.root.join("layers"))?;
        }

        let mut removed = RemovedImage::default();
        for g in &garbage_layers {
            if let Some(size) = before_sizes.get(g) {
                removed.layers.push(g.clone());
                removed.reclaimed += size;
            }
        }
        self.write_db(&db)?;
        let mut trash = Vec::new();
        for g in &garbage_layers {
            let dir = self.root.join("layers").join(g.hex());
            if dir.exists() {
                trash.push(self.trash(&dir)?);
            }
        }
        for b in &garbage_blobs {
            let _ = fs::remove_file(self.blob_path(b));
        }
        if touches_disk {
            fs::remove_file(&journal_path).at(&journal_path)?;
        }
        drop(_lock);
        if let Some((staging, _, _)) = txn {
            staging.consumed_after_commit();
        }
        for t in trash {
            let _ = remove_tree(&t);
        }
        Ok((value, removed))
    }

    /// Drops from `db` the layers among `candidates` that no image or container uses
    /// and the compressed copies of blobs nothing uses; returns those layers and the
    /// blobs of `before_blobs` nothing uses any more.
    fn collect_garbage<'a>(
        &self,
        db: &mut Db,
        candidates: impl Iterator<Item = &'a Digest>,
        before_blobs: &BTreeSet<Digest>,
    ) -> Result<(Vec<Digest>, Vec<Digest>)> {
        let mut used_layers = db.referenced_layers();
        used_layers.extend(self.container_layers()?);
        let garbage_layers: Vec<Digest> = candidates
            .filter(|c| !used_layers.contains(*c))
            .cloned()
            .collect();
        for g in &garbage_layers {
            db.remove_layer(g);
        }
        let used_blobs = db.referenced_blobs();
        db.retain_compressed(&used_blobs);
        let garbage_blobs = before_blobs
            .iter()
            .filter(|b| !used_blobs.contains(*b))
            .cloned()
            .collect();
        Ok((garbage_layers, garbage_blobs))
    }

    /// Moves a directory into `tmp/` under a trash name; it is deleted later.
    fn trash(&self, dir: &Path) -> Result<PathBuf> {
        let to = self.tmp().join(unique_name("trash"));
        fs::rename(dir, &to).at(dir)?;
        Ok(to)
    }

    /// Cleans up after processes that were killed: rolls back an interrupted change,
    /// removes temporary copies of the metadata, staging directories whose owner is
    /// gone, and trash.
    fn recover(&self) -> Result<()> {
        if self.root.join("journal.json").exists() {
            let _lock = self.lock()?;
            self.roll_back_locked()?;
        }
        self.remove_stale_temp_files()?;
        let tmp = self.tmp();
        let entries = match fs::read_dir(&tmp) {
            Ok(rd) => rd,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).at(tmp),
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("trash-") {
                let _ = remove_tree(&e.path());
            } else if let Some(stem) = name.strip_suffix(".lock") {
                if let Some(_l) = StoreLock::try_exclusive(&e.path())? {
                    let _ = remove_tree(&tmp.join(stem));
                    let _ = fs::remove_file(e.path());
                }
            } else if name.starts_with("stage-") && !tmp.join(format!("{name}.lock")).exists() {
                // Its owner makes the lock file first and removes it last: a staging
                // directory without one has no owner.
                let _ = remove_tree(&e.path());
            }
        }
        Ok(())
    }

    /// Removes the `ROOT/.tmp-*` files that an atomic replacement of `db.json`,
    /// `journal.json` or `layout-version` left when killed. Those are written only under
    /// the store lock, so under it every such file is stale; when another process holds
    /// the lock they are left for the next opening.
    fn remove_stale_temp_files(&self) -> Result<()> {
        let entries = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).at(&self.root),
        };
        let stale: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .map(|e| e.path())
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        if let Some(_lock) = StoreLock::try_exclusive(&self.root.join("lock"))? {
            for p in stale {
                let _ = fs::remove_file(p);
            }
        }
        Ok(())
    }

    /// Rolls back the change `journal.json` records; the caller holds the store lock.
    pub(crate) fn roll_back_locked(&self) -> Result<()> {
        let journal_path = self.root.join("journal.json");
        let Ok(data) = fs::read(&journal_path) else {
            return Ok(());
        };
        let journal: Journal = serde_json::from_slice(&data).unwrap_or_default();
        let mut db = self.db()?;
        let mut used_layers = db.referenced_layers();
        used_layers.extend(self.container_layers()?);
        let mut changed = false;
        for l in &journal.layers {
            if !used_layers.contains(l) {
                changed |= db.remove_layer(l);
                let dir = self.root.join("layers").join(l.hex());
                if dir.exists() {
                    let t = self.trash(&dir)?;
                    let _ = remove_tree(&t);
                }
            }
        }
        if changed {
            self.write_db(&db)?;
        }
        let used_blobs = db.referenced_blobs();
        for b in &journal.blobs {
            if !used_blobs.contains(b) {
                let _ = fs::remove_file(self.blob_path(b));
            }
        }
        fs::remove_file(&journal_path).at(&journal_path)
    }
}

/// A layer directory of a transaction, handed out by [`Txn::layer_dir`]. Recording the
/// layer with [`Txn::add_layer`] consumes it, so a directory is recorded at most once.
#[derive(Debug, PartialEq, Eq)]
pub struct LayerSlot {
    index: usize,
}

impl Txn {
    /// A writer for a new blob; `finish_blob` records it in the transaction.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let dir = self.staging.path().join("blobs");
        BlobWriter::create(&dir, &dir)
    }

    /// Records a blob written with `blob_writer`.
    pub fn finish_blob(&self, w: BlobWriter, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let (d, n) = w.commit(expected)?;
        let mut blobs = self.blobs.lock().unwrap_or_else(|e| e.into_inner());
        if !blobs.contains(&d) {
            blobs.push(d.clone());
        }
        Ok((d, n))
    }

    /// Records a file already written inside the staging directory (under
    /// [`Txn::scratch`]) as the blob `digest`, by renaming it, not copying it. The caller
    /// has computed `digest` from the file's bytes as it wrote them. Returns its size.
    pub fn adopt_blob(&self, path: &Path, digest: &Digest) -> Result<u64> {
        let inside = path.starts_with(self.staging.path())
            && !path
                .components()
                .any(|c| c == std::path::Component::ParentDir);
        if !inside {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(
                    ErrorKind::InvalidInput,
                    "a blob to adopt must be inside the transaction's staging directory",
                ),
            });
        }
        let file = fs::File::open(path).at(path)?;
        file.sync_all().at(path)?;
        let size = file.metadata().at(path)?.len();
        let dir = self.staging.path().join("blobs");
        let dest = dir.join(digest.hex());
        fs::rename(path, &dest).at(&dest)?;
        crate::fsync_dir(&dir)?;
        let mut blobs = self.blobs.lock().unwrap_or_else(|e| e.into_inner());
        if !blobs.contains(digest) {
            blobs.push(digest.clone());
        }
        Ok(size)
    }

    /// Adds a small blob from memory.
    pub fn put_blob(&self, data: &[u8]) -> Result<Digest> {
        let mut w = self.blob_writer()?;
        std::io::Write::write_all(&mut w, data).at(self.staging.path())?;
        Ok(self.finish_blob(w, None)?.0)
    }

    /// Adds a blob by streaming `r` into it.
    pub fn copy_blob(&self, r: &mut impl Read, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let mut w = self.blob_writer()?;
        std::io::copy(r, &mut w).at(self.staging.path())?;
        self.finish_blob(w, expected)
    }

    /// A new empty directory to unpack a layer into; returns its slot and path
    /// (the layer's root is `path`).
    pub fn layer_dir(&self) -> Result<(LayerSlot, PathBuf)> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let outer = self.staging.path().join("layers").join(i.to_string());
        let diff = outer.join("diff");
        fs::create_dir(&outer).at(&outer)?;
        fs::create_dir(&diff).at(&diff)?;
        Ok((LayerSlot { index: i }, diff))
    }

    /// Records the layer unpacked into the directory of `slot` with its chain ID and
    /// record, measuring the directory's size into the record's `tree_size`.
    pub fn add_layer(&self, slot: LayerSlot, chain_id: Digest, mut record: LayerRecord) {
        let dir = self
            .staging
            .path()
            .join("layers")
            .join(slot.index.to_string());
        record.tree_size = crate::measure::tree_bytes(&dir.join("diff"));
        let mut layers = self.layers.lock().unwrap_or_else(|e| e.into_inner());
        layers.push(NewLayer {
            chain_id,
            record,
            dir,
        });
    }

    fn into_parts(self) -> (StagingDir, Vec<NewLayer>, Vec<Digest>) {
        let layers = self.layers.into_inner().unwrap_or_else(|e| e.into_inner());
        let blobs = self.blobs.into_inner().unwrap_or_else(|e| e.into_inner());
        (self.staging, layers, blobs)
    }

    /// The staging directory (for scratch files that go away with the transaction).
    pub fn scratch(&self) -> &Path {
        self.staging.path()
    }
}

impl StagingDir {
    fn consumed_after_commit(self) {
        // What was not renamed into the store (duplicates) is removed with the directory.
        let _ = remove_tree(self.path());
        self.consumed();
    }
}
