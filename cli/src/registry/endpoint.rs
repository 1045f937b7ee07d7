//! Where a registry is: the API host for a reference's domain, plain HTTP or TLS, and the
//! CA certificates to trust.
//!
//! `docker.io` is served by `registry-1.docker.io`. Plain HTTP is used only for loopback
//! registries (`localhost`, `127.0.0.0/8`, `[::1]`) that have no CA directory and do not
//! answer a TLS handshake, and for registries the user names as insecure (`--tls-verify=false`,
//! `insecure-registries` in `config.toml` or `registries.json`, or `STRATA_INSECURE_REGISTRIES=host:port,…`)
//! that do not answer one; an insecure registry that speaks TLS is used over HTTPS without
//! checking its certificate, as docker does. Everything else is HTTPS verified against
//! the operating system's CA store (`SSL_CERT_FILE` and `SSL_CERT_DIR` when set, else the
//! distribution's bundle, as OpenSSL finds it), the roots compiled in (webpki), and the CA
//! files in, as with docker's `certs.d`: `/etc/strata/certs.d/HOST[:PORT]/*.crt`,
//! `/etc/docker/certs.d/HOST[:PORT]/*.crt`, `$XDG_CONFIG_HOME/strata/certs.d/HOST[:PORT]/*.crt`
//! and `--cert-dir DIR/*.crt`.

use super::{Options, RegistryError};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A registry reached over HTTP.
#[derive(Clone)]
pub struct Endpoint {
    /// The domain as references name it (`docker.io`, `127.0.0.1:5000`), which is also
    /// the key of its credentials (Docker Hub's key is [`DOCKER_HUB_AUTH_KEY`]).
    pub domain: String,
    /// `https://registry-1.docker.io`, `http://127.0.0.1:5000`.
    pub base: String,
    /// The HTTP agent (connection pool, TLS settings).
    pub agent: ureq::Agent,
}

/// The key docker uses for Docker Hub in `config.json`.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// The key of a registry's credentials in `config.json`.
pub fn auth_key(domain: &str) -> String {
    if domain == "docker.io" || domain == "index.docker.io" || domain == "registry-1.docker.io" {
        DOCKER_HUB_AUTH_KEY.to_string()
    } else {
        domain.to_string()
    }
}

/// The host part of `host[:port]` (`[::1]:5000` gives `::1`).
fn host_of(domain: &str) -> &str {
    if let Some(rest) = domain.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    domain.split(':').next().unwrap_or(domain)
}

/// Whether a registry domain is on the loopback interface.
pub fn is_loopback(domain: &str) -> bool {
    let host = host_of(domain);
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// `registries.json`: `/etc/strata/registries.json`, then the user's
/// `$XDG_CONFIG_HOME/strata/registries.json` (`~/.config/…`) where present, with docker's
/// `daemon.json` keys: `{"registry-mirrors": ["https://mirror:5000"],
/// "insecure-registries": ["host:port"]}`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RegistriesConfig {
    /// Mirrors of Docker Hub, tried in order before it.
    #[serde(rename = "registry-mirrors", default)]
    pub mirrors: Vec<String>,
    /// Registries reached over plain HTTP.
    #[serde(rename = "insecure-registries", default)]
    pub insecure: Vec<String>,
}

/// The registries configuration: `registry-mirrors` and `insecure-registries` from the
/// configuration files ([`crate::config`]) where they are set, else from `registries.json`
/// (the user's file when it exists, else the system's).
pub fn config() -> Result<RegistriesConfig, RegistryError> {
    let json = registries_json()?;
    let settings = crate::config::current();
    Ok(RegistriesConfig {
        mirrors: settings
            .registry_mirrors()
            .map_or(json.mirrors, <[String]>::to_vec),
        insecure: settings
            .insecure_registries()
            .map_or(json.insecure, <[String]>::to_vec),
    })
}

/// The `registries.json` files strata looks for, in order (the first that exists is read).
pub fn registries_json_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(c) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        files.push(PathBuf::from(c).join("strata/registries.json"));
    } else if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        files.push(PathBuf::from(h).join(".config/strata/registries.json"));
    }
    files.push(PathBuf::from("/etc/strata/registries.json"));
    files
}

