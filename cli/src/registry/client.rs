//! One repository of one registry: authenticated requests with bounded retries, and
//! blob downloads that resume where they broke off.
//!
//! Every request is retried a bounded number of times when the connection fails or
//! breaks, on 5xx answers, and on 429 (waiting as `Retry-After` says, in seconds or as an
//! HTTP date, within limits); never when the registry's certificate does not verify. A
//! 401 is answered once per request with the registry's challenge (see `auth`). A blob
//! download that breaks off, or ends before the descriptor's size, is resumed with
//! `Range: bytes=N-` (or re-read from the start, skipping what arrived, when the
//! registry ignores ranges); the caller sees one uninterrupted stream. A request that
//! failed after its own retries ends the download (its tries are not multiplied).

use super::auth::{parse_challenge, AuthState, Credentials};
use super::endpoint::{auth_key, Endpoint};
use super::retry::{
    backoff, is_timeout, retry_wait, retrying, transport_try, url_host, SpeedGuard, Stall, Try,
    ATTEMPTS,
};
use super::RegistryError;
use std::io::{self, Read};
use std::sync::Mutex;
use store_layout::Digest;

/// The largest manifest or index accepted.
pub const MAX_MANIFEST: u64 = 4 << 20;

/// A request body that can be sent again on a retry.
pub enum Body<'a> {
    /// No body.
    Empty,
    /// Bytes in memory, with their content type.
    Bytes(&'a [u8], &'a str),
    /// A stream opened anew for every attempt, and its length.
    Stream(
        &'a (dyn Fn() -> io::Result<Box<dyn Read + Send>> + Sync),
        u64,
    ),
    /// A stream of unknown length, sent chunked, that can be sent only once.
    Once(std::sync::Mutex<Option<Box<dyn Read + Send>>>),
}

/// A client for one repository (`bench/app`) of one registry.
pub struct Client {
    ep: Endpoint,
    repo: String,
    auth: Mutex<AuthState>,
    /// The token scope requests carry (`repository:bench/app:pull`, more for push).
    scope: String,
}

/// The registry's error text from an error response body
/// (`{"errors":[{"code":…,"message":…}]}`), else the status.
fn error_text(code: u16, resp: ureq::Response) -> String {
    let mut body = Vec::new();
    let _ = resp.into_reader().take(64 << 10).read_to_end(&mut body);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
        if let Some(errs) = v.get("errors").and_then(|e| e.as_array()) {
            let msgs: Vec<String> = errs
                .iter()
                .filter_map(|e| {
                    let m = e.get("message").and_then(|m| m.as_str())?;
                    let c = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
                    let c = c.to_ascii_lowercase().replace('_', " ");
                    Some(if c.is_empty() || c == m {
                        m.to_string()
                    } else {
                        format!("{c}: {m}")
                    })
                })
                .collect();
            if !msgs.is_empty() {
                return msgs.join(", ");
            }
        }
    }
    let text = String::from_utf8_lossy(&body);
    let text = text.trim();
    if !text.is_empty() && text.len() < 200 && !text.contains('<') {
        return format!("status {code}: {}", text.lines().next().unwrap_or(""));
    }
    format!("status {code}")
}

impl Client {
    /// A client for `repo` at `ep`, with the user's stored credentials for the
    /// registry, and the token scope for `actions` (`pull`, `pull,push`).
    pub fn new(ep: Endpoint, repo: &str, actions: &str) -> Result<Client, RegistryError> {
        let creds = super::auth::lookup(&auth_key(&ep.domain))?;
        Ok(Self::with_credentials(ep, repo, actions, creds))
    }

    /// A client with the given credentials.
    pub fn with_credentials(
        ep: Endpoint,
        repo: &str,
        actions: &str,
        creds: Option<Credentials>,
    ) -> Client {
        Client {
            scope: if repo.is_empty() {
                String::new()
            } else {
                format!("repository:{repo}:{actions}")
            },
            repo: repo.to_string(),
            ep,
            auth: Mutex::new(AuthState::new(creds)),
        }
    }

    /// Adds another repository's pull scope (for cross-repository mounts).
    pub fn add_scope(&mut self, scope: &str) {
        if !self.scope.split(' ').any(|s| s == scope) {
            self.scope.push(' ');
            self.scope.push_str(scope);
        }
    }

    /// The repository path.
    pub fn repo(&self) -> &str {
        &self.repo
    }

    /// The registry's domain as references name it.
    pub fn domain(&self) -> &str {
        &self.ep.domain
    }

    /// `BASE/v2/`, the API's root (what `login` checks credentials against).
    pub fn api_root(&self) -> String {
        format!("{}/v2/", self.ep.base)
    }

    /// `BASE/v2/REPO/SUFFIX`.
    pub fn url(&self, suffix: &str) -> String {
        format!("{}/v2/{}/{suffix}", self.ep.base, self.repo)
    }

    /// An absolute URL for a `Location` header (which may be a path).
    pub fn absolute(&self, loc: &str) -> String {
        if loc.starts_with("http://") || loc.starts_with("https://") {
            loc.to_string()
        } else if loc.starts_with('/') {
            format!("{}{loc}", self.ep.base)
        } else {
            format!("{}/{loc}", self.ep.base)
        }
    }

