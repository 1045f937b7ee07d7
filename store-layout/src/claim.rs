//! Claims on layers: which of several processes that want a layer makes it.
//!
//! Before a process fetches or unpacks layers the store lacks, it claims their chain
//! IDs: it holds the lock of `tmp/claim-HEX.lock` for each until its transaction has
//! committed or failed. Another process that wants one of those layers waits on that
//! lock, then reads the database again: the layer is there (it reuses it), or the owner
//! failed or was killed (the lock is free and the layer missing: it does the work
//! itself). The kernel drops a killed owner's locks, so a waiter never waits for the dead.
//!
//! No two processes wait for each other: claims are taken in the order of their chain
//! IDs, all of them before the work they cover starts, and their holder waits for
//! nothing else but the store lock, whose holders wait for no claim. A claim file is
//! removed by its owner while still locked; a waiter that then gets the lock of the
//! removed file sees that it is no longer at its path and starts again, as the staging
//! lock does (see `staging.rs`), and so does an owner whose fresh, still unlocked file a
//! recovery removed.

use crate::lock::StoreLock;
use crate::{Digest, Result, Store};
use std::fs;
use std::path::PathBuf;

/// The name prefix of claim lock files in `tmp/`.
pub(crate) const CLAIM_PREFIX: &str = "claim-";

/// Layers this process makes: held until dropped.
#[derive(Default)]
pub struct LayerClaims {
    held: Vec<Claim>,
}

struct Claim {
    chain_id: Digest,
    path: PathBuf,
    _lock: StoreLock,
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Removed while still locked: the lock goes when the field is dropped, after.
        let _ = fs::remove_file(&self.path);
    }
}

impl LayerClaims {
    /// The chain IDs claimed, in the order taken.
    pub fn chain_ids(&self) -> impl Iterator<Item = &Digest> {
        self.held.iter().map(|c| &c.chain_id)
    }

    /// Gives up the claims on the layers for which `keep` is false (layers another
    /// process made while this one waited), so that no one waits for them.
    pub fn retain(&mut self, keep: impl Fn(&Digest) -> bool) {
        self.held.retain(|c| keep(&c.chain_id));
    }
}

impl Store {
    /// Claims the layers `chain_ids` (in the order of their IDs, each once), waiting for
    /// the processes that hold any of them; `waiting` is told of each layer before this
    /// process waits for it. The caller reads the database again afterwards: a layer
    /// that is there now was made by the process it waited for.
    pub fn claim_layers(
        &self,
        chain_ids: &[Digest],
        waiting: &mut dyn FnMut(&Digest),
    ) -> Result<LayerClaims> {
        let mut sorted: Vec<&Digest> = chain_ids.iter().collect();
        sorted.sort();
        sorted.dedup();
        let mut claims = LayerClaims::default();
        for chain_id in sorted {
            claims.held.push(self.claim_one(chain_id, waiting)?);
        }
        Ok(claims)
    }

    fn claim_one(&self, chain_id: &Digest, waiting: &mut dyn FnMut(&Digest)) -> Result<Claim> {
        let path = self
            .root()
            .join("tmp")
            .join(format!("{CLAIM_PREFIX}{}.lock", chain_id.hex()));
        let mut told = false;
        loop {
            let lock = match StoreLock::try_exclusive(&path)? {
                Some(lock) => lock,
                None => {
                    if !told {
                        waiting(chain_id);
                        told = true;
                    }
                    StoreLock::exclusive(&path)?
                }
            };
            if lock.is_at(&path)? {
                return Ok(Claim {
                    chain_id: chain_id.clone(),
                    path,
                    _lock: lock,
                });
            }
        }
    }
}

/// Whether `name` in `tmp/` is a claim lock file.
pub(crate) fn is_claim(name: &str) -> bool {
    name.starts_with(CLAIM_PREFIX) && name.ends_with(".lock")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s")).unwrap();
        (dir, store)
    }

    /// A second claimer waits until the first lets go, and is told it waits.
    #[test]
    fn a_claimed_layer_is_waited_for() {
        let (_dir, store) = store();
        let root = store.root().to_path_buf();
        let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
        let first = store
            .claim_layers(&[b.clone(), a.clone()], &mut |_| {})
            .unwrap();
        assert_eq!(first.chain_ids().cloned().collect::<Vec<_>>(), {
            let mut v = vec![a.clone(), b.clone()];
            v.sort();
            v
        });
        let released = Arc::new(AtomicBool::new(false));
        let r = released.clone();
        let waiter = std::thread::spawn(move || {
            let store = Store::open_existing(&root).unwrap();
            let mut waited = Vec::new();
            let claims = store
                .claim_layers(std::slice::from_ref(&a), &mut |c| waited.push(c.clone()))
                .unwrap();
            assert!(
                r.load(Ordering::SeqCst),
                "it got the claim only after the release"
            );
            (waited, claims.chain_ids().count())
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        released.store(true, Ordering::SeqCst);
        drop(first);
        let (waited, n) = waiter.join().unwrap();
        assert_eq!(waited.len(), 1);
        assert_eq!(n, 1);
    }

    /// Released claims leave no file behind, and recovery removes a free one.
    #[test]
    fn claims_leave_nothing_behind() {
        let (dir, store) = store();
        let claims = store
            .claim_layers(&[Digest::of(b"x"), Digest::of(b"x")], &mut |_| {})
            .unwrap();
        assert_eq!(claims.chain_ids().count(), 1, "each layer once");
        let names = || crate::check::list(&store.root().join("tmp")).unwrap();
        assert_eq!(names().len(), 1);
        drop(claims);
        assert!(names().is_empty());
        // A claim file its owner left when killed (no lock held) is cleaned on open.
        let stale = store
            .root()
            .join("tmp")
            .join(format!("{CLAIM_PREFIX}{}.lock", Digest::of(b"y").hex()));
        fs::write(&stale, b"").unwrap();
        let store = Store::open(&dir.path().join("s")).unwrap();
        assert!(!stale.exists());
        assert!(store.check(crate::CheckDepth::Quick).unwrap().is_sound());
    }
}
