//! The metadata database: images, layers and tags in one JSON document.
//!
//! One file keeps every multi-record change atomic: it is read, changed and replaced
//! under the store's exclusive lock, and readers always see a whole version of it.

use crate::Digest;
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

/// The whole metadata database.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Db {
    /// Images by ID.
    #[serde(default)]
    pub images: BTreeMap<Digest, ImageRecord>,
    /// Layers by chain ID.
    #[serde(default)]
    pub layers: BTreeMap<Digest, LayerRecord>,
    /// Full references (`docker.io/library/busybox:latest`) to image IDs.
    #[serde(default)]
    pub tags: BTreeMap<String, Digest>,
    /// Compressed copies of layer blobs that are stored uncompressed, made once by a
    /// push and reused by the next: uncompressed blob digest → its compressed blobs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub compressed: BTreeMap<Digest, Vec<BlobRef>>,
}

impl Db {
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
