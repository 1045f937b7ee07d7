//! `strata save [-o FILE] IMAGE...` and `strata load [-i FILE]`: round trips, the
//! archive format checked by skopeo, archives skopeo writes, and broken or hostile
//! archives that must be refused with the store left as it was.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use strata_tests::*;

/// `strata save -o FILE IMAGES...` into `work/NAME`; returns the path.
fn save(env: &Env, name: &str, images: &[&str]) -> PathBuf {
    let path = env.work().join(name);
    let mut args = vec![
        "save".to_string(),
        "-o".into(),
        path.to_string_lossy().into(),
    ];
    args.extend(images.iter().map(|s| s.to_string()));
    let out = env.cmd(&args).ok();
    assert_eq!(out.stdout, "", "save -o prints nothing");
    assert_eq!(out.stderr, "", "save -o prints nothing on stderr");
    path
}

/// `strata load -i FILE`; returns stdout.
fn load(env: &Env, file: &Path) -> String {
    env.cmd(["load".as_ref(), "-i".as_ref(), file.as_os_str()])
        .ok()
        .stdout
}

/// The members of a tar archive, in order.
fn members(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(data);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        if e.header().entry_type().is_dir() {
            continue;
        }
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).unwrap();
        out.push((name, buf));
    }
    out
}

/// A tar of `members` (regular files).
fn rebuild(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut t = TarBuilder::new();
    for (n, d) in members {
        t = t.file(n, d);
    }
    t.finish()
}

fn member<'a>(m: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &m.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no member {name}"))
        .1
}

fn manifest_json(m: &[(String, Vec<u8>)]) -> serde_json::Value {
    serde_json::from_slice(member(m, "manifest.json")).unwrap()
}

/// Replaces the content of member `name` (which must be there).
fn set_member(m: &mut [(String, Vec<u8>)], name: &str, data: Vec<u8>) {
    let e = m
        .iter_mut()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no member {name}"));
    e.1 = data;
}

/// Changes the config of the first image in docker archive members `m` with `f` (which
/// may change that image's `manifest.json` entry too), stores it under its new digest
/// (first in the archive when `first`, else last; the old config and `index.json` go),
/// and points `manifest.json` at it.
fn rewrite_config(
    m: &mut Vec<(String, Vec<u8>)>,
    first: bool,
    f: impl FnOnce(&mut serde_json::Value, &mut serde_json::Value),
) {
    let mut mj = manifest_json(m);
    let config_name = mj[0]["Config"].as_str().unwrap().to_string();
    let mut config: serde_json::Value = serde_json::from_slice(member(m, &config_name)).unwrap();
    f(&mut config, &mut mj[0]);
    let bytes = serde_json::to_vec(&config).unwrap();
    let new_name = format!("blobs/sha256/{}", sha256_hex(&bytes));
    m.retain(|(n, _)| *n != config_name && n != "index.json");
    if first {
        m.insert(0, (new_name.clone(), bytes));
    } else {
        m.push((new_name.clone(), bytes));
    }
    mj[0]["Config"] = new_name.into();
    set_member(m, "manifest.json", serde_json::to_vec(&mj).unwrap());
}

fn skopeo() -> Command {
    let out = Command::new("sh")
        .args(["-c", "command -v skopeo"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo is not installed; these tests need it"
    );
    let mut c = Command::new("skopeo");
    c.arg("--insecure-policy");
    c
}

fn run_ok(mut c: Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn save_rmi_load_round_trip() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let before = env.inspect("demo/busybox:1.0");
    let file = save(&env, "busybox.tar", &["demo/busybox:1.0"]);
    env.cmd(["rmi", "demo/busybox:1.0"]).ok();
    assert!(env.image_ids().is_empty());
    let out = load(&env, &file);
    assert_eq!(out, "Loaded image: demo/busybox:1.0\n");
    let after = env.inspect("demo/busybox:1.0");
    assert_eq!(after["Id"], id.as_str());
    for k in ["Config", "RootFS", "Created", "Architecture", "Os", "Size"] {
        assert_eq!(after[k], before[k], "{k} differs after the round trip");
    }
    assert_eq!(env.repo_tags(), vec!["demo/busybox:1.0"]);
    assert!(env.store_entries("tmp").is_empty());
}

#[test]
fn save_writes_docker_and_oci_layouts() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let file = save(&env, "a.tar", &["demo/busybox:1.0"]);
    let data = std::fs::read(&file).unwrap();
    let m = members(&data);
    let names: Vec<&str> = m.iter().map(|(n, _)| n.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "members are sorted");
    let hex = id.trim_start_matches("sha256:");
    let mj = manifest_json(&m);
    assert_eq!(mj[0]["Config"], format!("blobs/sha256/{hex}"));
    assert_eq!(mj[0]["RepoTags"], serde_json::json!(["demo/busybox:1.0"]));
    let layer = mj[0]["Layers"][0].as_str().unwrap().to_string();
    assert_eq!(
        sha256_hex(member(&m, &layer)),
        layer.trim_start_matches("blobs/sha256/")
    );
    let index: serde_json::Value = serde_json::from_slice(member(&m, "index.json")).unwrap();
    let ann = &index["manifests"][0]["annotations"];
    assert_eq!(
        ann["io.containerd.image.name"],
        "docker.io/demo/busybox:1.0"
    );
    assert_eq!(ann["org.opencontainers.image.ref.name"], "1.0");
    assert_eq!(
        member(&m, "oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let repos: serde_json::Value = serde_json::from_slice(member(&m, "repositories")).unwrap();
    assert!(repos["demo/busybox"]["1.0"].is_string());
    for (name, d) in &m {
        if let Some(h) = name.strip_prefix("blobs/sha256/") {
            assert_eq!(sha256_hex(d), h, "{name} matches its digest");
        }
    }
}

#[test]
fn two_images_in_one_archive() {
    let env = Env::new();
    let a = env.import_busybox("demo/a:1");
    let b = env.import(
        &small_rootfs_tar(&[("etc/hello", b"hi\n")]),
        Some("demo/b:2"),
    );
    let file = save(&env, "two.tar", &["demo/a:1", "demo/b:2"]);
    env.cmd(["rmi", "demo/a:1", "demo/b:2"]).ok();
    assert!(env.image_ids().is_empty());
    let out = load(&env, &file);
    assert_eq!(out, "Loaded image: demo/a:1\nLoaded image: demo/b:2\n");
    assert_eq!(env.repo_tags(), vec!["demo/a:1", "demo/b:2"]);
    assert_eq!(env.inspect("demo/a:1")["Id"], a.as_str());
    assert_eq!(env.inspect("demo/b:2")["Id"], b.as_str());
}

#[test]
fn untagged_image_by_id() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let file = save(&env, "id.tar", &[&short_id(&id)]);
    env.cmd(["rmi", "demo/busybox:1.0"]).ok();
    let out = load(&env, &file);
    assert_eq!(out, format!("Loaded image ID: {id}\n"));
    assert_eq!(env.image_ids(), vec![short_id(&id)]);
}

#[test]
fn saving_twice_gives_identical_bytes_to_file_and_stdout() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    env.import(&small_rootfs_tar(&[("x", b"x")]), Some("demo/x:1"));
    let one = std::fs::read(save(&env, "1.tar", &["demo/busybox:1.0", "demo/x:1"])).unwrap();
    let two = std::fs::read(save(&env, "2.tar", &["demo/busybox:1.0", "demo/x:1"])).unwrap();
    assert!(one == two, "two saves differ");
    env.sh("\"$STRATA\" save demo/busybox:1.0 demo/x:1 > stdout.tar")
        .ok();
    let three = std::fs::read(env.work().join("stdout.tar")).unwrap();
    assert!(one == three, "save to stdout differs from save -o");
}

