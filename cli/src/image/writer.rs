//! Writing images into the store, the one way import, commit, load, pull and build all
//! do it: each new layer is recorded in the transaction under its chain ID
//! ([`stage_layer`]), the layers are gathered bottom first ([`ImageLayers`]), the config
//! and manifest become blobs and the image record is made ([`NewImage::stage`]), and one
//! [`ImageWriter::commit`] makes the images, their tags and repository digests visible
//! together with the transaction's layers and blobs, or nothing at all.

use super::config::ImageConfig;
use super::manifest::{manifest_bytes, oci_manifest};
use crate::clock::now_unix;
use store_layout::{
    BlobRef, Db, Digest, ImageRecord, LayerRecord, LayerSlot, Store, StoreError, Txn,
};

/// Why an image cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A layer of the base image is not in the store.
    #[error("layer {0} of the base image is missing")]
    MissingLayer(Digest),
    /// A layer the manifest must name has no stored archive.
    #[error("layer {0} has no stored archive")]
    NoArchive(Digest),
}

/// Which command assembles the image, for the messages of a commit that finds the store
/// changed under it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assembly {
    /// `import`.
    Import,
    /// `commit`.
    Commit,
    /// `load`.
    Load,
    /// `pull`.
    Pull,
    /// `build`.
    Build,
}

impl Assembly {
    fn verb(self) -> &'static str {
        match self {
            Assembly::Import => "import",
            Assembly::Commit => "commit",
            Assembly::Load => "load",
            Assembly::Pull => "pull",
            Assembly::Build => "build",
        }
    }

    fn doing(self) -> &'static str {
        match self {
            Assembly::Import => "importing",
            Assembly::Commit => "committing",
            Assembly::Load => "loading",
            Assembly::Pull => "pulling",
            Assembly::Build => "building",
        }
    }
}

/// A layer just unpacked into a transaction's layer directory, to record.
#[derive(Debug)]
pub struct UnpackedLayer {
    /// The layer directory in the transaction.
    pub slot: LayerSlot,
    /// sha256 of its uncompressed tar.
    pub diff_id: Digest,
    /// Its archive, as stored.
    pub blob: BlobRef,
    /// Its unpacked size in bytes.
    pub size: u64,
}

/// Records an unpacked layer in `txn` under chain ID `chain`, on top of `parent`.
pub fn stage_layer(txn: &Txn, layer: UnpackedLayer, chain: Digest, parent: Option<Digest>) {
    txn.add_layer(
        layer.slot,
        chain,
        LayerRecord {
            diff_id: layer.diff_id,
            parent,
            size: layer.size,
            blob: Some(layer.blob),
            tree_size: None,
        },
    );
}

/// The layers of an image being assembled, bottom first: chain IDs, archives, and the
/// unpacked size of them all.
#[derive(Clone, Debug, Default)]
pub struct ImageLayers {
    chains: Vec<Digest>,
    blobs: Vec<Option<BlobRef>>,
    size: u64,
}

impl ImageLayers {
    /// No layers yet.
    pub fn new() -> ImageLayers {
        ImageLayers::default()
    }

    /// The stored layers `chains` (a base image's, bottom first), to build on (commit,
    /// build).
    pub fn stored(db: &Db, chains: &[Digest]) -> Result<ImageLayers, WriteError> {
        let mut layers = ImageLayers::new();
        for chain in chains {
            let record = db
                .layers()
                .get(chain)
                .ok_or_else(|| WriteError::MissingLayer(chain.clone()))?;
            layers.push_stored(chain.clone(), record);
        }
        Ok(layers)
    }

    /// Adds a stored layer on top.
    pub fn push_stored(&mut self, chain: Digest, record: &LayerRecord) {
        self.chains.push(chain);
        self.blobs.push(record.blob.clone());
        self.size += record.size;
    }

    /// Adds a layer recorded in the transaction (with [`stage_layer`]) on top.
    pub fn push(&mut self, chain: Digest, blob: BlobRef, size: u64) {
        self.chains.push(chain);
        self.blobs.push(Some(blob));
        self.size += size;
    }