fn registries_json() -> Result<RegistriesConfig, RegistryError> {
    for f in registries_json_files() {
        match std::fs::read(&f) {
            Ok(data) => {
                return serde_json::from_slice(&data)
                    .map_err(|e| RegistryError::Invalid(format!("invalid {}: {e}", f.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(RegistryError::Invalid(format!(
                    "cannot read {}: {e}",
                    f.display()
                )))
            }
        }
    }
    Ok(RegistriesConfig::default())
}

fn insecure_by_config(domain: &str) -> bool {
    std::env::var("STRATA_INSECURE_REGISTRIES")
        .map(|v| v.split(',').any(|r| r.trim() == domain))
        .unwrap_or(false)
        || config()
            .map(|c| c.insecure.iter().any(|r| r == domain))
            .unwrap_or(false)
}

/// The endpoint of a mirror given by URL (`https://mirror.example`, `http://127.0.0.1:5000`).
pub fn mirror_endpoint(url: &str, opts: &Options) -> Result<Endpoint, RegistryError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| RegistryError::Invalid(format!("invalid registry mirror {url:?}")))?;
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') || !matches!(scheme, "http" | "https") {
        return Err(RegistryError::Invalid(format!(
            "invalid registry mirror {url:?}"
        )));
    }
    let mut ep = endpoint(host, opts)?;
    ep.base = format!("{scheme}://{host}");
    Ok(ep)
}

/// The directories whose `*.crt` files are CAs for `domain`, existing ones only.
fn cert_dirs(domain: &str, opts: &Options) -> Vec<PathBuf> {
    let mut roots = crate::config::current().cert_dirs().to_vec();
    roots.extend([
        PathBuf::from("/etc/strata/certs.d"),
        PathBuf::from("/etc/docker/certs.d"),
    ]);
    if let Some(c) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        roots.push(PathBuf::from(c).join("strata/certs.d"));
    } else if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        roots.push(PathBuf::from(h).join(".config/strata/certs.d"));
    }
    let mut dirs: Vec<PathBuf> = roots
        .into_iter()
        .map(|r| r.join(domain))
        .filter(|d| d.is_dir())
        .collect();
    if let Some(d) = &opts.cert_dir {
        dirs.push(d.clone());
    }
    dirs
}

fn load_cas(
    dirs: &[PathBuf],
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, RegistryError> {
    use rustls::pki_types::pem::PemObject;
    let mut out = Vec::new();
    for d in dirs {
        let entries = std::fs::read_dir(d).map_err(|e| {
            RegistryError::Invalid(format!("cannot read the CA directory {}: {e}", d.display()))
        })?;
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "crt"))
            .collect();
        files.sort();
        for f in files {
            for c in rustls::pki_types::CertificateDer::pem_file_iter(&f).map_err(|e| {
                RegistryError::Invalid(format!("cannot read CA file {}: {e}", f.display()))
            })? {
                out.push(c.map_err(|e| {
                    RegistryError::Invalid(format!("invalid CA file {}: {e}", f.display()))
                })?);
            }
        }
    }
    Ok(out)
}

/// The operating system's CA certificates (`SSL_CERT_FILE`, `SSL_CERT_DIR`, else the
/// bundle and directory OpenSSL would use), read once per process. Files that cannot be
/// read or parsed are passed over: the other roots still apply, and a registry whose CA
/// was among them fails with its certificate error.
fn system_roots() -> &'static [rustls::pki_types::CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<rustls::pki_types::CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