#[test]
fn load_from_stdin_and_gzip() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let data = std::fs::read(save(&env, "a.tar", &["demo/busybox:1.0"])).unwrap();
    env.cmd(["rmi", "demo/busybox:1.0"]).ok();
    let gz = env.write("a.tar.gz", &gzip(&data));
    assert_eq!(load(&env, &gz), "Loaded image: demo/busybox:1.0\n");
    assert_eq!(env.inspect("demo/busybox:1.0")["Id"], id.as_str());
    env.cmd(["rmi", "demo/busybox:1.0"]).ok();
    let out = env.cmd(["load", "-q"]).stdin(zstd_compress(&data)).ok();
    assert_eq!(out.stdout, "Loaded image: demo/busybox:1.0\n");
    // Loading again changes nothing and says the same.
    let out = env.cmd(["image", "load"]).stdin(data).ok();
    assert_eq!(out.stdout, "Loaded image: demo/busybox:1.0\n");
    assert_eq!(env.image_ids(), vec![short_id(&id)]);
}

#[test]
fn save_refuses_a_terminal_and_unknown_images() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let out = env.cmd(["save", "demo/nope:1"]).fails();
    assert!(
        out.single_error().contains("No such image"),
        "{}",
        out.stderr
    );
    // `script` gives the command a terminal when it is installed.
    let has_script = Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .unwrap()
        .status
        .success();
    if has_script {
        let out = env
            .sh("script -qec '\"$STRATA\" save demo/busybox:1.0' /dev/null")
            .fails();
        assert!(
            out.stdout
                .contains("cowardly refusing to save to a terminal. Use the -o flag or redirect"),
            "{out:?}"
        );
    }
}

#[test]
fn skopeo_reads_saved_archives() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let file = save(&env, "a.tar", &["demo/busybox:1.0"]);
    let mut c = skopeo();
    c.arg("inspect")
        .arg(format!("docker-archive:{}", file.display()));
    let v: serde_json::Value = serde_json::from_str(&run_ok(c)).unwrap();
    assert_eq!(v["Layers"].as_array().unwrap().len(), 1);
    let mut c = skopeo();
    c.arg("inspect")
        .arg("--config")
        .arg(format!("oci-archive:{}", file.display()));
    let cfg: serde_json::Value = serde_json::from_str(&run_ok(c)).unwrap();
    assert_eq!(cfg["rootfs"]["type"], "layers");
    let dir = env.path().join("oci");
    let mut c = skopeo();
    c.arg("copy")
        .arg(format!("docker-archive:{}", file.display()))
        .arg(format!("oci:{}:demo/copied:2", dir.display()));
    run_ok(c);
    assert!(dir.join("index.json").is_file());
    // The OCI layout skopeo wrote, as a tar, loads (OCI form: no manifest.json).
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", &dir).unwrap();
    let oci_tar = env.write("oci.tar", &b.into_inner().unwrap());
    let fresh = Env::new();
    let out = load(&fresh, &oci_tar);
    assert_eq!(out, "Loaded image: demo/copied:2\n");
    assert_eq!(fresh.inspect("demo/copied:2")["Id"], id.as_str());
}

#[test]
fn load_an_archive_skopeo_wrote() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let file = save(&env, "a.tar", &["demo/busybox:1.0"]);
    let theirs = env.path().join("skopeo.tar");
    let mut c = skopeo();
    c.arg("copy")
        .arg(format!("docker-archive:{}", file.display()))
        .arg(format!("docker-archive:{}:demo/other:3", theirs.display()));
    run_ok(c);
    let fresh = Env::new();
    let out = load(&fresh, &theirs);
    assert_eq!(out, "Loaded image: demo/other:3\n");
    assert_eq!(fresh.inspect("demo/other:3")["Id"], id.as_str());
    let img = fresh.inspect("demo/other:3");
    assert_eq!(
        img["RootFS"]["Layers"][0],
        format!("sha256:{}", sha256_hex(busybox_rootfs_tar(false))).as_str()
    );
}

// ---------------------------------------------------------------------------------------
// Broken and hostile archives
// ---------------------------------------------------------------------------------------

/// The members of a saved archive of a small image made in its own store (so its layer
/// is not in the store the test loads into).
fn small_archive() -> Vec<(String, Vec<u8>)> {
    let src = Env::new();
    src.import(
        &small_rootfs_tar(&[("etc/hello", b"hello\n")]),
        Some("demo/small:1"),
    );
    let file = save(&src, "small.tar", &["demo/small:1"]);
    members(&std::fs::read(file).unwrap())
}

/// A store holding busybox, to check that a refused load leaves it exactly as it was.
fn setup() -> Env {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    env
}

/// Loads `data` (from a file, or stdin when `stdin`), expects a one-line refusal, and
/// checks that nothing changed; returns the error line.
fn refuse(env: &Env, data: &[u8], stdin: bool) -> String {
    if stdin {
        refused(env, || env.cmd(["load"]).stdin(data.to_vec()).fails())
    } else {
        refuse_file(env, &env.write(&unique_name("bad-"), data))
    }
}

/// [`refuse`] for an archive already in a file.
fn refuse_file(env: &Env, file: &Path) -> String {
    refused(env, || {
        env.cmd(["load".as_ref(), "-i".as_ref(), file.as_os_str()])
            .fails()
    })
}

/// Runs `load` (a failing `strata load`), expects a one-line refusal, and checks that
/// nothing changed in `env`; returns the error line.
fn refused(env: &Env, load: impl FnOnce() -> Output) -> String {
    let before = env.snapshot();
    let tags = env.repo_tags();
    let out = load();
    assert_eq!(out.code, 1, "exit status");
    let line = out.single_error().to_string();
    assert_eq!(out.stdout, "", "nothing on stdout");
    let after = env.snapshot();
    assert_eq!(after.images, before.images, "images changed");
    assert_eq!(after.layers, before.layers, "layers/ changed");
    assert_eq!(after.blobs, before.blobs, "blobs/sha256/ changed");
    assert!(after.tmp.is_empty(), "tmp/ is not empty: {:?}", after.tmp);
    assert_eq!(env.repo_tags(), tags, "tags changed");
    assert!(list_dir(&env.outside()).is_empty());
    line
}

