//! Crash safety: an import killed with SIGKILL at any moment leaves the store as it was
//! (or, once committed, as it would be after the import), and the next command cleans up.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;
use strata_tests::*;

/// Writes a plain tar of `files` regular files of `each` bytes of noise to `w`, calling
/// `progress(bytes_written)` after each chunk; stops early (returning false) when
/// `progress` says so or the reader is gone.
fn stream_big_tar(
    w: &mut impl Write,
    files: usize,
    each: usize,
    mut progress: impl FnMut(usize) -> bool,
) -> bool {
    let mut noise = vec![0u8; 4 << 20];
    std::io::Read::read_exact(
        &mut NoiseReader::new(0x5eed, noise.len() as u64),
        &mut noise,
    )
    .unwrap();
    let mut written = 0;
    for i in 0..files {
        let h = RawHeader::new(format!("data/big{i}.bin"), kind::FILE).size(each as u64);
        if w.write_all(&h.to_block()).is_err() {
            return false;
        }
        let mut left = each;
        let mut n = 0u64;
        while left > 0 {
            // Vary each chunk a little so that no two are the same.
            noise[..8].copy_from_slice(&(((i as u64) << 32) | n).to_le_bytes());
            n += 1;
            let k = left.min(noise.len());
            if w.write_all(&noise[..k]).is_err() {
                return false;
            }
            left -= k;
            written += k;
            if !progress(written) {
                return false;
            }
        }
        // `each` is a multiple of 512: no padding needed.
    }
    w.write_all(&[0u8; 1024]).is_ok()
}

#[test]
fn import_killed_midway_leaves_the_store_unchanged() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let before = env.snapshot();
    let tags = env.repo_tags();

    let mut child = env
        .cmd(["import", "-", "demo/big:1"])
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start strata import");
    let mut stdin = child.stdin.take().unwrap();
    // 200 MB in four files; strata has read at least 80 MB when it is killed.
    let finished = stream_big_tar(&mut stdin, 4, 50 << 20, |n| n < 80 << 20);
    assert!(!finished);
    child.kill().expect("SIGKILL");
    let status = child.wait().unwrap();
    drop(stdin);
    assert!(!status.success(), "strata was killed: {status:?}");

    assert_eq!(env.image_ids(), before.images, "images changed");
    assert_eq!(env.repo_tags(), tags, "tags changed");

    // The next import works and cleans up what the killed one left.
    let id = env.import(
        &small_rootfs_tar(&[("etc/after", b"after\n")]),
        Some("demo/after:1"),
    );
    assert!(is_sha256_id(&id));
    assert!(
        env.store_entries("tmp").is_empty(),
        "tmp/ after the next import: {:?}",
        env.store_entries("tmp")
    );
    assert_eq!(
        env.store_entries("layers").len(),
        before.layers.len() + 1,
        "a partial layer was left: {:?}",
        env.store_entries("layers")
    );
    assert_eq!(env.image_ids().len(), before.images.len() + 1);
}

#[test]
fn import_killed_at_any_moment_is_all_or_nothing() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let before = env.snapshot();
    for (round, delay_ms) in [0u64, 30, 120, 400].into_iter().enumerate() {
        let tag = format!("demo/big:{round}");
        let mut child = env
            .cmd(["import", "-", tag.as_str()])
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start strata import");
        let mut stdin = child.stdin.take().unwrap();
        stream_big_tar(&mut stdin, 2, 16 << 20, |_| true);
        drop(stdin);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let status = child.wait().unwrap();

        let ids = env.image_ids();
        let has_tag = env.repo_tags().contains(&tag);
        if status.success() {
            assert!(
                has_tag,
                "round {round}: import succeeded but {tag} is missing"
            );
        } else if has_tag {
            // Killed after the commit: the new state, complete.
            let img = env.inspect(&tag);
            assert_eq!(img["RootFS"]["Layers"].as_array().unwrap().len(), 1);
        }
        assert!(
            ids.len() >= before.images.len(),
            "round {round}: an image was lost"
        );
        for id in &before.images {
            assert!(ids.contains(id), "round {round}: {id} was lost");
        }
    }
    // Whatever happened, the next writer leaves tmp/ empty and every layer belongs to an
    // image.
    env.import(
        &small_rootfs_tar(&[("etc/after", b"after\n")]),
        Some("demo/after:1"),
    );
    assert!(
        env.store_entries("tmp").is_empty(),
        "{:?}",
        env.store_entries("tmp")
    );
    let mut used = std::collections::BTreeSet::new();
    for id in env.image_ids() {
        for l in env.inspect(&id)["RootFS"]["Layers"].as_array().unwrap() {
            used.insert(l.as_str().unwrap().to_string());
        }
    }
    assert!(
        env.store_entries("layers").len() <= used.len(),
        "layers/ holds {} entries for {} layers in use",
        env.store_entries("layers").len(),
        used.len()
    );
}
