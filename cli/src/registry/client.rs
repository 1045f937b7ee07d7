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
use super::RegistryError;
use std::io::{self, Read};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use store_layout::Digest;

/// How many times one request is tried in all.
pub const ATTEMPTS: u32 = 5;
/// The most `Retry-After` is obeyed for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
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

/// A transport error without the URL (the caller names it), with its causes.
fn transport_message(t: &ureq::Transport) -> String {
    let mut m = match t.message() {
        Some(m) => format!("{}: {m}", t.kind()),
        None => t.kind().to_string(),
    };
    let mut src = std::error::Error::source(t);
    while let Some(e) = src {
        let text = e.to_string();
        if !m.contains(&text) {
            m.push_str(": ");
            m.push_str(&text);
        }
        src = e.source();
    }
    m
}

/// A client for one repository (`bench/app`) of one registry.
pub struct Client {
    ep: Endpoint,
    repo: String,
    auth: Mutex<AuthState>,
    /// The token scope requests carry (`repository:bench/app:pull`, more for push).
    scope: String,
}

/// How long to wait before attempt `attempt + 1`.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64 << attempt.min(5)).min(Duration::from_secs(2))
}

/// What one try of a request came to (see [`retrying`]).
pub(crate) enum Try<T> {
    /// Done: the answer.
    Done(T),
    /// Failed in passing: wait this long and try again, or, when the tries are spent,
    /// give up with this error.
    Again(Duration, RegistryError),
    /// Try again at once, without counting this try (a 401 answered with credentials).
    Resend,
    /// Failed for good.
    Fail(RegistryError),
}

/// Runs `one` (given the attempt's number, from 1) until it is done, fails for good,
/// or has failed in passing [`ATTEMPTS`] times.
pub(crate) fn retrying<T>(mut one: impl FnMut(u32) -> Try<T>) -> Result<T, RegistryError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match one(attempt) {
            Try::Done(v) => return Ok(v),
            Try::Fail(e) => return Err(e),
            Try::Again(_, e) if attempt >= ATTEMPTS => return Err(e),
            Try::Again(wait, _) => std::thread::sleep(wait),
            Try::Resend => attempt -= 1,
        }
    }
}

/// A transport error as one try's outcome: final for a certificate that does not
/// verify, else worth another try after the usual backoff.
pub(crate) fn transport_try<T>(url: &str, t: &ureq::Transport, attempt: u32) -> Try<T> {
    match transport_error(url, t) {
        e if e.is_final() => Try::Fail(e),
        e => Try::Again(backoff(attempt), e),
    }
}

/// How long a `Retry-After` value asks to wait, in seconds (`120`) or as an HTTP date
/// (`Wed, 21 Oct 2026 07:28:00 GMT`), at most [`MAX_RETRY_AFTER`]; `None` when it is
/// neither. A date already past asks for no wait.
pub(crate) fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    let wait = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = httpdate::parse_http_date(v).ok()?;
            at.duration_since(now).unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// How long to wait after a 429 or 5xx answer to attempt `attempt`: what its
/// `Retry-After` asks (see [`retry_after`]), else the usual [`backoff`].
pub(crate) fn retry_wait(resp: &ureq::Response, attempt: u32) -> Duration {
    resp.header("Retry-After")
        .and_then(|v| retry_after(v, SystemTime::now()))
        .unwrap_or_else(|| backoff(attempt))
}

/// `host[:port]` of an absolute URL.
pub(crate) fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

/// A transport error as the caller sees it: a certificate that does not verify is
/// [`RegistryError::Certificate`] (final), anything else [`RegistryError::Transport`].
pub(crate) fn transport_error(url: &str, t: &ureq::Transport) -> RegistryError {
    match super::endpoint::certificate_problem(t) {
        Some(problem) => RegistryError::Certificate {
            host: url_host(url).to_string(),
            problem,
        },
        None => RegistryError::Transport {
            url: url.to_string(),
            message: transport_message(t),
        },
    }
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
            let mut data = Vec::new();
            match resp.into_reader().take(limit + 1).read_to_end(&mut data) {
                Ok(_) if data.len() as u64 > limit => Try::Fail(RegistryError::Invalid(format!(
                    "{what}: larger than {limit} bytes"
                ))),
                Ok(_) => Try::Done((data, ct)),
                // The body broke off: ask again.
                Err(e) => Try::Again(
                    backoff(attempt),
                    RegistryError::Transport {
                        url: url.to_string(),
                        message: e.to_string(),
                    },
                ),
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
            on_bytes,
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
        Ok(())
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
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.broke(e)?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_and_as_a_date_is_capped() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after("3600", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            retry_after("Wed, 21 Oct 2026 07:28:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        // The obsolete forms HTTP still allows.
        assert_eq!(
            retry_after("Wednesday, 21-Oct-26 07:28:02 GMT", now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2026 09:00:00 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-1", now), None);
    }

    #[test]
    fn hosts_of_urls() {
        assert_eq!(url_host("https://127.0.0.1:5000/v2/x"), "127.0.0.1:5000");
        assert_eq!(url_host("https://auth.docker.io?x=1"), "auth.docker.io");
        assert_eq!(url_host("http://[::1]:5000/"), "[::1]:5000");
    }
}