    /// Records a newly unpacked layer in `txn` on top of these and adds it; returns its
    /// chain ID.
    pub fn push_new(&mut self, txn: &Txn, layer: UnpackedLayer) -> Digest {
        let parent = self.top().cloned();
        let chain = store_layout::chain_id(parent.as_ref(), &layer.diff_id);
        self.push(chain.clone(), layer.blob.clone(), layer.size);
        stage_layer(txn, layer, chain.clone(), parent);
        chain
    }

    /// The chain ID of the top layer.
    pub fn top(&self) -> Option<&Digest> {
        self.chains.last()
    }

    fn archives(&self) -> Result<Vec<BlobRef>, WriteError> {
        self.blobs
            .iter()
            .zip(&self.chains)
            .map(|(b, c)| b.clone().ok_or_else(|| WriteError::NoArchive(c.clone())))
            .collect()
    }
}

/// An image to write: its config, its manifest when it comes as it is, its layers.
pub struct NewImage<'a> {
    /// The config.
    pub config: &'a ImageConfig,
    /// The config's bytes when they must stay as they came (load, pull); else the config
    /// is serialised.
    pub config_bytes: Option<&'a [u8]>,
    /// The manifest as a registry served it (pull); else an OCI manifest naming the
    /// layers' archives is written.
    pub manifest: Option<&'a [u8]>,
    /// The layers, bottom first.
    pub layers: ImageLayers,
    /// The image it was made from (commit, build).
    pub parent: Option<Digest>,
}

/// An image whose config and manifest are blobs of a transaction, waiting for
/// [`ImageWriter::commit`].
pub struct StagedImage {
    /// The image ID (its config's digest).
    pub id: Digest,
    record: ImageRecord,
}

impl<'a> NewImage<'a> {
    /// An image made here (import, commit, build): `config` is serialised and an OCI
    /// manifest is written for `layers`; no parent.
    pub fn new(config: &'a ImageConfig, layers: ImageLayers) -> NewImage<'a> {
        NewImage {
            config,
            config_bytes: None,
            manifest: None,
            layers,
            parent: None,
        }
    }

    /// Writes the config and manifest into `txn` and makes the image record.
    pub fn stage(self, txn: &Txn) -> Result<StagedImage, WriteError> {
        let serialised;
        let config_bytes = match self.config_bytes {
            Some(b) => b,
            None => {
                serialised = self.config.to_bytes();
                &serialised
            }
        };
        let id = txn.put_blob(config_bytes)?;
        let manifest = match self.manifest {
            Some(m) => txn.put_blob(m)?,
            None => {
                let blobs = self.layers.archives()?;
                let m = oci_manifest(&id, config_bytes.len() as u64, &blobs);
                txn.put_blob(&manifest_bytes(&m))?
            }
        };
        let record = ImageRecord {
            manifest,
            layers: self.layers.chains,
            created: self.config.created.clone(),
            size: self.layers.size,
            repo_digests: Vec::new(),
            labels: self.config.labels(),
            parent: self.parent,
            added: now_unix(),
        };
        Ok(StagedImage { id, record })
    }
}

/// Names given to an image in a commit.
struct Naming {
    id: Digest,
    tags: Vec<String>,
    repo_digest: Option<String>,
}

/// What one commit does to the images: the staged images it adds, then the tags and
/// repository digests it gives, in order (a later tag of the same name wins).
pub struct ImageWriter {
    assembly: Assembly,
    images: Vec<StagedImage>,
    names: Vec<Naming>,
}

impl ImageWriter {
    /// An empty change for `assembly`.
    pub fn new(assembly: Assembly) -> ImageWriter {
        ImageWriter {
            assembly,
            images: Vec::new(),
            names: Vec::new(),
        }
    }

    /// Adds a staged image (an image the store has already stays as it is); returns
    /// its ID.
    pub fn add(&mut self, image: StagedImage) -> Digest {
        let id = image.id.clone();
        self.images.push(image);
        id
    }

    /// Gives image `id` (added here, or in the store) the full references `tags` and
    /// the repository digest `repo_digest` (`NAME@sha256:…`).
    pub fn name(
        &mut self,
        id: &Digest,
        tags: impl IntoIterator<Item = String>,
        repo_digest: Option<String>,
    ) {
        self.names.push(Naming {
            id: id.clone(),
            tags: tags.into_iter().collect(),
            repo_digest,
        });
    }

