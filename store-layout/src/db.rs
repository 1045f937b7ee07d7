//! The metadata database: images, layers and tags in one JSON document.
//!
//! One file keeps every multi-record change atomic: it is read, changed and replaced
//! under the store's exclusive lock, and readers always see a whole version of it.

use crate::{Digest, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A blob that holds a layer's archive, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    /// Digest of the stored bytes.
    pub digest: Digest,
    /// OCI media type of the stored bytes.
    pub media_type: String,
    /// Size of the stored bytes.
    pub size: u64,
}

/// One unpacked layer, keyed in the database by its chain ID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// sha256 of the uncompressed layer tar.
    pub diff_id: Digest,
    /// Chain ID of the layer below, if any.
    pub parent: Option<Digest>,
    /// Bytes of file content the layer holds, unpacked.
    pub size: u64,
    /// The archive the layer came from, when it is kept.
    pub blob: Option<BlobRef>,
    /// Bytes of the layer directory's regular files and symbolic links, measured when
    /// the transaction recorded it (set by [`crate::Txn::add_layer`]; callers leave it
    /// `None`), for `system check` to compare; `None` for layers committed before it was
    /// measured, or whose directory could not be read whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<u64>,
}

/// One image, keyed in the database by its ID (the digest of its config).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Digest of the manifest blob strata keeps for the image.
    pub manifest: Digest,
    /// Chain IDs of the layers, bottom first.
    pub layers: Vec<Digest>,
    /// The config's `created` time (RFC 3339), if any.
    pub created: Option<String>,
    /// Sum of the layers' unpacked sizes.
    pub size: u64,
    /// `NAME@sha256:…` references of the manifest in registries.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// The config's labels, for filters.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The image this one was built on, when strata built it.
    #[serde(default)]
    pub parent: Option<Digest>,
    /// Unix time at which the image entered this store.
    pub added: i64,
}

/// More than one image ID starts with the prefix given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmbiguousId;

/// The whole metadata database. Its maps are read through accessors and changed only
/// through operations that keep its rules: a tag or repository digest names an image
/// that exists, an image's layers exist, an image goes with its tags. Layers come and
/// go with transactions and garbage collection (`Store::commit`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Db {
    /// Images by ID.
    #[serde(default)]
    images: BTreeMap<Digest, ImageRecord>,
    /// Layers by chain ID.
    #[serde(default)]
    layers: BTreeMap<Digest, LayerRecord>,
    /// Full references (`docker.io/library/busybox:latest`) to image IDs.
    #[serde(default)]
    tags: BTreeMap<String, Digest>,
    /// Compressed copies of layer blobs that are stored uncompressed, made once by a
    /// push and reused by the next: uncompressed blob digest → its compressed blobs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    compressed: BTreeMap<Digest, Vec<BlobRef>>,
}

impl Db {
    /// Images by ID.
    pub fn images(&self) -> &BTreeMap<Digest, ImageRecord> {
        &self.images
    }

    /// Layers by chain ID.
    pub fn layers(&self) -> &BTreeMap<Digest, LayerRecord> {
        &self.layers
    }

    /// Full references to image IDs.
    pub fn tags(&self) -> &BTreeMap<String, Digest> {
        &self.tags
    }

    /// Compressed copies of uncompressed layer blobs, by the uncompressed blob's digest.
    pub fn compressed(&self) -> &BTreeMap<Digest, Vec<BlobRef>> {
        &self.compressed
    }

    /// Adds image `id` unless it is there already; every layer it names must be.
    pub fn add_image(&mut self, id: Digest, record: ImageRecord) -> Result<(), StoreError> {
        if let Some(c) = record.layers.iter().find(|c| !self.layers.contains_key(*c)) {
            return Err(StoreError::NotFound(format!("layer {c}")));
        }
        self.images.entry(id).or_insert(record);
        Ok(())
    }

    /// Points the full reference `tag` at image `id`, which must exist; returns the
    /// image it pointed at before.
    pub fn tag(&mut self, tag: String, id: &Digest) -> Result<Option<Digest>, StoreError> {
        if !self.images.contains_key(id) {
            return Err(StoreError::NotFound(format!("image {id}")));
        }
        Ok(self.tags.insert(tag, id.clone()))
    }

    /// Removes the full reference `tag`; returns the image it pointed at.
    pub fn untag(&mut self, tag: &str) -> Option<Digest> {
        self.tags.remove(tag)
    }

    /// Records `repo_digest` (`NAME@sha256:…`) for image `id`, once.
    pub fn add_repo_digest(&mut self, id: &Digest, repo_digest: String) -> Result<(), StoreError> {
        let img = self
            .images
            .get_mut(id)
            .ok_or_else(|| StoreError::NotFound(format!("image {id}")))?;
        if !img.repo_digests.contains(&repo_digest) {
            img.repo_digests.push(repo_digest);
        }
        Ok(())
    }

