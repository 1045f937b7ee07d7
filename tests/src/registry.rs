//! Registries for the tests: Debian's `docker-registry` (the CNCF distribution registry)
//! on a free loopback port with its own storage, plain or with TLS (a test CA made with
//! the `openssl` CLI), anonymous, htpasswd basic auth, or token auth with a small token
//! issuer run by the test; and [`FaultProxy`], a loopback HTTP proxy in front of a
//! registry that misbehaves on purpose.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a test registry authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    /// Anyone may pull and push.
    None,
    /// htpasswd basic auth with one user.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// Bearer tokens from a [`TokenIssuer`] the test runs; with `Some` credentials the
    /// issuer demands them.
    Token(Option<(String, String)>),
}

/// A running `docker-registry`, killed when dropped.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Files of this registry (config, storage, certificates, log).
    pub dir: tempfile::TempDir,
    /// The CA certificate (PEM) that signed the registry's certificate, with TLS.
    pub ca: Option<PathBuf>,
    /// The token issuer, with token auth.
    pub issuer: Option<TokenIssuer>,
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot find a free loopback port")
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes a CA and a certificate for 127.0.0.1 and localhost signed by it, with the
/// `openssl` CLI, in `dir`; returns (ca.crt, server.crt, server.key).
pub fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |n: &str| dir.join(n);
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=strata test CA",
        ])
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.crt")));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    std::fs::write(p("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2"])
        .arg("-in")
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.crt"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-CAcreateserial")
        .arg("-extfile")
        .arg(p("ext.cnf"))
        .arg("-out")
        .arg(p("server.crt")));
    (p("ca.crt"), p("server.crt"), p("server.key"))
}

impl Registry {
    /// A plain-HTTP registry without authentication.
    pub fn start() -> Registry {
        Registry::start_with(Auth::None, false)
    }

    /// A registry with the given authentication, over TLS when `tls`.
    pub fn start_with(auth: Auth, tls: bool) -> Registry {
        let bin = "/usr/bin/docker-registry";
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: install Debian's docker-registry package (.ci/run does)"
        );
        let dir = tempfile::Builder::new()
            .prefix("strata-registry.")
            .tempdir()
            .expect("temporary directory");
        let d = dir.path().to_path_buf();
        std::fs::create_dir(d.join("storage")).unwrap();
        let mut ca = None;
        let mut tls_cfg = String::new();
        if tls {
            let (c, crt, key) = make_certs(&d);
            tls_cfg = format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                crt.display(),
                key.display()
            );
            ca = Some(c);
        }
        let mut issuer = None;
        let auth_cfg = match &auth {
            Auth::None => String::new(),
            Auth::Basic { user, password } => {
                let hash = bcrypt::hash(password, 4).expect("bcrypt");
                std::fs::write(d.join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: strata-test\n    path: {}\n",
                    d.join("htpasswd").display()
                )
            }
            Auth::Token(creds) => {
                let i = TokenIssuer::start(&d, creds.clone());
                let cfg = format!(
                    "auth:\n  token:\n    realm: http://{}/token\n    service: strata-test\n    issuer: strata-test-issuer\n    rootcertbundle: {}\n",
                    i.addr,
                    i.cert.display()
                );
                issuer = Some(i);
                cfg
            }
        };
        for _ in 0..5 {
            let port = free_port();
            let addr = format!("127.0.0.1:{port}");
            let config = format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{tls_cfg}{auth_cfg}",
                d.join("storage").display()
            );
            std::fs::write(d.join("config.yml"), &config).unwrap();
            let log = std::fs::File::create(d.join("registry.log")).unwrap();
            let mut child = Command::new(bin)
                .arg("serve")
                .arg(d.join("config.yml"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("cannot start docker-registry");
            let deadline = Instant::now() + Duration::from_secs(15);
            let mut up = false;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect(&addr).is_ok() {
                    // Another test's registry may hold the port: ours must still be
                    // running a moment later (a failed bind ends it at once).
                    std::thread::sleep(Duration::from_millis(150));
                    up = matches!(child.try_wait(), Ok(None));
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if up {
                return Registry {
                    child,
                    addr,
                    dir,
                    ca,
                    issuer,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "docker-registry did not start; its log:\n{}",
            std::fs::read_to_string(d.join("registry.log")).unwrap_or_default()
        );
    }

    /// `127.0.0.1:PORT/NAME`.
    pub fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.addr)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `skopeo` with the arguments, checked; returns stdout.
pub fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .expect("cannot run skopeo (install the skopeo package; .ci/run does)");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `skopeo inspect --raw` (the manifest as stored) of `docker://REF` on a plain registry.
pub fn skopeo_raw(reference: &str) -> serde_json::Value {
    let s = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{reference}"),
    ]);
    serde_json::from_str(&s).expect("skopeo prints JSON")
}

