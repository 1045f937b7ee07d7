//! `strata import FILE|-|URL [REPO[:TAG]] [-m MSG] [-c CHANGE]...`

use std::io::{Read, Write};
use std::net::TcpListener;
use strata_tests::*;

/// Imports `data` (the busybox rootfs under some compression) and checks that the
/// image's only layer has the DiffID of the uncompressed tar, as docker records it.
fn import_compressed(data: &[u8], tag: &str) {
    let env = Env::new();
    let file = env.write("rootfs", data);
    let reference = format!("demo/busybox:{tag}");
    let out = env
        .cmd(["import".as_ref(), file.as_os_str(), reference.as_ref()])
        .ok();
    let id = out.stdout.trim_end();
    assert!(is_sha256_id(id), "import printed {:?}", out.stdout);
    assert_eq!(
        out.lines().len(),
        1,
        "import prints only the ID: {:?}",
        out.stdout
    );
    let img = env.inspect(&reference);
    assert_eq!(img["Id"], id);
    let diff_id = format!("sha256:{}", sha256_hex(busybox_rootfs_tar(false)));
    assert_eq!(img["RootFS"]["Type"], "layers");
    assert_eq!(img["RootFS"]["Layers"], serde_json::json!([diff_id]));
    assert_eq!(env.repo_tags(), vec![reference]);
}

#[test]
fn import_plain_tar() {
    import_compressed(busybox_rootfs_tar(false), "plain");
}

#[test]
fn import_gzip() {
    import_compressed(busybox_rootfs_tar(true), "gzip");
}

#[test]
fn import_zstd() {
    import_compressed(&zstd_compress(busybox_rootfs_tar(false)), "zstd");
}

#[test]
fn import_xz() {
    import_compressed(&xz_compress(busybox_rootfs_tar(false)), "xz");
}

#[test]
fn import_bzip2() {
    import_compressed(&bzip2_compress(busybox_rootfs_tar(false)), "bzip2");
}

#[test]
fn import_compression_is_detected_by_content_not_name() {
    let env = Env::new();
    // A gzip stream in a file whose name says plain tar.
    let file = env.write("rootfs.tar", busybox_rootfs_tar(true));
    env.cmd(["import".as_ref(), file.as_os_str(), "demo/named:1".as_ref()])
        .ok();
    let img = env.inspect("demo/named:1");
    let diff_id = format!("sha256:{}", sha256_hex(busybox_rootfs_tar(false)));
    assert_eq!(img["RootFS"]["Layers"][0], diff_id.as_str());
}

#[test]
fn import_from_stdin() {
    let env = Env::new();
    let out = env
        .cmd(["import", "-", "demo/stdin:1"])
        .stdin(busybox_rootfs_tar(true))
        .ok();
    assert!(is_sha256_id(out.stdout.trim_end()), "{:?}", out.stdout);
    assert_eq!(env.repo_tags(), vec!["demo/stdin:1"]);
}

/// Serves `body` once per connection on 127.0.0.1 (HTTP/1.1, Connection: close) and
/// returns the URL; the server thread ends after `max` requests.
pub(crate) fn serve(body: Vec<u8>, max: usize) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in l.incoming().take(max) {
            let Ok(mut s) = stream else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    format!("http://127.0.0.1:{port}/rootfs.tar.gz")
}

#[test]
fn import_from_url() {
    let env = Env::new();
    let url = serve(busybox_rootfs_tar(true).to_vec(), 4);
    let out = env.cmd(["import", &url, "demo/url:1"]).ok();
    assert!(is_sha256_id(out.stdout.trim_end()), "{:?}", out.stdout);
    let img = env.inspect("demo/url:1");
    let diff_id = format!("sha256:{}", sha256_hex(busybox_rootfs_tar(false)));
    assert_eq!(img["RootFS"]["Layers"][0], diff_id.as_str());
}

#[test]
fn import_without_reference_is_untagged() {
    let env = Env::new();
    let id = env.import(busybox_rootfs_tar(false), None);
    let t = Table::parse(&env.cmd(["images"]).ok().stdout);
    assert_eq!(t.rows.len(), 1, "{:?}", t.rows);
    assert_eq!(t.rows[0][t.col("REPOSITORY")], "<none>");
    assert_eq!(t.rows[0][t.col("TAG")], "<none>");
    assert_eq!(t.rows[0][t.col("IMAGE ID")], short_id(&id));
    assert_eq!(env.inspect(&id)["RepoTags"], serde_json::json!([]));
}

#[test]
fn import_default_tag_is_latest() {
    let env = Env::new();
    env.import_busybox("demo/busybox");
    assert_eq!(env.repo_tags(), vec!["demo/busybox:latest"]);
}