    /// Commits `txn` with the images and names: all of it becomes visible, or none.
    pub fn commit(self, store: &Store, txn: Txn) -> Result<(), StoreError> {
        store.commit(txn, move |db| self.apply(db))?;
        Ok(())
    }

    /// Gives names to stored images, with no new content.
    pub fn update(self, store: &Store) -> Result<(), StoreError> {
        store.update(move |db| self.apply(db))?;
        Ok(())
    }

    fn apply(self, db: &mut Db) -> Result<(), StoreError> {
        let (verb, doing) = (self.assembly.verb(), self.assembly.doing());
        for image in self.images {
            // A layer that was already here may have gone while the image was assembled.
            if let Some(c) = image
                .record
                .layers
                .iter()
                .find(|c| !db.layers().contains_key(*c))
            {
                return Err(StoreError::NotFound(format!(
                    "layer {c} (removed while {doing}; {verb} again)"
                )));
            }
            db.add_image(image.id, image.record)?;
        }
        for n in self.names {
            if !db.images().contains_key(&n.id) {
                return Err(StoreError::NotFound(format!(
                    "image {} (removed while {doing})",
                    n.id
                )));
            }
            if let Some(rd) = n.repo_digest {
                db.add_repo_digest(&n.id, rd)?;
            }
            for t in n.tags {
                db.tag(t, &n.id)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{History, RootFs};

    /// A one-layer image staged in a new transaction of `store`, as build would stage
    /// a step: a layer unpacked into a slot, a config with its history entry.
    fn staged(store: &Store, content: &[u8]) -> (Txn, StagedImage) {
        let txn = store.begin().unwrap();
        let (slot, dir) = txn.layer_dir().unwrap();
        std::fs::write(dir.join("file"), content).unwrap();
        let blob_digest = txn.put_blob(content).unwrap();
        let layer = UnpackedLayer {
            slot,
            diff_id: blob_digest.clone(),
            blob: BlobRef {
                digest: blob_digest.clone(),
                media_type: crate::image::media_type::LAYER_TAR.into(),
                size: content.len() as u64,
            },
            size: content.len() as u64,
        };
        let mut config = ImageConfig {
            rootfs: RootFs {
                typ: "layers".into(),
                diff_ids: Vec::new(),
            },
            ..Default::default()
        };
        config.push_layer(
            &blob_digest,
            History {
                created_by: Some("COPY file /".into()),
                ..Default::default()
            },
        );
        let mut layers = ImageLayers::new();
        layers.push_new(&txn, layer);
        let image = NewImage::new(&config, layers).stage(&txn).unwrap();
        (txn, image)
    }

    #[test]
    fn one_commit_adds_the_image_its_layer_tag_and_repository_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (txn, image) = staged(&store, b"one");
        let mut w = ImageWriter::new(Assembly::Build);
        let id = w.add(image);
        w.name(
            &id,
            ["docker.io/library/a:1".to_string()],
            Some("a@x".into()),
        );
        w.commit(&store, txn).unwrap();

        let db = store.db().unwrap();
        let record = &db.images()[&id];
        assert_eq!(db.tags()["docker.io/library/a:1"], id);
        assert_eq!(record.repo_digests, ["a@x"]);
        assert_eq!(record.size, 3);
        assert!(db.layers().contains_key(&record.layers[0]));
        let manifest: serde_json::Value =
            serde_json::from_slice(&store.read_blob(&record.manifest).unwrap()).unwrap();
        assert_eq!(manifest["config"]["digest"], id.as_str());
        assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
        let config = ImageConfig::from_slice(&store.read_blob(&id).unwrap()).unwrap();
        assert_eq!(config.history[0].created_by.as_deref(), Some("COPY file /"));
    }

    #[test]
    fn naming_an_image_that_went_away_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (txn, image) = staged(&store, b"two");
        let mut w = ImageWriter::new(Assembly::Load);
        w.add(image);
        w.name(&Digest::of(b"gone"), Vec::new(), None);
        let err = w.commit(&store, txn).unwrap_err();
        assert!(err.to_string().contains("removed while loading"), "{err}");
        let db = store.db().unwrap();
        assert!(db.images().is_empty() && db.layers().is_empty());
    }
}