    /// Sends a request, authenticating and retrying as needed. Any status from 200 to
    /// 399 is success; other statuses are [`RegistryError::Status`] with `what` and
    /// the registry's message.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &Body<'_>,
        what: &str,
    ) -> Result<ureq::Response, RegistryError> {
        let mut answered = false;
        retrying(|attempt| {
            let mut req = self.ep.agent.request(method, url);
            for (k, v) in headers {
                req = req.set(k, v);
            }
            let auth = self
                .auth
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .header(&self.scope);
            if let Some(a) = &auth {
                req = req.set("Authorization", a);
            }
            let result = match body {
                Body::Empty => {
                    if method == "PUT" || method == "POST" || method == "PATCH" {
                        req.set("Content-Length", "0").send_bytes(&[])
                    } else {
                        req.call()
                    }
                }
                Body::Bytes(b, ct) => req.set("Content-Type", ct).send_bytes(b),
                Body::Once(cell) => {
                    let taken = cell.lock().unwrap_or_else(|e| e.into_inner()).take();
                    let Some(r) = taken else {
                        return Try::Fail(RegistryError::Invalid(format!(
                            "{what}: a streamed upload cannot be sent again"
                        )));
                    };
                    req.set("Content-Type", "application/octet-stream").send(r)
                }
                Body::Stream(open, len) => {
                    let r = match open() {
                        Ok(r) => r,
                        Err(e) => return Try::Fail(RegistryError::Invalid(format!("{what}: {e}"))),
                    };
                    req.set("Content-Type", "application/octet-stream")
                        .set("Content-Length", &len.to_string())
                        .send(r)
                }
            };
            match result {
                Ok(resp) => Try::Done(resp),
                Err(ureq::Error::Status(401, resp)) if !answered => {
                    answered = true;
                    let Some(ch) = resp.header("WWW-Authenticate").and_then(parse_challenge) else {
                        return Try::Fail(RegistryError::Auth(format!(
                            "{what}: unauthorized (no usable challenge)"
                        )));
                    };
                    let mut st = self.auth.lock().unwrap_or_else(|e| e.into_inner());
                    // Another thread may have answered the same challenge meanwhile:
                    // then the request is only sent again with its answer.
                    let now = st.header(&self.scope);
                    if now.is_none() || now == auth {
                        if let Err(e) = st.answer(&self.ep.agent, &ch, &self.scope) {
                            return Try::Fail(e);
                        }
                    }
                    Try::Resend
                }
                Err(ureq::Error::Status(code, resp)) => {
                    let wait = retry_wait(&resp, attempt);
                    let message = if code == 401 {
                        "unauthorized: authentication required".to_string()
                    } else {
                        error_text(code, resp)
                    };
                    let e = RegistryError::Status {
                        what: what.to_string(),
                        code,
                        message,
                    };
                    if code == 429 || code >= 500 {
                        Try::Again(wait, e)
                    } else {
                        Try::Fail(e)
                    }
                }
                Err(ureq::Error::Transport(t)) => transport_try(url, &t, attempt),
            }
        })
    }

    /// GETs a small document (manifest, config), at most `limit` bytes; returns it and
    /// the response's `Content-Type`.
    pub fn get_small(
        &self,
        url: &str,
        accept: &str,
        limit: u64,
        what: &str,
    ) -> Result<(Vec<u8>, String), RegistryError> {
        retrying(|attempt| {
            let resp = match self.send("GET", url, &[("Accept", accept)], &Body::Empty, what) {
                Ok(r) => r,
                Err(e) => return Try::Fail(e),
            };
            let ct = resp.content_type().to_string();
            let stalled = |stall| RegistryError::Stalled {
                host: url_host(url).to_string(),
                what: what.to_string(),
                stall,
            };
            match read_body(resp.into_reader(), limit) {
                Ok(data) if data.len() as u64 > limit => Try::Fail(RegistryError::Invalid(
                    format!("{what}: larger than {limit} bytes"),
                )),
                Ok(data) => Try::Done((data, ct)),
                // The body broke off: ask again.
                Err(stall @ Stall::Broken { .. }) => Try::Again(backoff(attempt), stalled(stall)),
                // The registry answered, then stopped or crawled: asking again would
                // only wait as long again.
                Err(stall) => Try::Fail(stalled(stall)),
            }
        })
    }

    /// Whether the registry has a blob in this repository (HEAD).
    pub fn has_blob(&self, d: &Digest) -> Result<bool, RegistryError> {
        match self.send(
            "HEAD",
            &self.url(&format!("blobs/{d}")),
            &[],
            &Body::Empty,
            &format!("blob {d}"),
        ) {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A reader of blob `d` of `size` bytes that resumes after breaks; `on_bytes`
    /// is told the running count.
    pub fn blob_reader<'a>(
        &'a self,
        d: &'a Digest,
        size: u64,
        on_bytes: &'a (dyn Fn(u64) + Sync),
    ) -> BlobReader<'a> {
        BlobReader {
            client: self,
            digest: d,
            size,
            pos: 0,
            inner: None,
            breaks: 0,
            stalls: 0,
            guard: SpeedGuard::new(),
            on_bytes,
        }
    }
}

