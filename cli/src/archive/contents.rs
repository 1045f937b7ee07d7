//! What an archive says it holds: from `manifest.json` (docker, also the legacy
//! `ID/layer.tar` form) or else `index.json` (OCI; an image index in it, nested or not,
//! resolved to this machine's platform), the members that make each image, and its tags.

use super::reader::Extracted;
use super::{
    blob_member, digest_of_member, ArchiveError, Descriptor, DockerManifestEntry, Index, Manifest,
    ANN_IMAGE_NAME, ANN_REF_NAME,
};
use crate::image::media_type;
use crate::image::platform::{select, Platform};
use crate::reference::Reference;
use store_layout::Digest;

/// How deep image indexes may nest in an OCI archive.
const MAX_INDEX_DEPTH: usize = 4;

/// An image the archive describes, before anything is verified.
pub struct ArchivedImage {
    /// Member holding the config.
    pub config: String,
    /// The config's digest when something names it (member name, OCI descriptor).
    pub config_digest: Option<Digest>,
    /// Members holding the layers and the blob digests that name them, if any.
    pub layers: Vec<(String, Option<Digest>)>,
    /// Full references.
    pub tags: Vec<String>,
}

/// The images the archive holds, in its order.
pub fn archived_images(ar: &Extracted) -> Result<Vec<ArchivedImage>, ArchiveError> {
    if ar.has_file("manifest.json")? {
        docker_images(ar)
    } else if ar.has_file("index.json")? {
        oci_images(ar)
    } else {
        Err(ArchiveError::invalid("no manifest.json or index.json"))
    }
}

fn docker_images(ar: &Extracted) -> Result<Vec<ArchivedImage>, ArchiveError> {
    let data = ar.json("manifest.json")?;
    let entries: Vec<DockerManifestEntry> = serde_json::from_slice(&data)
        .map_err(|e| ArchiveError::invalid(format!("manifest.json is not valid: {e}")))?;
    if entries.is_empty() {
        return Err(ArchiveError::invalid("manifest.json lists no images"));
    }
    entries
        .into_iter()
        .map(|e| {
            let tags = e
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| full_tag(t))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ArchivedImage {
                config_digest: digest_of_member(&e.config),
                config: e.config,
                layers: e
                    .layers
                    .into_iter()
                    .map(|l| {
                        let d = if l.trim_start_matches("./").starts_with("blobs/") {
                            digest_of_member(&l)
                        } else {
                            None
                        };
                        (l, d)
                    })
                    .collect(),
                tags,
            })
        })
        .collect()
}

/// A tag as the archive names it, as a full reference (`:latest` by default).
fn full_tag(t: &str) -> Result<String, ArchiveError> {
    let r = Reference::parse(t).map_err(|e| ArchiveError::invalid(format!("tag {t:?}: {e}")))?;
    if r.digest().is_some() {
        return Err(ArchiveError::invalid(format!(
            "tag {t:?} is a digest reference"
        )));
    }
    Ok(r.with_default_tag().full_string())
}

/// The member holding the blob `digest`, and the digest parsed.
fn oci_blob_member(digest: &str) -> Result<(String, Digest), ArchiveError> {
    let d = Digest::parse(digest)
        .map_err(|e| ArchiveError::invalid(format!("unsupported digest {digest:?}: {e}")))?;
    Ok((blob_member(&d), d))
}

/// The digest and bytes of the image manifest `desc` names: the manifest itself, or, for
/// an image index (or docker manifest list, also nested), the manifest in it for this
/// machine's platform (`linux/amd64` on x86-64), as docker loads a multi-platform archive.
fn image_manifest(
    ar: &Extracted,
    desc: &Descriptor,
    depth: usize,
) -> Result<(Digest, Vec<u8>), ArchiveError> {
    let (member, digest) = oci_blob_member(&desc.digest)?;
    let bytes = ar.json(&member)?;
    let got = Digest::of(&bytes);
    if got != digest {
        return Err(ArchiveError::DigestMismatch { want: digest, got });
    }
    let is_index = media_type::is_index(&desc.media_type)
        || (desc.media_type.is_empty()
            && serde_json::from_slice::<serde_json::Value>(&bytes)
                .is_ok_and(|v| v.get("manifests").is_some() && v.get("config").is_none()));
    if !is_index {
        return Ok((digest, bytes));
    }
    if depth >= MAX_INDEX_DEPTH {
        return Err(ArchiveError::invalid(format!(
            "image indexes nest more than {MAX_INDEX_DEPTH} deep"
        )));
    }
    let index: Index = serde_json::from_slice(&bytes)
        .map_err(|e| ArchiveError::invalid(format!("index {digest} is not valid: {e}")))?;
    let host = Platform::host();
    match select(&index.manifests, |d| d.platform.as_ref(), &host) {
        Some(d) => image_manifest(ar, d, depth + 1),
        None => Err(ArchiveError::invalid(format!(
            "index {digest} has no image for {}/{}",
            host.os, host.architecture
        ))),
    }
}

/// The image's tag from its descriptor's annotations, if any.
fn annotated_tag(desc: &Descriptor) -> Result<Option<String>, ArchiveError> {
    let tag = desc.annotations.get(ANN_IMAGE_NAME).cloned().or_else(|| {
        // skopeo writes `name:tag` here, docker and the OCI spec only the tag.
        desc.annotations
            .get(ANN_REF_NAME)
            .filter(|n| n.contains(':') || n.contains('/'))
            .cloned()
    });
    tag.map(|t| full_tag(&t)).transpose()
}

fn oci_images(ar: &Extracted) -> Result<Vec<ArchivedImage>, ArchiveError> {
    let data = ar.json("index.json")?;
    let index: Index = serde_json::from_slice(&data)
        .map_err(|e| ArchiveError::invalid(format!("index.json is not valid: {e}")))?;
    let mut images: Vec<ArchivedImage> = Vec::new();
    for desc in &index.manifests {
        let (digest, bytes) = image_manifest(ar, desc, 0)?;
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| ArchiveError::invalid(format!("manifest {digest} is not valid: {e}")))?;
        let (config, config_digest) = oci_blob_member(&m.config.digest)?;
        let layers = m
            .layers
            .iter()
            .map(|l| oci_blob_member(&l.digest).map(|(p, d)| (p, Some(d))))
            .collect::<Result<Vec<_>, _>>()?;
        let tags: Vec<String> = annotated_tag(desc)?.into_iter().collect();
        // One image under several names is listed once per name.
        if let Some(p) = images
            .iter_mut()
            .find(|p| p.config_digest.as_ref() == Some(&config_digest))
        {
            p.tags.extend(tags);
            continue;
        }
        images.push(ArchivedImage {
            config,
            config_digest: Some(config_digest),
            layers,
            tags,
        });
    }
    if images.is_empty() {
        return Err(ArchiveError::invalid("index.json lists no images"));
    }
    Ok(images)
}
