//! The documents a registry serves: image manifests (OCI and Docker v2.2), image indexes
//! and manifest lists. Media types are in `image::media_type`, platforms and choosing
//! one in `image::platform`.

use crate::image::media_type;
use serde::Deserialize;

// Re-exported for `push` and `commands::pull`, which name them from here.
pub use crate::image::media_type::OCI_MANIFEST;
pub use crate::image::platform::Platform;

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
        media_type::is_index(mt) || (self.manifests.is_some() && self.config.is_none())
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
            media_type::OCI_INDEX.to_string()
        } else {
            OCI_MANIFEST.to_string()
        }
    }
}