/// The OCI manifest that entry `i` of the saved archive's `index.json` names.
fn saved_manifest(m: &[(String, Vec<u8>)], i: usize) -> serde_json::Value {
    let index: serde_json::Value = serde_json::from_slice(member(m, "index.json")).unwrap();
    let digest = index["manifests"][i]["digest"].as_str().unwrap();
    let name = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    serde_json::from_slice(member(m, &name)).unwrap()
}

fn layer_name(m: &[(String, Vec<u8>)]) -> String {
    manifest_json(m)[0]["Layers"][0]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn refuses_empty_input() {
    let env = setup();
    let line = refuse(&env, b"", true);
    assert!(line.contains("invalid archive: empty input"), "{line}");
}

#[test]
fn refuses_not_a_tar() {
    let env = setup();
    let line = refuse(&env, &b"this is not a tar archive\n".repeat(100), false);
    assert!(line.contains("not a tar archive"), "{line}");
}

#[test]
fn refuses_truncated_archive() {
    let env = setup();
    let data = rebuild(&small_archive());
    let cut = data.len() / 2 + 100;
    let line = refuse(&env, &data[..cut], false);
    assert!(line.starts_with("Error: invalid archive"), "{line}");
}

#[test]
fn refuses_blob_that_does_not_match_its_digest() {
    let env = setup();
    let mut m = small_archive();
    let layer = layer_name(&m);
    let entry = m.iter_mut().find(|(n, _)| *n == layer).unwrap();
    // Change the content of the layer's one file ("hello\n" → "jello\n").
    let pos = entry
        .1
        .windows(6)
        .position(|w| w == b"hello\n")
        .expect("the layer holds the file");
    entry.1[pos] = b'j';
    let line = refuse(&env, &rebuild(&m), false);
    assert!(line.contains("does not match its digest"), "{line}");
    assert!(
        line.contains(layer.trim_start_matches("blobs/sha256/")),
        "{line}"
    );
}

#[test]
fn refuses_diff_id_mismatch() {
    let env = setup();
    let mut m = small_archive();
    let wrong = format!("sha256:{}", "0".repeat(64));
    rewrite_config(&mut m, false, |config, _| {
        config["rootfs"]["diff_ids"][0] = wrong.clone().into();
    });
    let line = refuse(&env, &rebuild(&m), false);
    assert!(
        line.contains("layer 1 of demo/small:1: DiffID mismatch: config says ")
            && line.contains(&wrong),
        "{line}"
    );
}

#[test]
fn refuses_missing_blob() {
    let env = setup();
    let mut m = small_archive();
    let layer = layer_name(&m);
    m.retain(|(n, _)| *n != layer);
    let line = refuse(&env, &rebuild(&m), false);
    assert!(
        line.contains("is missing") && line.contains(&layer),
        "{line}"
    );
}

#[test]
fn refuses_manifest_that_is_not_json() {
    let env = setup();
    let mut m = small_archive();
    set_member(&mut m, "manifest.json", b"this is not JSON".to_vec());
    let line = refuse(&env, &rebuild(&m), true);
    assert!(line.contains("manifest.json is not valid"), "{line}");
}

#[test]
fn refuses_member_with_dotdot() {
    let env = setup();
    let mut m = small_archive();
    m.insert(0, ("../escape".to_string(), b"x".to_vec()));
    let line = refuse(&env, &rebuild(&m), false);
    assert!(
        line.contains(r#"invalid archive: member "../escape" leaves the archive"#),
        "{line}"
    );
}

#[test]
fn refuses_symlink_member_leaving_the_archive() {
    let env = setup();
    let m = small_archive();
    let mut t = TarBuilder::new().symlink("evil", env.outside().to_str().unwrap());
    for (n, d) in &m {
        t = t.file(n, d);
    }
    let line = refuse(&env, &t.finish(), false);
    assert!(
        line.contains(r#"member "evil" is a symbolic link that leaves the archive"#),
        "{line}"
    );
}

#[test]
fn refuses_hardlink_member_leaving_the_archive() {
    let env = setup();
    let m = small_archive();
    let mut t = TarBuilder::new();
    for (n, d) in &m {
        t = t.file(n, d);
    }
    let t = t.hardlink("manifest2.json", "../manifest.json");
    let line = refuse(&env, &t.finish(), false);
    assert!(
        line.contains(r#"member "manifest2.json" is a hard link that leaves the archive"#),
        "{line}"
    );
}

/// `m` as an OCI-only archive (what `--format oci-archive` writes): without the docker
/// archive's `manifest.json` and `repositories`.
fn oci_only(mut m: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    m.retain(|(n, _)| n != "manifest.json" && n != "repositories");
    m
}

#[test]
fn refuses_index_json_that_is_not_json() {
    let env = setup();
    let mut m = oci_only(small_archive());
    set_member(&mut m, "index.json", b"this is not JSON".to_vec());
    let line = refuse(&env, &rebuild(&m), false);
    assert!(line.contains("index.json is not valid"), "{line}");
}

/// 100 MiB: far above the 16 MiB a JSON document of an archive may have.
const HUGE: u64 = 100 << 20;

/// The refusal of JSON member `name` larger than 16 MiB.
fn too_large(name: &str) -> String {
    format!(r#"Error: invalid archive: member "{name}" is larger than 16777216 bytes"#)
}

/// Loads, from a file, the archive `m` with member `name` replaced by a valid JSON
/// document of [`HUGE`] bytes (`head`, then `item` repeated and spaces to the size, then
/// `tail`; streamed to the file, never held in memory whole), and expects it refused as
/// too large with the store unchanged.
fn refuse_huge_json(
    env: &Env,
    m: &[(String, Vec<u8>)],
    name: &str,
    (head, item, tail): (&str, &str, &str),
) {
    use std::io::Write;
    let path = env.work().join(unique_name("huge-"));
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let fixed = (head.len() + tail.len()) as u64;
    let count = (HUGE - fixed) / item.len() as u64;
    let spaces = HUGE - fixed - count * item.len() as u64;
    let chunk = item.repeat(4096);
    for (n, d) in m {
        if n != name {
            w.write_all(&TarBuilder::new().file(n, d).unterminated())
                .unwrap();
            continue;
        }
        let header = RawHeader::new(name, kind::FILE).size(HUGE);
        w.write_all(&header.to_block()).unwrap();
        w.write_all(head.as_bytes()).unwrap();
        for _ in 0..count / 4096 {
            w.write_all(chunk.as_bytes()).unwrap();
        }
        w.write_all(item.repeat((count % 4096) as usize).as_bytes())
            .unwrap();
        w.write_all(" ".repeat(spaces as usize).as_bytes()).unwrap();
        w.write_all(tail.as_bytes()).unwrap();
        w.write_all(&[0u8; 512][..((512 - HUGE % 512) % 512) as usize])
            .unwrap();
    }
    w.write_all(&[0u8; 1024]).unwrap();
    w.into_inner().unwrap().sync_all().unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().len() % 512,
        0,
        "a whole tar"
    );
    assert_eq!(refuse_file(env, &path), too_large(name));
}

#[test]
fn refuses_manifest_json_of_100_mb() {
    let env = setup();
    let m = small_archive();
    let mj = manifest_json(&m);
    let entry = serde_json::to_string(&mj[0]).unwrap();
    let item = format!("{entry},");
    refuse_huge_json(
        &env,
        &m,
        "manifest.json",
        ("[", &item, &format!("{entry}]")),
    );
}

#[test]
fn refuses_index_json_of_100_mb() {
    let env = setup();
    let m = oci_only(small_archive());
    let index: serde_json::Value = serde_json::from_slice(member(&m, "index.json")).unwrap();
    let desc = serde_json::to_string(&index["manifests"][0]).unwrap();
    let item = format!("{desc},");
    let head = r#"{"schemaVersion":2,"manifests":["#;
    refuse_huge_json(&env, &m, "index.json", (head, &item, &format!("{desc}]}}")));
}

#[test]
fn refuses_an_oversized_json_member_on_its_header() {
    // The header declares 100 MiB but the stream ends 4 KiB later: the refusal comes from
    // the header alone (it would otherwise be a truncated member).
    let env = setup();
    let m = small_archive();
    for name in ["manifest.json", "index.json", "abc.json"] {
        let mut t = TarBuilder::new();
        for (n, d) in m.iter().filter(|(n, _)| n != name) {
            t = t.file(n, d);
        }
        let data = t
            .declared(name, kind::FILE, HUGE, &[b' '; 4096])
            .unterminated();
        assert_eq!(refuse(&env, &data, true), too_large(name));
        assert_eq!(refuse(&env, &data, false), too_large(name));
    }
}

#[test]
fn refuses_manifest_member_with_an_absolute_name() {
    let env = setup();
    let mut m = small_archive();
    for e in m.iter_mut().filter(|e| e.0 == "manifest.json") {
        e.0 = "/manifest.json".into();
    }
    let line = refuse(&env, &rebuild(&m), false);
    assert_eq!(
        line,
        r#"Error: invalid archive: member "/manifest.json" has an absolute name"#
    );
}

#[test]
fn refuses_blob_member_with_an_absolute_name() {
    let env = setup();
    let mut m = small_archive();
    let layer = layer_name(&m);
    let absolute = format!("/{layer}");
    for e in m.iter_mut().filter(|e| e.0 == layer) {
        e.0 = absolute.clone();
    }
    let line = refuse(&env, &rebuild(&m), true);
    assert_eq!(
        line,
        format!(r#"Error: invalid archive: member "{absolute}" has an absolute name"#)
    );
}

// ---------------------------------------------------------------------------------------
// --format, and other tools reading strata's archives
// ---------------------------------------------------------------------------------------

/// `strata save --format FORMAT -o work/NAME IMAGES...`; returns the path.
fn save_format(env: &Env, format: &str, name: &str, images: &[&str]) -> PathBuf {
    let path = env.work().join(name);
    let mut args = vec![
        "save".to_string(),
        "--format".into(),
        format.into(),
        "-o".into(),
        path.to_string_lossy().into(),
    ];
    args.extend(images.iter().map(|s| s.to_string()));
    let out = env.cmd(&args).ok();
    assert_eq!(out.stdout, "", "save -o prints nothing");
    assert_eq!(out.stderr, "", "save -o prints nothing on stderr");
    path
}

fn member_names(file: &Path) -> Vec<String> {
    members(&std::fs::read(file).unwrap())
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

/// skopeo inspects `TRANSPORT:FILE` and sees one layer.
fn skopeo_inspects(transport: &str, file: &Path) {
    let mut c = skopeo();
    c.arg("inspect")
        .arg(format!("{transport}:{}", file.display()));
    let v: serde_json::Value = serde_json::from_str(&run_ok(c)).unwrap();
    assert_eq!(v["Layers"].as_array().unwrap().len(), 1, "{transport}: {v}");
}

#[test]
fn save_format_docker_archive() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let file = save_format(&env, "docker-archive", "d.tar", &["demo/busybox:1.0"]);
    let names = member_names(&file);
    for n in ["manifest.json", "repositories"] {
        assert!(names.iter().any(|m| m == n), "no {n} in {names:?}");
    }
    for n in ["index.json", "oci-layout"] {
        assert!(!names.iter().any(|m| m == n), "{n} in {names:?}");
    }
    let m = members(&std::fs::read(&file).unwrap());
    let mj = manifest_json(&m);
    let mut wanted: Vec<String> = vec![mj[0]["Config"].as_str().unwrap().to_string()];
    for l in mj[0]["Layers"].as_array().unwrap() {
        wanted.push(l.as_str().unwrap().to_string());
    }
    wanted.sort();
    let mut blobs: Vec<String> = names
        .iter()
        .filter(|n| n.starts_with("blobs/"))
        .cloned()
        .collect();
    blobs.sort();
    assert_eq!(blobs, wanted, "only the blobs manifest.json names");
    let fresh = Env::new();
    assert_eq!(load(&fresh, &file), "Loaded image: demo/busybox:1.0\n");
    assert_eq!(fresh.inspect("demo/busybox:1.0")["Id"], id.as_str());
    skopeo_inspects("docker-archive", &file);
}

#[test]
fn save_format_oci_archive() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let file = save_format(&env, "oci-archive", "o.tar", &["demo/busybox:1.0"]);
    let names = member_names(&file);
    for n in ["index.json", "oci-layout"] {
        assert!(names.iter().any(|m| m == n), "no {n} in {names:?}");
    }
    for n in &names {
        assert!(
            n == "index.json" || n == "oci-layout" || n.starts_with("blobs/sha256/"),
            "unexpected member {n} in {names:?}"
        );
    }
    let fresh = Env::new();
    assert_eq!(load(&fresh, &file), "Loaded image: demo/busybox:1.0\n");
    assert_eq!(fresh.inspect("demo/busybox:1.0")["Id"], id.as_str());
    skopeo_inspects("oci-archive", &file);
}

#[test]
fn save_refuses_an_unknown_format() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let path = env.work().join("x.tar");
    let out = env
        .cmd([
            "save".as_ref(),
            "--format".as_ref(),
            "x".as_ref(),
            "-o".as_ref(),
            path.as_os_str(),
            "demo/busybox:1.0".as_ref(),
        ])
        .fails();
    assert_eq!(out.code, 1, "exit status");
    assert_eq!(
        out.single_error(),
        r#"Error: invalid --format "x": expected docker-archive or oci-archive"#
    );
    assert!(!path.exists(), "no archive is written");
}

#[test]
fn umoci_unpacks_saved_archives() {
    let found = Command::new("sh")
        .args(["-c", "command -v umoci"])
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "umoci is not installed; this test needs it"
    );
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let file = save(&env, "a.tar", &["demo/busybox:1.0"]);
    let dir = env.path().join("layout");
    std::fs::create_dir(&dir).unwrap();
    let mut c = Command::new("tar");
    c.arg("-xf").arg(&file).arg("-C").arg(&dir);
    run_ok(c);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let tag = index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
        .as_str()
        .expect("index.json names a tag")
        .to_string();
    let bundle = env.path().join("bundle");
    let mut c = Command::new("umoci");
    c.arg("unpack")
        .arg("--rootless")
        .arg("--image")
        .arg(format!("{}:{tag}", dir.display()))
        .arg(&bundle);
    run_ok(c);
    assert!(
        bundle.join("rootfs/bin/busybox").exists(),
        "no rootfs/bin/busybox in the bundle"
    );
}

fn read_json(path: &Path) -> serde_json::Value {
    let data =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_slice(&data).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The file of blob `digest` (`sha256:HEX`) in directory `dir`, as `dir:` names blobs
/// (`HEX`) or, with `oci`, as an OCI layout does (`blobs/sha256/HEX`), checked against
/// its digest.
fn blob_in(dir: &Path, digest: &serde_json::Value, oci: bool) -> Vec<u8> {
    let hex = digest
        .as_str()
        .and_then(|d| d.strip_prefix("sha256:"))
        .unwrap_or_else(|| panic!("not a sha256 digest: {digest}"));
    let path = if oci {
        dir.join("blobs/sha256").join(hex)
    } else {
        dir.join(hex)
    };
    let data =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert_eq!(
        sha256_hex(&data),
        hex,
        "{} matches its digest",
        path.display()
    );
    data
}

#[test]
fn skopeo_copies_saved_oci_archives_to_oci_and_dir_layouts() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let diff_id = format!("sha256:{}", sha256_hex(busybox_rootfs_tar(false)));
    for (what, file) in [
        ("default", save(&env, "both.tar", &["demo/busybox:1.0"])),
        (
            "oci-archive",
            save_format(&env, "oci-archive", "oci.tar", &["demo/busybox:1.0"]),
        ),
    ] {
        let src = format!("oci-archive:{}", file.display());
        for oci in [true, false] {
            let dir = env.path().join(format!("{what}-{oci}"));
            let dest = if oci {
                format!("oci:{}:copied", dir.display())
            } else {
                format!("dir:{}", dir.display())
            };
            let mut c = skopeo();
            c.arg("copy").arg(&src).arg(&dest);
            run_ok(c);
            let manifest = if oci {
                let index = read_json(&dir.join("index.json"));
                let desc = &index["manifests"][0];
                assert_eq!(
                    desc["annotations"]["org.opencontainers.image.ref.name"], "copied",
                    "{dest}"
                );
                serde_json::from_slice(&blob_in(&dir, &desc["digest"], true)).unwrap()
            } else {
                read_json(&dir.join("manifest.json"))
            };
            // The same config (its digest is strata's image ID) and the same layer.
            assert_eq!(manifest["config"]["digest"], id.as_str(), "{dest}");
            let config: serde_json::Value =
                serde_json::from_slice(&blob_in(&dir, &manifest["config"]["digest"], oci)).unwrap();
            assert_eq!(config["rootfs"]["diff_ids"][0], diff_id.as_str(), "{dest}");
            let layers = manifest["layers"].as_array().unwrap();
            assert_eq!(layers.len(), 1, "{dest}");
            // skopeo gzips the (uncompressed) layer for an OCI layout, not for `dir:`.
            let mut layer = blob_in(&dir, &layers[0]["digest"], oci);
            let media_type = layers[0]["mediaType"].as_str().unwrap_or_default();
            if media_type.ends_with("+gzip") || media_type.ends_with(".tar.gzip") {
                let mut plain = Vec::new();
                flate2::read::MultiGzDecoder::new(&layer[..])
                    .read_to_end(&mut plain)
                    .unwrap();
                layer = plain;
            }
            assert!(
                layer == busybox_rootfs_tar(false),
                "{dest}: the layer ({media_type}) differs"
            );
        }
    }
}

#[test]
fn skopeo_copies_saved_archives_to_a_registry_and_strata_pulls_them() {
    let reg = registry::Registry::start();
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let both = save(&env, "both.tar", &["demo/busybox:1.0"]);
    let docker = save_format(&env, "docker-archive", "d.tar", &["demo/busybox:1.0"]);
    let oci = save_format(&env, "oci-archive", "o.tar", &["demo/busybox:1.0"]);
    for (tag, src) in [
        ("docker", format!("docker-archive:{}", both.display())),
        ("oci", format!("oci-archive:{}", both.display())),
        (
            "docker-only",
            format!("docker-archive:{}", docker.display()),
        ),
        ("oci-only", format!("oci-archive:{}", oci.display())),
    ] {
        let dest = reg.image(&format!("t/saved:{tag}"));
        let mut c = skopeo();
        c.args(["copy", "--dest-tls-verify=false", src.as_str()])
            .arg(format!("docker://{dest}"));
        run_ok(c);
        let raw = registry::skopeo_raw(&dest);
        assert_eq!(
            raw["config"]["digest"],
            id.as_str(),
            "{tag}: skopeo inspect"
        );
        let fresh = Env::new();
        fresh.cmd(["pull", "-q", &dest]).ok();
        let img = fresh.inspect(&dest);
        assert_eq!(img["Id"], id.as_str(), "{tag}: strata pull");
        assert_eq!(
            img["RootFS"]["Layers"][0],
            format!("sha256:{}", sha256_hex(busybox_rootfs_tar(false))).as_str(),
            "{tag}"
        );
    }
}

#[test]
fn load_an_oci_archive_skopeo_wrote_and_run_it() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let file = save_format(&env, "docker-archive", "d.tar", &["demo/busybox:1.0"]);
    // As skopeo writes it: layers as they are, and gzip-compressed.
    for (n, extra) in [("plain", &[][..]), ("gzip", &["--dest-compress"][..])] {
        let theirs = env.path().join(format!("skopeo-{n}.tar"));
        let mut c = skopeo();
        c.arg("copy")
            .args(extra)
            .arg(format!("docker-archive:{}", file.display()))
            .arg(format!("oci-archive:{}:demo/other:4", theirs.display()));
        run_ok(c);
        let names = member_names(&theirs);
        assert!(
            names.iter().any(|m| m == "index.json") && !names.iter().any(|m| m == "manifest.json"),
            "{n}: not an OCI-only archive: {names:?}"
        );
        let fresh = Env::new();
        assert_eq!(load(&fresh, &theirs), "Loaded image: demo/other:4\n", "{n}");
        let img = fresh.inspect("demo/other:4");
        assert_eq!(img["Id"], id.as_str(), "{n}");
        let out = fresh
            .cmd([
                "run",
                "--rm",
                "demo/other:4",
                "sh",
                "-c",
                "echo loaded; ls /bin/busybox",
            ])
            .ok();
        assert_eq!(out.stdout, "loaded\n/bin/busybox\n", "{n}");
    }
}

// ---------------------------------------------------------------------------------------
// Multi-platform OCI archives
// ---------------------------------------------------------------------------------------

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// An architecture that is not this machine's.
fn other_arch() -> &'static str {
    if go_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    }
}

