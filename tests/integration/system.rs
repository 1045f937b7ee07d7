//! `strata system df`, `strata version`, `strata info`, and the store location.

use strata_tests::*;

#[test]
fn system_df_counts_images() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    env.cmd(["tag", "demo/busybox:1.0", "demo/busybox:latest"])
        .ok();
    let out = env.cmd(["system", "df"]).ok();
    let t = Table::parse(&out.stdout);
    assert_eq!(
        t.header,
        vec!["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    );
    assert_eq!(
        t.column("TYPE"),
        vec!["Images", "Containers", "Local Volumes", "Build Cache"]
    );
    let images = &t.rows[0];
    assert_eq!(images[1], "1", "one image, however many tags");
    assert_eq!(images[2], "0", "no container uses it");
    let size = parse_human_size(&images[3]).unwrap_or_else(|| panic!("SIZE {:?}", images[3]));
    assert!(
        size >= busybox_binary().len() as f64 * 0.95,
        "{}",
        images[3]
    );
    assert_eq!(images[4], format!("{} (100%)", images[3]));
}

#[test]
fn system_df_empty_store() {
    let env = Env::new();
    let t = Table::parse(&env.cmd(["system", "df"]).ok().stdout);
    assert_eq!(t.rows[0][0], "Images");
    assert_eq!(t.rows[0][1], "0");
    assert_eq!(t.rows[0][3], "0B");
}

#[test]
fn version_runs() {
    let env = Env::new();
    let out = env.cmd(["version"]).ok();
    assert!(!out.stdout.trim().is_empty());
}

#[test]
fn info_names_the_store_root() {
    let env = Env::new();
    let out = env.cmd(["info"]).ok();
    let root = env.store();
    assert!(
        out.stdout.contains(root.to_str().unwrap()),
        "info does not mention the store root {}:\n{}",
        root.display(),
        out.stdout
    );
}

#[test]
fn root_flag_overrides_strata_root() {
    let env = Env::new();
    let other = env.path().join("other-store");
    let other = other.to_str().unwrap();
    let file = env.write("rootfs.tar", busybox_rootfs_tar(false));
    env.cmd([
        "--root",
        other,
        "import",
        file.to_str().unwrap(),
        "demo/elsewhere:1",
    ])
    .ok();
    assert!(
        env.image_ids().is_empty(),
        "STRATA_ROOT's store is untouched"
    );
    let out = env
        .cmd([
            "--root",
            other,
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ])
        .ok();
    assert_eq!(out.stdout, "demo/elsewhere:1\n");
    let out = env.cmd(["--root", other, "info"]).ok();
    assert!(out.stdout.contains(other));
}
