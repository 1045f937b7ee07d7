//! Issue 13: pulls of many layers run on a bounded pool of threads; images of more
//! layers than an overlay can stack are refused at pull and load; a stalled or crawling
//! download fails with a message that says so; layers over the size and expansion
//! limits are refused while they are decompressed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use strata_tests::registry::*;
use strata_tests::*;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

/// Uploads an image of `n` small layers (`layer-I` files) as `repo:1`.
fn upload_layers(addr: &str, repo: &str, n: usize, extra: &[u8]) {
    let mut diff_ids = Vec::new();
    let mut layers = Vec::new();
    for i in 0..n {
        let tar = if i == 0 && !extra.is_empty() {
            small_rootfs_tar(&[("big", extra)])
        } else {
            small_rootfs_tar(&[(&format!("layer-{i}"), format!("{i}").as_bytes())])
        };
        diff_ids.push(format!("sha256:{}", sha256_hex(&tar)));
        layers.push(gzip(&tar));
    }
    upload_oci_image(addr, repo, "1", &layers, &diff_ids);
}

/// Threads of `pid` and of every process below it.
fn tree_threads(pid: u32) -> usize {
    let mut pids = vec![pid];
    let mut i = 0;
    while i < pids.len() {
        let parent = pids[i];
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|x| x.parse::<u32>().ok());
            if ppid == Some(parent) && !pids.contains(&p) {
                pids.push(p);
            }
        }
        i += 1;
    }
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
        })
        .sum()
}

/// Defect 1: a pull started one thread per missing layer. Pulling 150 layers must not
/// take more than a bounded number of threads at any moment.
#[test]
fn a_pull_of_many_layers_runs_on_a_bounded_number_of_threads() {
    let reg = Registry::start();
    let env = Env::new();
    upload_layers(&reg.addr, "t/many", 150, &[]);
    let mut child = env
        .cmd(["pull", "-q", &reg.image("t/many:1")])
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak = 0;
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "the pull did not end");
        peak = peak.max(tree_threads(pid));
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "pull failed: {err}");
    assert!(peak > 1, "the threads were never seen");
    assert!(
        peak <= 60,
        "a pull of 150 layers ran {peak} threads at once (bounded pool of 8 pipelines)"
    );
    assert_eq!(
        env.inspect(&reg.image("t/many:1"))["RootFS"]["Layers"]
            .as_array()
            .unwrap()
            .len(),
        150
    );
}

/// Defect 2: an image of more than 500 layers could be pulled but never run.
#[test]
fn an_image_of_more_layers_than_an_overlay_stacks_is_refused_at_pull() {
    let reg = Registry::start();
    let env = Env::new();
    upload_layers(&reg.addr, "t/tall", 501, &[]);
    let before = env.snapshot();
    let out = env.cmd(["pull", &reg.image("t/tall:1")]).fails();
    let e = out.single_error();
    assert!(
        e.contains("the image has 501 layers, more than the 500 an overlay mount can stack"),
        "{e}"
    );
    assert!(e.contains("squash it"), "{e}");
    assert_eq!(env.snapshot(), before);
}

/// `max-layers` lowers the limit, for pull and for load.
#[test]
fn max_layers_is_enforced_at_pull_and_load() {
    let reg = Registry::start();
    let env = Env::new();
    upload_layers(&reg.addr, "t/four", 4, &[]);
    let image = reg.image("t/four:1");
    let out = env
        .cmd(["pull", &image])
        .env("STRATA_MAX_LAYERS", "3")
        .fails();
    let e = out.single_error();
    assert!(
        e.contains("the image has 4 layers, more than the 3 max-layers allows"),
        "{e}"
    );
    env.cmd(["pull", "-q", &image]).ok();
    env.cmd(["save", "-o", "four.tar", &image]).ok();
    env.cmd(["rmi", &image]).ok();
    let before = env.snapshot();
    std::fs::write(
        env.home().join(".config/strata/config.toml"),
        "max-layers = 2\n",
    )
    .unwrap_or_else(|_| {
        std::fs::create_dir_all(env.home().join(".config/strata")).unwrap();
        std::fs::write(
            env.home().join(".config/strata/config.toml"),
            "max-layers = 2\n",
        )
        .unwrap()
    });
    let out = env.cmd(["load", "-i", "four.tar"]).fails();
    let e = out.single_error();
    assert!(
        e.contains("has 4 layers, more than the 2 max-layers allows"),
        "{e}"
    );
    assert_eq!(env.snapshot(), before);
}

/// What the stalling server does to which requests.
#[derive(Clone, Copy, PartialEq)]
enum Stall {
    /// Layer blobs: the headers and 1 KiB, then nothing, the connection kept open.
    BlobStops,
    /// Layer blobs: the headers, then 100 bytes a second.
    BlobTrickles,
    /// Manifests: the headers and half the body, then nothing.
    ManifestStops,
}