/// An OCI-only archive of `demo/busybox:1.0` saved from `env` whose `index.json` names,
/// as `demo/multi:1`, an image index (itself inside a second index when `nested_twice`)
/// listing a manifest for another architecture (whose blobs are not in the archive), an
/// attestation-like entry, and, when `with_host`, the real image for this machine.
fn multi_platform_archive(env: &Env, with_host: bool, nested_twice: bool) -> Vec<u8> {
    let file = save_format(env, "oci-archive", "multi-src.tar", &["demo/busybox:1.0"]);
    let mut m = members(&std::fs::read(file).unwrap());
    let index: serde_json::Value = serde_json::from_slice(member(&m, "index.json")).unwrap();
    let real = index["manifests"][0].clone();
    let fake = format!("sha256:{}", "1".repeat(64));
    let mut manifests = vec![
        serde_json::json!({
            "mediaType": OCI_MANIFEST, "digest": fake, "size": 100,
            "platform": {"architecture": other_arch(), "os": "linux"}
        }),
        serde_json::json!({
            "mediaType": OCI_MANIFEST, "digest": fake, "size": 100,
            "platform": {"architecture": "unknown", "os": "unknown"}
        }),
    ];
    if with_host {
        manifests.push(serde_json::json!({
            "mediaType": OCI_MANIFEST, "digest": real["digest"], "size": real["size"],
            "platform": {"architecture": go_arch(), "os": "linux"}
        }));
    }
    let mut add_index = |manifests: Vec<serde_json::Value>| -> serde_json::Value {
        let bytes = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests
        }))
        .unwrap();
        let hex = sha256_hex(&bytes);
        let size = bytes.len();
        m.push((format!("blobs/sha256/{hex}"), bytes));
        serde_json::json!({"mediaType": OCI_INDEX, "digest": format!("sha256:{hex}"), "size": size})
    };
    let mut top = add_index(manifests);
    if nested_twice {
        let mut inner = top.clone();
        inner["platform"] = serde_json::json!({"architecture": go_arch(), "os": "linux"});
        top = add_index(vec![inner]);
    }
    top["annotations"] = serde_json::json!({
        "io.containerd.image.name": "docker.io/demo/multi:1",
        "org.opencontainers.image.ref.name": "1"
    });
    let outer = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [top]
    });
    set_member(&mut m, "index.json", serde_json::to_vec(&outer).unwrap());
    rebuild(&m)
}