// ---------------------------------------------------------------------------------------
// A token issuer
// ---------------------------------------------------------------------------------------

fn b64url(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// A token server for the registry's token auth: it grants what each request's scopes
/// ask for, signing RS256 JWTs with a key made by `openssl` (signatures by `openssl
/// dgst`), and counts the tokens it issued.
pub struct TokenIssuer {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The signing certificate (the registry's `rootcertbundle`).
    pub cert: PathBuf,
    /// Tokens issued so far.
    pub issued: Arc<AtomicU32>,
    /// The scopes of every token request answered with a token, in order (one entry per
    /// request, its `scope` parameters joined by spaces).
    pub scopes: Arc<Mutex<Vec<String>>>,
    /// The next this many requests are answered `500 Internal Server Error`.
    pub fail_next: Arc<AtomicU32>,
    /// The next this many requests (after `fail_next`) get their connection closed
    /// without an answer.
    pub reset_next: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
}

/// Takes one from `n` when it is not 0; whether it did.
fn take_one(n: &AtomicU32) -> bool {
    n.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1))
        .is_ok()
}

/// Listens on a free loopback port and hands each connection (blocking again) to
/// `handle`, on the listening thread, until the returned flag is set. Returns the
/// address (`127.0.0.1:PORT`) and that flag.
pub fn serve_loopback(
    mut handle: impl FnMut(TcpStream) + Send + 'static,
) -> (String, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    std::thread::spawn(move || {
        while !st.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((s, _)) => {
                    let _ = s.set_nonblocking(false);
                    handle(s);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    (addr, stop)
}

impl TokenIssuer {
    fn start(dir: &Path, creds: Option<(String, String)>) -> TokenIssuer {
        let key = dir.join("issuer.key");
        let cert = dir.join("issuer.crt");
        run(Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=strata-test-issuer",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert));
        let pem = std::fs::read_to_string(&cert).unwrap();
        let der_b64: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .join("");
        let issued = Arc::new(AtomicU32::new(0));
        let scopes = Arc::new(Mutex::new(Vec::new()));
        let fail_next = Arc::new(AtomicU32::new(0));
        let reset_next = Arc::new(AtomicU32::new(0));
        let iss = issued.clone();
        let (sc, fail, reset) = (scopes.clone(), fail_next.clone(), reset_next.clone());
        let (addr, stop) = serve_loopback(move |mut s| {
            let Some(req) = read_request(&mut s) else {
                return;
            };
            if take_one(&fail) {
                let _ = s.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                return;
            }
            if take_one(&reset) {
                let _ = s.shutdown(Shutdown::Both);
                return;
            }
            let authorized = match &creds {
                None => true,
                Some((u, p)) => {
                    use base64::Engine as _;
                    let want = format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
                    );
                    req.header("authorization") == Some(want.as_str())
                }
            };
            if !authorized {
                let _ = s.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                return;
            }
            let mut access = Vec::new();
            for (k, v) in req.query() {
                if k == "scope" {
                    for sc in v.split(' ') {
                        let parts: Vec<&str> = sc.split(':').collect();
                        if parts.len() >= 3 {
                            let name = parts[1..parts.len() - 1].join(":");
                            let actions: Vec<&str> = parts[parts.len() - 1].split(',').collect();
                            access.push(serde_json::json!({"type": parts[0], "name": name, "actions": actions}));
                        }
                    }
                }
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5c": [der_b64]});
            let claims = serde_json::json!({
                "iss": "strata-test-issuer", "sub": "tester", "aud": "strata-test",
                "exp": now + 300, "nbf": now - 10, "iat": now,
                "jti": format!("{now}-{}", iss.load(Ordering::Relaxed)), "access": access,
            });
            let signing_input = format!(
                "{}.{}",
                b64url(header.to_string().as_bytes()),
                b64url(claims.to_string().as_bytes())
            );
            let mut child = Command::new("openssl")
                .args(["dgst", "-sha256", "-sign"])
                .arg(&key)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("openssl");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(signing_input.as_bytes())
                .unwrap();
            let sig = child.wait_with_output().unwrap().stdout;
            let token = format!("{signing_input}.{}", b64url(&sig));
            let asked: Vec<String> = req
                .query()
                .into_iter()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v)
                .collect();
            sc.lock().unwrap().push(asked.join(" "));
            iss.fetch_add(1, Ordering::Relaxed);
            let body = serde_json::json!({"token": token, "expires_in": 300}).to_string();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        });
        TokenIssuer {
            addr,
            cert,
            issued,
            scopes,
            fail_next,
            reset_next,
            stop,
        }
    }
}

impl Drop for TokenIssuer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------------
// HTTP bits for the issuer and the proxy
// ---------------------------------------------------------------------------------------

/// A request as read off a socket.
pub struct Request {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (by `Content-Length`).
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query parameters, percent-decoded.
    pub fn query(&self) -> Vec<(String, String)> {
        let q = self.target.split_once('?').map(|(_, q)| q).unwrap_or("");
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (pct_decode(k), pct_decode(v))
            })
            .collect()
    }
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body).
/// A TLS handshake (strata probing loopback registries for TLS) gets `None`.
pub fn read_request(s: &mut TcpStream) -> Option<Request> {
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut first = [0u8; 1];
    if s.peek(&mut first).ok()? == 0 || first[0] == 0x16 {
        return None;
    }
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

// ---------------------------------------------------------------------------------------
// A misbehaving proxy
// ---------------------------------------------------------------------------------------

/// What the proxy does wrong, to requests for blobs larger than 4 KiB (layers, not
/// configs: `GET …/blobs/sha256:…`) unless said otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: a plain proxy.
    None,
    /// Flips bytes in every layer blob it serves (same length): a wrong digest.
    CorruptBlobs,
    /// Sends every blob's headers with its full length but only half its bytes, then
    /// closes the connection, every time.
    TruncateBlobs,
    /// Like `TruncateBlobs`, for the first request of each blob only.
    DropOnce,
    /// Answers the first `n` requests of any kind with 500.
    Error500(u32),
    /// Answers the first `n` requests with 429 and `Retry-After: 1`.
    TooMany(u32),
    /// Serves the blobs' bytes at 1 MiB/s (for killing a pull halfway).
    Slow,
    /// Serves, for every layer blob, a valid gzip stream of this tar instead, padded (with
    /// a gzip header comment) to the layer's length: it decompresses and unpacks, but its
    /// digest is not the layer's.
    SwapLayers(Vec<u8>),
    /// Changes one digit of the `created` time in image configs (JSON blobs with a
    /// `rootfs`), keeping their length: valid JSON that does not match its digest.
    ChangeConfig,
    /// Answers the first `n` requests with 429 and a `Retry-After` HTTP date a second
    /// ahead.
    TooManyUntil(u32),
    /// Adds `OCI-Chunk-Min-Length: n` to the answers that start blob uploads.
    ChunkMin(u64),
}

/// A request of a blob upload session (`PATCH` or `PUT` to `…/blobs/uploads/…`) as the
/// proxy saw it.
#[derive(Clone, Debug)]
pub struct UploadRequest {
    /// `PATCH` or `PUT`.
    pub method: String,
    /// Its `Content-Range`, if any.
    pub content_range: Option<String>,
    /// Its body's length.
    pub len: usize,
    /// The status the registry answered.
    pub status: u16,
}

/// A loopback HTTP proxy in front of a registry, misbehaving as its [`Fault`] says.
pub struct FaultProxy {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Requests served.
    pub requests: Arc<AtomicU32>,
    /// Requests that carried a `Range` header.
    pub ranged: Arc<AtomicU32>,
    /// The blob upload requests, in order.
    pub uploads: Arc<Mutex<Vec<UploadRequest>>>,
    /// The targets (`/v2/…/blobs/sha256:…`) of the blob GETs the registry answered, in
    /// order, each time.
    pub blob_gets: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`127.0.0.1:PORT`).
    pub fn start(upstream: &str, fault: Fault) -> FaultProxy {
        let requests = Arc::new(AtomicU32::new(0));
        let ranged = Arc::new(AtomicU32::new(0));
        let seen: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
        let uploads: Arc<Mutex<Vec<UploadRequest>>> = Arc::new(Mutex::new(Vec::new()));
        let blob_gets = seen.clone();
        let (rq, rg, up, ul) = (
            requests.clone(),
            ranged.clone(),
            upstream.to_string(),
            uploads.clone(),
        );
        let (addr, stop) = serve_loopback(move |s| {
            let (fault, rq, rg, up, seen, ul) = (
                fault.clone(),
                rq.clone(),
                rg.clone(),
                up.clone(),
                seen.clone(),
                ul.clone(),
            );
            std::thread::spawn(move || serve(s, &up, &fault, &rq, &rg, &seen, &ul));
        });
        FaultProxy {
            addr,
            requests,
            ranged,
            uploads,
            blob_gets,
            stop,
        }
    }

    /// `127.0.0.1:PORT/NAME`.
    pub fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.addr)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    mut s: TcpStream,
    upstream: &str,
    fault: &Fault,
    requests: &AtomicU32,
    ranged: &AtomicU32,
    seen: &Mutex<Vec<String>>,
    uploads: &Mutex<Vec<UploadRequest>>,
) {
    let Some(req) = read_request(&mut s) else {
        return;
    };
    let n = requests.fetch_add(1, Ordering::Relaxed) + 1;
    if req.header("range").is_some() {
        ranged.fetch_add(1, Ordering::Relaxed);
    }
    match fault {
        Fault::Error500(k) if n <= *k => {
            let _ = s.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }
        Fault::TooMany(k) if n <= *k => {
            let _ = s.write_all(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }
        Fault::TooManyUntil(k) if n <= *k => {
            let at = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(1));
            let _ = write!(s, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {at}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }
        _ => {}
    }
    let Some(resp) = forward(upstream, &req) else {
        return;
    };
    let (rhead, body) = resp.split_at(resp.split);
    let in_upload = req.target.contains("/blobs/uploads/");
    if in_upload && (req.method == "PATCH" || req.method == "PUT") {
        let status = String::from_utf8_lossy(&rhead[..rhead.len().min(12)])
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        uploads.lock().unwrap().push(UploadRequest {
            method: req.method.clone(),
            content_range: req.header("content-range").map(str::to_string),
            len: req.body.len(),
            status,
        });
    }
    let mut with_min;
    let rhead = match fault {
        Fault::ChunkMin(n)
            if in_upload && req.method == "POST" && rhead.starts_with(b"HTTP/1.1 202") =>
        {
            with_min = rhead[..rhead.len() - 2].to_vec();
            with_min.extend_from_slice(format!("OCI-Chunk-Min-Length: {n}\r\n\r\n").as_bytes());
            &with_min[..]
        }
        _ => rhead,
    };
    let is_blob = req.method == "GET"
        && req.target.contains("/blobs/sha256:")
        && rhead.starts_with(b"HTTP/1.1 20");
    let mut body = body.to_vec();
    let mut cut = None;
    if is_blob {
        let first = {
            let mut v = seen.lock().unwrap();
            let first = !v.contains(&req.target);
            v.push(req.target.clone());
            first
        };
        match fault {
            Fault::CorruptBlobs if body.len() > 4096 => {
                // Past the compression header, so the stream may still decode.
                for b in body.iter_mut().skip(32).step_by(997) {
                    *b ^= 0x55;
                }
            }
            Fault::SwapLayers(tar) if body.len() > 4096 => {
                if let Some(other) = padded_gzip(tar, body.len()) {
                    body = other;
                }
            }
            Fault::ChangeConfig if body.first() == Some(&b'{') => change_created(&mut body),
            Fault::TruncateBlobs if body.len() > 4096 => cut = Some(body.len() / 2),
            Fault::DropOnce if first && body.len() > 4096 => cut = Some(body.len() / 2),
            _ => {}
        }
    }
    if s.write_all(rhead).is_err() {
        return;
    }
    if let Some(c) = cut {
        let _ = s.write_all(&body[..c]);
        let _ = s.flush();
        let _ = s.shutdown(Shutdown::Both);
        return;
    }
    if is_blob && *fault == Fault::Slow {
        for chunk in body.chunks(64 << 10) {
            if s.write_all(chunk).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(62));
        }
        return;
    }
    let _ = s.write_all(&body);
}

