//! Credentials and authentication challenges.
//!
//! Credentials are read as docker reads them: `$DOCKER_CONFIG/config.json` (default
//! `~/.docker/config.json`), from `credHelpers[registry]`, then `auths[registry].auth`
//! (base64 `user:password`), then the `credsStore` helper. Helpers are the
//! `docker-credential-NAME` programs (`get`, `store`, `erase` on standard input).
//! `strata login` writes `auths` entries into that file, created with mode 0600.
//!
//! A registry that answers 401 says how to authenticate in `WWW-Authenticate`: `Basic`
//! (send the credentials), or `Bearer realm=…,service=…,scope=…` (get a token from the
//! realm, with the credentials if any, and send it); tokens are kept per scope until
//! they expire.

use super::retry::{backoff, retry_wait, retrying, transport_try, Try};
use super::RegistryError;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A user name and password (or identity token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// User name (`<token>` for an identity token).
    pub username: String,
    /// Password or token.
    pub password: String,
}

/// The docker client configuration file.
pub fn config_path() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(d).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".docker/config.json"))
}

fn read_config() -> Result<Map<String, Value>, RegistryError> {
    let Some(path) = config_path() else {
        return Ok(Map::new());
    };
    match std::fs::read(&path) {
        Ok(data) if data.iter().all(|b| b.is_ascii_whitespace()) => Ok(Map::new()),
        Ok(data) => serde_json::from_slice(&data)
            .map_err(|e| RegistryError::Invalid(format!("invalid {}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(RegistryError::Invalid(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn write_config(cfg: &Map<String, Value>) -> Result<PathBuf, RegistryError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = config_path()
        .ok_or_else(|| RegistryError::Invalid("cannot find the home directory (HOME)".into()))?;
    let fail =
        |e: std::io::Error| RegistryError::Invalid(format!("cannot write {}: {e}", path.display()));
    let dir = path.parent().expect("config path has a parent");
    std::fs::create_dir_all(dir).map_err(fail)?;
    let tmp = dir.join(format!(".config.json.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(fail)?;
    let mut data = serde_json::to_vec_pretty(cfg).expect("config serialises");
    data.push(b'\n');
    f.write_all(&data).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, &path).map_err(fail)?;
    Ok(path)
}

fn helper_for(cfg: &Map<String, Value>, key: &str) -> Option<String> {
    cfg.get("credHelpers")
        .and_then(|h| h.get(key))
        .and_then(Value::as_str)
        .or_else(|| cfg.get("credsStore").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn run_helper(helper: &str, verb: &str, input: &[u8]) -> Result<Vec<u8>, RegistryError> {
    use std::process::{Command, Stdio};
    let prog = format!("docker-credential-{helper}");
    let mut child = Command::new(&prog)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RegistryError::Auth(format!("cannot run credential helper {prog}: {e}")))?;
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| RegistryError::Auth(format!("credential helper {prog}: {e}")))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).trim().to_string();
        return Err(RegistryError::Auth(format!(
            "credential helper {prog} {verb} failed: {msg}"
        )));
    }
    Ok(out.stdout)
}

/// The stored credentials for a registry (by its `config.json` key), if any.
pub fn lookup(key: &str) -> Result<Option<Credentials>, RegistryError> {
    let cfg = read_config()?;
    let explicit_helper = cfg
        .get("credHelpers")
        .and_then(|h| h.get(key))
        .and_then(Value::as_str)
        .is_some();
    if !explicit_helper {
        if let Some(auth) = cfg
            .get("auths")
            .and_then(|a| a.get(key))
            .and_then(|e| e.get("auth"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| {
                    RegistryError::Invalid(format!("invalid auth for {key} in config.json"))
                })?;
            let s = String::from_utf8_lossy(&raw).into_owned();
            let (u, p) = s.split_once(':').ok_or_else(|| {
                RegistryError::Invalid(format!("invalid auth for {key} in config.json"))
            })?;
            return Ok(Some(Credentials {
                username: u.to_string(),
                password: p.to_string(),
            }));
        }
    }
    if let Some(h) = helper_for(&cfg, key) {
        let out = match run_helper(&h, "get", key.as_bytes()) {
            Ok(o) => o,
            // A helper that knows nothing of this registry says so and fails.
            Err(_) if !explicit_helper => return Ok(None),
            Err(e) => return Err(e),
        };
        let v: Value = serde_json::from_slice(&out)
            .map_err(|e| RegistryError::Auth(format!("credential helper {h}: {e}")))?;
        let u = v
            .get("Username")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let p = v.get("Secret").and_then(Value::as_str).unwrap_or_default();
        if p.is_empty() {
            return Ok(None);
        }
        return Ok(Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        }));
    }
    Ok(None)
}

/// Stores credentials for a registry; returns the file written (or the helper used).
pub fn store(key: &str, c: &Credentials) -> Result<String, RegistryError> {
    let mut cfg = read_config()?;
    if let Some(h) = helper_for(&cfg, key) {
        let input =
            serde_json::json!({"ServerURL": key, "Username": c.username, "Secret": c.password});
        run_helper(&h, "store", input.to_string().as_bytes())?;
        return Ok(format!("docker-credential-{h}"));
    }
    let auths = cfg
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    let enc =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password));
    auths
        .as_object_mut()
        .expect("auths is an object")
        .insert(key.to_string(), serde_json::json!({ "auth": enc }));
    Ok(write_config(&cfg)?.display().to_string())
}

