//! Image configuration, as the OCI image spec and docker write it.
//!
//! strata keeps its own types here rather than `oci_spec::image::ImageConfiguration`:
//! that type keeps labels in a `HashMap` (so the serialised bytes, and with them the
//! image ID, change from run to run) and drops docker's fields (`Healthcheck`, `Shell`,
//! `OnBuild`, …). These types serialise maps in sorted order and carry every field they
//! do not know through `extra`, so a config read from a registry round-trips unchanged.

use super::platform::Platform;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The image configuration blob (`application/vnd.oci.image.config.v1+json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// When the image was made (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The platform: `architecture`, `os` and `variant`.
    #[serde(flatten)]
    pub platform: Platform,
    /// The defaults for containers run from the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// The layers' DiffIDs.
    pub rootfs: RootFs,
    /// One entry per instruction that made the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Fields strata does not interpret, kept as they are.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Execution defaults (`config` in the image config).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `USER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `EXPOSE`, as a set (`{"80/tcp": {}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    /// `ENV`, as `KEY=value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// `ENTRYPOINT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// `CMD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// `VOLUME`, as a set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    /// `WORKDIR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// `LABEL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `STOPSIGNAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Fields strata does not interpret (`Healthcheck`, `Shell`, `OnBuild`, …).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The `rootfs` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub typ: String,
    /// DiffIDs, bottom layer first.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// One history entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The command that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// A comment (`import -m`, `commit -m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the step made no layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
}

impl ImageConfig {
    /// Parses a config blob.
    pub fn from_slice(data: &[u8]) -> serde_json::Result<Self> {
        serde_json::from_slice(data)
    }

    /// Serialises the config canonically (sorted keys, no spaces).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("config serialises")
    }

    /// Records a step that made the layer `diff_id` (commit, build): the DiffID and its
    /// history entry.
    pub fn push_layer(&mut self, diff_id: &store_layout::Digest, history: History) {
        self.rootfs.diff_ids.push(diff_id.to_string());
        self.history.push(history);
    }

    /// Records a step that made no layer (build's `ENV`, `CMD`, …).
    pub fn push_empty_step(&mut self, history: History) {
        self.history.push(History {
            empty_layer: Some(true),
            ..history
        });
    }

    /// The labels, or an empty map.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default()
    }
}

pub use super::platform::host_arch;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_unknown_fields_and_sorts_maps() {
        let src = br#"{"architecture":"amd64","os":"linux","config":{"Healthcheck":{"Test":["NONE"]},"Labels":{"b":"2","a":"1"}},"rootfs":{"type":"layers","diff_ids":[]},"os.version":"x"}"#;
        let c = ImageConfig::from_slice(src).unwrap();
        let out = String::from_utf8(c.to_bytes()).unwrap();
        assert!(out.contains(r#""Healthcheck":{"Test":["NONE"]}"#), "{out}");
        assert!(out.contains(r#""Labels":{"a":"1","b":"2"}"#), "{out}");
        assert!(out.contains(r#""os.version":"x""#), "{out}");
    }

    #[test]
    fn the_platform_reads_and_writes_in_place() {
        let src = br#"{"created":"x","architecture":"arm","os":"linux","variant":"v7","config":{},"rootfs":{"type":"layers","diff_ids":[]},"os.version":"1"}"#;
        let c = ImageConfig::from_slice(src).unwrap();
        assert_eq!(c.platform.variant.as_deref(), Some("v7"));
        assert!(!c.extra.contains_key("architecture"), "{:?}", c.extra);
        assert_eq!(c.to_bytes(), src);
    }
}
