//! `strata pull`, `push`, `login` and `logout` against Debian's `docker-registry` on a free
//! loopback port: round trips checked with skopeo, OCI and Docker v2.2 manifests, gzip
//! and zstd layers, a two-platform index, token auth with a test issuer, basic auth over
//! TLS with a test CA, and registries that misbehave (see `FaultProxy`).

use std::process::Command;
use strata_tests::registry::*;
use strata_tests::*;

/// A docker archive (uncompressed layers) of an image with `layers` (plain tars) for
/// `arch`; returns the archive and the image ID.
fn docker_archive(layers: &[Vec<u8>], arch: &str, tag: &str) -> (Vec<u8>, String) {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    let config = serde_json::json!({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "created": "2024-01-01T00:00:00Z",
        "history": layers.iter().map(|_| serde_json::json!({"created_by": "test"})).collect::<Vec<_>>(),
    })
    .to_string();
    let id = sha256_hex(config.as_bytes());
    let mut t = TarBuilder::new().file(format!("{id}.json"), config.as_bytes());
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let n = format!("l{i}/layer.tar");
        t = t.file(&n, l);
        names.push(n);
    }
    let manifest =
        serde_json::json!([{"Config": format!("{id}.json"), "RepoTags": [tag], "Layers": names}]);
    let t = t.file("manifest.json", manifest.to_string().as_bytes());
    (t.finish(), format!("sha256:{id}"))
}

/// Copies a docker archive into the registry with skopeo (`extra`: format, compression).
fn skopeo_push(env: &Env, archive: &[u8], dest: &str, extra: &[&str]) {
    let path = env.write(&unique_name("archive-"), archive);
    let src = format!("docker-archive:{}", path.display());
    let dst = format!("docker://{dest}");
    let mut args = vec!["copy", "--dest-tls-verify=false"];
    args.extend_from_slice(extra);
    args.push(&src);
    args.push(&dst);
    skopeo(&args);
}

fn three_layers(seed: &str) -> Vec<Vec<u8>> {
    vec![
        busybox_rootfs_tar(false).to_vec(),
        small_rootfs_tar(&[("srv/a.txt", format!("a {seed}").as_bytes())]),
        small_rootfs_tar(&[
            ("srv/b.txt", format!("b {seed}").as_bytes()),
            ("srv/c/d", b"d"),
        ]),
    ]
}