/// An upstream's whole answer to one request: its head (with the blank line) and body.
pub struct Forwarded {
    bytes: Vec<u8>,
    /// Where the body starts.
    pub split: usize,
}

impl Forwarded {
    /// The head (status line, headers, blank line) and the body.
    pub fn split_at(&self, at: usize) -> (&[u8], &[u8]) {
        self.bytes.split_at(at)
    }
}

/// Sends `req` to `upstream` (with `connection: close`) and reads its whole answer;
/// `None` when the upstream cannot be reached or answers no HTTP head.
pub fn forward(upstream: &str, req: &Request) -> Option<Forwarded> {
    let mut u = TcpStream::connect(upstream).ok()?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (k, v) in &req.headers {
        if k != "connection" {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("connection: close\r\n\r\n");
    u.write_all(head.as_bytes()).ok()?;
    u.write_all(&req.body).ok()?;
    let mut bytes = Vec::new();
    let _ = u.read_to_end(&mut bytes);
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    Some(Forwarded { bytes, split })
}

/// Uploads an OCI manifest of the config `config_digest` (`config_len` bytes) and the layer
/// descriptors `layers` as `repo:tag`.
pub fn upload_oci_manifest(
    addr: &str,
    repo: &str,
    tag: &str,
    config_digest: &str,
    config_len: usize,
    layers: Vec<serde_json::Value>,
) {
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest, "size": config_len,
        },
        "layers": layers,
    })
    .to_string();
    upload_manifest(
        addr,
        repo,
        tag,
        "application/vnd.oci.image.manifest.v1+json",
        manifest.as_bytes(),
    );
}

