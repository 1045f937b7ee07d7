//! `COPY --link` and `ADD --link`: the step's layer is made on an empty root, so it is
//! the same whatever is below it (BuildKit's semantics). Besides the usual cache entry
//! (parent and step), the build cache records the layer under a key without the parent;
//! a later build that reaches the same step on another base takes that layer (the same
//! archive and digest) and puts it on its own base instead of copying again.

use super::cache::Key;
use super::error::{io, Result};
use super::state::ImageState;
use super::{Builder, StageRun};
use crate::image::writer::UnpackedLayer;

/// The cache key of a link layer whose content key is `content`.
fn link_lookup(content: &str) -> Key {
    let mut key = Key::new(None);
    key.add(b"--link");
    key.add(content.as_bytes());
    key
}

impl Builder<'_> {
    /// [`link_lookup`] as the cache's name for it.
    pub(super) fn link_key(&self, content: &str) -> String {
        self.cache.name(link_lookup(content))
    }

    /// Puts the layer an earlier build made for the same `--link` step (`content`) on
    /// the stage's image, if the cache has one; records the result under `key`.
    pub(super) fn reuse_link(
        &self,
        run: &mut StageRun<'_>,
        content: &str,
        created_by: String,
        key: &str,
    ) -> Result<bool> {
        let db = self.store.db()?;
        let (Some(id), _) = self.cache.get(link_lookup(content), &db) else {
            return Ok(false);
        };
        let made = ImageState::load_from(self.store, &db, &id)?;
        let Some(record) = made.layers.last().and_then(|c| db.layers().get(c)) else {
            return Ok(false);
        };
        let Some(blob) = record.blob.clone() else {
            return Ok(false);
        };
        let from = self.store.layer_dir(made.layers.last().expect("a layer"));
        let txn = self.store.begin()?;
        let (slot, dir) = txn.layer_dir()?;
        crate::container::changes::copy_upper(&from, &dir).map_err(io(
            format!("cannot copy the layer {}", from.display()),
            &from,
        ))?;
        let layer = UnpackedLayer {
            slot,
            diff_id: record.diff_id.clone(),
            blob,
            size: record.size,
        };
        let mut config = run.state.config.clone();
        config.created = Some(self.created());
        let history = self.history(&config, created_by, false);
        run.state = run
            .state
            .commit(self.store, txn, config, Some(layer), history)?;
        self.out.line(" ---> Using cache");
        self.cache.put(key, run.state.id.as_ref().expect("stored"));
        Ok(true)
    }
}