/// Removes stored credentials; false when there were none.
pub fn erase(key: &str) -> Result<bool, RegistryError> {
    let mut cfg = read_config()?;
    let mut found = false;
    if let Some(a) = cfg.get_mut("auths").and_then(Value::as_object_mut) {
        found = a.remove(key).is_some();
    }
    if found {
        write_config(&cfg)?;
    }
    if let Some(h) = helper_for(&cfg, key) {
        if run_helper(&h, "erase", key.as_bytes()).is_ok() {
            found = true;
        }
    }
    Ok(found)
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm=…`.
    Basic,
    /// `Bearer realm=…,service=…,scope=…`.
    Bearer {
        /// Token endpoint.
        realm: String,
        /// `service` parameter, if any.
        service: Option<String>,
        /// `scope` parameter, if any.
        scope: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value.
pub fn parse_challenge(h: &str) -> Option<Challenge> {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        }),
        _ => None,
    }
}

fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b',' || b[i] == b' ') {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' {
            i += 1;
        }
        let key = s[ks..i].trim().to_ascii_lowercase();
        i += 1;
        let mut val = String::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                val.push(b[i] as char);
                i += 1;
            }
            i += 1;
        } else {
            let vs = i.min(b.len());
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            val = s[vs..i.min(s.len())].trim().to_string();
        }
        if !key.is_empty() {
            out.insert(key, val);
        }
    }
    out
}

/// How requests to one registry are authenticated, shared by the threads of a command.
#[derive(Default)]
pub struct AuthState {
    /// Credentials, when the user has some for this registry.
    pub creds: Option<Credentials>,
    basic: bool,
    tokens: HashMap<String, (String, Instant)>,
}

impl AuthState {
    /// With the given credentials.
    pub fn new(creds: Option<Credentials>) -> AuthState {
        AuthState {
            creds,
            ..Default::default()
        }
    }

    /// The `Authorization` header for a request needing `scope`, if one is known.
    pub fn header(&self, scope: &str) -> Option<String> {
        if let Some((t, exp)) = self.tokens.get(scope) {
            if Instant::now() < *exp {
                return Some(format!("Bearer {t}"));
            }
        }
        if self.basic {
            return self.creds.as_ref().map(basic_header);
        }
        None
    }

    /// Answers a challenge for `scope`: remembers to send basic credentials, or fetches
    /// a token. Fails when the registry wants credentials and there are none.
    pub fn answer(
        &mut self,
        agent: &ureq::Agent,
        ch: &Challenge,
        scope: &str,
    ) -> Result<(), RegistryError> {
        match ch {
            Challenge::Basic => {
                if self.creds.is_none() || self.basic {
                    return Err(RegistryError::Auth(
                        "unauthorized: authentication required".into(),
                    ));
                }
                self.basic = true;
                Ok(())
            }
            Challenge::Bearer {
                realm,
                service,
                scope: ch_scope,
            } => {
                let mut scopes: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
                if let Some(s) = ch_scope {
                    for s in s.split(' ') {
                        if !s.is_empty() && !scopes.contains(&s) {
                            scopes.push(s);
                        }
                    }
                }
                let body = self.fetch_token(agent, realm, service.as_deref(), &scopes)?;
                let token = body
                    .get("token")
                    .or_else(|| body.get("access_token"))
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| RegistryError::Auth(format!("no token from {realm}")))?;
                let secs = body
                    .get("expires_in")
                    .and_then(Value::as_u64)
                    .unwrap_or(60)
                    .max(10);
                // Renew a little early, so that a token does not expire in flight.
                let exp = Instant::now() + Duration::from_secs(secs) - Duration::from_secs(5);
                self.tokens
                    .insert(scope.to_string(), (token.to_string(), exp));
                Ok(())
            }
        }
    }
}

impl AuthState {
    /// Asks the token endpoint for a token, retrying a bounded number of times when it
    /// fails in passing (connection errors, 5xx, 429), never for a bad certificate.
    fn fetch_token(
        &self,
        agent: &ureq::Agent,
        realm: &str,
        service: Option<&str>,
        scopes: &[&str],
    ) -> Result<Value, RegistryError> {
        let cannot =
            |why: String| RegistryError::Auth(format!("cannot get a token from {realm}: {why}"));
        retrying(|attempt| {
            let mut req = agent.get(realm);
            if let Some(s) = service {
                req = req.query("service", s);
            }
            for s in scopes {
                req = req.query("scope", s);
            }
            if let Some(c) = &self.creds {
                req = req.set("Authorization", &basic_header(c));
            }
            match req.call() {
                Ok(resp) => match serde_json::from_reader(resp.into_reader().take(1 << 20)) {
                    Ok(v) => Try::Done(v),
                    // A body that broke off is tried again; one that is not JSON is not.
                    Err(e) if e.is_io() => Try::Again(backoff(attempt), cannot(e.to_string())),
                    Err(e) => Try::Fail(RegistryError::Auth(format!(
                        "invalid token from {realm}: {e}"
                    ))),
                },
                Err(ureq::Error::Status(401 | 403, _)) => {
                    Try::Fail(RegistryError::Auth(if self.creds.is_some() {
                        "unauthorized: incorrect username or password".into()
                    } else {
                        "unauthorized: authentication required".into()
                    }))
                }
                Err(ureq::Error::Status(code, resp)) if code == 429 || code >= 500 => {
                    Try::Again(retry_wait(&resp, attempt), cannot(format!("status {code}")))
                }
                Err(ureq::Error::Status(code, _)) => Try::Fail(cannot(format!("status {code}"))),
                Err(ureq::Error::Transport(t)) => match transport_try(realm, &t, attempt) {
                    Try::Again(wait, e) => Try::Again(wait, cannot(e.to_string())),
                    other => other,
                },
            }
        })
    }
}

fn basic_header(c: &Credentials) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
    }
}
