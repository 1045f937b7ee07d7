//! Hostile and broken archives given to `strata import`. Each must be refused with one
//! `Error: ` line and exit status 1 (except absolute paths, which docker accepts and puts
//! inside the layer), write nothing outside the store, and leave the store as it was: the
//! same images, the same `layers/` and `blobs/`, and an empty `tmp/`.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;
use strata_tests::*;

/// An environment whose store already holds an image, so that "unchanged" means something.
fn setup() -> Env {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    env
}

/// `../` repeated far past the root, then `target` (absolute) without its leading slash.
fn climb_to(target: &Path) -> String {
    format!(
        "{}{}",
        "../".repeat(32),
        target.to_str().unwrap().trim_start_matches('/')
    )
}

/// Imports `data` (from a file, or stdin when `stdin`), expects a refusal, and checks that
/// nothing changed.
fn refuse(env: &Env, data: &[u8], stdin: bool) -> String {
    let before = env.snapshot();
    let tags = env.repo_tags();
    let out = if stdin {
        env.cmd(["import", "-", "demo/hostile:1"])
            .stdin(data.to_vec())
            .timeout(Duration::from_secs(90))
            .fails()
    } else {
        let file = env.write(&unique_name("hostile-"), data);
        env.cmd(["import", file.to_str().unwrap(), "demo/hostile:1"])
            .timeout(Duration::from_secs(90))
            .fails()
    };
    assert_eq!(out.code, 1, "exit status");
    let line = out.single_error().to_string();
    assert_eq!(out.stdout, "", "nothing on stdout");
    let after = env.snapshot();
    assert_eq!(after.images, before.images, "images changed");
    assert_eq!(after.layers, before.layers, "layers/ changed");
    assert_eq!(after.blobs, before.blobs, "blobs/sha256/ changed");
    assert!(after.tmp.is_empty(), "tmp/ is not empty: {:?}", after.tmp);
    assert_eq!(env.repo_tags(), tags, "tags changed");
    assert!(
        list_dir(&env.outside()).is_empty(),
        "something was written outside: {:?}",
        list_dir(&env.outside())
    );
    line
}

#[test]
fn absolute_paths_land_inside_the_layer() {
    let env = setup();
    let name = unique_name("strata-hostile-abs-");
    let target = Path::new("/tmp").join(&name);
    let payload = vec![b'x'; 100_000];
    let tar = TarBuilder::new()
        .dir("/tmp/")
        .file(target.to_str().unwrap(), &payload)
        .finish();
    let id = env.import(&tar, Some("demo/abs:1"));
    assert!(
        !target.exists(),
        "{} was written on the host",
        target.display()
    );
    let size = env.inspect(&id)["Size"].as_u64().unwrap();
    assert!(
        (100_000..200_000).contains(&size),
        "Size {size} is not the one file's"
    );
    let inside = walk(&env.store().join("layers"))
        .into_iter()
        .any(|p| p.ends_with(Path::new("tmp").join(&name)));
    assert!(inside, "tmp/{name} is not inside a layer of the store");
    assert!(env.store_entries("tmp").is_empty());
}

#[test]
fn dotdot_escape() {
    let env = setup();
    let target = env.outside().join("dotdot");
    let tar = TarBuilder::new()
        .file("etc/ok", b"fine\n")
        .file(climb_to(&target), b"pwned\n")
        .finish();
    refuse(&env, &tar, false);
    assert!(!target.exists());
}

#[test]
fn dotdot_escape_in_the_middle_of_a_path() {
    let env = setup();
    let tar = TarBuilder::new()
        .dir("etc/")
        .file("etc/../../../escaped-by-dotdot", b"pwned\n")
        .finish();
    refuse(&env, &tar, false);
    assert!(!env.store().join("escaped-by-dotdot").exists());
    assert!(!env.path().join("escaped-by-dotdot").exists());
}

#[test]
fn symlink_then_write_through() {
    let env = setup();
    let tar = TarBuilder::new()
        .symlink("evil", env.outside().to_str().unwrap())
        .file("evil/pwned", b"pwned\n")
        .finish();
    refuse(&env, &tar, false);
    assert!(!env.outside().join("pwned").exists());
}

