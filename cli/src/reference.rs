//! Image references, parsed and normalised as docker does.
//!
//! `centos:6.7` is `docker.io/library/centos:6.7`; `latest` is the default tag.
//!
//! The grammar and the error texts follow `github.com/distribution/reference`
//! (`ParseNormalizedNamed`, `Parse`, `FamiliarName`) and the digest checks of
//! `github.com/opencontainers/go-digest`, which is what the docker CLI prints:
//!
//! ```text
//! reference   := name [ ":" tag ] [ "@" digest ]
//! name        := [domain '/'] path
//! domain      := host [':' port]
//! host        := domain-name | '[' ipv6 ']'
//! path        := path-component ['/' path-component]*
//! path-component := [a-z0-9]+ (separator [a-z0-9]+)*
//! separator   := [_.] | __ | [-]+
//! tag         := [\w][\w.-]{0,127}
//! digest      := algorithm ":" hex     (sha256 needs 64 lower-case hex)
//! ```

use std::fmt;

/// The registry docker uses when a name has no domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The historical name of Docker Hub, normalised to [`DEFAULT_DOMAIN`].
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Namespace of the official images on Docker Hub.
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag used when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// Longest repository path docker accepts.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a string is not an image reference; `Display` gives docker's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// `invalid reference format`
    #[error("invalid reference format")]
    InvalidFormat,
    /// `invalid reference format: repository name (library/Foo) must be lowercase`
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    NotLowercase(String),
    /// `repository name must be lowercase` (the grammar check after normalisation)
    #[error("repository name must be lowercase")]
    ContainsUppercase,
    /// `repository name must have at least one component`
    #[error("repository name must have at least one component")]
    NameEmpty,
    /// `repository name must not be more than 255 characters`
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    /// `invalid repository name (<id>), cannot specify 64-byte hexadecimal strings`
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    /// go-digest: `invalid checksum digest format`
    #[error("invalid checksum digest format")]
    DigestFormat,
    /// go-digest: `invalid checksum digest length`
    #[error("invalid checksum digest length")]
    DigestLength,
    /// go-digest: `unsupported digest algorithm`
    #[error("unsupported digest algorithm")]
    DigestUnsupported,
    /// `invalid tag format` (from [`Reference::with_tag`])
    #[error("invalid tag format")]
    TagFormat,
}

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// True for a bare 64-character lower-case hex string (a full image ID), which
/// docker refuses as a repository name.
pub fn is_full_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Reference {
    /// Parse as docker's `ParseNormalizedNamed`: `busybox` is
    /// `docker.io/library/busybox`, `index.docker.io` becomes `docker.io`.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if is_full_id(s) {
            return Err(ReferenceError::HexName(s.to_string()));
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote = match remainder.find(':') {
            Some(i) => &remainder[..i],
            None => &remainder[..],
        };
        if remote.to_lowercase() != remote {
            return Err(ReferenceError::NotLowercase(remote.to_string()));
        }
        let full = format!("{domain}/{remainder}");
        parse_canonical(&full)
    }

    /// The full repository name: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The name as docker shows it: `busybox`, `user/repo`, `localhost:5000/a`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            if let Some(rest) = self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                if !rest.contains('/') {
                    return rest.to_string();
                }
            }
            return self.path.clone();
        }
        self.name()
    }

    /// The registry part (`docker.io`, `localhost:5000`); empty only for odd
    /// names that the grammar reads without a domain (as docker does).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry: `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest (`sha256:<hex>`), if one was given.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The same reference with `latest` added when it has neither tag nor digest
    /// (docker's `TagNameOnly`).
    pub fn with_default_tag(&self) -> Reference {
        let mut r = self.clone();
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        r
    }

    /// The same repository with the given tag (the digest is kept).
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if !is_tag(tag) {
            return Err(ReferenceError::TagFormat);
        }
        let mut r = self.clone();
        r.tag = Some(tag.to_string());
        Ok(r)
    }

    /// The same repository with no tag and no digest.
    pub fn without_tag_or_digest(&self) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: None,
        }
    }

    /// `docker.io/library/busybox:latest`, `x:tag@sha256:…`: name, `:tag`, `@digest`.
    pub fn full_string(&self) -> String {
        with_suffixes(self.name(), self.tag(), self.digest())
    }

    /// `busybox:latest`: [`familiar_name`](Self::familiar_name) plus tag and digest.
    pub fn familiar_string(&self) -> String {
        with_suffixes(self.familiar_name(), self.tag(), self.digest())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full_string())
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// Shorten a stored reference for display (`docker.io/library/busybox:latest`
/// → `busybox:latest`); a string that does not parse is returned unchanged.
pub fn familiar(full: &str) -> String {
    match Reference::parse(full) {
        Ok(r) => r.familiar_string(),
        Err(_) => full.to_string(),
    }
}

