//! Talking to image registries (the OCI distribution API): pull, push, login.
//!
//! - `endpoint`: which host and scheme a reference's registry is reached at, and TLS.
//! - `auth`: credentials (`~/.docker/config.json`, helpers) and the challenge flows
//!   (anonymous, basic, bearer tokens cached per scope).
//! - `retry`: the bounded retries every request shares (connection errors, 5xx, 429
//!   with `Retry-After`; never a certificate that does not verify).
//! - `client`: HTTP requests with authentication and retries, and blob reads that
//!   resume with `Range`.
//! - `manifest`: the manifest, index and descriptor documents, platform selection.
//! - `pull` and `push`: the two pipelines; `compress`: parallel gzip for push;
//!   `progress`: what the user sees meanwhile.

pub mod auth;
pub mod client;
pub mod compress;
pub mod endpoint;
pub mod manifest;
pub mod progress;
pub mod pull;
pub mod push;
pub mod retry;
pub mod slots;

/// Why a registry operation failed; `Display` is the one line the user sees.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry could not be reached or the connection broke, after retries.
    #[error("cannot reach {url}: {message}")]
    Transport {
        /// What was asked for.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The registry answered with an error status.
    #[error("{what}: {message}")]
    Status {
        /// What was asked for, in words.
        what: String,
        /// HTTP status code.
        code: u16,
        /// The registry's error text (or the status line).
        message: String,
    },
    /// The registry's TLS certificate does not verify: never retried.
    #[error("cannot verify the TLS certificate of {host}: {problem} (trust its CA in /etc/strata/certs.d/{host}/, --cert-dir or SSL_CERT_FILE)")]
    Certificate {
        /// `host[:port]` as the request named it.
        host: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The registry answered but stopped sending, or sent too slowly, part-way through.
    #[error("registry {host} {stall} while fetching {what}")]
    Stalled {
        /// `host[:port]`.
        host: String,
        /// What was being fetched, in words.
        what: String,
        /// How it stalled.
        stall: retry::Stall,
    },
    /// Authentication failed.
    #[error("{0}")]
    Auth(String),
    /// The registry sent something that is not what it should be.
    #[error("{0}")]
    Invalid(String),
}

impl RegistryError {
    /// The HTTP status, for errors that carry one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether trying again cannot help (a certificate that does not verify).
    pub fn is_final(&self) -> bool {
        matches!(self, RegistryError::Certificate { .. })
    }
}

/// Options shared by pull, push and login.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--tls-verify=false`: plain HTTP to this registry.
    pub insecure: bool,
    /// `--cert-dir`: a directory of CA certificates (`*.crt`) to trust.
    pub cert_dir: Option<std::path::PathBuf>,
}