/// Uploads an OCI image to `repo:tag` on the plain registry at `addr`: a config with
/// `diff_ids` (right or wrong: the registry checks only blob digests) and the gzipped
/// layers `layers_gz`. Returns the config digest.
pub fn upload_oci_image(
    addr: &str,
    repo: &str,
    tag: &str,
    layers_gz: &[Vec<u8>],
    diff_ids: &[String],
) -> String {
    let config = serde_json::json!({
        "architecture": crate::go_arch(), "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "created": "2024-01-01T00:00:00Z",
    })
    .to_string();
    let config_digest = upload_blob(addr, repo, config.as_bytes());
    let descs: Vec<serde_json::Value> = layers_gz
        .iter()
        .map(|gz| {
            let d = upload_blob(addr, repo, gz);
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": d, "size": gz.len(),
            })
        })
        .collect();
    upload_oci_manifest(addr, repo, tag, &config_digest, config.len(), descs);
    config_digest
}

/// A gzip stream of `data` exactly `len` bytes long, if the compressed data fits: the
/// data's member, then empty members whose header comments fill the rest (a comment is
/// kept under 64 KiB, which decoders take).
pub fn padded_gzip(data: &[u8], len: usize) -> Option<Vec<u8>> {
    const MAX_COMMENT: usize = 60_000;
    let member = |data: &[u8], comment: usize| {
        let mut w = flate2::GzBuilder::new()
            .comment(vec![b'x'; comment])
            .write(Vec::new(), flate2::Compression::default());
        w.write_all(data).unwrap();
        w.finish().unwrap()
    };
    let empty = member(&[], 0).len();
    let mut out = member(data, 0);
    let mut rest = len.checked_sub(out.len())?;
    if rest < empty {
        out = member(data, rest);
        rest = 0;
    }
    while rest > 0 {
        let most = empty + MAX_COMMENT;
        let size = if rest <= most {
            rest
        } else if rest - most >= empty {
            most
        } else {
            rest - empty
        };
        out.extend_from_slice(&member(&[], size - empty));
        rest -= size;
    }
    assert_eq!(out.len(), len);
    Some(out)
}

