//! Image archives as `save` writes and `load` reads them: a docker archive
//! (`manifest.json`, `repositories`) and an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/`) in one tar, as docker 25 and later write it.
//!
//! - this module: the documents' types and member names;
//! - `writer`: save;
//! - `load`: load, in steps: `reader` reads the archive in one pass (with `follow`,
//!   unpacking layers while they stream in, and `names`, member names kept inside the
//!   archive), `contents` says which members make which image, and `load` checks,
//!   unpacks and writes the images;
//! - `error`: [`ArchiveError`].

pub mod contents;
pub mod error;
pub mod follow;
pub mod load;
pub mod names;
pub mod reader;
pub mod writer;

pub use error::ArchiveError;

pub use crate::image::document::{Descriptor, Index, Manifest};
use serde::{Deserialize, Serialize};
use store_layout::Digest;

/// The most bytes of a JSON document (`manifest.json`, `index.json`, a config or a
/// manifest) that is parsed.
pub const MAX_JSON: u64 = 16 << 20;

/// Annotation with the full reference (containerd, docker).
pub const ANN_IMAGE_NAME: &str = "io.containerd.image.name";
/// Annotation with the tag (OCI; skopeo writes `name:tag` here).
pub const ANN_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// One element of `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DockerManifestEntry {
    /// Member holding the config (`blobs/sha256/HEX` or `HEX.json`).
    #[serde(rename = "Config")]
    pub config: String,
    /// Familiar references (`busybox:latest`).
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    /// Members holding the layers, bottom first.
    #[serde(rename = "Layers", default)]
    pub layers: Vec<String>,
}

/// `blobs/sha256/HEX` for a digest.
pub fn blob_member(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// The digest a member's name claims: `blobs/sha256/HEX` or `HEX.json` (older docker
/// configs); `None` for other names (`ID/layer.tar`).
pub fn digest_of_member(name: &str) -> Option<Digest> {
    let name = name.trim_start_matches("./");
    let hex = name
        .strip_prefix("blobs/sha256/")
        .or_else(|| name.strip_suffix(".json"))?;
    Digest::parse(&format!("sha256:{hex}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_digests() {
        let hex = "a".repeat(64);
        let d = Digest::parse(&format!("sha256:{hex}")).unwrap();
        assert_eq!(
            digest_of_member(&format!("blobs/sha256/{hex}")),
            Some(d.clone())
        );
        assert_eq!(
            digest_of_member(&format!("./blobs/sha256/{hex}")),
            Some(d.clone())
        );
        assert_eq!(digest_of_member(&format!("{hex}.json")), Some(d));
        assert_eq!(digest_of_member(&format!("{hex}/layer.tar")), None);
        assert_eq!(digest_of_member("blobs/sha256/xyz"), None);
    }
}
