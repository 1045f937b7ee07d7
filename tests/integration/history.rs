//! `strata history IMAGE`

use strata_tests::*;

#[test]
fn history_of_an_imported_image() {
    let env = Env::new();
    let file = env.write("rootfs.tar", busybox_rootfs_tar(false));
    let id = env
        .cmd([
            "import",
            "-m",
            "busybox rootfs",
            file.to_str().unwrap(),
            "demo/busybox:1.0",
        ])
        .ok()
        .stdout
        .trim_end()
        .to_string();
    let out = env.cmd(["history", "demo/busybox:1.0"]).ok();
    let t = Table::parse(&out.stdout);
    assert_eq!(
        t.header,
        vec!["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
    );
    assert_eq!(t.rows.len(), 1, "{}", out.stdout);
    let r = &t.rows[0];
    assert_eq!(r[0], short_id(&id));
    assert!(is_recent_created_since(&r[1]), "CREATED {:?}", r[1]);
    let size = parse_human_size(&r[3]).unwrap_or_else(|| panic!("SIZE {:?}", r[3]));
    assert!(
        size >= busybox_binary().len() as f64 * 0.95,
        "SIZE {}",
        r[3]
    );
    assert_eq!(r[4], "busybox rootfs");
}

#[test]
fn history_quiet_and_no_trunc() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let q = env.cmd(["history", "-q", "demo/busybox:1.0"]).ok();
    assert_eq!(q.stdout, format!("{}\n", short_id(&id)));
    let t = Table::parse(&env.cmd(["history", "--no-trunc", &id]).ok().stdout);
    assert_eq!(t.column("IMAGE"), vec![id]);
}

#[test]
fn history_missing_image_fails() {
    let env = Env::new();
    let out = env.cmd(["history", "nosuch"]).code(1);
    assert_eq!(out.single_error(), "Error: No such image: nosuch:latest");
}
