//! `strata system check [--repair] [--quick]`: a sound store passes; each kind of damage
//! is found, named, repaired, and the store then passes.

use strata_tests::*;

fn check<'a>(env: &'a Env, extra: &[&str]) -> Cmd<'a> {
    let mut args = vec!["system", "check"];
    args.extend_from_slice(extra);
    env.cmd(args)
}

/// Runs the check (expecting it to fail and name `what`), repairs, and checks again.
fn found_and_repaired(env: &Env, what: &str, removed: &str) {
    let out = check(env, &[]).code(1);
    assert!(
        out.stdout.contains(what),
        "check does not report {what:?}:\n{}",
        out.stdout
    );
    assert!(out.stdout.contains("problem"), "{}", out.stdout);
    let out = check(env, &["--repair"]).ok();
    assert!(
        out.stdout.contains(removed),
        "repair does not say {removed:?}:\n{}",
        out.stdout
    );
    let out = check(env, &[]).ok();
    assert!(out.stdout.contains("the store is sound"), "{}", out.stdout);
}

/// Runs the check on a store with a leftover of an interrupted operation: the clean-up
/// that opening the store does removes it and names it, and the store passes.
fn found_and_cleaned(env: &Env, what: &str) {
    let out = check(env, &[]).ok();
    assert!(
        out.stdout.contains(&format!("cleaned up {what}")),
        "check does not report cleaning up {what:?}:\n{}",
        out.stdout
    );
    assert!(out.stdout.contains("the store is sound"), "{}", out.stdout);
    let out = check(env, &[]).ok();
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
}

fn hex(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap()
}

#[test]
fn a_sound_store_passes() {
    let env = Env::new();
    let out = check(&env, &[]).ok();
    assert!(out.stdout.contains("the store is sound"), "{}", out.stdout);
    env.import_busybox("demo/busybox:1.0");
    env.cmd(["tag", "demo/busybox:1.0", "demo/busybox:2.0"])
        .ok();
    let out = check(&env, &[]).ok();
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    assert!(out.stdout.contains("1 images, 2 tags"), "{}", out.stdout);
    assert!(out.stdout.contains("the store is sound"), "{}", out.stdout);
    check(&env, &["--quick"]).ok();
    check(&env, &["--repair"]).ok();
    assert_eq!(
        env.repo_tags().len(),
        2,
        "a repair of a sound store removes nothing"
    );
}

#[test]
fn a_corrupt_blob_is_found_and_its_image_removed() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let blob = env.store().join("blobs/sha256").join(hex(&id));
    let mut data = std::fs::read(&blob).unwrap();
    data[0] ^= 1;
    std::fs::write(&blob, &data).unwrap();
    check(&env, &["--quick"]).ok();
    found_and_repaired(
        &env,
        &format!("blob {id} is corrupt"),
        &format!("removed broken image {id}"),
    );
    assert!(env.image_ids().is_empty());
    assert!(env.store_entries("layers").is_empty(), "its layer went too");
}

#[test]
fn a_missing_layer_directory_is_found() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let layers = env.store_entries("layers");
    assert_eq!(layers.len(), 1);
    let dir = env.store().join("layers").join(&layers[0]);
    std::fs::rename(dir.join("diff"), dir.join("diff.gone")).unwrap();
    found_and_repaired(
        &env,
        &format!("layer sha256:{} has no directory", layers[0]),
        "removed broken image",
    );
    assert!(env.store_entries("layers").is_empty());
}

/// A layer directory whose files changed after it was stored no longer has the size
/// recorded for it: the full check finds it (the quick one does not measure layers), and
/// the repair removes the layer and its image.
#[test]
fn a_changed_layer_directory_is_found_by_its_size() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let layers = env.store_entries("layers");
    assert_eq!(layers.len(), 1);
    let diff = env.store().join("layers").join(&layers[0]).join("diff");
    check(&env, &[]).ok();
    std::fs::write(diff.join("planted"), b"twelve bytes").unwrap();
    check(&env, &["--quick"]).ok();
    let out = check(&env, &[]).code(1);
    assert!(out.stdout.contains("when it was stored"), "{}", out.stdout);
    std::fs::remove_file(diff.join("planted")).unwrap();
    check(&env, &[]).ok();
    let f = walk(&diff)
        .into_iter()
        .map(|p| diff.join(p))
        .find(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file() && m.len() > 100))
        .expect("a file in the layer");
    let data = std::fs::read(&f).unwrap();
    std::fs::write(&f, &data[..data.len() - 1]).unwrap();
    found_and_repaired(
        &env,
        &format!("layer sha256:{} has changed", layers[0]),
        "removed broken image",
    );
    assert!(env.store_entries("layers").is_empty());
}