/// Changes the first digit of the `"created":"…"` value of an image config in place.
fn change_created(body: &mut [u8]) {
    let key = b"\"created\":\"";
    if !body.windows(7).any(|w| w == b"\"rootfs") {
        return;
    }
    if let Some(p) = body.windows(key.len()).position(|w| w == key) {
        if let Some(d) = body[p + key.len()..]
            .iter_mut()
            .find(|b| b.is_ascii_digit())
        {
            *d = if *d == b'9' { b'8' } else { *d + 1 };
        }
    }
}

// ---------------------------------------------------------------------------------------
// A TCP relay
// ---------------------------------------------------------------------------------------

/// A loopback TCP relay in front of a registry that passes bytes both ways unchanged
/// (TLS included) and counts the connections made through it.
pub struct TcpRelay {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Connections accepted so far.
    pub connections: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
}

impl TcpRelay {
    /// Starts a relay to `upstream` (`127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> TcpRelay {
        let connections = Arc::new(AtomicU32::new(0));
        let (conns, up) = (connections.clone(), upstream.to_string());
        let (addr, stop) = serve_loopback(move |a| {
            conns.fetch_add(1, Ordering::Relaxed);
            let Ok(b) = TcpStream::connect(&up) else {
                return;
            };
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(Shutdown::Write);
                })
            };
            if let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) {
                pipe(a, b2);
                pipe(b, a2);
            }
        });
        TcpRelay {
            addr,
            connections,
            stop,
        }
    }

    /// `127.0.0.1:PORT/NAME`.
    pub fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.addr)
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------------
// Direct uploads to a registry
// ---------------------------------------------------------------------------------------

