//! What the hardening suites (issue 13) share: a fingerprint of a whole store, a canary
//! directory hostile input aims at, `strata system check`, the check that an error is one
//! clear line, images packed as docker archives or pushed to a registry by hand, and the
//! `HARDENING` lines `scripts/hardening.sh` adds up into its table.

use crate::registry::{upload_blob, upload_oci_manifest};
use crate::{go_arch, sha256_hex, Env, Output, TarBuilder};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Every entry under the store (relative path → type, mode, size and, for regular files,
/// the SHA-256 of the content; the target of symlinks). Lock files are left out: taking a
/// lock may create one.
pub fn store_fingerprint(env: &Env) -> BTreeMap<String, String> {
    let root = env.store();
    let mut out = BTreeMap::new();
    for rel in crate::walk(&root) {
        if rel.file_name().is_some_and(|n| n == "lock") {
            continue;
        }
        out.insert(rel.display().to_string(), describe(&root.join(&rel)));
    }
    out
}

fn describe(p: &Path) -> String {
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return "gone".into();
    };
    let ft = m.file_type();
    if ft.is_symlink() {
        let t = std::fs::read_link(p).unwrap_or_default();
        return format!("link -> {}", t.display());
    }
    if ft.is_file() {
        let mut h = sha2::Sha256::default();
        if let Ok(mut f) = std::fs::File::open(p) {
            let mut buf = vec![0u8; 1 << 16];
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sha2::Digest::update(&mut h, &buf[..n]);
            }
        }
        let d = hex::encode(sha2::Digest::finalize(h));
        return format!("file {:o} {} {d}", m.mode(), m.len());
    }
    format!("other {:o} {}", m.mode(), m.rdev())
}

/// Asserts that two store fingerprints are the same, naming the first few differences.
pub fn assert_same_store(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) {
    if before == after {
        return;
    }
    let mut diff = Vec::new();
    for (k, v) in before {
        match after.get(k) {
            None => diff.push(format!("removed {k}")),
            Some(w) if w != v => diff.push(format!("changed {k}: {v} -> {w}")),
            _ => {}
        }
    }
    for k in after.keys().filter(|k| !before.contains_key(*k)) {
        diff.push(format!("added {k}"));
    }
    diff.truncate(12);
    panic!("the store changed:\n  {}", diff.join("\n  "));
}

/// A directory outside the store with one file in it, `<env>/canary/victim`, that hostile
/// input aims symlinks, hard links and whiteouts at.
pub fn canary(env: &Env) -> PathBuf {
    let d = env.path().join("canary");
    if !d.exists() {
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("victim"), b"canary\n").unwrap();
    }
    d
}

/// Asserts that the canary directory holds its one file, unchanged, with one link, and
/// that `outside/` is still empty.
pub fn assert_canary_intact(env: &Env) {
    let d = canary(env);
    assert_eq!(
        crate::list_dir(&d),
        vec!["victim".to_string()],
        "something was written to or removed from the canary directory"
    );
    let v = d.join("victim");
    assert_eq!(
        std::fs::read(&v).unwrap(),
        b"canary\n",
        "the canary changed"
    );
    assert_eq!(
        std::fs::metadata(&v).unwrap().nlink(),
        1,
        "a hard link to the canary was made"
    );
    assert!(
        crate::list_dir(&env.outside()).is_empty(),
        "something was written outside: {:?}",
        crate::list_dir(&env.outside())
    );
}

/// Runs `strata system check` (full, with blob hashing) and asserts that it finds the
/// store sound (exit status 0); returns its output.
pub fn assert_sound(env: &Env) -> Output {
    let out = env.cmd(["system", "check"]).run();
    if out.code != 0 {
        stat("unsound", 1);
    }
    assert_eq!(
        out.code, 0,
        "`strata system check` finds the store unsound:\n{}{}",
        out.stdout, out.stderr
    );
    out
}

/// Whether the message (one line, `Error: ` and text) is clear: short, printable
/// (control characters from hostile input escaped), and not a panic or a bare errno.
pub fn is_clear(line: &str) -> bool {
    let Some(text) = line.strip_prefix("Error: ") else {
        return false;
    };
    !text.is_empty()
        && text.len() < 2048
        && !text.chars().any(char::is_control)
        && !text.contains("panicked")
        && !text.starts_with("os error")
}

