//! The JSON documents strata reads from registries and archives: a served manifest or
//! index (`Document`), an archive's `index.json` (`Index`) and manifests (`Manifest`),
//! `manifest.json` entries, and image configs. Each must parse or fail without a panic;
//! what parses goes through the code that uses it (platform selection, media types, a
//! config's round trip through the bytes strata writes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::archive::DockerManifestEntry;
use strata::image::document::{Document, Index, Manifest};
use strata::image::platform::{select, Platform};
use strata::image::{media_type, ImageConfig};

fn descriptors(list: &[strata::image::document::Descriptor]) {
    for d in list {
        let _ = store_layout::Digest::parse(&d.digest);
        let _ = media_type::is_index(&d.media_type);
        let _ = media_type::is_unpackable_layer(&d.media_type);
        if let Some(p) = &d.platform {
            let _ = p.normalized();
            let _ = p.to_string();
        }
    }
    for want in [
        Platform::host(),
        Platform::parse(Some("linux/arm/v7")).unwrap(),
    ] {
        let _ = select(list, |d| d.platform.as_ref(), &want);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = serde_json::from_slice::<Document>(data) {
        for ct in [
            "",
            "application/vnd.oci.image.index.v1+json; charset=x",
            "text/plain",
        ] {
            let _ = doc.is_index(ct);
            let _ = doc.kind(ct);
        }
        descriptors(doc.manifests.as_deref().unwrap_or_default());
        descriptors(doc.layers.as_deref().unwrap_or_default());
    }
    if let Ok(index) = serde_json::from_slice::<Index>(data) {
        descriptors(&index.manifests);
        let again = serde_json::to_vec(&index).expect("an index serialises");
        serde_json::from_slice::<Index>(&again).expect("a written index reads back");
    }
    if let Ok(m) = serde_json::from_slice::<Manifest>(data) {
        descriptors(&m.layers);
    }
    if let Ok(entries) = serde_json::from_slice::<Vec<DockerManifestEntry>>(data) {
        for e in &entries {
            let _ = strata::archive::digest_of_member(&e.config);
            for l in &e.layers {
                let _ = strata::archive::names::clean_name(l);
            }
        }
    }
    if let Ok(cfg) = ImageConfig::from_slice(data) {
        let bytes = cfg.to_bytes();
        let again = ImageConfig::from_slice(&bytes).expect("a written config reads back");
        assert_eq!(again.to_bytes(), bytes, "a config's bytes are stable");
        let _ = cfg.labels();
    }
});
