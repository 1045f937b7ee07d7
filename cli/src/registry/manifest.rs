//! The documents a registry serves: image manifests (OCI and Docker v2.2), image indexes
//! and manifest lists, and choosing the manifest for a platform.

use serde::Deserialize;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest v2 schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker's config media type.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker's gzip layer media type.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// The `Accept` header for manifests.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// A platform (`os/arch[/variant]`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Platform {
    /// `architecture`.
    #[serde(default)]
    pub architecture: String,
    /// `os`.
    #[serde(default)]
    pub os: String,
    /// `variant`.
    #[serde(default)]
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A content descriptor.
#[derive(Debug, Clone, Deserialize)]
pub struct Descriptor {
    /// Media type.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// `sha256:…`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Platform, in an index.
    #[serde(default)]
    pub platform: Option<Platform>,
    /// URLs of foreign layers.
    #[serde(default)]
    pub urls: Vec<String>,
}

/// A manifest or an index, as served.
#[derive(Debug, Clone, Deserialize)]
pub struct Document {
    /// `schemaVersion`.
    #[serde(rename = "schemaVersion", default)]
    pub schema_version: u32,
    /// Media type, when present.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// An index's manifests.
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
    /// A manifest's config.
    #[serde(default)]
    pub config: Option<Descriptor>,
    /// A manifest's layers.
    #[serde(default)]
    pub layers: Option<Vec<Descriptor>>,
}

impl Document {
    /// Whether this is an index or manifest list (from the body, or the content type
    /// when the body does not say).
    pub fn is_index(&self, content_type: &str) -> bool {
        let mt = if self.media_type.is_empty() {
            content_type
        } else {
            &self.media_type
        };
        mt == OCI_INDEX || mt == DOCKER_LIST || (self.manifests.is_some() && self.config.is_none())
    }

    /// The media type to store the document under.
    pub fn kind(&self, content_type: &str) -> String {
        if !self.media_type.is_empty() {
            self.media_type.clone()
        } else if content_type.starts_with("application/vnd.") {
            content_type
                .split(';')
                .next()
                .unwrap_or(content_type)
                .trim()
                .to_string()
        } else if self.manifests.is_some() {
            OCI_INDEX.to_string()
        } else {
            OCI_MANIFEST.to_string()
        }
    }
}

/// The default variant for an architecture, as containerd's platform matcher has it.
fn default_variant(arch: &str) -> Option<&'static str> {
    match arch {
        "arm64" => Some("v8"),
        "arm" => Some("v7"),
        _ => None,
    }
}

/// Picks the manifest for `want` in an index: os and architecture equal, and the
/// variant equal when `want` names one (an unnamed variant matches the default one,
/// or none). Attestation entries (`unknown/unknown`) never match.
pub fn select<'a>(manifests: &'a [Descriptor], want: &Platform) -> Option<&'a Descriptor> {
    let candidates = manifests.iter().filter(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.os == want.os && p.architecture == want.architecture)
    });
    let mut best: Option<&Descriptor> = None;
    for d in candidates {
        let v = d.platform.as_ref().and_then(|p| p.variant.as_deref());
        match want.variant.as_deref() {
            Some(w) => {
                if v == Some(w) || (v.is_none() && default_variant(&want.architecture) == Some(w)) {
                    return Some(d);
                }
            }
            None => {
                if v.is_none() || v == default_variant(&want.architecture) {
                    return Some(d);
                }
                best = best.or(Some(d));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(os: &str, arch: &str, variant: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: format!("{os}/{arch}/{variant:?}"),
            size: 1,
            platform: Some(Platform {
                os: os.into(),
                architecture: arch.into(),
                variant: variant.map(str::to_string),
            }),
            urls: vec![],
        }
    }

    #[test]
    fn platforms() {
        let list = vec![
            desc("unknown", "unknown", None),
            desc("linux", "arm", Some("v6")),
            desc("linux", "arm", Some("v7")),
            desc("linux", "amd64", None),
            desc("linux", "arm64", Some("v8")),
        ];
        let p = |os: &str, a: &str, v: Option<&str>| Platform {
            os: os.into(),
            architecture: a.into(),
            variant: v.map(str::to_string),
        };
        assert_eq!(
            select(&list, &p("linux", "amd64", None)).unwrap().digest,
            list[3].digest
        );
        assert_eq!(
            select(&list, &p("linux", "arm64", None)).unwrap().digest,
            list[4].digest
        );
        assert_eq!(
            select(&list, &p("linux", "arm", None)).unwrap().digest,
            list[2].digest
        );
        assert_eq!(
            select(&list, &p("linux", "arm", Some("v6")))
                .unwrap()
                .digest,
            list[1].digest
        );
        assert!(select(&list, &p("linux", "s390x", None)).is_none());
        assert!(select(&list, &p("windows", "amd64", None)).is_none());
    }
}