#[test]
fn pull_of_an_image_skopeo_pushed_prints_docker_lines_and_verifies() {
    let reg = Registry::start();
    let env = Env::new();
    let (ar, id) = docker_archive(&three_layers("1"), go_arch(), "x:1");
    skopeo_push(&env, &ar, &reg.image("t/multi:1"), &["--format", "v2s2"]);
    let raw = skopeo_raw(&reg.image("t/multi:1"));
    assert_eq!(
        raw["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );

    let out = env.cmd(["pull", &reg.image("t/multi:1")]).ok();
    let lines = out.lines();
    assert_eq!(lines[0], "1: Pulling from t/multi", "{}", out.stdout);
    let layers: Vec<String> = raw["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| short_id(l["digest"].as_str().unwrap()))
        .collect();
    for l in &layers {
        assert!(
            lines.contains(&format!("{l}: Pulling fs layer").as_str()),
            "{}",
            out.stdout
        );
        assert!(
            lines.contains(&format!("{l}: Pull complete").as_str()),
            "{}",
            out.stdout
        );
    }
    assert!(
        lines[lines.len() - 3].starts_with("Digest: sha256:"),
        "{}",
        out.stdout
    );
    assert_ends_downloaded(&lines, &reg.image("t/multi:1"));
    assert_eq!(
        env.cmd(["images", "-q", "--no-trunc"]).ok().stdout.trim(),
        id
    );
    let inspect = env.inspect(&reg.image("t/multi:1"));
    assert_eq!(inspect["RootFS"]["Layers"].as_array().unwrap().len(), 3);
    let digest = lines[lines.len() - 3].trim_start_matches("Digest: ");
    assert_eq!(
        inspect["RepoDigests"][0].as_str().unwrap(),
        format!("{}@{digest}", reg.image("t/multi"))
    );
    // Pulled by digest, the same image; pulled again, up to date.
    env.cmd(["pull", "-q", &format!("{}@{digest}", reg.image("t/multi"))])
        .ok();
    let again = env.cmd(["pull", &reg.image("t/multi:1")]).ok();
    assert!(again.stdout.contains(&format!(
        "Status: Image is up to date for {}",
        reg.image("t/multi:1")
    )));
    assert!(!again.stdout.contains("Pull complete"));
    // The unpacked layers are there.
    let top = env.store_entries("layers");
    assert_eq!(top.len(), 3);
}

#[test]
fn pull_of_oci_zstd_and_gzip_images_shares_layers_already_present() {
    // Two registries, so that skopeo cannot reuse the blobs of one image for the other.
    let reg = Registry::start();
    let zreg = Registry::start();
    let env = Env::new();
    let (ar, _) = docker_archive(&three_layers("2"), go_arch(), "x:1");
    skopeo_push(&env, &ar, &reg.image("t/oci:gz"), &["--format", "oci"]);
    skopeo_push(
        &env,
        &ar,
        &zreg.image("t/oci:zstd"),
        &[
            "--format",
            "oci",
            "--dest-compress",
            "--dest-compress-format",
            "zstd",
        ],
    );
    let raw = skopeo_raw(&zreg.image("t/oci:zstd"));
    assert_eq!(
        raw["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    let id = raw["config"]["digest"].as_str().unwrap().to_string();
    let out = env.cmd(["pull", &zreg.image("t/oci:zstd")]).ok();
    assert!(out.stdout.contains("Pull complete"));
    assert_eq!(
        env.cmd(["images", "-q", "--no-trunc"]).ok().stdout.trim(),
        id
    );
    // Same DiffIDs, other blobs: every layer already exists by chain ID.
    let out = env.cmd(["pull", &reg.image("t/oci:gz")]).ok();
    assert_eq!(
        out.stdout.matches("Already exists").count(),
        3,
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("Pull complete"), "{}", out.stdout);
    assert_eq!(env.store_entries("layers").len(), 3);
    // A fourth layer on top: only that one is fetched.
    let mut four = three_layers("2");
    four.push(small_rootfs_tar(&[("srv/top", b"top")]));
    let (ar4, _) = docker_archive(&four, go_arch(), "x:2");
    skopeo_push(&env, &ar4, &reg.image("t/oci:four"), &["--format", "oci"]);
    let out = env.cmd(["pull", &reg.image("t/oci:four")]).ok();
    assert_eq!(
        out.stdout.matches("Already exists").count(),
        3,
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stdout.matches("Pull complete").count(),
        1,
        "{}",
        out.stdout
    );
}

/// PUTs a document to the registry with curl.
fn curl_put_manifest(reg: &str, repo: &str, tag: &str, media_type: &str, body: &[u8]) {
    let env = Env::new();
    let f = env.write("doc.json", body);
    let out = Command::new("curl")
        .args(["-fsS", "-X", "PUT", "-H"])
        .arg(format!("Content-Type: {media_type}"))
        .arg("--data-binary")
        .arg(format!("@{}", f.display()))
        .arg(format!("http://{reg}/v2/{repo}/manifests/{tag}"))
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn pull_of_a_two_platform_index_picks_the_platform() {
    let reg = Registry::start();
    let env = Env::new();
    let other_arch = if go_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let (host_ar, _) = docker_archive(&three_layers("host"), go_arch(), "x:1");
    let (other_ar, _) = docker_archive(&three_layers("other"), other_arch, "x:2");
    skopeo_push(
        &env,
        &host_ar,
        &reg.image("t/multi:host"),
        &["--format", "oci"],
    );
    skopeo_push(
        &env,
        &other_ar,
        &reg.image("t/multi:other"),
        &["--format", "oci"],
    );
    let config_of = |tag: &str| {
        skopeo_raw(&reg.image(&format!("t/multi:{tag}")))["config"]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (host_id, other_id) = (config_of("host"), config_of("other"));
    let desc = |tag: &str, arch: &str| {
        let raw = skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{}", reg.image(&format!("t/multi:{tag}"))),
        ]);
        let os = if arch == "unknown" {
            "unknown"
        } else {
            "linux"
        };
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", sha256_hex(raw.as_bytes())),
            "size": raw.len(),
            "platform": {"os": os, "architecture": arch},
        })
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            desc("host", "unknown"),
            desc("other", other_arch),
            desc("host", go_arch()),
        ],
    });
    let body = index.to_string();
    curl_put_manifest(
        &reg.addr,
        "t/multi",
        "both",
        "application/vnd.oci.image.index.v1+json",
        body.as_bytes(),
    );

    let out = env.cmd(["pull", &reg.image("t/multi:both")]).ok();
    let index_digest = format!("sha256:{}", sha256_hex(body.as_bytes()));
    assert!(
        out.stdout.contains(&format!("Digest: {index_digest}")),
        "{}",
        out.stdout
    );
    assert_eq!(
        env.cmd(["images", "-q", "--no-trunc"]).ok().stdout.trim(),
        host_id
    );

    let env2 = Env::new();
    env2.cmd([
        "pull",
        "-q",
        "--platform",
        &format!("linux/{other_arch}"),
        &reg.image("t/multi:both"),
    ])
    .ok();
    assert_eq!(
        env2.cmd(["images", "-q", "--no-trunc"]).ok().stdout.trim(),
        other_id
    );

    let env3 = Env::new();
    let before = env3.snapshot();
    let out = env3
        .cmd([
            "pull",
            "--platform",
            "linux/s390x",
            &reg.image("t/multi:both"),
        ])
        .fails();
    assert_eq!(
        out.single_error(),
        "Error: no matching manifest for linux/s390x in the manifest list entries"
    );
    assert_eq!(env3.snapshot(), before);
}

#[test]
fn push_compresses_once_skips_and_mounts_and_skopeo_reads_it() {
    let reg = Registry::start();
    let env = Env::new();
    let id = env.import_busybox(&reg.image("t/bb:1"));
    let out = env.cmd(["push", &reg.image("t/bb:1")]).ok();
    let lines = out.lines();
    assert_eq!(
        lines[0],
        format!("The push refers to repository [{}]", reg.image("t/bb"))
    );
    assert!(out.stdout.contains(": Pushed"), "{}", out.stdout);
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("1: digest: sha256:") && last.contains(" size: "),
        "{last}"
    );
    let blobs_after_first = env.store_entries("blobs/sha256").len();

    // skopeo reads it: a gzip layer, the same config.
    let raw = skopeo_raw(&reg.image("t/bb:1"));
    assert_eq!(
        raw["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(raw["config"]["digest"], id);
    let digest = last.split_whitespace().nth(2).unwrap();
    let skopeo_digest = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--format",
        "{{.Digest}}",
        &format!("docker://{}", reg.image("t/bb:1")),
    ]);
    assert_eq!(skopeo_digest.trim(), digest);

    // Again: already there; nothing is compressed anew.
    let out = env.cmd(["push", &reg.image("t/bb:1")]).ok();
    assert!(
        out.stdout.contains(": Layer already exists"),
        "{}",
        out.stdout
    );
    assert_eq!(env.store_entries("blobs/sha256").len(), blobs_after_first);

    // Another repository of the same registry: mounted from the first.
    env.cmd(["tag", &reg.image("t/bb:1"), &reg.image("u/copy:2")])
        .ok();
    let out = env.cmd(["push", &reg.image("u/copy:2")]).ok();
    assert!(out.stdout.contains(": Mounted from t/bb"), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("2: digest: {digest} ")),
        "{}",
        out.stdout
    );

    // -q prints only the name; a fresh store pulls the image back with the same ID.
    let out = env.cmd(["push", "-q", &reg.image("u/copy:2")]).ok();
    assert_eq!(out.stdout, format!("{}\n", reg.image("u/copy:2")));
    let env2 = Env::new();
    env2.cmd(["pull", "-q", &reg.image("u/copy:2")]).ok();
    assert_eq!(
        env2.cmd(["images", "-q", "--no-trunc"]).ok().stdout.trim(),
        id
    );

    // skopeo copies it back out of the registry into a docker archive that strata loads.
    let dest = env2.work().join("copy.tar");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}", reg.image("t/bb:1")),
        &format!("docker-archive:{}:t/bb:1", dest.display()),
    ]);
    let env3 = Env::new();
    env3.cmd(["load", "-i", dest.to_str().unwrap()]).ok();
    assert_eq!(
        env3.cmd(["images", "-q", "--no-trunc"]).ok().stdout.trim(),
        id
    );
}

