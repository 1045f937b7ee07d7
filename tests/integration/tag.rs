//! `strata tag SRC TARGET`

use std::sync::Barrier;
use strata_tests::*;

#[test]
fn tag_is_silent_and_adds_a_name() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let out = env
        .cmd(["tag", "demo/busybox:1.0", "demo/busybox:latest"])
        .ok();
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "");
    assert_eq!(
        env.repo_tags(),
        vec!["demo/busybox:1.0", "demo/busybox:latest"]
    );
    let img = env.inspect(&id);
    let mut tags: Vec<String> = img["RepoTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    tags.sort();
    assert_eq!(tags, vec!["demo/busybox:1.0", "demo/busybox:latest"]);
}

#[test]
fn tag_by_id_and_short_id() {
    let env = Env::new();
    let id = env.import(busybox_rootfs_tar(false), None);
    env.cmd(["tag", &id, "demo/full:1"]).ok();
    env.cmd(["tag", &short_id(&id), "demo/short:1"]).ok();
    env.cmd(["tag", &id[7..], "demo/hex:1"]).ok();
    assert_eq!(
        env.repo_tags(),
        vec!["demo/full:1", "demo/hex:1", "demo/short:1"]
    );
}

#[test]
fn tag_target_defaults_to_latest() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    env.cmd(["tag", "demo/busybox:1.0", "demo/other"]).ok();
    assert_eq!(
        env.repo_tags(),
        vec!["demo/busybox:1.0", "demo/other:latest"]
    );
}

#[test]
fn tag_moves_an_existing_tag() {
    let env = Env::new();
    let a = env.import_busybox("demo/a:1");
    let b = env.import(&small_rootfs_tar(&[("etc/b", b"b")]), Some("demo/b:1"));
    env.cmd(["tag", "demo/a:1", "demo/x:1"]).ok();
    env.cmd(["tag", "demo/b:1", "demo/x:1"]).ok();
    let id = env.cmd(["inspect", "-f", "{{.Id}}", "demo/x:1"]).ok();
    assert_eq!(id.stdout.trim_end(), b);
    let id = env.cmd(["inspect", "-f", "{{.Id}}", "demo/a:1"]).ok();
    assert_eq!(id.stdout.trim_end(), a);
}

#[test]
fn tag_missing_source_fails() {
    let env = Env::new();
    let out = env.cmd(["tag", "nosuch", "demo/x:1"]).code(1);
    assert_eq!(out.single_error(), "Error: No such image: nosuch:latest");
    assert_eq!(out.stdout, "");
}

#[test]
fn tag_invalid_target_fails() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    for bad in [
        "demo/X:1",
        "demo/x:",
        "demo/x:bad tag",
        ":1",
        "demo/x@sha256:abc",
    ] {
        let out = env.cmd(["tag", "demo/busybox:1.0", bad]).code(1);
        let line = out.single_error();
        assert!(line.contains("invalid reference format"), "{bad}: {line}");
    }
    assert_eq!(env.repo_tags(), vec!["demo/busybox:1.0"]);
}

#[test]
fn tag_forty_at_once_keeps_every_tag() {
    // podman loses most of these (a lost update on its image database); strata must not.
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let n = 40;
    let barrier = Barrier::new(n);
    let results: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (env, barrier) = (&env, &barrier);
                s.spawn(move || {
                    let target = format!("demo/concurrent:t{i}");
                    let cmd = env.cmd(["tag", "demo/busybox:1.0", target.as_str()]);
                    barrier.wait();
                    cmd.run()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, out) in results.iter().enumerate() {
        assert_eq!(out.code, 0, "tag {i} failed: {}", out.stderr);
    }
    let tags = env.repo_tags();
    let mut want: Vec<String> = (0..n).map(|i| format!("demo/concurrent:t{i}")).collect();
    want.push("demo/busybox:1.0".into());
    want.sort();
    assert_eq!(
        tags,
        want,
        "{} of {n} concurrent tags were kept",
        tags.len() - 1
    );
}
