//! The documents that describe an image as strata reads them (manifests, image indexes
//! and manifest lists, OCI or docker) and as `save` writes an archive's `index.json`.
//!
//! These are small serde types rather than `oci_spec::image::{Descriptor, ImageIndex,
//! ImageManifest}`: docker and older registries leave out a descriptor's `mediaType`,
//! which `oci-spec` requires; its annotations are a `HashMap`, so an `index.json`
//! written with it would change from run to run; and its own digest checks would replace
//! strata's messages. The manifests strata makes are built with `oci-spec`
//! (`image::manifest`).

use super::media_type;
use super::platform::Platform;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A content descriptor (the fields strata uses).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Descriptor {
    /// Media type.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// `sha256:HEX`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The platform of the image, in an image index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// URLs of a foreign layer (which strata does not pull).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
}

/// An image index (`index.json`) or manifest list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Index {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// Media type.
    #[serde(
        rename = "mediaType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub media_type: String,
    /// The manifests.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// An image manifest, OCI or docker v2.2 (the fields strata uses).
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// Media type, when the manifest says.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// The config.
    pub config: Descriptor,
    /// The layers, bottom first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
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
            media_type::OCI_MANIFEST.to_string()
        }
    }
}