/// A loopback proxy in front of `upstream` that stalls as `how` says.
fn stalling_proxy(upstream: &str, how: Stall) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let upstream = upstream.to_string();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let upstream = upstream.clone();
            std::thread::spawn(move || serve_stalling(s, &upstream, how));
        }
    });
    addr
}

fn serve_stalling(mut s: TcpStream, upstream: &str, how: Stall) {
    let Some(req) = read_request(&mut s) else {
        return;
    };
    let Some(resp) = forward(upstream, &req) else {
        return;
    };
    let (rhead, body) = resp.split_at(resp.split);
    let ok = rhead.starts_with(b"HTTP/1.1 20") && req.method == "GET";
    let blob = ok && req.target.contains("/blobs/sha256:") && body.len() > 4096;
    let manifest = ok && req.target.contains("/manifests/");
    let _ = s.write_all(rhead);
    match how {
        Stall::BlobStops if blob => {
            let _ = s.write_all(&body[..1024]);
            std::thread::sleep(Duration::from_secs(60));
        }
        Stall::BlobTrickles if blob => {
            for chunk in body.chunks(10) {
                if s.write_all(chunk).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Stall::ManifestStops if manifest => {
            let _ = s.write_all(&body[..body.len() / 2]);
            std::thread::sleep(Duration::from_secs(60));
        }
        _ => {
            let _ = s.write_all(body);
        }
    }
}

/// A registry with an image whose first layer is 64 KiB of noise, behind a proxy that
/// stalls as `how` says.
fn stalling(how: Stall) -> (Registry, String, Env) {
    let reg = Registry::start();
    let mut noise = Vec::new();
    NoiseReader::new(3, 64 << 10)
        .read_to_end(&mut noise)
        .unwrap();
    upload_layers(&reg.addr, "t/slow", 2, &noise);
    let proxy = stalling_proxy(&reg.addr, how);
    (reg, proxy, Env::new())
}

/// Pulls through a proxy that stalls as `how` says, with `vars` set and, when given, a
/// config.toml; checks that it fails within `within`, leaving the store as it was, and
/// returns the error line and the proxy's address.
fn stalled_pull(how: Stall, vars: &[(&str, &str)], config: &str, within: u64) -> (String, String) {
    let (_reg, proxy, env) = stalling(how);
    if !config.is_empty() {
        let dir = env.home().join(".config/strata");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), config).unwrap();
    }
    let before = env.snapshot();
    let start = Instant::now();
    let mut cmd = env.cmd(["pull", &format!("{proxy}/t/slow:1")]);
    for (k, v) in vars {
        cmd = cmd.env(k, v);
    }
    let e = cmd.fails().single_error().to_string();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(within), "{took:?}: {e}");
    assert!(!e.contains("cannot reach"), "{e}");
    assert_eq!(env.snapshot(), before);
    (e, proxy)
}

/// Defect 3: a layer whose server stops sending fails after the idle timeout (once
/// resumed), saying which registry sent nothing for how long and for which layer.
#[test]
fn a_download_that_stops_fails_after_the_idle_timeout() {
    let vars = [("STRATA_DOWNLOAD_IDLE_TIMEOUT", "1")];
    let (e, proxy) = stalled_pull(Stall::BlobStops, &vars, "", 30);
    assert!(
        e.contains(&format!("registry {proxy} sent no data for 1 s")),
        "{e}"
    );
    assert!(e.contains("while fetching layer sha256:"), "{e}");
}

/// Defect 3: a layer served at 100 bytes a second fails under a low-speed limit set in
/// config.toml.
#[test]
fn a_download_that_crawls_fails_under_the_low_speed_limit() {
    let config = "download-low-speed-limit = 1000\ndownload-low-speed-time = 1\n";
    let (e, proxy) = stalled_pull(Stall::BlobTrickles, &[], config, 30);
    assert!(e.contains(&format!("registry {proxy} sent only")), "{e}");
    assert!(
        e.contains("under the download-low-speed-limit of 1000 bytes every 1 s"),
        "{e}"
    );
}

/// Defect 3: a manifest whose body stops midway says the registry stopped sending, not
/// that it cannot be reached, and does not wait five times.
#[test]
fn a_manifest_that_stops_midway_says_the_registry_stopped_sending() {
    let vars = [("STRATA_DOWNLOAD_IDLE_TIMEOUT", "2")];
    let (e, proxy) = stalled_pull(Stall::ManifestStops, &vars, "", 20);
    assert!(
        e.contains(&format!("registry {proxy} sent no data for 2 s")),
        "{e}"
    );
}

/// A tar of one file `big` of `size` zero bytes, gzipped as one member per MiB (so that
/// a bomb is made in milliseconds).
fn zero_bomb(size: u64) -> Vec<u8> {
    let header = RawHeader::new("big", kind::FILE).size(size).to_block();
    let mut out = gzip(&header);
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    w.write_all(&vec![0u8; 1 << 20]).unwrap();
    let mib = w.finish().unwrap();
    for _ in 0..size >> 20 {
        out.extend_from_slice(&mib);
    }
    out.extend_from_slice(&gzip(&[0u8; 1024]));
    out
}

