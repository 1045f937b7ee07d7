//! Manifests strata writes for images it makes, with the `oci-spec` types.

use oci_spec::image::{Descriptor, ImageManifest, ImageManifestBuilder, MediaType};
use store_layout::{BlobRef, Digest};

pub use super::media_type::{LAYER_GZIP, LAYER_TAR, LAYER_ZSTD};

/// Builds an OCI image manifest for a config and its layer blobs.
pub fn oci_manifest(config: &Digest, config_size: u64, layers: &[BlobRef]) -> ImageManifest {
    let config_desc = Descriptor::new(MediaType::ImageConfig, config_size, oci_digest(config));
    let layer_descs: Vec<Descriptor> = layers
        .iter()
        .map(|l| {
            Descriptor::new(
                MediaType::from(l.media_type.as_str()),
                l.size,
                oci_digest(&l.digest),
            )
        })
        .collect();
    ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config_desc)
        .layers(layer_descs)
        .build()
        .expect("manifest fields are all set")
}

/// Serialises a manifest canonically.
pub fn manifest_bytes(m: &ImageManifest) -> Vec<u8> {
    serde_json::to_vec(m).expect("manifest serialises")
}

fn oci_digest(d: &Digest) -> oci_spec::image::Digest {
    d.as_str()
        .parse()
        .expect("store digests are valid OCI digests")
}