/// A layer claim that a live process holds is work in progress: left alone.
#[test]
fn a_layer_claim_in_use_is_left_alone() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let claim = env
        .store()
        .join("tmp")
        .join(format!("claim-{}.lock", "cd".repeat(32)));
    std::fs::write(&claim, b"").unwrap();
    let out = env
        .sh(&format!(
            "exec flock {} \"$STRATA\" system check --repair",
            claim.display()
        ))
        .ok();
    assert!(out.stdout.contains("the store is sound"), "{}", out.stdout);
    assert!(claim.exists());
    found_and_cleaned(&env, "staging area of an interrupted operation");
    assert!(!claim.exists());
}

#[test]
fn a_dangling_tag_is_found_and_untagged() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let db_path = env.store().join("db.json");
    let mut db: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&db_path).unwrap()).unwrap();
    let ghost = format!("sha256:{}", "ab".repeat(32));
    db["tags"]["docker.io/demo/ghost:1"] = ghost.clone().into();
    std::fs::write(&db_path, serde_json::to_vec(&db).unwrap()).unwrap();
    found_and_repaired(
        &env,
        &format!("tag docker.io/demo/ghost:1 points at image {ghost}"),
        "removed dangling tag docker.io/demo/ghost:1",
    );
    assert_eq!(env.image_ids(), vec![short_id(&id)]);
    assert_eq!(env.repo_tags(), vec!["demo/busybox:1.0"]);
}

#[test]
fn a_leftover_staging_directory_is_found_and_removed() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let stage = env.store().join("tmp/stage-999999-0-0");
    std::fs::create_dir_all(stage.join("layers/0/diff")).unwrap();
    std::fs::write(stage.join("layers/0/diff/big"), vec![0u8; 4096]).unwrap();
    found_and_cleaned(&env, "staging area of an interrupted operation");
    assert!(!stage.exists());
}

#[test]
fn a_leftover_temporary_copy_of_the_database_is_found_and_removed() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let tmp = env.store().join(".tmp-999999-0-0");
    std::fs::copy(env.store().join("db.json"), &tmp).unwrap();
    found_and_cleaned(&env, "temporary file of an interrupted write");
    assert!(!tmp.exists());
}

/// Defect 4 of issue 13: a `ROOT/.tmp-*` copy of db.json left by a killed write is
/// removed when the store is next opened for a change, not kept forever (read-only
/// commands such as `images` clean nothing).
#[test]
fn opening_the_store_removes_a_stale_temporary_copy_of_the_database() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let tmp = env.store().join(".tmp-999999-0-0");
    std::fs::copy(env.store().join("db.json"), &tmp).unwrap();
    env.cmd(["images"]).ok();
    assert!(tmp.exists(), "a read-only command cleaned the store");
    env.cmd(["tag", "demo/busybox:1.0", "demo/busybox:2.0"])
        .ok();
    assert!(!tmp.exists(), "the stale copy of db.json is still there");
    check(&env, &[]).ok();
}

#[test]
fn an_unused_blob_is_found_and_removed() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let data = b"nothing uses me";
    let blob = env.store().join("blobs/sha256").join(sha256_hex(data));
    std::fs::write(&blob, data).unwrap();
    found_and_repaired(&env, "unused blob file", "removed ");
    assert!(!blob.exists());
}

/// A staging directory whose lock a live process holds is an operation in progress,
/// not a leftover: the check neither reports nor removes it.
#[test]
fn a_staging_directory_in_use_is_left_alone() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let tmp = env.store().join("tmp");
    std::fs::create_dir(tmp.join("stage-999999-0-1")).unwrap();
    let lock = tmp.join("stage-999999-0-1.lock");
    std::fs::write(&lock, b"").unwrap();
    let out = env
        .sh(&format!(
            "exec flock {} \"$STRATA\" system check --repair",
            lock.display()
        ))
        .ok();
    assert!(out.stdout.contains("the store is sound"), "{}", out.stdout);
    assert!(tmp.join("stage-999999-0-1").is_dir());
    found_and_cleaned(&env, "staging area of an interrupted operation");
    assert!(!tmp.join("stage-999999-0-1").exists());
}

/// What the clean-up on opening does not know is a problem, removed by a repair.
#[test]
fn an_unknown_file_in_the_staging_area_is_found_and_removed() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let junk = env.store().join("tmp/junk");
    std::fs::write(&junk, b"?").unwrap();
    found_and_repaired(&env, "unknown leftover", "removed ");
    assert!(!junk.exists());
}