#[test]
fn import_message_and_changes_show_in_config() {
    let env = Env::new();
    let file = env.write("rootfs.tar.gz", busybox_rootfs_tar(true));
    let changes = [
        r#"CMD ["/bin/sh"]"#,
        r#"ENTRYPOINT ["/bin/busybox"]"#,
        "ENV GREETING=hello",
        "EXPOSE 8080/tcp",
        "LABEL org.example.k=v",
        "USER nobody",
        "VOLUME /data",
        "WORKDIR /srv",
        "STOPSIGNAL SIGINT",
    ];
    let mut args: Vec<String> = vec!["import".into(), "-m".into(), "busybox rootfs".into()];
    for c in changes {
        args.push("-c".into());
        args.push(c.into());
    }
    args.push(file.to_string_lossy().into_owned());
    args.push("demo/busybox:1.0".into());
    let out = env.cmd(&args).ok();
    let id = out.stdout.trim_end();
    let img = env.inspect("demo/busybox:1.0");
    assert_eq!(img["Id"], id);
    assert_eq!(img["Comment"], "busybox rootfs");
    let c = &img["Config"];
    assert_eq!(c["Cmd"], serde_json::json!(["/bin/sh"]));
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/busybox"]));
    let envs: Vec<&str> = c["Env"]
        .as_array()
        .expect("Config.Env is an array")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(envs.contains(&"GREETING=hello"), "Env = {envs:?}");
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    assert_eq!(c["Labels"], serde_json::json!({"org.example.k": "v"}));
    assert_eq!(c["User"], "nobody");
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(c["WorkingDir"], "/srv");
    assert_eq!(c["StopSignal"], "SIGINT");
}

#[test]
fn import_shell_form_cmd() {
    let env = Env::new();
    let file = env.write("rootfs.tar", busybox_rootfs_tar(false));
    env.cmd([
        "import".as_ref(),
        "-c".as_ref(),
        "CMD echo hi".as_ref(),
        file.as_os_str(),
        "demo/shell:1".as_ref(),
    ])
    .ok();
    assert_eq!(
        env.inspect("demo/shell:1")["Config"]["Cmd"],
        serde_json::json!(["/bin/sh", "-c", "echo hi"])
    );
}

#[test]
fn import_rejects_invalid_change() {
    let env = Env::new();
    let file = env.write("rootfs.tar", busybox_rootfs_tar(false));
    let before = env.snapshot();
    let out = env
        .cmd([
            "import".as_ref(),
            "-c".as_ref(),
            "RUN echo hi".as_ref(),
            file.as_os_str(),
            "demo/bad:1".as_ref(),
        ])
        .code(1);
    let line = out.single_error();
    assert!(line.to_lowercase().contains("run"), "{line}");
    assert_eq!(env.snapshot(), before);
}

#[test]
fn import_missing_file_fails() {
    let env = Env::new();
    let out = env.cmd(["import", "no-such-file.tar", "demo/x:1"]).code(1);
    let line = out.single_error();
    assert!(
        line.contains("no-such-file.tar"),
        "the error names the file: {line}"
    );
    assert!(env.image_ids().is_empty());
}

#[test]
fn import_invalid_reference_fails_before_storing() {
    let env = Env::new();
    let file = env.write("rootfs.tar", busybox_rootfs_tar(false));
    for bad in [
        "Demo/Busybox:1",
        "demo/busybox:",
        "demo//busybox",
        "demo/busybox:bad tag",
    ] {
        let out = env
            .cmd(["import".as_ref(), file.as_os_str(), bad.as_ref()])
            .code(1);
        let line = out.single_error();
        assert!(line.contains("invalid reference format"), "{bad}: {line}");
    }
    assert!(env.image_ids().is_empty());
    assert!(env.store_entries("layers").is_empty());
}

#[test]
fn import_twice_moves_the_tag() {
    let env = Env::new();
    let first = env.import_busybox("demo/busybox:1.0");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = env.import_busybox("demo/busybox:1.0");
    let id = env
        .cmd(["inspect", "--format", "{{.Id}}", "demo/busybox:1.0"])
        .ok();
    assert_eq!(id.stdout.trim_end(), second);
    let dangling = env.cmd(["images", "-q", "-f", "dangling=true"]).ok();
    if first != second {
        assert_eq!(dangling.lines(), vec![short_id(&first)]);
    } else {
        assert!(dangling.stdout.is_empty());
    }
}

#[test]
fn import_works_for_an_unprivileged_user_too() {
    // Runs as whoever runs the suite (scripts/test.sh runs it as root and as an
    // unprivileged user): the store belongs to the caller and only to them.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let m = std::fs::metadata(env.store()).unwrap();
    // SAFETY: geteuid cannot fail.
    assert_eq!(m.uid(), unsafe { libc::geteuid() });
    assert_eq!(
        m.permissions().mode() & 0o077,
        0,
        "the store must not be open to other users"
    );
}