fn with_suffixes(mut s: String, tag: Option<&str>, digest: Option<&str>) -> String {
    if let Some(t) = tag {
        s.push(':');
        s.push_str(t);
    }
    if let Some(d) = digest {
        s.push('@');
        s.push_str(d);
    }
    s
}

/// docker's `splitDockerDomain`: decide whether the first component is a registry.
fn split_docker_domain(name: &str) -> (String, String) {
    let Some((maybe_domain, maybe_remote)) = name.split_once('/') else {
        return (
            DEFAULT_DOMAIN.to_string(),
            format!("{OFFICIAL_REPO_PREFIX}{name}"),
        );
    };
    let (domain, mut remote) = if maybe_domain == "localhost" {
        (maybe_domain.to_string(), maybe_remote.to_string())
    } else if maybe_domain == LEGACY_DEFAULT_DOMAIN {
        (DEFAULT_DOMAIN.to_string(), maybe_remote.to_string())
    } else if maybe_domain.contains(['.', ':']) || maybe_domain.to_lowercase() != maybe_domain {
        (maybe_domain.to_string(), maybe_remote.to_string())
    } else {
        (DEFAULT_DOMAIN.to_string(), name.to_string())
    };
    if domain == DEFAULT_DOMAIN && !remote.contains('/') {
        remote = format!("{OFFICIAL_REPO_PREFIX}{remote}");
    }
    (domain, remote)
}

/// docker's `Parse` on an already-normalised string (`domain/path[:tag][@digest]`).
fn parse_canonical(s: &str) -> Result<Reference, ReferenceError> {
    if s.is_empty() {
        return Err(ReferenceError::NameEmpty);
    }
    let parts = match split_reference(s) {
        Some(p) => p,
        None => {
            let lower = s.to_lowercase();
            if lower != s && split_reference(&lower).is_some() {
                return Err(ReferenceError::ContainsUppercase);
            }
            return Err(ReferenceError::InvalidFormat);
        }
    };
    let (domain, path, tag, digest) = parts;
    if path.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ReferenceError::NameTooLong);
    }
    if let Some(d) = digest {
        validate_digest(d)?;
    }
    if path.is_empty() {
        return Err(ReferenceError::NameEmpty);
    }
    Ok(Reference {
        domain: domain.to_string(),
        path: path.to_string(),
        tag: tag.map(str::to_string),
        digest: digest.map(str::to_string),
    })
}

type Parts<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// Match the anchored reference grammar, returning (domain, path, tag, digest).
/// The grammar is unambiguous once one notes that `@` only introduces the
/// digest, that paths and tags never contain `:` and tags never contain `/`.
fn split_reference(s: &str) -> Option<Parts<'_>> {
    let (pre, digest) = match s.split_once('@') {
        Some((p, d)) => {
            if !is_digest_syntax(d) {
                return None;
            }
            (p, Some(d))
        }
        None => (s, None),
    };
    let last_seg_start = pre.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match pre[last_seg_start..].find(':') {
        Some(i) => {
            let at = last_seg_start + i;
            let tag = &pre[at + 1..];
            if !is_tag(tag) {
                return None;
            }
            (&pre[..at], Some(tag))
        }
        None => (pre, None),
    };
    let (domain, path) = split_name(name)?;
    Some((domain, path, tag, digest))
}

/// The anchored name grammar `[(domain)/](path)`: the optional domain is tried
/// first, as Go's leftmost-first matching does.
fn split_name(name: &str) -> Option<(&str, &str)> {
    if let Some((d, p)) = name.split_once('/') {
        if is_domain_and_port(d) && is_path(p) {
            return Some((d, p));
        }
    }
    if is_path(name) {
        return Some(("", name));
    }
    None
}