#[test]
fn load_resolves_a_multi_platform_oci_archive_to_this_platform() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    for nested_twice in [false, true] {
        let data = multi_platform_archive(&env, true, nested_twice);
        let file = env.write("multi.tar", &data);
        let fresh = Env::new();
        assert_eq!(load(&fresh, &file), "Loaded image: demo/multi:1\n");
        let img = fresh.inspect("demo/multi:1");
        assert_eq!(img["Id"], id.as_str());
        assert_eq!(img["Architecture"], go_arch());
    }
}

#[test]
fn refuses_a_multi_platform_archive_without_this_platform() {
    let env = setup();
    let data = multi_platform_archive(&env, false, false);
    let line = refuse(&env, &data, false);
    assert!(
        line.contains(&format!("has no image for linux/{}", go_arch())),
        "{line}"
    );
}

// ---------------------------------------------------------------------------------------
// Large layers (unpacked while the archive is read) and docker's legacy form
// ---------------------------------------------------------------------------------------

/// The members of a saved archive of busybox (a layer of about 2 MB, large enough to be
/// unpacked while it is read) made in its own store; and the image ID.
fn busybox_archive() -> (Vec<(String, Vec<u8>)>, String) {
    let src = Env::new();
    let id = src.import_busybox("demo/big:1");
    let file = save_format(&src, "docker-archive", "big.tar", &["demo/big:1"]);
    (members(&std::fs::read(file).unwrap()), id)
}