#[test]
fn push_of_a_missing_image_and_pull_of_a_missing_tag_fail_cleanly() {
    let reg = Registry::start();
    let env = Env::new();
    let out = env.cmd(["push", &reg.image("t/none:1")]).fails();
    assert_eq!(
        out.single_error(),
        format!(
            "Error: An image does not exist locally with the tag: {}",
            reg.image("t/none")
        )
    );
    let before = env.snapshot();
    let out = env.cmd(["pull", "-q", &reg.image("t/none:1")]).fails();
    assert_eq!(
        out.single_error(),
        format!(
            "Error: manifest for {} not found: manifest unknown",
            reg.image("t/none:1")
        )
    );
    assert_eq!(env.snapshot(), before);
    let out = env.cmd(["pull", "-q", "Bad:Ref:x"]).fails();
    out.single_error();
}

#[test]
fn token_auth_pull_and_push() {
    let reg = Registry::start_with(Auth::Token(None), false);
    let env = Env::new();
    env.import_busybox(&reg.image("t/tok:1"));
    let out = env.cmd(["push", &reg.image("t/tok:1")]).ok();
    assert!(out.stdout.contains(": Pushed"), "{}", out.stdout);
    let env2 = Env::new();
    env2.cmd(["pull", &reg.image("t/tok:1")]).ok();
    assert!(
        reg.issuer
            .as_ref()
            .unwrap()
            .issued
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    );
}

#[test]
fn token_auth_with_credentials_needs_login() {
    let creds = ("tok".to_string(), "secret-pw".to_string());
    let reg = Registry::start_with(Auth::Token(Some(creds)), false);
    let env = Env::new();
    env.import_busybox(&reg.image("t/tok:1"));
    let before = env.snapshot();
    let out = env.cmd(["push", &reg.image("t/tok:1")]).fails();
    assert!(
        out.single_error().contains("unauthorized"),
        "{}",
        out.stderr
    );
    let out = env
        .cmd(["login", "-u", "tok", "--password-stdin", &reg.addr])
        .stdin("wrong\n")
        .fails();
    assert!(
        out.single_error()
            .contains("incorrect username or password"),
        "{}",
        out.stderr
    );
    env.cmd(["login", "-u", "tok", "--password-stdin", &reg.addr])
        .stdin("secret-pw\n")
        .ok();
    env.cmd(["push", &reg.image("t/tok:1")]).ok();
    let env2 = Env::new();
    let out = env2.cmd(["pull", &reg.image("t/tok:1")]).fails();
    assert!(
        out.single_error().contains("pull access denied"),
        "{}",
        out.stderr
    );
    assert_eq!(env.snapshot().images, before.images);
}

