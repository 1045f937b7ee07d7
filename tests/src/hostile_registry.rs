//! A hostile registry for the tests (issue 13): a small HTTP server on loopback that serves
//! one image, `hostile/img:1`, from memory and misbehaves on purpose as its
//! [`Misbehaviour`] says. It shares the fault proxy's accept loop
//! ([`crate::registry::serve_loopback`]); every connection gets its own thread and is
//! closed after one answer.

use crate::registry::{read_request, serve_loopback};
use crate::{go_arch, gzip, sha256_hex, TarBuilder};
use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the hostile registry does wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Serves layer blobs with bytes that do not match their digest (same length).
    LyingDigest,
    /// Serves a manifest of 6 MiB (valid JSON, padded with spaces).
    HugeManifest,
    /// Serves, faithfully, an image of this many (tiny, distinct) layers.
    ManyLayers(usize),
    /// Serves layer blobs one byte a second.
    Trickle,
    /// Sends a layer blob's headers and half its bytes, then nothing, keeping the
    /// connection open.
    StallBlob,
    /// Sends the manifest's headers and half its bytes, then nothing.
    StallManifest,
    /// Sends layer blobs with a `Content-Length` half their length (and all the bytes).
    ShortLength,
    /// Sends layer blobs with a `Content-Length` twice their length, then closes.
    LongLength,
    /// Redirects every blob request to itself.
    RedirectLoop,
    /// Asks for a bearer token from an endpoint that accepts the connection and never
    /// answers.
    HangingToken,
    /// Answers the manifest request 404 with an error message carrying terminal escape
    /// sequences.
    EscapesInErrors,
}

/// A running hostile registry; stops (and lets hanging connections go) when dropped.
pub struct HostileRegistry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Requests received.
    pub requests: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
}

/// The image the registry serves: its manifest and blobs, and which blobs are layers.
struct Content {
    manifest: Vec<u8>,
    blobs: HashMap<String, Vec<u8>>,
    layers: Vec<String>,
}

fn content(layer_count: usize, pad_manifest: usize) -> Content {
    let mut blobs = HashMap::new();
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    let mut descs = Vec::new();
    for i in 0..layer_count {
        let body = format!("layer {i}\n").repeat(if layer_count > 10 { 1 } else { 20_000 });
        let tar = TarBuilder::new()
            .file(format!("l/{i}"), body.as_bytes())
            .finish();
        diff_ids.push(format!("sha256:{}", sha256_hex(&tar)));
        let gz = gzip(&tar);
        let d = format!("sha256:{}", sha256_hex(&gz));
        descs.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": d, "size": gz.len(),
        }));
        layers.push(d.clone());
        blobs.insert(d, gz);
    }
    let config = serde_json::json!({
        "architecture": go_arch(), "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    .to_string()
    .into_bytes();
    let cd = format!("sha256:{}", sha256_hex(&config));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": descs,
    })
    .to_string();
    blobs.insert(cd, config);
    let mut manifest = manifest.into_bytes();
    let close = manifest.pop().expect("a JSON object");
    manifest.resize(manifest.len() + pad_manifest, b' ');
    manifest.push(close);
    Content {
        manifest,
        blobs,
        layers,
    }
}

impl HostileRegistry {
    /// Starts a registry that misbehaves as `m` says.
    pub fn start(m: Misbehaviour) -> HostileRegistry {
        let (count, pad) = match m {
            Misbehaviour::ManyLayers(n) => (n, 0),
            Misbehaviour::HugeManifest => (2, 6 << 20),
            _ => (2, 0),
        };
        let content = Arc::new(content(count, pad));
        let requests = Arc::new(AtomicU32::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let (rq, dn) = (requests.clone(), done.clone());
        let me: Arc<std::sync::OnceLock<String>> = Arc::new(std::sync::OnceLock::new());
        let me2 = me.clone();
        let (addr, stop) = serve_loopback(move |s| {
            let (c, rq, dn, me) = (content.clone(), rq.clone(), dn.clone(), me2.clone());
            std::thread::spawn(move || {
                rq.fetch_add(1, Ordering::Relaxed);
                let addr = me.get().cloned().unwrap_or_default();
                answer(s, m, &c, &dn, &addr);
            });
        });
        let _ = me.set(addr.clone());
        HostileRegistry {
            addr,
            requests,
            stop,
            done,
        }
    }

    /// `127.0.0.1:PORT/hostile/img:1`.
    pub fn image(&self) -> String {
        format!("{}/hostile/img:1", self.addr)
    }
}

impl Drop for HostileRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.done.store(true, Ordering::Relaxed);
    }
}

/// Holds the connection open, silent, until the registry is dropped.
fn hang(done: &AtomicBool) {
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn head(status: &str, len: usize, kind: &str, extra: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len}\r\n{extra}Connection: close\r\n\r\n"
    )
}