/// `members` as docker 20.10 writes a legacy archive: `ID/layer.tar`, `ID/json`,
/// `ID/VERSION`, `HEX.json` config, layers first and `manifest.json` last.
fn legacy_form(m: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mj = manifest_json(m);
    let config_name = mj[0]["Config"].as_str().unwrap();
    let config_hex = config_name.trim_start_matches("blobs/sha256/");
    let mut t = TarBuilder::new().file(format!("{config_hex}.json"), member(m, config_name));
    let mut layers = Vec::new();
    for (i, l) in mj[0]["Layers"].as_array().unwrap().iter().enumerate() {
        let id = format!("{:064x}", i + 1);
        t = t
            .dir(format!("{id}/"))
            .file(format!("{id}/VERSION"), b"1.0")
            .file(
                format!("{id}/json"),
                format!(r#"{{"id":"{id}"}}"#).as_bytes(),
            )
            .file(format!("{id}/layer.tar"), member(m, l.as_str().unwrap()));
        layers.push(format!("{id}/layer.tar"));
    }
    let manifest = serde_json::json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": mj[0]["RepoTags"],
        "Layers": layers,
    }]);
    t.file("manifest.json", &serde_json::to_vec(&manifest).unwrap())
        .file("repositories", b"{}")
        .finish()
}

#[test]
fn load_docker_legacy_archive_with_a_large_layer() {
    let (m, id) = busybox_archive();
    let env = Env::new();
    let file = env.write("legacy.tar", &legacy_form(&m));
    assert_eq!(load(&env, &file), "Loaded image: demo/big:1\n");
    assert_eq!(env.inspect("demo/big:1")["Id"], id.as_str());
    assert!(env.store_entries("tmp").is_empty());
    // Again, with the layer in the store: same answer, nothing new.
    let before = env.snapshot();
    assert_eq!(load(&env, &file), "Loaded image: demo/big:1\n");
    let after = env.snapshot();
    assert_eq!(after.layers, before.layers);
    assert_eq!(after.blobs, before.blobs);
    // The layer kept as a blob is the archive's, byte for byte.
    let again = members(&std::fs::read(save(&env, "again.tar", &["demo/big:1"])).unwrap());
    let layer = layer_name(&m);
    assert!(member(&again, &layer) == member(&m, &layer));
}

#[test]
fn refuses_large_layer_whose_diff_id_does_not_match() {
    let env = setup_small();
    let (mut m, _) = busybox_archive();
    let wrong = format!("sha256:{}", "0".repeat(64));
    rewrite_config(&mut m, true, |config, _| {
        config["rootfs"]["diff_ids"][0] = wrong.clone().into();
    });
    let line = refuse(&env, &rebuild(&m), false);
    assert!(
        line.contains("layer 1 of demo/big:1: DiffID mismatch: config says ")
            && line.contains(&wrong),
        "{line}"
    );
}

