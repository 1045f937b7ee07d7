//! The build cache, kept in the store (`ROOT/build-cache/KEY`, each holding an image
//! ID): a step's key is its parent image, its instruction after expansion, the build
//! args it uses and, for COPY and ADD, a hash of what its sources put into the layer.
//! An entry whose image is gone (`rmi`, `image prune`) is a miss and is dropped.

use sha2::{Digest as _, Sha256};
use std::path::PathBuf;
use store_layout::{Db, Digest, Store};

/// The cache of one store.
pub struct Cache {
    dir: PathBuf,
    /// `--no-cache`: nothing is looked up (results are still recorded).
    pub disabled: bool,
    /// `SOURCE_DATE_EPOCH`: part of every key, as it changes what steps make.
    epoch: Option<i64>,
}

/// A step's key as it is being made.
pub struct Key(Sha256);

impl Key {
    /// A key for a step on top of `parent` (`None`: scratch).
    pub fn new(parent: Option<&Digest>) -> Key {
        let mut k = Key(Sha256::new());
        k.add(parent.map_or("scratch", |p| p.as_str()).as_bytes());
        k
    }

    /// Adds one part (length-prefixed, so parts never run together).
    pub fn add(&mut self, part: &[u8]) {
        self.0.update((part.len() as u64).to_le_bytes());
        self.0.update(part);
    }

    /// Adds raw bytes of a streamed part.
    pub fn stream(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The key as hex.
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

impl Cache {
    /// The cache of `store`.
    pub fn new(store: &Store, disabled: bool, epoch: Option<i64>) -> Cache {
        Cache {
            dir: store.root().join("build-cache"),
            disabled,
            epoch,
        }
    }

    /// The name `key` is recorded under.
    pub fn name(&self, mut key: Key) -> String {
        if let Some(t) = self.epoch {
            key.add(format!("SOURCE_DATE_EPOCH={t}").as_bytes());
        }
        key.finish()
    }

    /// The image a step with `key` made before, if it is still in `db`.
    pub fn get(&self, key: Key, db: &Db) -> (Option<Digest>, String) {
        let key = self.name(key);
        if self.disabled {
            return (None, key);
        }
        let path = self.dir.join(&key);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return (None, key);
        };
        match Digest::parse(text.trim()) {
            Ok(id) if db.images().contains_key(&id) => (Some(id), key),
            _ => {
                let _ = std::fs::remove_file(&path);
                (None, key)
            }
        }
    }

    /// Records that the step with `key` made image `id` (best effort: a cache that
    /// cannot be written only makes later builds slower).
    pub fn put(&self, key: &str, id: &Digest) {
        let _ = std::fs::create_dir_all(&self.dir);
        let tmp = self.dir.join(format!(".{key}.{}", std::process::id()));
        if std::fs::write(&tmp, id.as_str()).is_ok() {
            let _ = std::fs::rename(&tmp, self.dir.join(key));
        }
    }
}

/// What `builder prune` removed: the cache entries and cache mounts by name, and the
/// bytes they held.
#[derive(Debug, Default)]
pub struct Pruned {
    /// Names of what was removed.
    pub removed: Vec<String>,
    /// Bytes reclaimed.
    pub bytes: u64,
}

fn tree_size(p: &std::path::Path) -> u64 {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::read_dir(p)
            .map(|rd| rd.flatten().map(|e| tree_size(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

fn older_than(p: &std::path::Path, until: Option<i64>) -> bool {
    use std::os::unix::fs::MetadataExt;
    match until {
        None => true,
        Some(t) => std::fs::symlink_metadata(p).is_ok_and(|m| m.mtime() < t),
    }
}

/// Removes build cache from `store`: cache entries whose image is gone (all of them
/// with `all`) and cache mounts, those last used before `until` when given.
pub fn prune(store: &Store, all: bool, until: Option<i64>) -> std::io::Result<Pruned> {
    let db = store.db().map_err(std::io::Error::other)?;
    let mut out = Pruned::default();
    for (sub, is_entry) in [("build-cache", true), ("build-mounts", false)] {
        let dir = store.root().join(sub);
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for e in rd.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let stale = || {
                std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| Digest::parse(t.trim()).ok())
                    .is_none_or(|id| !db.images().contains_key(&id))
            };
            if !older_than(&path, until) || (is_entry && !all && !stale()) {
                continue;
            }
            let size = tree_size(&path);
            let gone = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if gone.is_ok() {
                out.bytes += size;
                out.removed.push(name);
            }
        }
    }
    Ok(out)
}

/// How many build cache objects (cache entries and cache mounts) `store` holds, and
/// their size in bytes (`system df`).
pub fn usage(store: &Store) -> (usize, u64) {
    let mut count = 0;
    let mut bytes = 0;
    for sub in ["build-cache", "build-mounts"] {
        if let Ok(rd) = std::fs::read_dir(store.root().join(sub)) {
            for e in rd.flatten() {
                count += 1;
                bytes += tree_size(&e.path());
            }
        }
    }
    (count, bytes)
}
