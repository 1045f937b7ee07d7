//! `strata images` / `strata image ls`: columns, flags, filters and formats.

use std::time::Duration;
use strata_tests::*;

fn pause() {
    // Image creation times have a resolution of at least a second in some formats.
    std::thread::sleep(Duration::from_millis(1100));
}

#[test]
fn images_empty_store_prints_header_only() {
    let env = Env::new();
    let out = env.cmd(["images"]).ok();
    assert_eq!(
        out.stdout,
        "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn images_lists_an_imported_image() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let out = env.cmd(["images"]).ok();
    let t = Table::parse(&out.stdout);
    assert_eq!(
        t.header,
        vec!["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    );
    assert_eq!(t.rows.len(), 1);
    let r = &t.rows[0];
    assert_eq!(r[0], "demo/busybox");
    assert_eq!(r[1], "1.0");
    assert_eq!(r[2], short_id(&id));
    assert!(is_recent_created_since(&r[3]), "CREATED {:?}", r[3]);
    let size = parse_human_size(&r[4]).unwrap_or_else(|| panic!("SIZE {:?}", r[4]));
    let bb = busybox_binary().len() as f64;
    let tar = busybox_rootfs_tar(false).len() as f64;
    assert!(
        size >= bb * 0.95 && size <= tar * 1.1,
        "SIZE {} is not the size of the busybox tree (~{bb} bytes)",
        r[4]
    );
}

#[test]
fn image_ls_is_images() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let a = Table::parse(&env.cmd(["images"]).ok().stdout).without("CREATED");
    let b = Table::parse(&env.cmd(["image", "ls"]).ok().stdout).without("CREATED");
    assert_eq!(a, b);
}

#[test]
fn images_quiet_prints_deduplicated_short_ids() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    env.cmd(["tag", "demo/busybox:1.0", "demo/busybox:latest"])
        .ok();
    env.cmd(["tag", "demo/busybox:1.0", "other/name:x"]).ok();
    let out = env.cmd(["images", "-q"]).ok();
    assert_eq!(out.stdout, format!("{}\n", short_id(&id)));
    let out = env.cmd(["images", "-a", "-q"]).ok();
    assert_eq!(out.stdout, format!("{}\n", short_id(&id)));
}

#[test]
fn images_no_trunc_shows_full_ids() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let t = Table::parse(&env.cmd(["images", "--no-trunc"]).ok().stdout);
    assert_eq!(t.column("IMAGE ID"), vec![id.clone()]);
    let q = env.cmd(["images", "-q", "--no-trunc"]).ok();
    assert_eq!(q.stdout, format!("{id}\n"));
}

#[test]
fn images_digests_adds_a_column() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let t = Table::parse(&env.cmd(["images", "--digests"]).ok().stdout);
    assert_eq!(
        t.header,
        vec!["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"]
    );
    // An imported image has never been pushed or pulled: no repository digest.
    assert_eq!(t.column("DIGEST"), vec!["<none>"]);
}

#[test]
fn images_all_shows_untagged_and_tagged() {
    let env = Env::new();
    let tagged = env.import_busybox("demo/busybox:1.0");
    let untagged = env.import(&small_rootfs_tar(&[("etc/motd", b"hi\n")]), None);
    let t = Table::parse(&env.cmd(["images", "-a"]).ok().stdout);
    let mut ids = t.column("IMAGE ID");
    ids.sort();
    let mut want = vec![short_id(&tagged), short_id(&untagged)];
    want.sort();
    assert_eq!(ids, want);
    let none_row = t.rows.iter().find(|r| r[2] == short_id(&untagged)).unwrap();
    assert_eq!(
        (none_row[0].as_str(), none_row[1].as_str()),
        ("<none>", "<none>")
    );
}

#[test]
fn images_filter_dangling() {
    let env = Env::new();
    let tagged = env.import_busybox("demo/busybox:1.0");
    let untagged = env.import(&small_rootfs_tar(&[("etc/motd", b"hi\n")]), None);
    let t = env.cmd(["images", "-q", "-f", "dangling=true"]).ok();
    assert_eq!(t.lines(), vec![short_id(&untagged)]);
    let f = env.cmd(["images", "-q", "--filter", "dangling=false"]).ok();
    assert_eq!(f.lines(), vec![short_id(&tagged)]);
}

#[test]
fn images_filter_reference() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    env.cmd(["tag", "demo/busybox:1.0", "demo/app:2"]).ok();
    env.cmd(["tag", "demo/busybox:1.0", "other/app:2"]).ok();
    env.cmd(["tag", "demo/busybox:1.0", "demo/deep/app:3"]).ok();
    let out = env
        .cmd([
            "images",
            "-f",
            "reference=demo/*",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ])
        .ok();
    let mut got = out.lines();
    got.sort();
    assert_eq!(got, vec!["demo/app:2", "demo/busybox:1.0"]);
    let out = env
        .cmd([
            "images",
            "-f",
            "reference=*/app:2",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ])
        .ok();
    let mut got = out.lines();
    got.sort();
    assert_eq!(got, vec!["demo/app:2", "other/app:2"]);
}

