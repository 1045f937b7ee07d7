//! The image a build stage has reached: its config and layers, and the image ID it is
//! stored under. Every step stores its result as an (untagged) image whose parent is
//! the step before, as docker's classic builder does: `images` hides such intermediate
//! images, `rmi` of the final image removes the ones only it needs, and the build cache
//! points at them.

use super::error::{BuildError, Result};
use crate::image::writer::{Assembly, ImageLayers, ImageWriter, NewImage, UnpackedLayer};
use crate::image::{ContainerConfig, History, ImageConfig};
use store_layout::{Db, Digest, Store, Txn};

/// The PATH docker gives an image built `FROM scratch`.
const SCRATCH_PATH: &str = crate::container::spec::DEFAULT_PATH;

/// Where a stage stands.
#[derive(Clone, Debug)]
pub struct ImageState {
    /// The stored image (None: scratch, nothing done yet).
    pub id: Option<Digest>,
    /// Its config.
    pub config: ImageConfig,
    /// Its layers' chain IDs, bottom first.
    pub layers: Vec<Digest>,
}

impl ImageState {
    /// The empty image `FROM scratch` starts from.
    pub fn scratch() -> ImageState {
        let config = ImageConfig {
            platform: crate::image::platform::Platform::host(),
            config: Some(ContainerConfig {
                env: Some(vec![format!("PATH={SCRATCH_PATH}")]),
                ..Default::default()
            }),
            rootfs: crate::image::RootFs {
                typ: "layers".into(),
                diff_ids: Vec::new(),
            },
            ..Default::default()
        };
        ImageState {
            id: None,
            config,
            layers: Vec::new(),
        }
    }

    /// The stored image `id`.
    pub fn load(store: &Store, id: &Digest) -> Result<ImageState> {
        ImageState::load_from(store, &store.db()?, id)
    }

    /// The stored image `id`, found in `db` (read already).
    pub fn load_from(store: &Store, db: &Db, id: &Digest) -> Result<ImageState> {
        let rec = db
            .images()
            .get(id)
            .ok_or_else(|| BuildError::NoSuchImage { id: id.clone() })?;
        let config = ImageConfig::from_slice(&store.read_blob(id)?).map_err(|error| {
            BuildError::InvalidConfig {
                id: id.short().to_string(),
                error,
            }
        })?;
        Ok(ImageState {
            id: Some(id.clone()),
            config,
            layers: rec.layers.clone(),
        })
    }

    /// Stores the next image: this one's config as changed by the step, plus `layer`
    /// (made in `txn`) and a history entry. Returns the new state.
    pub fn commit(
        &self,
        store: &Store,
        txn: Txn,
        mut config: ImageConfig,
        layer: Option<UnpackedLayer>,
        history: History,
    ) -> Result<ImageState> {
        let db = store.db()?;
        let mut layers = ImageLayers::stored(&db, &self.layers)?;
        let mut chains = self.layers.clone();
        if let Some(l) = layer {
            crate::ingest::check_layer_count(self.layers.len() + 1)?;
            config.rootfs.diff_ids.push(l.diff_id.to_string());
            chains.push(layers.push_new(&txn, l));
        }
        config.history.push(history);
        let staged = NewImage {
            parent: self.id.clone(),
            ..NewImage::new(&config, layers)
        }
        .stage(&txn)?;
        let mut writer = ImageWriter::new(Assembly::Build);
        let id = writer.add(staged);
        writer.commit(store, txn)?;
        Ok(ImageState {
            id: Some(id),
            config,
            layers: chains,
        })
    }
}
