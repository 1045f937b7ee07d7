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
    pub fn new(store: &Store, disabled: bool) -> Cache {
        Cache {
            dir: store.root().join("build-cache"),
            disabled,
        }
    }

    /// The image a step with `key` made before, if it is still in `db`.
    pub fn get(&self, key: Key, db: &Db) -> (Option<Digest>, String) {
        let key = key.finish();
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
