//! `strata rmi [-f] [--no-prune] IMAGE...`

use strata_tests::*;

#[test]
fn rmi_last_tag_deletes_image_and_layer() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let layer = env.inspect(&id)["RootFS"]["Layers"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!env.store_entries("layers").is_empty());
    let out = env.cmd(["rmi", "demo/busybox:1.0"]).ok();
    // A one-layer image: its chain ID is its DiffID.
    assert_eq!(
        out.lines(),
        vec![
            "Untagged: demo/busybox:1.0".to_string(),
            format!("Deleted: {id}"),
            format!("Deleted: {layer}"),
        ]
    );
    assert!(env.image_ids().is_empty());
    assert!(
        env.store_entries("layers").is_empty(),
        "the layer directory is gone"
    );
    assert!(env.store_entries("tmp").is_empty());
}

#[test]
fn rmi_one_of_two_tags_only_untags() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    env.cmd(["tag", "demo/busybox:1.0", "demo/busybox:latest"])
        .ok();
    let out = env.cmd(["rmi", "demo/busybox:latest"]).ok();
    assert_eq!(out.stdout, "Untagged: demo/busybox:latest\n");
    assert_eq!(env.image_ids(), vec![short_id(&id)]);
    assert_eq!(env.repo_tags(), vec!["demo/busybox:1.0"]);
}

#[test]
fn rmi_uses_familiar_names() {
    let env = Env::new();
    env.import_busybox("docker.io/library/busybox:latest");
    env.cmd(["tag", "busybox", "busybox:keep"]).ok();
    let out = env.cmd(["rmi", "docker.io/library/busybox:latest"]).ok();
    assert_eq!(out.stdout, "Untagged: busybox:latest\n");
}

#[test]
fn rmi_by_id_with_several_tags_needs_force() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    env.cmd(["tag", "demo/busybox:1.0", "other/busybox:2"]).ok();
    let out = env.cmd(["rmi", &short_id(&id)]).code(1);
    let line = out.single_error();
    assert!(
        line.starts_with("Error: conflict: unable to delete"),
        "{line}"
    );
    assert!(line.contains(&short_id(&id)), "{line}");
    assert!(line.contains("(must be forced)"), "{line}");
    assert!(
        line.contains("image is referenced in multiple repositories"),
        "{line}"
    );
    assert_eq!(env.repo_tags(), vec!["demo/busybox:1.0", "other/busybox:2"]);

    let out = env.cmd(["rmi", "-f", &short_id(&id)]).ok();
    let lines = out.lines();
    let mut untagged: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("Untagged: "))
        .collect();
    untagged.sort();
    assert_eq!(
        untagged,
        vec!["Untagged: demo/busybox:1.0", "Untagged: other/busybox:2"]
    );
    assert!(
        lines.contains(&format!("Deleted: {id}").as_str()),
        "{lines:?}"
    );
    assert!(env.image_ids().is_empty());
    assert!(env.store_entries("layers").is_empty());
}

#[test]
fn rmi_by_id_with_one_tag() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let out = env.cmd(["rmi", &id]).ok();
    let lines = out.lines();
    assert_eq!(lines[0], "Untagged: demo/busybox:1.0");
    assert_eq!(lines[1], format!("Deleted: {id}"));
    assert!(env.image_ids().is_empty());
}

#[test]
fn rmi_missing_image_fails() {
    let env = Env::new();
    let out = env.cmd(["rmi", "nosuch"]).code(1);
    assert_eq!(out.single_error(), "Error: No such image: nosuch");
}

#[test]
fn rmi_goes_on_after_a_missing_image() {
    // Like docker: every argument is tried, errors are reported, the exit status is 1.
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let out = env.cmd(["rmi", "nosuch", "demo/busybox:1.0"]).code(1);
    assert_eq!(out.single_error(), "Error: No such image: nosuch");
    assert!(
        out.stdout.starts_with("Untagged: demo/busybox:1.0\n"),
        "{}",
        out.stdout
    );
    assert!(env.image_ids().is_empty());
}

#[test]
fn rmi_no_prune() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let out = env.cmd(["rmi", "--no-prune", "demo/busybox:1.0"]).ok();
    assert_eq!(out.lines()[0], "Untagged: demo/busybox:1.0");
    assert!(out.lines().contains(&format!("Deleted: {id}").as_str()));
    assert!(env.image_ids().is_empty());
}

#[test]
fn rmi_dangling_through_xargs() {
    let env = Env::new();
    let keep = env.import_busybox("demo/busybox:1.0");
    env.import(&small_rootfs_tar(&[("etc/a", b"a")]), None);
    env.import(&small_rootfs_tar(&[("etc/b", b"b")]), None);
    assert_eq!(
        env.cmd(["images", "-q", "-f", "dangling=true"])
            .ok()
            .lines()
            .len(),
        2
    );
    env.sh(r#"set -e; "$STRATA" images -q -f dangling=true | xargs "$STRATA" rmi"#)
        .ok();
    assert_eq!(env.image_ids(), vec![short_id(&keep)]);
    assert_eq!(
        env.cmd(["images", "-q", "-f", "dangling=true"]).ok().stdout,
        ""
    );
}

#[test]
fn rmi_keeps_a_layer_shared_with_another_image() {
    let env = Env::new();
    let tar = busybox_rootfs_tar(false);
    let a = env.import(tar, Some("demo/a:1"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = env.import(tar, Some("demo/b:1"));
    let layers = env.store_entries("layers");
    env.cmd(["rmi", "demo/a:1"]).ok();
    if a != b {
        // b still uses the same layer.
        assert_eq!(env.store_entries("layers"), layers);
        assert_eq!(env.image_ids(), vec![short_id(&b)]);
    }
    env.cmd(["rmi", "demo/b:1"]).ok();
    assert!(env.store_entries("layers").is_empty());
}
