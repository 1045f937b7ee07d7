//! `strata inspect` / `strata image inspect`

use strata_tests::*;

#[test]
fn inspect_has_dockers_keys() {
    let env = Env::new();
    let file = env.write("rootfs.tar", busybox_rootfs_tar(false));
    let id = env
        .cmd([
            "import",
            "-m",
            "busybox rootfs",
            "-c",
            r#"CMD ["/bin/sh"]"#,
            file.to_str().unwrap(),
            "demo/busybox:1.0",
        ])
        .ok()
        .stdout
        .trim_end()
        .to_string();
    let out = env.cmd(["inspect", "demo/busybox:1.0"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let arr = v.as_array().expect("a JSON array");
    assert_eq!(arr.len(), 1);
    let img = arr[0].as_object().unwrap();
    for k in [
        "Id",
        "RepoTags",
        "RepoDigests",
        "Parent",
        "Comment",
        "Created",
        "Author",
        "Config",
        "Architecture",
        "Os",
        "Size",
        "GraphDriver",
        "RootFS",
        "Metadata",
    ] {
        assert!(img.contains_key(k), "key {k} missing: {}", out.stdout);
    }
    assert_eq!(img["Id"], id.as_str());
    assert_eq!(img["RepoTags"], serde_json::json!(["demo/busybox:1.0"]));
    assert_eq!(img["RepoDigests"], serde_json::json!([]));
    assert_eq!(img["Parent"], "");
    assert_eq!(img["Comment"], "busybox rootfs");
    assert_eq!(img["Os"], "linux");
    assert_eq!(img["Architecture"], go_arch());
    let created = img["Created"].as_str().expect("Created is a string");
    assert!(
        created.len() >= 20 && created.as_bytes()[4] == b'-' && created.contains('T'),
        "Created is RFC 3339: {created}"
    );
    let size = img["Size"].as_u64().expect("Size is a number");
    assert!(size >= busybox_binary().len() as u64, "Size {size}");
    assert!(
        size <= busybox_rootfs_tar(false).len() as u64 * 11 / 10,
        "Size {size}"
    );
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["/bin/sh"]));
    assert!(img["GraphDriver"].is_object());
    assert!(img["Metadata"].is_object());
    let diff_id = format!("sha256:{}", sha256_hex(busybox_rootfs_tar(false)));
    assert_eq!(
        img["RootFS"],
        serde_json::json!({"Type": "layers", "Layers": [diff_id]})
    );
}

#[test]
fn inspect_format() {
    let env = Env::new();
    let file = env.write("rootfs.tar", busybox_rootfs_tar(false));
    let id = env
        .cmd([
            "import",
            "-c",
            r#"CMD ["/bin/sh"]"#,
            file.to_str().unwrap(),
            "demo/busybox:1.0",
        ])
        .ok()
        .stdout
        .trim_end()
        .to_string();
    let f = |fmt: &str| {
        env.cmd(["inspect", "--format", fmt, "demo/busybox:1.0"])
            .ok()
            .stdout
    };
    assert_eq!(f("{{.Id}}"), format!("{id}\n"));
    assert_eq!(f("{{.Id}} {{.Config.Cmd}}"), format!("{id} [/bin/sh]\n"));
    assert_eq!(f("{{json .Config.Cmd}}"), "[\"/bin/sh\"]\n");
    assert_eq!(
        f("{{.Os}}/{{.Architecture}}"),
        format!("linux/{}\n", go_arch())
    );
    let short = env
        .cmd(["inspect", "-f", "{{.Id}}", "demo/busybox:1.0"])
        .ok();
    assert_eq!(short.stdout, format!("{id}\n"));
}

#[test]
fn image_inspect_is_inspect() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let a = env.cmd(["inspect", "demo/busybox:1.0"]).ok();
    let b = env.cmd(["image", "inspect", "demo/busybox:1.0"]).ok();
    assert_eq!(a.stdout, b.stdout);
    let f = env
        .cmd([
            "image",
            "inspect",
            "-f",
            "{{.RepoTags}}",
            "demo/busybox:1.0",
        ])
        .ok();
    assert_eq!(f.stdout, "[demo/busybox:1.0]\n");
}

#[test]
fn inspect_by_id_prefix_and_several_images() {
    let env = Env::new();
    let a = env.import_busybox("demo/a:1");
    let b = env.import(&small_rootfs_tar(&[("etc/b", b"b")]), Some("demo/b:1"));
    assert_eq!(env.inspect(&short_id(&a))["Id"], a.as_str());
    assert_eq!(env.inspect(&a)["Id"], a.as_str());
    let out = env.cmd(["inspect", "demo/a:1", &b]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![a.as_str(), b.as_str()]);
}

#[test]
fn inspect_missing_image_fails() {
    let env = Env::new();
    let out = env.cmd(["inspect", "nosuch"]).code(1);
    let line = out.single_error();
    assert!(line.starts_with("Error: No such "), "{line}");
    assert!(line.contains("nosuch"), "{line}");
}