#[test]
fn basic_auth_over_tls_with_a_test_ca_and_login_logout() {
    let reg = Registry::start_with(
        Auth::Basic {
            user: "alice".into(),
            password: "s3cret".into(),
        },
        true,
    );
    let env = Env::new();
    env.import_busybox(&reg.image("t/tls:1"));
    // No CA yet: the certificate is refused, in one line.
    let out = env
        .cmd(["push", &reg.image("t/tls:1")])
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .fails();
    let e = out.single_error();
    assert!(
        e.starts_with(&format!(
            "Error: cannot verify the TLS certificate of {}: certificate signed by unknown authority",
            reg.addr
        )),
        "{e}"
    );
    // The CA in the user's certs.d.
    let dir = env.home().join(".config/strata/certs.d").join(&reg.addr);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(reg.ca.as_ref().unwrap(), dir.join("ca.crt")).unwrap();
    let out = env.cmd(["push", &reg.image("t/tls:1")]).fails();
    assert!(
        out.single_error().contains("unauthorized"),
        "{}",
        out.stderr
    );
    let out = env
        .cmd(["login", "-u", "alice", "-p", "wrong", &reg.addr])
        .fails();
    assert!(out.stderr.contains("Error: login to"), "{}", out.stderr);
    let out = env
        .cmd(["login", "-u", "alice", "--password-stdin", &reg.addr])
        .stdin("s3cret\n")
        .ok();
    assert_eq!(out.stdout, "Login Succeeded\n");
    let cfg = env.home().join(".docker/config.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    assert!(v["auths"][&reg.addr]["auth"].is_string());
    env.cmd(["push", &reg.image("t/tls:1")]).ok();
    let env2_pull = env.cmd(["pull", &reg.image("t/tls:1")]).ok();
    assert!(env2_pull.stdout.contains("Image is up to date"));
    let out = env.cmd(["logout", &reg.addr]).ok();
    assert_eq!(
        out.stdout,
        format!("Removing login credentials for {}\n", reg.addr)
    );
    let out = env.cmd(["logout", &reg.addr]).ok();
    assert_eq!(out.stdout, format!("Not logged in to {}\n", reg.addr));
    let out = env.cmd(["push", &reg.image("t/tls:1")]).fails();
    assert!(
        out.single_error().contains("unauthorized"),
        "{}",
        out.stderr
    );
}

/// A registry with a three-layer image at `t/img:1`, and a proxy with `fault` before it.
fn faulty(fault: Fault) -> (Registry, FaultProxy, Env) {
    let reg = Registry::start();
    let env = Env::new();
    let mut layers = three_layers("f");
    let mut noise = Vec::new();
    std::io::Read::read_to_end(&mut NoiseReader::new(7, 3 << 20), &mut noise).unwrap();
    layers.push(small_rootfs_tar(&[("big", &noise)]));
    let (ar, _) = docker_archive(&layers, go_arch(), "x:1");
    skopeo_push(&env, &ar, &reg.image("t/img:1"), &["--format", "oci"]);
    let proxy = FaultProxy::start(&reg.addr, fault);
    (reg, proxy, env)
}

#[test]
fn a_registry_that_corrupts_blobs_is_refused_and_the_store_is_unchanged() {
    let (_reg, proxy, env) = faulty(Fault::CorruptBlobs);
    env.import_busybox("keep:1");
    let before = env.snapshot();
    let out = env.cmd(["pull", &proxy.image("t/img:1")]).fails();
    let e = out.single_error();
    // Flipped bytes break the archive before its digest can be compared (the
    // valid-gzip case below reaches the digest check).
    assert!(e.starts_with("Error: layer "), "{e}");
    assert_eq!(env.snapshot(), before);
    assert_eq!(env.store_entries("tmp"), Vec::<String>::new());
}

#[test]
fn a_registry_that_truncates_blobs_is_retried_then_refused() {
    let (_reg, proxy, env) = faulty(Fault::TruncateBlobs);
    let before = env.snapshot();
    let out = env.cmd(["pull", &proxy.image("t/img:1")]).fails();
    let e = out.single_error();
    assert!(
        e.contains("broke off") || e.contains("does not match"),
        "{e}"
    );
    assert_eq!(env.snapshot(), before);
    assert!(proxy.ranged.load(std::sync::atomic::Ordering::Relaxed) > 0);
}

#[test]
fn a_connection_dropped_mid_layer_resumes_with_range() {
    let (_reg, proxy, env) = faulty(Fault::DropOnce);
    let out = env.cmd(["pull", &proxy.image("t/img:1")]).ok();
    assert!(
        out.stdout.contains("Status: Downloaded newer image"),
        "{}",
        out.stdout
    );
    assert!(proxy.ranged.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    assert_eq!(env.store_entries("layers").len(), 4);
}

#[test]
fn errors_500_and_429_are_retried() {
    let (_reg, proxy, env) = faulty(Fault::Error500(2));
    env.cmd(["pull", "-q", &proxy.image("t/img:1")]).ok();
    let (_reg2, proxy2, env2) = faulty(Fault::TooMany(1));
    env2.cmd(["pull", "-q", &proxy2.image("t/img:1")]).ok();
}

#[test]
fn four_concurrent_pulls_into_one_store() {
    let (reg, _proxy, env) = faulty(Fault::None);
    let children: Vec<_> = (0..4)
        .map(|_| {
            env.cmd(["pull", "-q", &reg.image("t/img:1")])
                .command()
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(env.image_ids().len(), 1);
    assert_eq!(env.store_entries("layers").len(), 4);
    assert_eq!(env.store_entries("tmp"), Vec::<String>::new());
    env.cmd(["rmi", &reg.image("t/img:1")]).ok();
    assert_eq!(env.store_entries("layers"), Vec::<String>::new());
}

#[test]
fn a_killed_pull_leaves_nothing_and_the_next_pull_works() {
    let (_reg, proxy, env) = faulty(Fault::Slow);
    let mut child = env
        .cmd(["pull", "-q", &proxy.image("t/img:1")])
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: our own child, not yet reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    assert_eq!(env.image_ids(), Vec::<String>::new());
    assert_eq!(env.store_entries("layers"), Vec::<String>::new());
    let proxy2 = FaultProxy::start(&_reg.addr, Fault::None);
    env.cmd(["pull", "-q", &proxy2.image("t/img:1")]).ok();
    assert_eq!(env.image_ids().len(), 1);
    assert_eq!(env.store_entries("tmp"), Vec::<String>::new());
}

#[test]
fn push_with_zstd_and_pull_all_tags() {
    let reg = Registry::start();
    let env = Env::new();
    let id = env.import_busybox(&reg.image("t/z:1"));
    env.import(
        &small_rootfs_tar(&[("etc/hello", b"hi")]),
        Some(&reg.image("t/z:2")),
    );
    env.cmd(["push", "-q", "--compression", "zstd", &reg.image("t/z:1")])
        .ok();
    let raw = skopeo_raw(&reg.image("t/z:1"));
    assert_eq!(
        raw["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    env.cmd(["push", "-q", "-a", &reg.image("t/z")]).ok();
    let env2 = Env::new();
    let out = env2.cmd(["pull", "-a", &reg.image("t/z")]).ok();
    assert!(out.stdout.contains("1: Pulling from t/z"), "{}", out.stdout);
    assert!(out.stdout.contains("2: Pulling from t/z"), "{}", out.stdout);
    assert_eq!(out.lines().last().copied(), Some(reg.image("t/z").as_str()));
    let mut tags = env2.repo_tags();
    tags.sort();
    assert_eq!(tags, vec![reg.image("t/z:1"), reg.image("t/z:2")]);
    assert_eq!(
        env2.cmd(["images", "-q", "--no-trunc", &reg.image("t/z:1")])
            .ok()
            .stdout
            .trim(),
        id
    );
}

#[test]
fn credentials_from_a_docker_credential_helper() {
    let reg = Registry::start_with(
        Auth::Basic {
            user: "helped".into(),
            password: "pw-from-helper".into(),
        },
        false,
    );
    let env = Env::new();
    let bin = env.work().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-strata-test");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread server\n[ \"$1\" = get ] || exit 1\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"helped\",\"Secret\":\"pw-from-helper\"}' \"$server\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(env.home().join(".docker")).unwrap();
    std::fs::write(
        env.home().join(".docker/config.json"),
        serde_json::json!({"credHelpers": {reg.addr.clone(): "strata-test"}}).to_string(),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    env.import_busybox(&reg.image("t/h:1"));
    env.cmd(["push", "-q", &reg.image("t/h:1")])
        .env("PATH", &path)
        .ok();
    let env2 = Env::new();
    let out = env2.cmd(["pull", "-q", &reg.image("t/h:1")]).fails();
    assert!(
        out.single_error().contains("pull access denied"),
        "{}",
        out.stderr
    );
}

#[test]
fn docker_hub_names_are_pulled_from_a_configured_mirror() {
    let reg = Registry::start();
    let env = Env::new();
    let (ar, _) = docker_archive(&three_layers("mirror"), go_arch(), "x:1");
    skopeo_push(
        &env,
        &ar,
        &reg.image("library/busybox:mirrored"),
        &["--format", "v2s2"],
    );
    let id = skopeo_raw(&reg.image("library/busybox:mirrored"))["config"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let cfg = env.home().join(".config/strata");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("registries.json"),
        serde_json::json!({"registry-mirrors": [format!("http://{}", reg.addr)]}).to_string(),
    )
    .unwrap();
    let out = env.cmd(["pull", "busybox:mirrored"]).ok();
    assert_eq!(out.lines()[0], "mirrored: Pulling from library/busybox");
    assert!(out
        .stdout
        .contains("Status: Downloaded newer image for busybox:mirrored"));
    assert_eq!(
        out.lines().last().copied(),
        Some("docker.io/library/busybox:mirrored")
    );
    assert_eq!(env.repo_tags(), vec!["busybox:mirrored".to_string()]);
    assert_eq!(
        env.cmd(["images", "-q", "--no-trunc"]).ok().stdout.trim(),
        id
    );
}

/// The config digest (image ID) of an image in a registry, as skopeo reads it.
/// A pull's output ends as docker's does: the status line, then the full reference.
fn assert_ends_downloaded(lines: &[&str], reference: &str) {
    let n = lines.len();
    assert_eq!(
        lines[n - 2],
        format!("Status: Downloaded newer image for {reference}"),
        "{lines:?}"
    );
    assert_eq!(lines[n - 1], reference, "{lines:?}");
}

fn config_digest(reference: &str) -> String {
    skopeo_raw(reference)["config"]["digest"]
        .as_str()
        .expect("a manifest with a config")
        .to_string()
}

/// A fresh environment with neither `SSL_CERT_FILE` nor `SSL_CERT_DIR` from outside.
fn no_system_ca_vars(c: Cmd<'_>) -> Cmd<'_> {
    c.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR")
}

#[test]
fn tls_trusts_the_system_store_through_ssl_cert_file_and_dir_and_fails_fast_without() {
    let reg = Registry::start_with(Auth::None, true);
    let env = Env::new();
    let (ar, _) = docker_archive(&three_layers("sys"), go_arch(), "x:1");
    skopeo_push(&env, &ar, &reg.image("t/sys:1"), &["--format", "v2s2"]);
    let id = config_digest(&reg.image("t/sys:1"));
    // Through a relay that counts connections: the certificate names 127.0.0.1 whatever
    // the port.
    let relay = TcpRelay::start(&reg.addr);
    let ca = reg.ca.clone().unwrap();

    // Not trusted anywhere: one line naming the registry and the problem, and no retries
    // (the loopback TLS probe and the one request that failed).
    let before = env.snapshot();
    let out = no_system_ca_vars(env.cmd(["pull", &relay.image("t/sys:1")])).fails();
    assert_eq!(
        out.single_error(),
        format!(
            "Error: cannot verify the TLS certificate of {}: certificate signed by unknown authority (trust its CA in /etc/strata/certs.d/{}/, --cert-dir or SSL_CERT_FILE)",
            relay.addr, relay.addr
        )
    );
    let tried = relay.connections.load(std::sync::atomic::Ordering::Relaxed);
    assert!((1..=2).contains(&tried), "{tried} connections");
    assert_eq!(env.snapshot(), before);

    // The test CA as the system's bundle (SSL_CERT_FILE), nowhere else.
    let out = no_system_ca_vars(env.cmd(["pull", &relay.image("t/sys:1")]))
        .env("SSL_CERT_FILE", &ca)
        .ok();
    assert!(
        out.stdout.contains(&format!(
            "Status: Downloaded newer image for {}",
            relay.image("t/sys:1")
        )),
        "{}",
        out.stdout
    );
    assert_eq!(env.image_ids(), vec![short_id(&id)]);

    // The system's certificate directory (SSL_CERT_DIR), in another store.
    let env2 = Env::new();
    let dir = env2.work().join("certs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&ca, dir.join("strata-test-ca.pem")).unwrap();
    no_system_ca_vars(env2.cmd(["pull", "-q", &relay.image("t/sys:1")]))
        .env("SSL_CERT_DIR", &dir)
        .ok();
    assert_eq!(env2.image_ids(), vec![short_id(&id)]);
}

/// `run` pulls an image it does not have (docker's `--pull missing`), with docker's lines
/// on standard error and only the command's output on standard output; `--pull never`
/// refuses, `--pull always` asks the registry again.
#[test]
fn run_pulls_a_missing_image_unless_told_not_to() {
    let reg = Registry::start();
    let env = Env::new();
    let (ar, id) = docker_archive(&three_layers("run"), go_arch(), "x:1");
    skopeo_push(&env, &ar, &reg.image("t/run:1"), &["--format", "v2s2"]);
    let image = reg.image("t/run:1");

    let before = env.snapshot();
    let out = env
        .cmd(["run", "--rm", "--pull", "never", &image, "true"])
        .code(125);
    assert_eq!(out.single_error(), format!("Error: No such image: {image}"));
    assert_eq!(env.snapshot(), before);

    let out = env.cmd(["run", "--rm", &image, "cat", "/srv/a.txt"]).ok();
    assert_eq!(out.stdout, "a run");
    let err = out.err_lines();
    assert_eq!(err[0], format!("Unable to find image '{image}' locally"));
    assert!(
        err.contains(&format!("Status: Downloaded newer image for {image}").as_str()),
        "{}",
        out.stderr
    );
    assert_eq!(env.image_ids(), vec![short_id(&id)]);

    let out = env
        .cmd([
            "run",
            "--rm",
            "--pull",
            "always",
            &image,
            "cat",
            "/srv/b.txt",
        ])
        .ok();
    assert_eq!(out.stdout, "b run");
    assert!(
        out.stderr
            .contains(&format!("Status: Image is up to date for {image}")),
        "{}",
        out.stderr
    );

    let out = env
        .cmd(["run", "--rm", &reg.image("t/nothing:1"), "true"])
        .code(125);
    assert_eq!(
        out.err_lines()[0],
        format!(
            "Unable to find image '{}' locally",
            reg.image("t/nothing:1")
        )
    );
    assert!(
        out.err_lines()[1].starts_with("Error: manifest for"),
        "{}",
        out.stderr
    );
    assert_eq!(env.image_ids(), vec![short_id(&id)]);
}

/// An image with more layers than strata fetches at once (8): every layer arrives, in
/// order, and the container sees the top one's files over the others.
#[test]
fn pull_of_an_image_with_more_layers_than_are_fetched_at_once() {
    let reg = Registry::start();
    let env = Env::new();
    let mut layers = vec![busybox_rootfs_tar(false).to_vec()];
    for i in 1..20 {
        layers.push(small_rootfs_tar(&[
            (
                format!("srv/l{i}.txt").as_str(),
                format!("layer {i}").as_bytes(),
            ),
            ("srv/top.txt", format!("{i}").as_bytes()),
        ]));
    }
    let (ar, id) = docker_archive(&layers, go_arch(), "x:1");
    skopeo_push(&env, &ar, &reg.image("t/many:1"), &["--format", "v2s2"]);
    let out = env.cmd(["pull", &reg.image("t/many:1")]).ok();
    assert_eq!(
        out.lines()
            .iter()
            .filter(|l| l.ends_with(": Pull complete"))
            .count(),
        20,
        "{}",
        out.stdout
    );
    assert_eq!(env.image_ids(), vec![short_id(&id)]);
    let history = env.inspect(&reg.image("t/many:1"));
    assert_eq!(history["RootFS"]["Layers"].as_array().unwrap().len(), 20);
    let out = env
        .cmd([
            "run",
            "--rm",
            &reg.image("t/many:1"),
            "cat",
            "/srv/top.txt",
            "/srv/l1.txt",
            "/srv/l19.txt",
        ])
        .ok();
    assert_eq!(out.stdout, "19layer 1layer 19");
}

/// `--tls-verify=false` and `STRATA_INSECURE_REGISTRIES`, as docker's insecure
/// registries: a registry that speaks TLS is used over HTTPS without checking its
/// certificate (a plain HTTP registry is tested everywhere else).
#[test]
fn an_insecure_registry_that_speaks_tls_is_used_without_checking_its_certificate() {
    let reg = Registry::start_with(Auth::None, true);
    let env = Env::new();
    let (ar, _) = docker_archive(&three_layers("insec"), go_arch(), "x:1");
    skopeo_push(&env, &ar, &reg.image("t/insec:1"), &["--format", "v2s2"]);
    let id = config_digest(&reg.image("t/insec:1"));
    let image = reg.image("t/insec:1");

    let before = env.snapshot();
    let out = no_system_ca_vars(env.cmd(["pull", &image])).fails();
    assert!(
        out.single_error()
            .contains("cannot verify the TLS certificate"),
        "{}",
        out.stderr
    );
    assert_eq!(env.snapshot(), before);

    no_system_ca_vars(env.cmd(["pull", "-q", "--tls-verify=false", &image])).ok();
    assert_eq!(env.image_ids(), vec![short_id(&id)]);

    let env2 = Env::new();
    no_system_ca_vars(env2.cmd(["pull", "-q", &image]))
        .env("STRATA_INSECURE_REGISTRIES", &reg.addr)
        .ok();
    assert_eq!(env2.image_ids(), vec![short_id(&id)]);
    env2.cmd(["tag", &image, &reg.image("t/insec2:1")]).ok();
    no_system_ca_vars(env2.cmd(["push", "-q", "--tls-verify=false", &reg.image("t/insec2:1")]))
        .ok();
    assert_eq!(config_digest(&reg.image("t/insec2:1")), id);
}

/// Gzips `data`.
fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

/// Uploads an OCI image of gzipped `layers` to `repo:tag` by hand, with the given
/// DiffIDs in its config (right or wrong: the registry checks only blob digests).
/// Returns the config digest.
fn upload_image(
    addr: &str,
    repo: &str,
    tag: &str,
    layers: &[Vec<u8>],
    diff_ids: &[String],
) -> String {
    let gz: Vec<Vec<u8>> = layers.iter().map(|l| gzip(l)).collect();
    upload_oci_image(addr, repo, tag, &gz, diff_ids)
}

#[test]
fn a_layer_that_is_valid_gzip_of_other_content_is_refused_by_its_digest() {
    let other = small_rootfs_tar(&[("srv/other", b"not the layer the manifest names")]);
    let (reg, proxy, env) = faulty(Fault::SwapLayers(other));
    env.import_busybox("keep:1");
    let before = env.snapshot();
    let out = env.cmd(["pull", &proxy.image("t/img:1")]).fails();
    let e = out.single_error();
    // It unpacked (a valid gzip tar), so only the digest check can refuse it.
    assert!(
        e.contains("digest mismatch for blob: expected sha256:"),
        "{e}"
    );
    assert!(e.starts_with("Error: layer "), "{e}");
    assert_eq!(env.snapshot(), before);
    assert_eq!(env.store_entries("tmp"), Vec::<String>::new());
    // The registry itself serves the right bytes: the next pull works.
    env.cmd(["pull", "-q", &reg.image("t/img:1")]).ok();
    assert_eq!(env.image_ids().len(), 2);
}

#[test]
fn a_config_that_does_not_match_its_digest_is_refused() {
    let (reg, proxy, env) = faulty(Fault::ChangeConfig);
    let before = env.snapshot();
    let out = env.cmd(["pull", &proxy.image("t/img:1")]).fails();
    let id = skopeo_raw(&reg.image("t/img:1"))["config"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let e = out.single_error();
    assert!(
        e.starts_with(&format!(
            "Error: config {id} does not match its digest (it is sha256:"
        )),
        "{e}"
    );
    assert_eq!(env.snapshot(), before);
    env.cmd(["pull", "-q", &reg.image("t/img:1")]).ok();
    assert_eq!(env.image_ids(), vec![short_id(&id)]);
}

#[test]
fn an_image_whose_config_diff_ids_do_not_match_its_layers_is_refused() {
    let reg = Registry::start();
    let env = Env::new();
    let layers = three_layers("diff");
    let right: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    let mut wrong = right.clone();
    let elsewhere = small_rootfs_tar(&[("srv/elsewhere", b"x")]);
    wrong[2] = format!("sha256:{}", sha256_hex(&elsewhere));
    upload_image(&reg.addr, "t/diff", "bad", &layers, &wrong);
    let before = env.snapshot();
    let out = env.cmd(["pull", &reg.image("t/diff:bad")]).fails();
    let e = out.single_error();
    assert!(
        e.contains(&format!(
            "DiffID mismatch: config says {}, layer is {}",
            wrong[2], right[2]
        )),
        "{e}"
    );
    assert!(e.starts_with("Error: layer 3 ("), "{e}");
    assert_eq!(env.snapshot(), before);
    assert_eq!(env.store_entries("tmp"), Vec::<String>::new());
    // The same layers with the right DiffIDs pull fine.
    let id = upload_image(&reg.addr, "t/diff", "good", &layers, &right);
    env.cmd(["pull", "-q", &reg.image("t/diff:good")]).ok();
    assert_eq!(env.image_ids(), vec![short_id(&id)]);
    assert_eq!(env.store_entries("layers").len(), 3);
}

#[test]
fn tokens_are_cached_per_scope_and_the_token_endpoint_is_retried() {
    use std::sync::atomic::Ordering::Relaxed;
    let reg = Registry::start_with(Auth::Token(None), false);
    let issuer = reg.issuer.as_ref().unwrap();
    let env = Env::new();
    let mut layers = three_layers("tok");
    layers.push(small_rootfs_tar(&[("srv/four", b"4")]));
    let (ar, _) = docker_archive(&layers, go_arch(), "x:1");
    skopeo_push(&env, &ar, &reg.image("t/tok:1"), &["--format", "oci"]);
    let id = config_digest(&reg.image("t/tok:1"));
    // Through a proxy that counts the registry requests.
    let proxy = FaultProxy::start(&reg.addr, Fault::None);
    let asked = |from: usize| issuer.scopes.lock().unwrap()[from..].to_vec();

    let n0 = issuer.scopes.lock().unwrap().len();
    env.cmd(["pull", &proxy.image("t/tok:1")]).ok();
    // Manifest, config and four layers (plus the 401 that started it) ...
    let requests = proxy.requests.load(Relaxed);
    assert!(requests >= 7, "{requests} registry requests");
    // ... on one token.
    assert_eq!(asked(n0), vec!["repository:t/tok:pull".to_string()]);

    // A push to another repository: one token for its scope (and the mount source's).
    let n1 = issuer.scopes.lock().unwrap().len();
    env.cmd(["tag", &proxy.image("t/tok:1"), &proxy.image("u/copy:1")])
        .ok();
    let out = env.cmd(["push", &proxy.image("u/copy:1")]).ok();
    assert!(out.stdout.contains("Mounted from t/tok"), "{}", out.stdout);
    let pushed = asked(n1);
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    let scopes: Vec<&str> = pushed[0].split(' ').collect();
    assert!(
        scopes.contains(&"repository:u/copy:pull,push"),
        "{pushed:?}"
    );
    assert!(scopes.contains(&"repository:t/tok:pull"), "{pushed:?}");

    // The token endpoint fails twice (500, then a dropped connection): retried.
    issuer.fail_next.store(1, Relaxed);
    issuer.reset_next.store(1, Relaxed);
    let env2 = Env::new();
    env2.cmd(["pull", "-q", &proxy.image("t/tok:1")]).ok();
    assert_eq!(issuer.fail_next.load(Relaxed), 0);
    assert_eq!(issuer.reset_next.load(Relaxed), 0);
    assert_eq!(env2.image_ids(), vec![short_id(&id)]);

    // One that keeps failing: a bounded number of tries, then one line.
    issuer.fail_next.store(100, Relaxed);
    let env3 = Env::new();
    let before = env3.snapshot();
    let out = env3.cmd(["pull", "-q", &proxy.image("t/tok:1")]).fails();
    let tries = 100 - issuer.fail_next.swap(0, Relaxed);
    assert!((2..=5).contains(&tries), "{tries} token requests");
    assert_eq!(
        out.single_error(),
        format!(
            "Error: cannot get a token from http://{}/token: status 500",
            issuer.addr
        )
    );
    assert_eq!(env3.snapshot(), before);
}

#[test]
fn retry_after_as_an_http_date_is_obeyed() {
    let (_reg, proxy, env) = faulty(Fault::TooManyUntil(2));
    env.cmd(["pull", "-q", &proxy.image("t/img:1")]).ok();
    assert!(proxy.requests.load(std::sync::atomic::Ordering::Relaxed) > 2);
    assert_eq!(env.store_entries("layers").len(), 4);
}

#[test]
fn pull_draws_bars_only_on_a_terminal_and_quiet_prints_only_the_reference() {
    assert!(
        has_script(),
        "`script` (util-linux) is needed to give strata a terminal"
    );
    let (reg, _proxy, _env) = faulty(Fault::None);
    let image = reg.image("t/img:1");
    // Not a terminal: docker's lines, no cursor movement, no byte counts.
    let env = Env::new();
    let out = env.cmd(["pull", &image]).ok();
    assert!(out.stdout.contains(": Pull complete"), "{out:?}");
    assert!(!out.stdout.contains('\x1b'), "{out:?}");
    assert!(!out.stdout.contains("MiB/"), "{out:?}");
    let script = |env: &Env, term: &str, args: &str| {
        env.sh(&format!(
            "TERM={term} script -qec '\"$STRATA\" pull {args} {image}' /dev/null"
        ))
        .ok()
    };
    // A terminal: bars, redrawn in place, with bytes done and in all.
    let env = Env::new();
    let out = script(&env, "xterm", "");
    assert!(out.stdout.contains('\x1b'), "{out:?}");
    assert!(out.stdout.contains("MiB/"), "{out:?}");
    assert!(
        out.stdout.contains("Status: Downloaded newer image"),
        "{out:?}"
    );
    assert_eq!(env.store_entries("layers").len(), 4);
    // Push bars count the bytes sent too (to another registry: one repository of the
    // same registry mounts the layers, and no bytes move).
    let other = Registry::start();
    let copy = other.image("u/bars:1");
    env.cmd(["tag", &image, &copy]).ok();
    let out = env
        .sh(&format!(
            "TERM=xterm script -qec '\"$STRATA\" push {copy}' /dev/null"
        ))
        .ok();
    assert!(out.stdout.contains('\x1b'), "{out:?}");
    // Bytes sent of the layer's size ("8.00 KiB/3.00 MiB"): how far a push gets before a
    // redraw depends on the machine's load, so any count, not one past a MiB.
    let counts = out
        .stdout
        .match_indices("iB/")
        .any(|(i, _)| out.stdout[i + 3..].starts_with(|c: char| c.is_ascii_digit()));
    assert!(counts, "{out:?}");
    assert!(out.stdout.contains("1: digest: sha256:"), "{out:?}");
    // A terminal that cannot move its cursor: lines again.
    let env = Env::new();
    let out = script(&env, "dumb", "");
    assert!(out.stdout.contains(": Pull complete"), "{out:?}");
    assert!(!out.stdout.contains('\x1b'), "{out:?}");
    assert!(!out.stdout.contains("MiB/"), "{out:?}");
    // -q on a terminal: the reference and nothing else.
    let env = Env::new();
    let out = script(&env, "xterm", "-q");
    assert_eq!(out.stdout.replace('\r', ""), format!("{image}\n"));
    assert_eq!(env.store_entries("layers").len(), 4);
}

#[test]
fn pull_without_a_tag_uses_latest() {
    let reg = Registry::start();
    let env = Env::new();
    let (ar, _) = docker_archive(&three_layers("latest"), go_arch(), "x:1");
    skopeo_push(&env, &ar, &reg.image("t/dflt:latest"), &["--format", "oci"]);
    let id = config_digest(&reg.image("t/dflt:latest"));
    let out = env.cmd(["pull", &reg.image("t/dflt")]).ok();
    let lines = out.lines();
    assert_eq!(lines[0], "Using default tag: latest", "{}", out.stdout);
    assert_eq!(lines[1], "latest: Pulling from t/dflt", "{}", out.stdout);
    assert_ends_downloaded(&lines, &reg.image("t/dflt:latest"));
    assert_eq!(env.repo_tags(), vec![reg.image("t/dflt:latest")]);
    // Quiet: only the reference, with its tag.
    let env2 = Env::new();
    let out = env2.cmd(["pull", "-q", &reg.image("t/dflt")]).ok();
    assert_eq!(out.stdout, format!("{}\n", reg.image("t/dflt:latest")));
    assert_eq!(env2.image_ids(), vec![short_id(&id)]);
}

#[test]
fn push_sends_chunks_when_the_registry_names_a_minimum_chunk_size() {
    let (reg, _plain, env) = faulty(Fault::None);
    env.cmd(["pull", "-q", &reg.image("t/img:1")]).ok();
    let id = env.inspect(&reg.image("t/img:1"))["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let min: usize = (1 << 20) + 123;
    let proxy = FaultProxy::start(&reg.addr, Fault::ChunkMin(min as u64));
    env.cmd(["tag", &reg.image("t/img:1"), &proxy.image("u/chunked:1")])
        .ok();
    let out = env.cmd(["push", &proxy.image("u/chunked:1")]).ok();
    assert_eq!(out.stdout.matches(": Pushed").count(), 4, "{}", out.stdout);
    let uploads = proxy.uploads.lock().unwrap().clone();
    let patches: Vec<_> = uploads.iter().filter(|u| u.method == "PATCH").collect();
    let puts: Vec<_> = uploads.iter().filter(|u| u.method == "PUT").collect();
    // Four layers and the config: five sessions, each closed by an empty PUT.
    assert_eq!(puts.len(), 5, "{uploads:?}");
    assert!(
        puts.iter().all(|p| p.len == 0 && p.status == 201),
        "{uploads:?}"
    );
    for p in &patches {
        assert_eq!(p.status, 202, "{p:?}");
        let range = p
            .content_range
            .as_deref()
            .expect("every chunk has a Content-Range");
        let (a, b) = range.split_once('-').unwrap();
        let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
        assert_eq!(b - a + 1, p.len, "{p:?}");
        // Chunks of the minimum size, one after another; only the last may be shorter.
        assert_eq!(a % min, 0, "{p:?}");
        assert!(p.len <= min, "{p:?}");
    }
    let full = patches.iter().filter(|p| p.len == min).count();
    assert!(
        full >= 2,
        "the 3 MiB layer goes in several chunks: {patches:?}"
    );
    assert!(
        patches
            .iter()
            .any(|p| p.content_range.as_deref() == Some(&format!("{min}-{}", 2 * min - 1))),
        "{patches:?}"
    );
    // What arrived is the image, whole: a fresh store pulls it, every digest checked.
    let env2 = Env::new();
    env2.cmd(["pull", "-q", &reg.image("u/chunked:1")]).ok();
    assert_eq!(env2.image_ids(), vec![short_id(&id)]);
}