/// Asserts that `out` is a refusal with one clear error line (exit status 1), and returns
/// the line.
pub fn assert_clear_refusal(out: &Output) -> String {
    let lines = out.err_lines();
    if out.code == 0 {
        stat("accepted", 1);
    } else if !(out.code == 1 && lines.len() == 1 && is_clear(lines[0])) {
        stat("unclear", 1);
    }
    assert_eq!(out.code, 1, "exit status; stderr: {}", out.stderr);
    let line = out.single_error().to_string();
    assert!(is_clear(&line), "the error is not one clear line: {line:?}");
    line
}

/// Prints a `HARDENING key=value` line for `scripts/hardening.sh` (on stderr, which
/// `cargo test --nocapture` shows).
pub fn stat(key: &str, value: u64) {
    eprintln!("HARDENING {key}={value}");
}

/// How a test layer blob is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packing {
    /// A plain tar.
    Plain,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
    /// xz (import and load only: no registry media type).
    Xz,
}

impl Packing {
    /// The OCI media type of a layer packed so.
    pub fn media_type(self) -> &'static str {
        match self {
            Packing::Plain => "application/vnd.oci.image.layer.v1.tar",
            Packing::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Packing::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            Packing::Xz => "application/vnd.oci.image.layer.v1.tar+xz",
        }
    }
}

/// One layer of a test image: its blob as stored and the DiffID its config claims.
#[derive(Clone, Debug)]
pub struct Layer {
    /// The blob's bytes (compressed as `packing` says).
    pub blob: Vec<u8>,
    /// Its compression.
    pub packing: Packing,
    /// The DiffID the config claims (`sha256:…`).
    pub diff_id: String,
}

impl Layer {
    /// A plain-tar layer with its true DiffID.
    pub fn plain(tar: Vec<u8>) -> Layer {
        let diff_id = format!("sha256:{}", sha256_hex(&tar));
        Layer {
            blob: tar,
            packing: Packing::Plain,
            diff_id,
        }
    }

    /// A gzip-compressed layer of `tar` with its true DiffID.
    pub fn gzip(tar: &[u8]) -> Layer {
        Layer {
            blob: crate::gzip(tar),
            packing: Packing::Gzip,
            diff_id: format!("sha256:{}", sha256_hex(tar)),
        }
    }

    /// An already compressed blob, its DiffID made up (it cannot be computed for bombs).
    pub fn packed(blob: Vec<u8>, packing: Packing) -> Layer {
        let diff_id = format!("sha256:{}", sha256_hex(&blob));
        Layer {
            blob,
            packing,
            diff_id,
        }
    }
}

fn image_config(layers: &[Layer]) -> String {
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.diff_id.as_str()).collect();
    serde_json::json!({
        "architecture": go_arch(), "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "created": "2024-01-01T00:00:00Z",
    })
    .to_string()
}

/// A docker archive (`docker save` layout) of an image of `layers`, tagged `tag`.
pub fn docker_archive_of(layers: &[Layer], tag: &str) -> Vec<u8> {
    let config = image_config(layers);
    let id = sha256_hex(config.as_bytes());
    let mut t = TarBuilder::new().file(format!("{id}.json"), config.as_bytes());
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let n = format!("l{i}/layer.tar");
        t = t.file(&n, &l.blob);
        names.push(n);
    }
    let manifest =
        serde_json::json!([{"Config": format!("{id}.json"), "RepoTags": [tag], "Layers": names}]);
    t.file("manifest.json", manifest.to_string().as_bytes())
        .finish()
}

/// Pushes an OCI image of `layers` as `repo:tag` to the plain registry at `addr` by hand
/// (the registry checks blob digests only, so configs and layers may lie).
pub fn push_image(addr: &str, repo: &str, tag: &str, layers: &[Layer]) {
    let config = image_config(layers);
    let config_digest = upload_blob(addr, repo, config.as_bytes());
    let descs: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| {
            let d = upload_blob(addr, repo, &l.blob);
            serde_json::json!({"mediaType": l.packing.media_type(), "digest": d, "size": l.blob.len()})
        })
        .collect();
    upload_oci_manifest(addr, repo, tag, &config_digest, config.len(), descs);
}

/// How many times the suites at full size repeat things: `STRATA_HARDENING_FULL=1` (set by
/// `make hardening`) gives `full`, else `small` (what `make test` runs).
pub fn size(small: usize, full: usize) -> usize {
    if std::env::var_os("STRATA_HARDENING_FULL").is_some_and(|v| v == "1") {
        full
    } else {
        small
    }
}