/// Reads a response body of at most `limit` bytes (one more tells it is larger),
/// watching its speed; a stall says how many bytes had come.
fn read_body(r: impl Read, limit: u64) -> Result<Vec<u8>, Stall> {
    let mut r = r.take(limit + 1);
    let mut guard = SpeedGuard::new();
    let mut data = Vec::new();
    let mut buf = [0u8; 16 << 10];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(data),
            Ok(n) => {
                data.extend_from_slice(&buf[..n]);
                guard.got(n as u64)?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => {
                return Err(Stall::Idle {
                    secs: super::retry::idle_timeout().as_secs(),
                    received: data.len() as u64,
                })
            }
            Err(e) => {
                return Err(Stall::Broken {
                    received: data.len() as u64,
                    message: e.to_string(),
                })
            }
        }
    }
}

/// A blob download that resumes with `Range` when the connection breaks.
pub struct BlobReader<'a> {
    client: &'a Client,
    digest: &'a Digest,
    size: u64,
    pos: u64,
    inner: Option<Box<dyn Read + Send + Sync + 'static>>,
    breaks: u32,
    /// Stalls so far: the first is resumed like a break, the second ends the download.
    stalls: u32,
    guard: SpeedGuard,
    on_bytes: &'a (dyn Fn(u64) + Sync),
}

/// Why a blob could not be (re)opened.
enum OpenError {
    /// The request failed after its own retries (or cannot succeed): give up.
    Request(io::Error),
    /// The body broke off while skipping what had arrived: a break like any other.
    Break(io::Error),
}

impl BlobReader<'_> {
    fn open(&mut self) -> Result<(), OpenError> {
        let url = self.client.url(&format!("blobs/{}", self.digest));
        let range = format!("bytes={}-", self.pos);
        let mut headers = vec![];
        if self.pos > 0 {
            headers.push(("Range", range.as_str()));
        }
        let resp = self
            .client
            .send(
                "GET",
                &url,
                &headers,
                &Body::Empty,
                &format!("blob {}", self.digest),
            )
            .map_err(|e| OpenError::Request(io::Error::other(e.to_string())))?;
        let partial = resp.status() == 206;
        let mut r = resp.into_reader();
        if self.pos > 0 && !partial {
            // The registry ignored the range: skip what was already read.
            let skipped = io::copy(&mut (&mut r).take(self.pos), &mut io::sink())
                .map_err(OpenError::Break)?;
            if skipped < self.pos {
                return Err(OpenError::Break(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "blob ended early",
                )));
            }
        }
        self.inner = Some(r);
        self.guard.restart();
        Ok(())
    }

    /// A stall: drops the connection to resume with a new one the first time, gives up
    /// the second.
    fn stalled(&mut self, stall: Stall) -> io::Result<()> {
        self.inner = None;
        self.stalls += 1;
        if self.stalls < 2 {
            return Ok(());
        }
        let e = RegistryError::Stalled {
            host: url_host(&self.client.api_root()).to_string(),
            what: format!("layer {}", self.digest),
            stall,
        };
        Err(io::Error::new(io::ErrorKind::TimedOut, e))
    }

    fn broke(&mut self, e: io::Error) -> io::Result<()> {
        self.inner = None;
        self.breaks += 1;
        if self.breaks >= ATTEMPTS {
            return Err(io::Error::new(
                e.kind(),
                format!(
                    "blob {} broke off after {} of {} bytes ({} attempts): {e}",
                    self.digest, self.pos, self.size, self.breaks
                ),
            ));
        }
        std::thread::sleep(backoff(self.breaks));
        Ok(())
    }
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.inner.is_none() {
                if self.pos >= self.size {
                    return Ok(0);
                }
                match self.open() {
                    Ok(()) => {}
                    Err(OpenError::Request(e)) => return Err(e),
                    Err(OpenError::Break(e)) => {
                        self.broke(e)?;
                        continue;
                    }
                }
            }
            let r = self.inner.as_mut().expect("opened above");
            match r.read(buf) {
                Ok(0) if self.pos >= self.size => return Ok(0),
                Ok(0) => {
                    let e = io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed early");
                    self.broke(e)?;
                }
                Ok(n) => {
                    if self.pos + n as u64 > self.size {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "blob {} is larger than the {} bytes its descriptor says",
                                self.digest, self.size
                            ),
                        ));
                    }
                    self.pos += n as u64;
                    (self.on_bytes)(self.pos);
                    if let Err(stall) = self.guard.got(n as u64) {
                        self.stalled(stall)?;
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {
                    let secs = super::retry::idle_timeout().as_secs();
                    let received = self.pos;
                    self.stalled(Stall::Idle { secs, received })?;
                }
                Err(e) => self.broke(e)?,
            }
        }
    }
}
