//! Which layers an image needs, by chain ID, against what the store already holds: the
//! first step of every way an image is assembled (pull fetches the missing layers, load
//! and build unpack them).

use store_layout::{chain_id, Db, Digest, LayerClaims, LayerRecord, Store, StoreError};

/// What a stored layer must have to be reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// Its record is enough: the image's manifest comes as it is (pull).
    Record,
    /// It must have its archive, which the manifest written for the image names (load,
    /// commit, build).
    Blob,
}

/// Whether a layer is in the store.
#[derive(Clone, Debug)]
pub enum LayerState {
    /// Stored already, with this record.
    Stored(LayerRecord),
    /// Not stored (or stored without the archive [`Reuse::Blob`] needs): to fetch or
    /// to unpack.
    Missing,
}

/// One layer of an image.
#[derive(Clone, Debug)]
pub struct PlannedLayer {
    /// sha256 of its uncompressed tar, as the config lists it.
    pub diff_id: Digest,
    /// Its chain ID (the layer with every layer below it).
    pub chain: Digest,
    /// The chain ID of the layer below, if any.
    pub parent: Option<Digest>,
    /// Whether the store has it.
    pub state: LayerState,
}

impl PlannedLayer {
    /// Whether the store has it.
    pub fn is_stored(&self) -> bool {
        matches!(self.state, LayerState::Stored(_))
    }
}

/// The layers of an image, bottom first, each by chain ID and against the store.
#[derive(Clone, Debug, Default)]
pub struct LayerPlan {
    layers: Vec<PlannedLayer>,
}

impl LayerPlan {
    /// Plans the image whose config lists `diff_ids`, bottom first.
    pub fn new(db: &Db, diff_ids: impl IntoIterator<Item = Digest>, reuse: Reuse) -> LayerPlan {
        let mut plan = LayerPlan::default();
        for d in diff_ids {
            plan.push(db, d, reuse);
        }
        plan
    }

    /// Adds a layer on top (for build, one per step); returns it.
    pub fn push(&mut self, db: &Db, diff_id: Digest, reuse: Reuse) -> &PlannedLayer {
        let parent = self.layers.last().map(|l| l.chain.clone());
        let chain = chain_id(parent.as_ref(), &diff_id);
        let state = match db.layers().get(&chain) {
            Some(r) if reuse == Reuse::Record || r.blob.is_some() => LayerState::Stored(r.clone()),
            _ => LayerState::Missing,
        };
        self.layers.push(PlannedLayer {
            diff_id,
            chain,
            parent,
            state,
        });
        self.layers.last().expect("just pushed")
    }

    /// The layers, bottom first.
    pub fn layers(&self) -> &[PlannedLayer] {
        &self.layers
    }

    /// Plans the same layers again against `db`.
    fn replan(&mut self, db: &Db, reuse: Reuse) {
        let diff_ids: Vec<Digest> = self.layers.drain(..).map(|l| l.diff_id).collect();
        for d in diff_ids {
            self.push(db, d, reuse);
        }
    }

    /// The layers the store lacks, with their positions.
    pub fn missing(&self) -> impl Iterator<Item = (usize, &PlannedLayer)> {
        self.layers
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.is_stored())
    }
}

/// Claims the layers that `plans` lack ([`Store::claim_layers`]: `waiting` is told of
/// each one another process is making, before this one waits for it), then plans them
/// again against the store as it is now: the layers others made are reused, and the
/// claims kept are those on the layers still missing, which are this process's to make.
/// The caller holds the claims until its transaction has committed or failed.
pub fn claim_missing(
    store: &Store,
    plans: &mut [&mut LayerPlan],
    reuse: Reuse,
    waiting: &mut dyn FnMut(&Digest),
) -> Result<LayerClaims, StoreError> {
    let missing: Vec<Digest> = plans
        .iter()
        .flat_map(|p| p.missing().map(|(_, l)| l.chain.clone()))
        .collect();
    if missing.is_empty() {
        return Ok(LayerClaims::default());
    }
    let mut claims = store.claim_layers(&missing, waiting)?;
    let db = store.db()?;
    for p in plans.iter_mut() {
        p.replan(&db, reuse);
    }
    claims.retain(|c| {
        plans
            .iter()
            .any(|p| p.missing().any(|(_, l)| l.chain == *c))
    });
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use store_layout::BlobRef;

    fn d(n: u8) -> Digest {
        Digest::of(&[n])
    }

    #[test]
    fn plans_by_chain_id_against_the_store() {
        let bottom = chain_id(None, &d(1));
        let record = |blob: bool| LayerRecord {
            diff_id: d(1),
            parent: None,
            size: 1,
            blob: blob.then(|| BlobRef {
                digest: d(1),
                media_type: crate::image::media_type::LAYER_TAR.into(),
                size: 1,
            }),
            tree_size: None,
        };
        let with_layer = |r: LayerRecord| -> Db {
            serde_json::from_value(serde_json::json!({ "layers": { bottom.as_str(): r } })).unwrap()
        };
        let db = with_layer(record(true));
        // The same DiffID above another layer is another chain, so it is missing.
        let plan = LayerPlan::new(&db, [d(1), d(2), d(1)], Reuse::Blob);
        let l = plan.layers();
        assert_eq!(l[0].chain, bottom);
        assert!(l[0].is_stored() && !l[1].is_stored() && !l[2].is_stored());
        assert_eq!(l[1].parent.as_ref(), Some(&bottom));
        assert_eq!(l[2].chain, chain_id(Some(&l[1].chain), &d(1)));
        assert_eq!(plan.missing().map(|(i, _)| i).collect::<Vec<_>>(), [1, 2]);

        let db = with_layer(record(false));
        assert!(!LayerPlan::new(&db, [d(1)], Reuse::Blob).layers()[0].is_stored());
        assert!(LayerPlan::new(&db, [d(1)], Reuse::Record).layers()[0].is_stored());
    }
}