#[test]
fn images_filter_label() {
    let env = Env::new();
    let file = env.write("rootfs.tar", busybox_rootfs_tar(false));
    let labelled = env
        .cmd([
            "import",
            "-c",
            "LABEL tier=web",
            file.to_str().unwrap(),
            "demo/web:1",
        ])
        .ok()
        .stdout;
    env.import(
        &small_rootfs_tar(&[("etc/motd", b"plain\n")]),
        Some("demo/plain:1"),
    );
    for f in ["label=tier=web", "label=tier"] {
        let out = env.cmd(["images", "-q", "-f", f]).ok();
        assert_eq!(
            out.lines(),
            vec![short_id(labelled.trim_end())],
            "filter {f}"
        );
    }
    let out = env.cmd(["images", "-q", "-f", "label=tier=db"]).ok();
    assert_eq!(out.stdout, "");
}

#[test]
fn images_filter_before_and_since() {
    let env = Env::new();
    let a = env.import(&small_rootfs_tar(&[("a", b"a")]), Some("demo/a:1"));
    pause();
    let b = env.import(&small_rootfs_tar(&[("b", b"b")]), Some("demo/b:1"));
    pause();
    let c = env.import(&small_rootfs_tar(&[("c", b"c")]), Some("demo/c:1"));
    let q = |f: &str| {
        let mut v: Vec<String> = env
            .cmd(["images", "-q", "-f", f])
            .ok()
            .stdout
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    assert_eq!(q("before=demo/b:1"), vec![short_id(&a)]);
    let mut since = vec![short_id(&c)];
    since.sort();
    assert_eq!(q("since=demo/b:1"), since);
    assert_eq!(q(&format!("before={}", short_id(&c))).len(), 2);
    assert!(q("since=demo/c:1").is_empty());
    let _ = b;
}

#[test]
fn images_filter_invalid_fails() {
    let env = Env::new();
    let out = env.cmd(["images", "-f", "nosuchfilter=1"]).code(1);
    let line = out.single_error();
    assert!(line.contains("nosuchfilter"), "{line}");
    let out = env.cmd(["images", "-f", "before=nosuch:1"]).code(1);
    out.single_error();
}

#[test]
fn images_format_template() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    env.cmd(["tag", "demo/busybox:1.0", "demo/busybox:latest"])
        .ok();
    let out = env
        .cmd(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])
        .ok();
    let mut got = out.lines();
    got.sort();
    let s = short_id(&id);
    assert_eq!(
        got,
        vec![
            format!("demo/busybox:1.0 {s}"),
            format!("demo/busybox:latest {s}")
        ]
    );
}

#[test]
fn images_format_table() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let out = env
        .cmd(["images", "--format", "table {{.Repository}}\t{{.Tag}}"])
        .ok();
    let t = Table::parse(&out.stdout);
    assert_eq!(t.header, vec!["REPOSITORY", "TAG"]);
    assert_eq!(
        t.rows,
        vec![vec!["demo/busybox".to_string(), "1.0".to_string()]]
    );
}

#[test]
fn images_format_json() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let out = env.cmd(["images", "--format", "json"]).ok();
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "one JSON object per line: {:?}", out.stdout);
    let v: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON object");
    let obj = v.as_object().expect("a JSON object");
    for k in [
        "Containers",
        "CreatedAt",
        "CreatedSince",
        "Digest",
        "ID",
        "Repository",
        "SharedSize",
        "Size",
        "Tag",
        "UniqueSize",
        "VirtualSize",
    ] {
        assert!(obj.contains_key(k), "key {k} missing from {v}");
    }
    assert_eq!(v["Repository"], "demo/busybox");
    assert_eq!(v["Tag"], "1.0");
    assert_eq!(v["ID"], short_id(&id).as_str());
    assert_eq!(v["Digest"], "<none>");
    assert!(is_recent_created_since(v["CreatedSince"].as_str().unwrap()));
}

#[test]
fn images_show_familiar_names() {
    let env = Env::new();
    env.import_busybox("docker.io/library/busybox:latest");
    env.cmd(["tag", "busybox", "docker.io/demo/app:1"]).ok();
    env.cmd(["tag", "busybox", "localhost:5000/x:y"]).ok();
    env.cmd(["tag", "busybox", "index.docker.io/library/alpine:3"])
        .ok();
    assert_eq!(
        env.repo_tags(),
        vec![
            "alpine:3",
            "busybox:latest",
            "demo/app:1",
            "localhost:5000/x:y"
        ]
    );
    // And the familiar names resolve back to the same image.
    let id = env.cmd(["inspect", "-f", "{{.Id}}", "busybox"]).ok().stdout;
    for r in ["library/busybox", "docker.io/busybox:latest", "demo/app:1"] {
        assert_eq!(
            env.cmd(["inspect", "-f", "{{.Id}}", r]).ok().stdout,
            id,
            "{r}"
        );
    }
}
