//! Bounded retries shared by every registry request (the client's and the token
//! endpoint's): how long to back off, what `Retry-After` asks, and how a transport
//! error is told apart (a certificate that does not verify is never retried).
//!
//! Below both `client` and `auth`, so that neither imports the other for it.

use super::RegistryError;
use std::io;
use std::time::{Duration, Instant, SystemTime};

/// How many times one request is tried in all.
pub const ATTEMPTS: u32 = 5;
/// The most `Retry-After` is obeyed for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

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

/// How a download stalled; `Display` completes "registry HOST …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Stall {
    /// The connection broke off part-way.
    #[error("stopped sending after {received} bytes ({message})")]
    Broken {
        /// Bytes received before.
        received: u64,
        /// The error the read gave.
        message: String,
    },
    /// No byte for `download-idle-timeout` seconds.
    #[error("sent no data for {secs} s (download-idle-timeout) after {received} bytes")]
    Idle {
        /// The timeout.
        secs: u64,
        /// Bytes received before.
        received: u64,
    },
    /// Fewer than `download-low-speed-limit` bytes in `download-low-speed-time` seconds.
    #[error("sent only {bytes} bytes in {secs} s, under the download-low-speed-limit of {limit} bytes every {secs} s")]
    Slow {
        /// Bytes in the interval.
        bytes: u64,
        /// The interval.
        secs: u64,
        /// The limit.
        limit: u64,
    },
}

/// How long a connection may go without a byte (`download-idle-timeout`).
pub(crate) fn idle_timeout() -> Duration {
    Duration::from_secs(crate::config::current().deadlines().idle.max(1))
}

/// Whether a read failed because the socket's read timeout expired.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Watches a download's speed: fewer than `download-low-speed-limit` bytes in any
/// `download-low-speed-time` seconds is a stall.
pub(crate) struct SpeedGuard {
    window: Instant,
    bytes: u64,
    limit: u64,
    secs: u64,
}

impl SpeedGuard {
    /// A guard with the configured limit, its interval starting now.
    pub(crate) fn new() -> SpeedGuard {
        let d = crate::config::current().deadlines();
        SpeedGuard {
            window: Instant::now(),
            bytes: 0,
            limit: d.low_speed_limit,
            secs: d.low_speed_time.max(1),
        }
    }

    /// Starts the interval again (after a reconnection).
    pub(crate) fn restart(&mut self) {
        self.window = Instant::now();
        self.bytes = 0;
    }

    /// Counts `n` bytes just received; a stall when the interval ended short.
    pub(crate) fn got(&mut self, n: u64) -> Result<(), Stall> {
        self.bytes += n;
        if self.window.elapsed() < Duration::from_secs(self.secs) {
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.bytes);
        self.window = Instant::now();
        if self.limit > 0 && bytes < self.limit {
            return Err(Stall::Slow {
                bytes,
                secs: self.secs,
                limit: self.limit,
            });
        }
        Ok(())
    }
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
