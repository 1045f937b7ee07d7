//! `strata image prune [-a] [-f] [--filter until=|label=]`

use std::time::{SystemTime, UNIX_EPOCH};
use strata_tests::*;

fn deleted_lines(out: &Output) -> Vec<String> {
    out.lines()
        .into_iter()
        .filter(|l| l.starts_with("deleted: "))
        .map(str::to_string)
        .collect()
}

fn check_summary(out: &Output) {
    let lines = out.lines();
    let last = lines.last().copied().unwrap_or("");
    let size = last
        .strip_prefix("Total reclaimed space: ")
        .unwrap_or_else(|| panic!("last line is not the total: {:?}", out.stdout));
    assert!(parse_human_size(size).is_some(), "size {size:?}");
}

#[test]
fn prune_removes_dangling_images_only() {
    let env = Env::new();
    let keep = env.import_busybox("demo/busybox:1.0");
    let dangling = env.import(&small_rootfs_tar(&[("etc/a", &[b'a'; 10_000])]), None);
    let out = env.cmd(["image", "prune", "-f"]).ok();
    let lines = out.lines();
    assert_eq!(lines[0], "Deleted Images:", "{}", out.stdout);
    let deleted = deleted_lines(&out);
    assert!(
        deleted.contains(&format!("deleted: {dangling}")),
        "{deleted:?}"
    );
    assert!(!out.stdout.contains(&keep), "{}", out.stdout);
    check_summary(&out);
    let last = lines.last().unwrap();
    assert_ne!(*last, "Total reclaimed space: 0B");
    assert_eq!(env.image_ids(), vec![short_id(&keep)]);
    assert!(env.store_entries("tmp").is_empty());
}

#[test]
fn prune_with_nothing_to_do() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let out = env.cmd(["image", "prune", "-f"]).ok();
    assert_eq!(out.stdout, "Total reclaimed space: 0B\n");
    assert_eq!(env.image_ids().len(), 1);
}

#[test]
fn prune_all_removes_tagged_images_too() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let out = env.cmd(["image", "prune", "-a", "-f"]).ok();
    let lines = out.lines();
    assert_eq!(lines[0], "Deleted Images:");
    assert!(lines.contains(&"untagged: demo/busybox:1.0"), "{lines:?}");
    assert!(deleted_lines(&out).contains(&format!("deleted: {id}")));
    check_summary(&out);
    assert!(env.image_ids().is_empty());
    assert!(env.store_entries("layers").is_empty());
}

#[test]
fn prune_filter_label() {
    let env = Env::new();
    let file = env.write("rootfs.tar", busybox_rootfs_tar(false));
    let gone = env
        .cmd([
            "import",
            "-c",
            "LABEL stage=tmp",
            file.to_str().unwrap(),
            "demo/tmp:1",
        ])
        .ok()
        .stdout;
    let keep = env.import(&small_rootfs_tar(&[("etc/k", b"k")]), Some("demo/keep:1"));
    let out = env
        .cmd(["image", "prune", "-a", "-f", "--filter", "label=stage=tmp"])
        .ok();
    assert!(deleted_lines(&out).contains(&format!("deleted: {}", gone.trim_end())));
    assert_eq!(env.image_ids(), vec![short_id(&keep)]);
}

#[test]
fn prune_filter_until() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    env.import(&small_rootfs_tar(&[("etc/a", b"a")]), None);
    // Nothing was made more than an hour ago.
    let out = env
        .cmd(["image", "prune", "-a", "-f", "--filter", "until=1h"])
        .ok();
    assert_eq!(out.stdout, "Total reclaimed space: 0B\n");
    assert_eq!(env.image_ids().len(), 2);
    // Everything was made before an hour from now (a unix timestamp).
    let later = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let out = env
        .cmd([
            "image",
            "prune",
            "-a",
            "-f",
            "--filter",
            &format!("until={later}"),
        ])
        .ok();
    assert!(deleted_lines(&out).len() >= 2, "{}", out.stdout);
    assert!(env.image_ids().is_empty());
}
