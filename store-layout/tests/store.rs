//! Store behaviour: transactions, garbage collection, recovery and locking.

use std::fs;
use store_layout::{chain_id, Digest, ImageRecord, LayerRecord, Store, StoreError};

fn image(manifest: Digest, layers: Vec<Digest>) -> ImageRecord {
    ImageRecord {
        manifest,
        layers,
        created: None,
        size: 1,
        repo_digests: vec![],
        labels: Default::default(),
        parent: None,
        added: 0,
    }
}

fn add_image(store: &Store, content: &[u8], tag: &str) -> (Digest, Digest) {
    let txn = store.begin().unwrap();
    let (i, dir) = txn.layer_dir().unwrap();
    fs::write(dir.join("file"), content).unwrap();
    let diff = Digest::of(content);
    let chain = chain_id(None, &diff);
    txn.add_layer(
        i,
        chain.clone(),
        LayerRecord {
            diff_id: diff,
            parent: None,
            size: content.len() as u64,
            blob: None,
            tree_size: None,
        },
    );
    let config = txn.put_blob(format!("config {tag}").as_bytes()).unwrap();
    let manifest = txn.put_blob(format!("manifest {tag}").as_bytes()).unwrap();
    let (id, c2) = (config.clone(), chain.clone());
    let tag = tag.to_string();
    store
        .commit(txn, move |db| {
            db.add_image(id.clone(), image(manifest, vec![c2]))?;
            db.tag(tag, &id)?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    (config, chain)
}

#[test]
fn commit_makes_layers_blobs_and_tags_visible() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let (id, chain) = add_image(&store, b"hello", "a:1");
    let db = store.db().unwrap();
    assert_eq!(db.tags()["a:1"], id);
    assert_eq!(
        fs::read(store.layer_dir(&chain).join("file")).unwrap(),
        b"hello"
    );
    assert_eq!(store.read_blob(&id).unwrap(), b"config a:1");
    assert_eq!(fs::read_dir(t.path().join("tmp")).unwrap().count(), 0);
}

#[test]
fn removing_the_last_image_removes_its_layers_and_blobs() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let (id, chain) = add_image(&store, b"hello", "a:1");
    let (id2, chain2) = add_image(&store, b"hello", "b:1");
    assert_eq!(chain, chain2, "same content, same chain");
    let (_, removed) = store
        .update(|db| {
            db.remove_image(&id);
            db.untag("a:1");
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert!(removed.layers.is_empty(), "layer still used by b:1");
    assert!(store.layer_dir(&chain).exists());
    assert!(!store.has_blob(&id));
    let (_, removed) = store
        .update(|db| {
            db.remove_image(&id2);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert_eq!(removed.layers, vec![chain.clone()]);
    assert_eq!(removed.reclaimed, 5);
    assert!(!store.layer_dir(&chain).exists());
    assert!(store.db().unwrap().layers().is_empty());
}

#[test]
fn a_dropped_transaction_leaves_nothing() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    {
        let txn = store.begin().unwrap();
        let (_, dir) = txn.layer_dir().unwrap();
        fs::write(dir.join("f"), b"x").unwrap();
        txn.put_blob(b"blob").unwrap();
    }
    assert_eq!(fs::read_dir(t.path().join("tmp")).unwrap().count(), 0);
    assert_eq!(
        fs::read_dir(t.path().join("blobs/sha256")).unwrap().count(),
        0
    );
}

#[test]
fn a_failing_change_leaves_the_store_as_it_was() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    add_image(&store, b"one", "a:1");
    let before = store.db().unwrap();
    let txn = store.begin().unwrap();
    let (i, _) = txn.layer_dir().unwrap();
    txn.add_layer(
        i,
        Digest::of(b"zz"),
        LayerRecord {
            diff_id: Digest::of(b"zz"),
            parent: None,
            size: 0,
            blob: None,
            tree_size: None,
        },
    );
    let r = store.commit(txn, |_db| Err::<(), _>(StoreError::NotFound("x".into())));
    assert!(r.is_err());
    assert_eq!(store.db().unwrap(), before);
    assert!(!t
        .path()
        .join("layers")
        .join(Digest::of(b"zz").hex())
        .exists());
}

#[test]
fn recovery_rolls_back_an_interrupted_change_and_stale_staging() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let (_, chain) = add_image(&store, b"keep", "a:1");
    // A layer renamed into place by a writer that died before writing db.json.
    let orphan = Digest::of(b"orphan");
    fs::create_dir_all(t.path().join("layers").join(orphan.hex()).join("diff")).unwrap();
    fs::write(
        t.path().join("journal.json"),
        format!(r#"{{"layers":["{orphan}","{chain}"],"blobs":[]}}"#),
    )
    .unwrap();
    // A staging directory whose owner is gone (its lock is free).
    fs::create_dir_all(t.path().join("tmp/stage-dead/layers")).unwrap();
    fs::write(t.path().join("tmp/stage-dead.lock"), b"").unwrap();
    fs::create_dir_all(t.path().join("tmp/trash-x/y")).unwrap();
    drop(store);
    let store = Store::open(t.path()).unwrap();
    assert!(!t.path().join("journal.json").exists());
    assert!(!t.path().join("layers").join(orphan.hex()).exists());
    assert!(store.layer_dir(&chain).exists(), "referenced layer kept");
    assert_eq!(fs::read_dir(t.path().join("tmp")).unwrap().count(), 0);
}

#[test]
fn a_live_staging_directory_is_not_cleaned() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let txn = store.begin().unwrap();
    let _again = Store::open(t.path()).unwrap();
    assert!(txn.scratch().exists());
}

#[test]
fn concurrent_updates_lose_nothing() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().to_path_buf();
    let (id, _) = add_image(&Store::open(&root).unwrap(), b"x", "x:1");
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let (root, id) = (root.clone(), id.clone());
            std::thread::spawn(move || {
                let store = Store::open(&root).unwrap();
                store
                    .update(|db| {
                        db.tag(format!("t:{i}"), &id)?;
                        Ok::<_, StoreError>(())
                    })
                    .unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(Store::open(&root).unwrap().db().unwrap().tags().len(), 17);
}

#[test]
fn refuses_a_store_of_another_layout_version() {
    let t = tempfile::tempdir().unwrap();
    Store::open(t.path()).unwrap();
    fs::write(t.path().join("layout-version"), "strata-store 99\n").unwrap();
    let err = Store::open(t.path()).err().unwrap();
    assert!(err.to_string().contains("not supported"), "{err}");
}

#[test]
fn corrupt_blobs_are_detected_on_read() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let (id, _) = add_image(&store, b"c", "a:1");
    fs::write(store.blob_path(&id), b"tampered").unwrap();
    assert!(matches!(
        store.read_blob(&id),
        Err(StoreError::DigestMismatch { .. })
    ));
}

#[test]
fn adopted_files_become_blobs_by_rename() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let txn = store.begin().unwrap();
    let path = txn.scratch().join("member");
    fs::write(&path, b"layer bytes").unwrap();
    let d = Digest::of(b"layer bytes");
    assert_eq!(txn.adopt_blob(&path, &d).unwrap(), 11);
    assert!(!path.exists(), "renamed, not copied");
    // A file outside the staging directory is refused.
    let outside = t.path().join("outside");
    fs::write(&outside, b"x").unwrap();
    assert!(txn.adopt_blob(&outside, &Digest::of(b"x")).is_err());
    assert!(outside.exists());
    assert_eq!(
        fs::read(txn.scratch().join("blobs").join(d.hex())).unwrap(),
        b"layer bytes"
    );
}