#[test]
fn relative_symlink_then_write_through() {
    let env = setup();
    let tar = TarBuilder::new()
        .dir("a/")
        .symlink("a/evil", climb_to(&env.outside()))
        .file("a/evil/pwned", b"pwned\n")
        .finish();
    refuse(&env, &tar, false);
    assert!(!env.outside().join("pwned").exists());
}

#[test]
fn hardlink_to_outside_file() {
    let env = setup();
    let secret = env.path().join("secret");
    std::fs::write(&secret, b"secret\n").unwrap();
    let tar = TarBuilder::new()
        .hardlink("link", climb_to(&secret))
        .file("link", b"pwned\n")
        .finish();
    refuse(&env, &tar, false);
    assert_eq!(std::fs::read(&secret).unwrap(), b"secret\n");
    assert_eq!(
        std::fs::metadata(&secret).unwrap().nlink(),
        1,
        "a hard link to the outside file was made"
    );
}

#[test]
fn hardlink_to_absolute_outside_path() {
    let env = setup();
    let secret = env.path().join("secret");
    std::fs::write(&secret, b"secret\n").unwrap();
    // Read inside the layer, this names a file that does not exist there.
    let tar = TarBuilder::new()
        .hardlink("link", secret.to_str().unwrap())
        .file("link", b"pwned\n")
        .finish();
    refuse(&env, &tar, false);
    assert_eq!(std::fs::read(&secret).unwrap(), b"secret\n");
    assert_eq!(std::fs::metadata(&secret).unwrap().nlink(), 1);
}

#[test]
fn symlink_named_dot() {
    let env = setup();
    let tar = TarBuilder::new()
        .symlink(".", env.outside().to_str().unwrap())
        .file("pwned", b"pwned\n")
        .finish();
    refuse(&env, &tar, false);
    assert!(!env.outside().join("pwned").exists());
}

#[test]
fn whiteout_of_dot() {
    let env = setup();
    let tar = TarBuilder::new()
        .dir("etc/")
        .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
        .file(".wh..", b"")
        .finish();
    refuse(&env, &tar, false);
}

#[test]
fn huge_pax_header() {
    let env = setup();
    // A PAX extended header that declares 2 GiB of records, followed by a few bytes.
    let mut records = pax_records(&[("path", b"etc/huge")]);
    records.resize(4096, b'\n');
    let tar = TarBuilder::new()
        .declared("PaxHeaders/huge", kind::PAX, 2 << 30, &records)
        .file("etc/huge", b"x")
        .unterminated();
    refuse(&env, &tar, false);
}

#[test]
fn decompression_bomb() {
    let env = setup();
    // gzip of a header that claims a 1 TiB file, then 64 MiB of zeros, then nothing:
    // 64 KiB that would unpack to a terabyte.
    let mut tar = TarBuilder::new()
        .declared("bomb", kind::FILE, 1 << 40, &[])
        .unterminated();
    tar.resize(tar.len() + (64 << 20), 0);
    let bomb = gzip(&tar);
    drop(tar);
    assert!(bomb.len() < 1 << 20);
    refuse(&env, &bomb, true);
}

#[test]
fn truncated_archive() {
    let env = setup();
    let full = busybox_rootfs_tar(false);
    // Cut in the middle of bin/busybox's data.
    refuse(&env, &full[..full.len() / 2], false);
}

#[test]
fn truncated_gzip_stream() {
    let env = setup();
    let full = busybox_rootfs_tar(true);
    refuse(&env, &full[..full.len() * 2 / 3], false);
}

#[test]
fn not_a_tar_at_all() {
    let env = setup();
    let junk = "this is not a tar archive, just some text\n".repeat(200);
    refuse(&env, junk.as_bytes(), false);
}

#[test]
fn empty_input() {
    let env = setup();
    refuse(&env, b"", false);
}

#[test]
fn empty_stdin() {
    let env = setup();
    refuse(&env, b"", true);
}

#[test]
fn bad_header_checksum() {
    let env = setup();
    let mut h = RawHeader::new("etc/file", kind::FILE).size(3);
    h.checksum = Some(12345);
    let tar = TarBuilder::new().entry(&h, b"abc").finish();
    refuse(&env, &tar, false);
}