    /// Forgets `repo_digest` for image `id`.
    pub fn remove_repo_digest(&mut self, id: &Digest, repo_digest: &str) {
        if let Some(img) = self.images.get_mut(id) {
            img.repo_digests.retain(|x| x != repo_digest);
        }
    }

    /// Removes image `id` and every tag that points at it; returns its record.
    pub fn remove_image(&mut self, id: &Digest) -> Option<ImageRecord> {
        let record = self.images.remove(id)?;
        self.tags.retain(|_, v| v != id);
        Some(record)
    }

    /// Records `copy` as a compressed copy of the uncompressed blob `blob`, once.
    pub fn add_compressed(&mut self, blob: Digest, copy: BlobRef) {
        let copies = self.compressed.entry(blob).or_default();
        if !copies.iter().any(|x| x.digest == copy.digest) {
            copies.push(copy);
        }
    }

    /// Adds a layer (a transaction's, as it commits).
    pub(crate) fn insert_layer(&mut self, chain_id: Digest, record: LayerRecord) {
        self.layers.insert(chain_id, record);
    }

    /// Removes a layer no image uses (garbage collection).
    pub(crate) fn remove_layer(&mut self, chain_id: &Digest) -> bool {
        self.layers.remove(chain_id).is_some()
    }

    /// Keeps only the compressed copies of blobs in `used`.
    pub(crate) fn retain_compressed(&mut self, used: &BTreeSet<Digest>) {
        self.compressed.retain(|k, _| used.contains(k));
    }

    /// The tags that point at an image, sorted.
    pub fn tags_of(&self, id: &Digest) -> Vec<&str> {
        self.tags
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// Chain IDs used by any image.
    pub fn referenced_layers(&self) -> BTreeSet<Digest> {
        self.images
            .values()
            .flat_map(|i| i.layers.iter().cloned())
            .collect()
    }

    /// Blob digests used by any image (config and manifest) or layer.
    pub fn referenced_blobs(&self) -> BTreeSet<Digest> {
        let mut set = BTreeSet::new();
        for (id, img) in &self.images {
            set.insert(id.clone());
            set.insert(img.manifest.clone());
        }
        for layer in self.layers.values() {
            if let Some(b) = &layer.blob {
                set.insert(b.digest.clone());
                for c in self.compressed.get(&b.digest).into_iter().flatten() {
                    set.insert(c.digest.clone());
                }
            }
        }
        set
    }

    /// Finds an image by full ID, `sha256:` prefix, or unique ID prefix of at least
    /// one hex digit. Fails when more than one image starts with the prefix.
    pub fn find_by_id_prefix(&self, prefix: &str) -> Result<Option<Digest>, AmbiguousId> {
        let p = prefix.strip_prefix("sha256:").unwrap_or(prefix);
        if p.is_empty() || p.len() > 64 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let p = p.to_ascii_lowercase();
        let mut found = None;
        for id in self.images.keys() {
            if id.hex().starts_with(&p) {
                if found.is_some() {
                    return Err(AmbiguousId);
                }
                found = Some(id.clone());
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(layers: Vec<Digest>) -> ImageRecord {
        ImageRecord {
            manifest: Digest::of(b"manifest"),
            layers,
            created: None,
            size: 0,
            repo_digests: Vec::new(),
            labels: BTreeMap::new(),
            parent: None,
            added: 0,
        }
    }

    #[test]
    fn operations_keep_the_rules() {
        let mut db = Db::default();
        let (id, chain) = (Digest::of(b"config"), Digest::of(b"layer"));
        assert!(db
            .add_image(id.clone(), image(vec![chain.clone()]))
            .is_err());
        assert!(db.tag("a:1".into(), &id).is_err(), "a tag needs its image");
        assert!(db.add_repo_digest(&id, "a@x".into()).is_err());

        db.insert_layer(
            chain.clone(),
            LayerRecord {
                diff_id: chain.clone(),
                parent: None,
                size: 1,
                blob: None,
                tree_size: None,
            },
        );
        db.add_image(id.clone(), image(vec![chain])).unwrap();
        db.tag("a:1".into(), &id).unwrap();
        db.tag("b:1".into(), &id).unwrap();
        db.add_repo_digest(&id, "a@x".into()).unwrap();
        db.add_repo_digest(&id, "a@x".into()).unwrap();
        assert_eq!(db.images()[&id].repo_digests, ["a@x"]);
        assert_eq!(db.untag("b:1"), Some(id.clone()));
        db.remove_repo_digest(&id, "a@x");
        assert!(db.images()[&id].repo_digests.is_empty());

        assert!(db.remove_image(&id).is_some());
        assert!(db.tags().is_empty(), "an image goes with its tags");
    }
}