fn is_path(p: &str) -> bool {
    !p.is_empty() && p.split('/').all(is_path_component)
}

fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // a separator run: `.`, `_`, `__`, or one or more `-`
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_domain_and_port(d: &str) -> bool {
    let (host, port) = if d.starts_with('[') {
        let Some(end) = d.find(']') else { return false };
        let inner = &d[1..end];
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        (&d[..=end], &d[end + 1..])
    } else {
        match d.find(':') {
            Some(i) => (&d[..i], &d[i..]),
            None => (d, ""),
        }
    };
    if !port.is_empty() {
        let Some(digits) = port.strip_prefix(':') else {
            return false;
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if host.starts_with('[') {
        return true;
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && is_word(b[0])
        && b[1..].iter().all(|&x| is_word(x) || x == b'.' || x == b'-')
}

/// The reference grammar's digest pattern:
/// `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`.
fn is_digest_syntax(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    if hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    alg.split(['-', '_', '+', '.']).all(|c| {
        let b = c.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(|x| x.is_ascii_alphanumeric())
    })
}

/// go-digest's `Digest.Validate` for the algorithms docker links in.
fn validate_digest(d: &str) -> Result<(), ReferenceError> {
    let (alg, hex) = d.split_once(':').ok_or(ReferenceError::DigestFormat)?;
    let size = match alg {
        "sha256" => 32,
        "sha384" => 48,
        "sha512" => 64,
        _ => {
            // go-digest: a well-formed but unknown algorithm is "unsupported"
            let well_formed = alg.split(['.', '+', '_', '-']).all(|c| {
                !c.is_empty()
                    && c.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
            return Err(if well_formed {
                ReferenceError::DigestUnsupported
            } else {
                ReferenceError::DigestFormat
            });
        }
    };
    if hex.len() != size * 2 {
        return Err(ReferenceError::DigestLength);
    }
    if !hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(ReferenceError::DigestFormat);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa";

    fn ok(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn err(s: &str) -> String {
        match Reference::parse(s) {
            Ok(r) => panic!("{s:?} should fail, got {r:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn good_references() {
        let d = format!("sha256:{HEX}");
        let t128 = "t".repeat(128);
        // input, domain, path, tag, digest
        #[allow(clippy::type_complexity)]
        let cases: Vec<(String, &str, &str, Option<&str>, Option<&str>)> = vec![
            ("busybox".into(), "docker.io", "library/busybox", None, None),
            (
                "centos:6.7".into(),
                "docker.io",
                "library/centos",
                Some("6.7"),
                None,
            ),
            ("user/repo".into(), "docker.io", "user/repo", None, None),
            (
                "docker.io/busybox".into(),
                "docker.io",
                "library/busybox",
                None,
                None,
            ),
            (
                "docker.io/library/busybox:1".into(),
                "docker.io",
                "library/busybox",
                Some("1"),
                None,
            ),
            (
                "index.docker.io/busybox".into(),
                "docker.io",
                "library/busybox",
                None,
                None,
            ),
            ("index.docker.io/u/r".into(), "docker.io", "u/r", None, None),
            ("localhost/a".into(), "localhost", "a", None, None),
            (
                "localhost:5000/a/b:t".into(),
                "localhost:5000",
                "a/b",
                Some("t"),
                None,
            ),
            ("127.0.0.1:5000/x".into(), "127.0.0.1:5000", "x", None, None),
            ("[::1]:5000/x".into(), "[::1]:5000", "x", None, None),
            (
                "[2001:db8::1]/x:v".into(),
                "[2001:db8::1]",
                "x",
                Some("v"),
                None,
            ),
            (
                format!("example.com/x@{d}"),
                "example.com",
                "x",
                None,
                Some(&d),
            ),
            (
                format!("x:tag@{d}"),
                "docker.io",
                "library/x",
                Some("tag"),
                Some(&d),
            ),
            (format!("x@{d}"), "docker.io", "library/x", None, Some(&d)),
            (
                "quay.io/a/b/c:v1.2-rc_3".into(),
                "quay.io",
                "a/b/c",
                Some("v1.2-rc_3"),
                None,
            ),
            (
                "a_b/c__d/e---f.g".into(),
                "docker.io",
                "a_b/c__d/e---f.g",
                None,
                None,
            ),
            ("Foo/bar".into(), "Foo", "bar", None, None),
            ("foo:5000/bar".into(), "foo:5000", "bar", None, None),
            // bare `localhost:5000` is `library/localhost` tagged `5000`, as in docker
            (
                "localhost:5000".into(),
                "docker.io",
                "library/localhost",
                Some("5000"),
                None,
            ),
            (
                "localhost".into(),
                "docker.io",
                "library/localhost",
                None,
                None,
            ),
            (
                "a:Tag_1".into(),
                "docker.io",
                "library/a",
                Some("Tag_1"),
                None,
            ),
            (
                format!("a:{}", "t".repeat(128)),
                "docker.io",
                "library/a",
                Some(&t128),
                None,
            ),
            // a first component with `.` that is no valid domain is read as a path
            ("a_b.c/d".into(), "", "a_b.c/d", None, None),
        ];
        for (input, domain, path, tag, digest) in cases {
            let r = ok(&input);
            assert_eq!(r.domain(), domain, "{input}");
            assert_eq!(r.path(), path, "{input}");
            assert_eq!(r.tag(), tag, "{input}");
            assert_eq!(r.digest(), digest, "{input}");
        }
    }

    #[test]
    fn bad_references() {
        let long_path = "a".repeat(256);
        let ok_path = "a".repeat(255);
        assert!(Reference::parse(&format!("x.io/{ok_path}")).is_ok());
        let cases: Vec<(String, String)> = vec![
            ("".into(), "invalid reference format".into()),
            (":tag".into(), "invalid reference format".into()),
            (
                "UPPER".into(),
                "invalid reference format: repository name (library/UPPER) must be lowercase"
                    .into(),
            ),
            (
                "library/Foo".into(),
                "invalid reference format: repository name (library/Foo) must be lowercase".into(),
            ),
            (
                "example.com/Foo:tag".into(),
                "invalid reference format: repository name (Foo) must be lowercase".into(),
            ),
            ("a//b".into(), "invalid reference format".into()),
            ("a/".into(), "invalid reference format".into()),
            ("/a".into(), "invalid reference format".into()),
            ("-a".into(), "invalid reference format".into()),
            ("a-".into(), "invalid reference format".into()),
            ("a..b".into(), "invalid reference format".into()),
            ("a___b".into(), "invalid reference format".into()),
            ("a:".into(), "invalid reference format".into()),
            ("a@".into(), "invalid reference format".into()),
            ("a@sha256:short".into(), "invalid reference format".into()),
            ("a:tag with space".into(), "invalid reference format".into()),
            (
                format!("a:{}", "t".repeat(129)),
                "invalid reference format".into(),
            ),
            ("a:.tag".into(), "invalid reference format".into()),
            (
                "localhost:5000:tag".into(),
                "invalid reference format".into(),
            ),
            ("a:b:c".into(), "invalid reference format".into()),
            ("a@b@c".into(), "invalid reference format".into()),
            ("-x.io/a".into(), "invalid reference format".into()),
            ("x.io:/a".into(), "invalid reference format".into()),
            ("[::1/a".into(), "invalid reference format".into()),
            (
                HEX.into(),
                format!(
                    "invalid repository name ({HEX}), cannot specify 64-byte hexadecimal strings"
                ),
            ),
            (
                format!("x.io/{long_path}"),
                "repository name must not be more than 255 characters".into(),
            ),
            (
                format!("a@sha256:{}", "a".repeat(40)),
                "invalid checksum digest length".into(),
            ),
            (
                format!("a@sha256:{}", HEX.to_uppercase()),
                "invalid checksum digest format".into(),
            ),
            (
                format!("a@md5:{}", "a".repeat(32)),
                "unsupported digest algorithm".into(),
            ),
            (
                format!("a:t@SHA256:{HEX}"),
                "invalid checksum digest format".into(),
            ),
            (
                format!("a@SHA256:{HEX}"),
                "invalid reference format: repository name (library/a@SHA256) must be lowercase"
                    .into(),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(err(&input), want, "input {input:?}");
        }
    }

    #[test]
    fn unicode_and_odd_input() {
        assert_eq!(err("ü"), "invalid reference format");
        assert_eq!(
            err("Ü"),
            "invalid reference format: repository name (library/Ü) must be lowercase"
        );
        for s in [
            "a/ü:t",
            "[",
            "[]/a",
            "a:ü",
            "@",
            ":",
            "/",
            "a@sha256:",
            "ü.io/a",
            "a/b/",
        ] {
            assert!(Reference::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn full_id_helper() {
        assert!(is_full_id(HEX));
        assert!(!is_full_id(&HEX[..63]));
        assert!(!is_full_id(&HEX.to_uppercase()));
        assert!(!is_full_id(&format!("sha256:{HEX}")));
        // 63 hex chars are a valid (if odd) name
        assert!(Reference::parse(&HEX[..63]).is_ok());
    }

    #[test]
    fn accessors_and_strings() {
        let d = format!("sha256:{HEX}");
        // input, name, familiar_name, full_string (with default tag), familiar_string (with default tag)
        let cases: Vec<(String, &str, &str, String, String)> = vec![
            (
                "busybox".into(),
                "docker.io/library/busybox",
                "busybox",
                "docker.io/library/busybox:latest".into(),
                "busybox:latest".into(),
            ),
            (
                "centos:6.7".into(),
                "docker.io/library/centos",
                "centos",
                "docker.io/library/centos:6.7".into(),
                "centos:6.7".into(),
            ),
            (
                "user/repo".into(),
                "docker.io/user/repo",
                "user/repo",
                "docker.io/user/repo:latest".into(),
                "user/repo:latest".into(),
            ),
            (
                "docker.io/library/a/b".into(),
                "docker.io/library/a/b",
                "library/a/b",
                "docker.io/library/a/b:latest".into(),
                "library/a/b:latest".into(),
            ),
            (
                "localhost:5000/a/b:t".into(),
                "localhost:5000/a/b",
                "localhost:5000/a/b",
                "localhost:5000/a/b:t".into(),
                "localhost:5000/a/b:t".into(),
            ),
            (
                format!("x:tag@{d}"),
                "docker.io/library/x",
                "x",
                format!("docker.io/library/x:tag@{d}"),
                format!("x:tag@{d}"),
            ),
            (
                format!("example.com/x@{d}"),
                "example.com/x",
                "example.com/x",
                format!("example.com/x@{d}"),
                format!("example.com/x@{d}"),
            ),
        ];
        for (input, name, fam, full, fams) in cases {
            let r = ok(&input).with_default_tag();
            assert_eq!(r.name(), name, "{input}");
            assert_eq!(r.familiar_name(), fam, "{input}");
            assert_eq!(r.full_string(), full, "{input}");
            assert_eq!(r.to_string(), full, "{input}");
            assert_eq!(r.familiar_string(), fams, "{input}");
        }
        assert_eq!(ok("busybox").full_string(), "docker.io/library/busybox");
        assert_eq!(ok("busybox").tag(), None);
        assert_eq!(
            ok("busybox").with_tag("1.36").unwrap().familiar_string(),
            "busybox:1.36"
        );
        assert_eq!(ok("busybox").with_tag("-x"), Err(ReferenceError::TagFormat));
        assert_eq!(
            ok("a:b").without_tag_or_digest().full_string(),
            "docker.io/library/a"
        );
        let r: Reference = "alpine:3".parse().unwrap();
        assert_eq!(r.familiar_string(), "alpine:3");
    }

    #[test]
    fn familiar_shortening() {
        for (full, short) in [
            ("docker.io/library/busybox:latest", "busybox:latest"),
            ("docker.io/user/repo:1", "user/repo:1"),
            ("localhost:5000/a:b", "localhost:5000/a:b"),
            ("index.docker.io/library/x", "x"),
            ("not a ref", "not a ref"),
        ] {
            assert_eq!(familiar(full), short);
        }
    }

    #[test]
    fn round_trip_of_full_strings() {
        for s in ["busybox", "a/b:c", "localhost:5000/x/y:z", "[::1]:5000/x"] {
            let r = ok(s);
            assert_eq!(ok(&r.full_string()), r);
            assert_eq!(ok(&r.familiar_string()), r);
        }
    }
}