fn tls_config(
    cas: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> Result<Arc<rustls::ClientConfig>, RegistryError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // A bundle holds certificates rustls does not take (old or odd ones): skip them.
    roots.add_parsable_certificates(system_roots().iter().cloned());
    for c in cas {
        roots
            .add(c)
            .map_err(|e| RegistryError::Invalid(format!("invalid CA certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RegistryError::Invalid(format!("TLS set-up: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// TLS that accepts any certificate (signatures are still checked), for the registries
/// the user names as insecure.
fn unverified_tls_config() -> Result<Arc<rustls::ClientConfig>, RegistryError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| RegistryError::Invalid(format!("TLS set-up: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// A certificate verifier that takes every certificate: `--tls-verify=false`.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The endpoint for a reference's domain.
pub fn endpoint(domain: &str, opts: &Options) -> Result<Endpoint, RegistryError> {
    let api_host = match domain {
        "docker.io" | "index.docker.io" => "registry-1.docker.io".to_string(),
        d => d.to_string(),
    };
    let dirs = cert_dirs(domain, opts);
    let plain = opts.insecure || insecure_by_config(domain);
    let builder = || {
        ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(15))
            .timeout_read(super::retry::idle_timeout())
            .timeout_write(Duration::from_secs(60))
            .max_idle_connections_per_host(16)
            .user_agent(concat!("strata/", env!("CARGO_PKG_VERSION")))
    };
    let verified = || -> Result<ureq::Agent, RegistryError> {
        Ok(builder().tls_config(tls_config(load_cas(&dirs)?)?).build())
    };
    // A loopback registry without CA files may speak plain HTTP: ask it over TLS once,
    // and use HTTP when the answer is not TLS at all (a certificate that does not
    // verify is an error, reported by the first real request). Only a registry reached
    // over TLS needs the system's CA store read.
    let (plain, agent) = if plain {
        // Insecure: HTTPS when the registry speaks it (its certificate unchecked), else HTTP.
        let unchecked = builder().tls_config(unverified_tls_config()?).build();
        if speaks_tls(&unchecked, &api_host) {
            (false, unchecked)
        } else {
            (true, builder().build())
        }
    } else if is_loopback(domain) && dirs.is_empty() {
        let probe = builder().build();
        if speaks_tls(&probe, &api_host) {
            (false, verified()?)
        } else {
            (true, probe)
        }
    } else {
        (false, verified()?)
    };
    Ok(Endpoint {
        domain: domain.to_string(),
        base: format!("{}://{api_host}", if plain { "http" } else { "https" }),
        agent,
    })
}

/// Whether `host` answers a TLS handshake (whatever it thinks of our certificate
/// checks).
fn speaks_tls(agent: &ureq::Agent, host: &str) -> bool {
    match agent
        .get(&format!("https://{host}/v2/"))
        .timeout(Duration::from_secs(2))
        .call()
    {
        Ok(_) | Err(ureq::Error::Status(..)) => true,
        Err(ureq::Error::Transport(t)) => certificate_problem(&t).is_some(),
    }
}

/// What is wrong with the peer's certificate, when a transport error is that (an
/// unknown issuer, a wrong name, an expired certificate), in docker's words where it
/// has them.
pub fn certificate_problem(t: &ureq::Transport) -> Option<String> {
    use rustls::CertificateError as C;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(t);
    while let Some(e) = cur {
        // An `io::Error`'s `source` skips the error it wraps: look inside it too.
        let inner = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|i| i.downcast_ref::<rustls::Error>());
        if let Some(rustls::Error::InvalidCertificate(c)) =
            e.downcast_ref::<rustls::Error>().or(inner)
        {
            return Some(match c {
                C::UnknownIssuer => "certificate signed by unknown authority".to_string(),
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    "certificate is not valid for this name".to_string()
                }
                C::Expired | C::ExpiredContext { .. } => "certificate has expired".to_string(),
                C::NotValidYet | C::NotValidYetContext { .. } => {
                    "certificate is not valid yet".to_string()
                }
                C::BadSignature => "certificate has a bad signature".to_string(),
                other => format!("invalid certificate: {other:?}").to_lowercase(),
            });
        }
        cur = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback() {
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("127.1.2.3"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("docker.io"));
        assert!(!is_loopback("10.0.0.1:5000"));
    }

    #[test]
    fn hub_key() {
        assert_eq!(auth_key("docker.io"), DOCKER_HUB_AUTH_KEY);
        assert_eq!(auth_key("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}
