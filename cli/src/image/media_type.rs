//! Every media type strata reads or writes, in one place.

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest v2 schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The prefix of docker's schema 1 manifests (never pulled).
pub const DOCKER_SCHEMA1_PREFIX: &str = "application/vnd.docker.distribution.manifest.v1";

/// An uncompressed OCI layer.
pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// A gzip-compressed OCI layer.
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// A zstd-compressed OCI layer.
pub const LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// A gzip-compressed OCI layer that registries need not redistribute.
pub const LAYER_NONDISTRIBUTABLE_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
/// Docker's uncompressed layer.
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Docker's gzip-compressed layer.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// The `Accept` header for manifests: indexes, manifest lists and image manifests.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Whether `mt` names an image index or a manifest list.
pub fn is_index(mt: &str) -> bool {
    mt == OCI_INDEX || mt == DOCKER_LIST
}

/// Whether `mt` names an uncompressed layer.
pub fn is_plain_layer(mt: &str) -> bool {
    mt == LAYER_TAR || mt == DOCKER_LAYER_TAR
}

/// Whether strata can unpack a layer of media type `mt` (an empty one is found by
/// content).
pub fn is_unpackable_layer(mt: &str) -> bool {
    mt.is_empty()
        || matches!(
            mt,
            LAYER_TAR
                | LAYER_GZIP
                | LAYER_ZSTD
                | DOCKER_LAYER_GZIP
                | DOCKER_LAYER_TAR
                | LAYER_NONDISTRIBUTABLE_GZIP
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_header_names_every_manifest_type() {
        for mt in [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST] {
            assert!(ACCEPT_MANIFESTS.split(", ").any(|a| a == mt), "{mt}");
        }
    }

    #[test]
    fn layers() {
        assert!(is_unpackable_layer(""));
        assert!(is_unpackable_layer(DOCKER_LAYER_GZIP));
        assert!(!is_unpackable_layer(
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
        ));
        assert!(is_plain_layer(DOCKER_LAYER_TAR) && !is_plain_layer(LAYER_GZIP));
        assert!(is_index(DOCKER_LIST) && !is_index(OCI_MANIFEST));
    }
}
