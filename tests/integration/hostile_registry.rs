//! Pulls from a registry that misbehaves on purpose (`strata_tests::hostile_registry`):
//! every case ends in one clear error line, in bounded time, with the store byte for byte
//! as it was and `strata system check` passing. The stalling cases run with short
//! download deadlines set in the user's configuration.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};
use strata_tests::hardening::*;
use strata_tests::hostile_registry::{HostileRegistry, Misbehaviour};
use strata_tests::*;

/// Short download deadlines in the user's configuration file, for the stalling cases.
fn short_deadlines(env: &Env) {
    let dir = env.home().join(".config/strata");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "download-idle-timeout = 5\ndownload-low-speed-limit = 1024\ndownload-low-speed-time = 5\n",
    )
    .unwrap();
    // The settings are accepted: a refusal must be the registry's doing.
    env.cmd(["images"]).ok();
}

/// Pulls from a registry misbehaving as `m` and checks the refusal; returns the error
/// line.
fn refused(m: Misbehaviour, deadlines: bool) -> String {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    if deadlines {
        short_deadlines(&env);
    }
    let reg = HostileRegistry::start(m);
    let before = store_fingerprint(&env);
    let start = Instant::now();
    let out = env
        .cmd(["pull", &reg.image()])
        .timeout(Duration::from_secs(90))
        .run();
    stat("cases", 1);
    let line = assert_clear_refusal(&out);
    eprintln!("{m:?}: {line}");
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "the refusal took {:?}",
        start.elapsed()
    );
    assert_same_store(&before, &store_fingerprint(&env));
    assert_sound(&env);
    line
}

#[test]
fn digests_that_lie() {
    refused(Misbehaviour::LyingDigest, false);
}

#[test]
fn a_manifest_over_the_cap() {
    refused(Misbehaviour::HugeManifest, false);
}

#[test]
fn a_body_that_trickles() {
    refused(Misbehaviour::Trickle, true);
}

#[test]
fn a_blob_body_that_stops() {
    refused(Misbehaviour::StallBlob, true);
}

#[test]
fn a_manifest_body_that_stops() {
    refused(Misbehaviour::StallManifest, true);
}

#[test]
fn a_content_length_shorter_than_the_body() {
    refused(Misbehaviour::ShortLength, false);
}

/// A `Content-Length` twice the blob's, the connection closed after the blob: strata
/// reads the size the manifest gives and checks the digest, so the bytes it got are the
/// layer and the pull succeeds; the store is sound.
#[test]
fn a_content_length_longer_than_the_body() {
    let env = Env::new();
    let reg = HostileRegistry::start(Misbehaviour::LongLength);
    env.cmd(["pull", &reg.image()]).ok();
    stat("cases", 1);
    env.inspect(&reg.image());
    assert_sound(&env);
}

#[test]
fn a_redirect_loop() {
    refused(Misbehaviour::RedirectLoop, false);
}

#[test]
fn terminal_escapes_in_an_error_message() {
    refused(Misbehaviour::EscapesInErrors, false);
}

#[test]
fn a_token_endpoint_that_hangs() {
    refused(Misbehaviour::HangingToken, true);
}

/// Peak resident memory (KiB) and peak thread count of a running process, sampled from
/// `/proc/PID/status` until it exits; with its output.
fn measured(cmd: Cmd<'_>) -> (Output, u64, u64) {
    let mut child = cmd
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start strata");
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let (mut rss, mut threads) = (0u64, 0u64);
    let status_file = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(&status_file) {
            for l in s.lines() {
                let num = |l: &str| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0)
                };
                if l.starts_with("VmHWM:") {
                    rss = rss.max(num(l));
                } else if l.starts_with("Threads:") {
                    threads = threads.max(num(l));
                }
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "the pull did not end in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = Output {
        stdout: String::from_utf8_lossy(&t_out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&t_err.join().unwrap()).into_owned(),
        code: status.code().unwrap_or(128),
    };
    (out, rss, threads)
}

/// An image of 5,000 layers cannot run (an overlay takes at most 500 lower layers): the
/// pull refuses it clearly, with a bounded number of threads and memory that does not grow
/// with the layer count.
#[test]
fn thousands_of_layers() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let reg = HostileRegistry::start(Misbehaviour::ManyLayers(5000));
    let before = store_fingerprint(&env);
    let (out, rss_kb, threads) = measured(env.cmd(["pull", &reg.image()]));
    stat("cases", 1);
    stat("pull5000_peak_rss_kb", rss_kb);
    stat("pull5000_peak_threads", threads);
    assert!(threads <= 64, "the pull ran {threads} threads at once");
    assert!(rss_kb < 150 << 10, "the pull's peak RSS was {rss_kb} KiB");
    assert_clear_refusal(&out);
    assert_same_store(&before, &store_fingerprint(&env));
    assert_sound(&env);
}

/// The most layers an image may have (500) pull on a bounded pool of workers: a bounded
/// number of threads, and memory that does not grow with the layer count.
#[test]
fn five_hundred_layers_pull_on_a_bounded_pool() {
    let env = Env::new();
    let reg = HostileRegistry::start(Misbehaviour::ManyLayers(500));
    let (out, rss_kb, threads) = measured(env.cmd(["pull", &reg.image()]));
    stat("pull500_peak_rss_kb", rss_kb);
    stat("pull500_peak_threads", threads);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(threads <= 64, "the pull ran {threads} threads at once");
    assert!(rss_kb < 150 << 10, "the pull's peak RSS was {rss_kb} KiB");
    env.inspect(&reg.image());
    assert_sound(&env);
}