/// Item 3 of issue 13: a gzip that inflates past `max-expansion-ratio` (after the first
/// 256 MiB) is refused, whatever room the disk has.
#[test]
fn a_gzip_bomb_is_refused_by_the_expansion_ratio() {
    let env = Env::new();
    let bomb = zero_bomb(400 << 20);
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    let file = env.write("bomb.tar.gz", &bomb);
    let before = env.snapshot();
    let out = env
        .cmd([std::ffi::OsStr::new("import"), file.as_os_str()])
        .fails();
    let e = out.single_error();
    assert!(e.contains("max-expansion-ratio"), "{e}");
    assert!(e.contains("times its compressed size"), "{e}");
    assert_eq!(env.snapshot(), before);
}

/// Item 3 of issue 13: a layer over `max-layer-size` decompressed is refused.
#[test]
fn a_layer_over_max_layer_size_is_refused() {
    let env = Env::new();
    let file = env.write("big.tar.gz", &zero_bomb(4 << 20));
    let before = env.snapshot();
    let out = env
        .cmd([std::ffi::OsStr::new("import"), file.as_os_str()])
        .env("STRATA_MAX_LAYER_SIZE", "1048576")
        .fails();
    let e = out.single_error();
    assert!(
        e.contains("the layer is larger than 1048576 bytes once decompressed (max-layer-size)"),
        "{e}"
    );
    assert_eq!(env.snapshot(), before);
    env.cmd([std::ffi::OsStr::new("import"), file.as_os_str()])
        .ok();
}

/// Issue 13: a layer that was in the store when a pull began, and that `rmi` removed
/// before the pull committed, is fetched again rather than failing the pull.
#[test]
fn a_layer_removed_while_a_pull_reuses_it_is_fetched_again() {
    let reg = Registry::start();
    let env = Env::new();
    let base = small_rootfs_tar(&[("base", b"shared")]);
    let mine = small_rootfs_tar(&[("a", b"only a")]);
    let mut noise = Vec::new();
    NoiseReader::new(9, 5 << 20)
        .read_to_end(&mut noise)
        .unwrap();
    let big = small_rootfs_tar(&[("big", &noise)]);
    let diff = |t: &[u8]| format!("sha256:{}", sha256_hex(t));
    let gz = |t: &[u8]| gzip(t);
    upload_oci_image(
        &reg.addr,
        "t/a",
        "1",
        &[gz(&base), gz(&mine)],
        &[diff(&base), diff(&mine)],
    );
    upload_oci_image(
        &reg.addr,
        "t/b",
        "1",
        &[gz(&base), gz(&big)],
        &[diff(&base), diff(&big)],
    );
    env.cmd(["pull", "-q", &reg.image("t/a:1")]).ok();
    let proxy = FaultProxy::start(&reg.addr, Fault::Slow);
    let mut pull = env
        .cmd(["pull", "-q", &proxy.image("t/b:1")])
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    env.cmd(["rmi", &reg.image("t/a:1")]).ok();
    let status = pull.wait().unwrap();
    let mut err = String::new();
    pull.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "the pull failed: {err}");
    let layers = env.inspect(&proxy.image("t/b:1"))["RootFS"]["Layers"].clone();
    assert_eq!(layers.as_array().unwrap().len(), 2);
    env.cmd(["system", "check"]).ok();
}

/// `commit` of a container on a 500-layer image would make an image of 501 layers, which
/// could never run: refused before any work, the store unchanged; `max-layers` lowers
/// the limit for commit as for pull and load.
#[test]
fn commit_of_a_container_on_a_500_layer_image_is_refused() {
    let reg = Registry::start();
    let env = Env::new();
    upload_layers(&reg.addr, "t/full", 500, &[]);
    let image = reg.image("t/full:1");
    env.cmd(["pull", "-q", &image]).ok();
    env.cmd(["create", "--name", "tall", &image, "true"]).ok();
    let before = env.snapshot();
    let out = env.cmd(["commit", "tall", "t/taller:1"]).fails();
    let e = out.single_error();
    assert!(
        e.contains("the image has 501 layers, more than the 500 an overlay mount can stack"),
        "{e}"
    );
    assert_eq!(env.snapshot(), before);

    env.import_busybox("bb");
    env.cmd(["create", "--name", "small", "bb", "true"]).ok();
    let before = env.snapshot();
    let out = env
        .cmd(["commit", "small", "t/small:1"])
        .env("STRATA_MAX_LAYERS", "1")
        .fails();
    let e = out.single_error();
    assert!(
        e.contains("the image has 2 layers, more than the 1 max-layers allows"),
        "{e}"
    );
    assert_eq!(env.snapshot(), before);
    env.cmd(["commit", "small", "t/small:1"]).ok();
}