fn answer(mut s: TcpStream, m: Misbehaviour, c: &Content, done: &AtomicBool, addr: &str) {
    let Some(req) = read_request(&mut s) else {
        return;
    };
    let path = req.target.split('?').next().unwrap_or("").to_string();
    let get = req.method == "GET";
    if path == "/token" {
        return hang(done);
    }
    if path == "/v2/" {
        if m == Misbehaviour::HangingToken && req.header("authorization").is_none() {
            let auth = format!(
                "WWW-Authenticate: Bearer realm=\"http://{addr}/token\",service=\"hostile\"\r\n"
            );
            let _ = s.write_all(head("401 Unauthorized", 0, "text/plain", &auth).as_bytes());
            return;
        }
        let _ = s.write_all(head("200 OK", 2, "application/json", "").as_bytes());
        let _ = s.write_all(b"{}");
        return;
    }
    if m == Misbehaviour::HangingToken {
        let auth = format!(
            "WWW-Authenticate: Bearer realm=\"http://{addr}/token\",service=\"hostile\",scope=\"repository:hostile/img:pull\"\r\n"
        );
        let _ = s.write_all(head("401 Unauthorized", 0, "text/plain", &auth).as_bytes());
        return;
    }
    if let Some(reference) = path.strip_prefix("/v2/hostile/img/manifests/") {
        let digest = format!("sha256:{}", sha256_hex(&c.manifest));
        if m == Misbehaviour::EscapesInErrors {
            let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"\u001b[2J\u001b[31mgone\u0007","detail":null}]}"#;
            let _ =
                s.write_all(head("404 Not Found", body.len(), "application/json", "").as_bytes());
            let _ = s.write_all(body);
            return;
        }
        if reference != "1" && reference != digest {
            let _ = s.write_all(head("404 Not Found", 0, "text/plain", "").as_bytes());
            return;
        }
        let kind = "application/vnd.oci.image.manifest.v1+json";
        let extra = format!("Docker-Content-Digest: {digest}\r\n");
        let _ = s.write_all(head("200 OK", c.manifest.len(), kind, &extra).as_bytes());
        if !get {
            return;
        }
        if m == Misbehaviour::StallManifest {
            let _ = s.write_all(&c.manifest[..c.manifest.len() / 2]);
            return hang(done);
        }
        let _ = s.write_all(&c.manifest);
        return;
    }
    let Some(digest) = path.strip_prefix("/v2/hostile/img/blobs/") else {
        let _ = s.write_all(head("404 Not Found", 0, "text/plain", "").as_bytes());
        return;
    };
    let Some(blob) = c.blobs.get(digest) else {
        let _ = s.write_all(head("404 Not Found", 0, "text/plain", "").as_bytes());
        return;
    };
    let kind = "application/octet-stream";
    if !c.layers.iter().any(|l| l == digest) || !get {
        let _ = s.write_all(head("200 OK", blob.len(), kind, "").as_bytes());
        if get {
            let _ = s.write_all(blob);
        }
        return;
    }
    serve_layer(s, m, blob, &req.target, done);
}

fn serve_layer(mut s: TcpStream, m: Misbehaviour, blob: &[u8], target: &str, done: &AtomicBool) {
    let kind = "application/octet-stream";
    match m {
        Misbehaviour::LyingDigest => {
            let mut b = blob.to_vec();
            for x in b.iter_mut().skip(32).step_by(101) {
                *x ^= 0x55;
            }
            let _ = s.write_all(head("200 OK", b.len(), kind, "").as_bytes());
            let _ = s.write_all(&b);
        }
        Misbehaviour::Trickle => {
            let _ = s.write_all(head("200 OK", blob.len(), kind, "").as_bytes());
            for b in blob {
                if done.load(Ordering::Relaxed) || s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Misbehaviour::StallBlob => {
            let _ = s.write_all(head("200 OK", blob.len(), kind, "").as_bytes());
            let _ = s.write_all(&blob[..blob.len() / 2]);
            hang(done);
        }
        Misbehaviour::ShortLength => {
            let _ = s.write_all(head("200 OK", blob.len() / 2, kind, "").as_bytes());
            let _ = s.write_all(blob);
        }
        Misbehaviour::LongLength => {
            let _ = s.write_all(head("200 OK", blob.len() * 2, kind, "").as_bytes());
            let _ = s.write_all(blob);
        }
        Misbehaviour::RedirectLoop => {
            let extra = format!("Location: {target}\r\n");
            let _ = s.write_all(head("307 Temporary Redirect", 0, kind, &extra).as_bytes());
        }
        _ => {
            let _ = s.write_all(head("200 OK", blob.len(), kind, "").as_bytes());
            let _ = s.write_all(blob);
        }
    }
}