#[test]
fn refuses_archive_truncated_inside_a_large_layer() {
    let env = setup_small();
    let (m, _) = busybox_archive();
    let data = legacy_form(&m);
    // Cut in the middle of the layer (the largest member).
    let line = refuse(&env, &data[..data.len() / 2], true);
    assert!(line.starts_with("Error: invalid archive"), "{line}");
    let line = refuse(&env, &data[..data.len() / 2], false);
    assert!(line.starts_with("Error: invalid archive"), "{line}");
}

#[test]
fn refuses_large_layer_that_is_not_a_layer() {
    let env = setup_small();
    let (mut m, _) = busybox_archive();
    let layer = layer_name(&m);
    let noise: Vec<u8> = (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let hex = sha256_hex(&noise);
    let new_name = format!("blobs/sha256/{hex}");
    m.retain(|(n, _)| *n != layer);
    m.insert(0, (new_name.clone(), noise));
    let mut mj = manifest_json(&m);
    mj[0]["Layers"][0] = new_name.into();
    set_member(&mut m, "manifest.json", serde_json::to_vec(&mj).unwrap());
    let line = refuse(&env, &rebuild(&m), false);
    assert!(line.starts_with("Error: layer 1 of demo/big:1: "), "{line}");
}

/// A store holding a small image (not busybox, so a busybox layer is new to it).
fn setup_small() -> Env {
    let env = Env::new();
    env.import(
        &small_rootfs_tar(&[("etc/hello", b"hello\n")]),
        Some("demo/small:1"),
    );
    env
}

#[test]
fn save_refuses_a_blob_that_changed_in_the_store() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let file = save(&env, "ok.tar", &["demo/busybox:1.0"]);
    let layer = layer_name(&members(&std::fs::read(&file).unwrap()));
    let blob = env.store().join(&layer);
    let mut data = std::fs::read(&blob).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 1;
    std::fs::write(&blob, &data).unwrap();
    let path = env.work().join("bad.tar");
    let out = env
        .cmd([
            "save".as_ref(),
            "-o".as_ref(),
            path.as_os_str(),
            "demo/busybox:1.0".as_ref(),
        ])
        .fails();
    assert_eq!(out.code, 1, "exit status");
    let line = out.single_error();
    assert!(
        line.contains(&format!(
            "blob sha256:{} in the store does not match its digest",
            layer.trim_start_matches("blobs/sha256/")
        )),
        "{line}"
    );
    assert!(!path.exists(), "no archive is left behind");
}

fn has_script() -> bool {
    Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn progress_bars_only_on_a_terminal_and_not_with_quiet() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    // Not a terminal: nothing on stderr (checked by `save` and `load` above too).
    let file = save(&env, "a.tar", &["demo/busybox:1.0"]);
    let out = env
        .cmd(["load".as_ref(), "-i".as_ref(), file.as_os_str()])
        .ok();
    assert_eq!(out.stderr, "");
    if !has_script() {
        return;
    }
    // `script` gives the command a terminal; stdout and stderr both land in its output.
    // Without TERM (or with TERM=dumb) a terminal cannot move its cursor: no bar either.
    let out = env
        .sh("TERM=xterm script -qec '\"$STRATA\" save -o b.tar demo/busybox:1.0' /dev/null")
        .ok();
    assert!(out.stdout.contains("Saving"), "{out:?}");
    let out = env
        .sh("TERM=xterm script -qec '\"$STRATA\" load -i b.tar' /dev/null")
        .ok();
    assert!(out.stdout.contains("Loading"), "{out:?}");
    assert!(
        out.stdout.contains("Loaded image: demo/busybox:1.0"),
        "{out:?}"
    );
    let out = env
        .sh("TERM=xterm script -qec '\"$STRATA\" load -q -i b.tar' /dev/null")
        .ok();
    assert!(!out.stdout.contains("Loading"), "{out:?}");
    assert_eq!(
        out.stdout.replace('\r', ""),
        "Loaded image: demo/busybox:1.0\n"
    );
}

#[test]
fn refuses_a_member_that_appears_twice() {
    let env = setup();
    let mut m = small_archive();
    let layer = layer_name(&m);
    let data = member(&m, &layer).to_vec();
    m.push((layer.clone(), data));
    let line = refuse(&env, &rebuild(&m), false);
    assert!(
        line.contains(&format!("invalid archive: member {layer:?} appears twice")),
        "{line}"
    );
}

#[test]
fn load_compressed_layers_in_a_docker_archive() {
    let (m, id) = busybox_archive();
    let layer = layer_name(&m);
    let plain = member(&m, &layer).to_vec();
    // A large member that is compressed (gzip and zstd keep their bytes as the blob, xz
    // and bzip2 are kept decompressed), and the same layer stored uncompressed so the
    // name says nothing.
    let mut noise = Vec::new();
    NoiseReader::new(7, 3 << 20)
        .read_to_end(&mut noise)
        .unwrap();
    let mut big = RootfsBuilder::new();
    big.file("noise", 0o644, &noise);
    let big_tar = big.finish();
    for (kind, data) in [
        ("gzip", gzip(&plain)),
        ("xz", xz_compress(&plain)),
        ("zstd", zstd_compress(&plain)),
        ("bzip2", bzip2_compress(&plain)),
        ("gzip-big", gzip(&big_tar)),
    ] {
        let (layer_bytes, diff) = if kind == "gzip-big" {
            (data, sha256_hex(&big_tar))
        } else {
            (data, sha256_hex(&plain))
        };
        let mut m = m.clone();
        let hex = sha256_hex(&layer_bytes);
        let new_name = format!("blobs/sha256/{hex}");
        m.retain(|(n, _)| *n != layer);
        m.insert(0, (new_name.clone(), layer_bytes));
        rewrite_config(&mut m, false, |config, entry| {
            config["rootfs"]["diff_ids"][0] = format!("sha256:{diff}").into();
            entry["Layers"][0] = new_name.into();
        });
        let env = Env::new();
        let file = env.write("c.tar", &rebuild(&m));
        assert_eq!(load(&env, &file), "Loaded image: demo/big:1\n", "{kind}");
        let img = env.inspect("demo/big:1");
        assert_eq!(
            img["RootFS"]["Layers"][0],
            format!("sha256:{diff}").as_str(),
            "{kind}"
        );
        assert_ne!(img["Id"], id.as_str(), "{kind}: a new config");
        // gzip and zstd are kept as they came, xz and bzip2 decompressed (OCI has no
        // media type for them).
        let saved = members(&std::fs::read(save(&env, "s.tar", &["demo/big:1"])).unwrap());
        let kept = layer_name(&saved);
        let (want, media_type) = match kind {
            "xz" | "bzip2" => (diff.clone(), "application/vnd.oci.image.layer.v1.tar"),
            "zstd" => (hex.clone(), "application/vnd.oci.image.layer.v1.tar+zstd"),
            _ => (hex.clone(), "application/vnd.oci.image.layer.v1.tar+gzip"),
        };
        assert_eq!(kept, format!("blobs/sha256/{want}"), "{kind}");
        let manifest = saved_manifest(&saved, 0);
        assert_eq!(manifest["layers"][0]["mediaType"], media_type, "{kind}");
        assert!(env.store_entries("tmp").is_empty(), "{kind}");
    }
}