/// An HTTP answer.
pub struct HttpAnswer {
    /// The status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (as sent; not de-chunked).
    pub body: Vec<u8>,
}

impl HttpAnswer {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One plain-HTTP/1.1 request to `addr` (`127.0.0.1:PORT`), read to the end.
pub fn http(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpAnswer {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {target}: no HTTP answer"));
    let text = String::from_utf8_lossy(&resp[..split]).into_owned();
    let mut lines = text.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{method} {target}: bad status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    HttpAnswer {
        status,
        headers,
        body: resp[split + 4..].to_vec(),
    }
}

/// Uploads `data` as a blob of `repo` on the plain registry at `addr` (POST, then one
/// PUT); returns its digest. The registry checks only that the bytes match the digest.
pub fn upload_blob(addr: &str, repo: &str, data: &[u8]) -> String {
    let digest = format!("sha256:{}", crate::sha256_hex(data));
    let start = http(
        addr,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        &[],
        &[],
    );
    assert_eq!(
        start.status,
        202,
        "{}",
        String::from_utf8_lossy(&start.body)
    );
    let loc = start.header("location").expect("an upload location");
    let path = match loc.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/').unwrap_or(rest.len())..],
        None => loc,
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    let put = http(
        addr,
        "PUT",
        &format!("{path}{sep}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        data,
    );
    assert_eq!(put.status, 201, "{}", String::from_utf8_lossy(&put.body));
    digest
}

/// PUTs a manifest of `media_type` as `repo:reference` on the plain registry at `addr`.
pub fn upload_manifest(addr: &str, repo: &str, reference: &str, media_type: &str, body: &[u8]) {
    let put = http(
        addr,
        "PUT",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("Content-Type", media_type)],
        body,
    );
    assert_eq!(put.status, 201, "{}", String::from_utf8_lossy(&put.body));
}