#[test]
fn load_xz_and_bzip2_compressed_archives() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let data = std::fs::read(save(&env, "a.tar", &["demo/busybox:1.0"])).unwrap();
    for (kind, magic, packed) in [
        ("xz", &b"\xfd7zXZ\0"[..], xz_compress(&data)),
        ("bzip2", &b"BZh"[..], bzip2_compress(&data)),
    ] {
        assert!(packed.starts_with(magic), "{kind}: not compressed");
        let fresh = Env::new();
        let file = fresh.write(&format!("a.tar.{kind}"), &packed);
        assert_eq!(
            load(&fresh, &file),
            "Loaded image: demo/busybox:1.0\n",
            "{kind}"
        );
        assert_eq!(
            fresh.inspect("demo/busybox:1.0")["Id"],
            id.as_str(),
            "{kind}"
        );
        let fresh = Env::new();
        let out = fresh.cmd(["load"]).stdin(packed).ok();
        assert_eq!(
            out.stdout, "Loaded image: demo/busybox:1.0\n",
            "{kind} on stdin"
        );
        assert_eq!(fresh.image_ids(), vec![short_id(&id)], "{kind} on stdin");
        assert!(fresh.store_entries("tmp").is_empty(), "{kind}");
    }
}

#[test]
fn one_image_under_several_tags_saves_once_and_loads_every_tag() {
    let env = Env::new();
    let id = env.import_busybox("demo/busybox:1.0");
    let tags = ["demo/busybox:1.0", "demo/busybox:latest", "other/bb:2"];
    for t in &tags[1..] {
        env.cmd(["tag", tags[0], t]).ok();
    }
    let hex = id.trim_start_matches("sha256:");
    let layer = format!("blobs/sha256/{}", sha256_hex(busybox_rootfs_tar(false)));
    for format in ["default", "docker-archive", "oci-archive"] {
        let file = if format == "default" {
            save(&env, "all.tar", &tags)
        } else {
            save_format(&env, format, &format!("{format}.tar"), &tags)
        };
        let names = member_names(&file);
        for blob in [format!("blobs/sha256/{hex}"), layer.clone()] {
            let n = names.iter().filter(|m| **m == blob).count();
            assert_eq!(n, 1, "{format}: {blob} is in the archive {n} times");
        }
        let m = members(&std::fs::read(&file).unwrap());
        if format != "oci-archive" {
            let mj = manifest_json(&m);
            assert_eq!(mj.as_array().unwrap().len(), 1, "{format}: {mj}");
            let mut got: Vec<&str> = mj[0]["RepoTags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            got.sort();
            assert_eq!(got, tags, "{format}");
        }
        let fresh = Env::new();
        let out = load(&fresh, &file);
        let mut lines: Vec<&str> = out.lines().collect();
        lines.sort();
        let want: Vec<String> = tags.iter().map(|t| format!("Loaded image: {t}")).collect();
        assert_eq!(lines, want, "{format}: {out}");
        assert_eq!(fresh.repo_tags(), tags, "{format}");
        for t in tags {
            assert_eq!(fresh.inspect(t)["Id"], id.as_str(), "{format}: {t}");
        }
        assert_eq!(fresh.image_ids(), vec![short_id(&id)], "{format}");
    }
}

#[test]
fn two_images_sharing_a_base_layer_save_it_once_and_both_load() {
    let env = Env::new();
    let base = env.import_busybox("demo/base:1");
    let base_layer = format!("blobs/sha256/{}", sha256_hex(busybox_rootfs_tar(false)));
    // demo/app:2 is busybox's layer and one more on top, loaded from an archive made from
    // the base's.
    let mut m = members(&std::fs::read(save(&env, "base.tar", &["demo/base:1"])).unwrap());
    let top = small_rootfs_tar(&[("srv/app", b"app\n")]);
    let top_layer = format!("blobs/sha256/{}", sha256_hex(&top));
    m.insert(0, (top_layer.clone(), top.clone()));
    rewrite_config(&mut m, false, |config, entry| {
        let diff_id = format!("sha256:{}", sha256_hex(&top));
        config["rootfs"]["diff_ids"]
            .as_array_mut()
            .unwrap()
            .push(diff_id.into());
        if let Some(h) = config["history"].as_array_mut() {
            h.push(serde_json::json!({"created_by": "test"}));
        }
        entry["Layers"]
            .as_array_mut()
            .unwrap()
            .push(top_layer.clone().into());
        entry["RepoTags"] = serde_json::json!(["demo/app:2"]);
    });
    let file = env.write("app.tar", &rebuild(&m));
    assert_eq!(load(&env, &file), "Loaded image: demo/app:2\n");
    let app = env.inspect("demo/app:2")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        env.store_entries("layers").len(),
        2,
        "the base layer is shared"
    );

    let file = save(&env, "both.tar", &["demo/base:1", "demo/app:2"]);
    let names = member_names(&file);
    let n = names.iter().filter(|m| **m == base_layer).count();
    assert_eq!(
        n, 1,
        "the shared layer is in the archive {n} times: {names:?}"
    );
    let m = members(&std::fs::read(&file).unwrap());
    let mj = manifest_json(&m);
    let layers_of = |tag: &str| {
        mj.as_array()
            .unwrap()
            .iter()
            .find(|e| e["RepoTags"] == serde_json::json!([tag]))
            .unwrap_or_else(|| panic!("no {tag} in {mj}"))["Layers"]
            .clone()
    };
    assert_eq!(layers_of("demo/base:1"), serde_json::json!([base_layer]));
    assert_eq!(
        layers_of("demo/app:2"),
        serde_json::json!([base_layer, top_layer])
    );
    for i in 0..2 {
        assert_eq!(
            saved_manifest(&m, i)["layers"][0]["digest"],
            base_layer.replace("blobs/sha256/", "sha256:")
        );
    }
    for format in ["docker", "oci"] {
        let data = if format == "docker" {
            std::fs::read(&file).unwrap()
        } else {
            rebuild(&oci_only(m.clone()))
        };
        let fresh = Env::new();
        let out = load(&fresh, &fresh.write("both.tar", &data));
        assert_eq!(
            out, "Loaded image: demo/base:1\nLoaded image: demo/app:2\n",
            "{format}"
        );
        assert_eq!(
            fresh.inspect("demo/base:1")["Id"],
            base.as_str(),
            "{format}"
        );
        assert_eq!(fresh.inspect("demo/app:2")["Id"], app.as_str(), "{format}");
        assert_eq!(fresh.store_entries("layers").len(), 2, "{format}");
        assert!(fresh.store_entries("tmp").is_empty(), "{format}");
    }
}
