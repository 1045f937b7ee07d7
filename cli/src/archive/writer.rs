//! Writing images to one tar archive that is both a docker archive (`manifest.json`,
//! `repositories`) and an OCI image layout (`oci-layout`, `index.json`, `blobs/`), as
//! docker 25 and later write it, or only one of the two.
//!
//! The archive is reproducible: members are sorted, every blob is stored once, as it is
//! in the store, and headers carry fixed times, owners and modes, so saving the same
//! images twice gives the same bytes. Each blob is read once: this thread writes the
//! chunks while a second thread re-hashes them, and a blob that no longer matches its
//! digest fails the save.

use super::{
    blob_member, ArchiveError, Descriptor, DockerManifestEntry, Index, Manifest, ANN_IMAGE_NAME,
    ANN_REF_NAME, MAX_JSON,
};
use crate::image::media_type::{OCI_INDEX, OCI_MANIFEST};
use crate::ingest::read_full;
use crate::progress::ByteBar;
use crate::reference::{familiar, Reference};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::sync::mpsc::sync_channel;
use store_layout::{Digest, ImageRecord, Sha256Writer, Store};

/// Bytes hashed at a time.
const CHUNK: usize = 1 << 20;

/// Which layouts the archive holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layouts {
    /// `manifest.json` and `repositories`.
    pub docker: bool,
    /// `oci-layout` and `index.json`.
    pub oci: bool,
}

/// One image to write.
pub struct SavedImage {
    id: Digest,
    manifest: Digest,
    manifest_media_type: String,
    manifest_size: u64,
    layers: Vec<Digest>,
    /// Full references.
    tags: Vec<String>,
}

impl SavedImage {
    /// The stored image `id` (whose record is `record`), named `tag` if given; `arg`
    /// names it in messages.
    pub fn read(
        store: &Store,
        id: Digest,
        record: &ImageRecord,
        tag: Option<String>,
        arg: &str,
    ) -> Result<SavedImage, ArchiveError> {
        let bytes =
            read_small_blob(store, &record.manifest).map_err(|e| ArchiveError::Manifest {
                image: arg.to_string(),
                source: Box::new(e),
            })?;
        let m: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| ArchiveError::InvalidManifest {
                image: arg.to_string(),
                source: e,
            })?;
        let config = Digest::parse(&m.config.digest)?;
        if config != id {
            return Err(ArchiveError::Stored(format!(
                "the manifest of {arg} names config {config}, not the image's {id}"
            )));
        }
        let layers = m
            .layers
            .iter()
            .map(|l| Digest::parse(&l.digest))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SavedImage {
            id,
            manifest: record.manifest.clone(),
            manifest_media_type: if m.media_type.is_empty() {
                OCI_MANIFEST.to_string()
            } else {
                m.media_type.clone()
            },
            manifest_size: bytes.len() as u64,
            layers,
            tags: tag.into_iter().collect(),
        })
    }

    /// The image ID.
    pub fn id(&self) -> &Digest {
        &self.id
    }

    /// Adds the full reference `tag`, once.
    pub fn add_tag(&mut self, tag: String) {
        if !self.tags.contains(&tag) {
            self.tags.push(tag);
        }
    }
}

/// Reads a stored document of at most [`MAX_JSON`] bytes, checking its digest.
fn read_small_blob(store: &Store, d: &Digest) -> Result<Vec<u8>, ArchiveError> {
    let f = store.open_blob(d)?;
    let mut data = Vec::new();
    f.take(MAX_JSON + 1)
        .read_to_end(&mut data)
        .map_err(ArchiveError::io(format!("cannot read blob {d}")))?;
    if data.len() as u64 > MAX_JSON {
        return Err(ArchiveError::TooLarge(d.clone(), MAX_JSON));
    }
    if Digest::of(&data) != *d {
        return Err(ArchiveError::Corrupt(d.clone()));
    }
    Ok(data)
}

fn header(path: &str, size: u64, dir: bool) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    h.set_size(size);
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    // The names are short ASCII; set_path cannot fail for them.
    h.set_path(path)
        .expect("archive member names fit a ustar header");
    h.set_cksum();
    h
}

/// The archive's documents for `images`: `manifest.json`, `index.json` and
/// `repositories`, in that order.
fn documents(images: &[SavedImage]) -> Result<[Vec<u8>; 3], ArchiveError> {
    let mut manifest_json = Vec::new();
    let mut index = Index {
        schema_version: 2,
        media_type: OCI_INDEX.to_string(),
        manifests: Vec::new(),
    };
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for s in images {
        let mut repo_tags = Vec::new();
        let desc = |annotations| Descriptor {
            media_type: s.manifest_media_type.clone(),
            digest: s.manifest.to_string(),
            size: s.manifest_size,
            annotations,
            platform: None,
            urls: Vec::new(),
        };
        for t in &s.tags {
            repo_tags.push(familiar(t));
            let r = Reference::parse(t)
                .map_err(|e| ArchiveError::Stored(format!("stored tag {t:?}: {e}")))?;
            let tag = r.tag().unwrap_or("latest").to_string();
            index.manifests.push(desc(BTreeMap::from([
                (ANN_IMAGE_NAME.to_string(), t.clone()),
                (ANN_REF_NAME.to_string(), tag.clone()),
            ])));
            if let Some(top) = s.layers.last() {
                repositories
                    .entry(r.familiar_name())
                    .or_default()
                    .insert(tag, top.hex().to_string());
            }
        }
        if s.tags.is_empty() {
            index.manifests.push(desc(BTreeMap::new()));
        }
        manifest_json.push(DockerManifestEntry {
            config: blob_member(&s.id),
            repo_tags: Some(repo_tags),
            layers: s.layers.iter().map(blob_member).collect(),
        });
    }
    Ok([json(&manifest_json), json(&index), json(&repositories)])
}

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("archive documents serialise")
}

/// Writes `images` as one archive to `out`, with a progress bar on standard error.
pub fn write_archive<W: Write>(
    store: &Store,
    images: &[SavedImage],
    layouts: Layouts,
    out: W,
) -> Result<(), ArchiveError> {
    // Every blob once, in digest order. A docker archive names no manifests.
    let mut blobs: BTreeSet<Digest> = BTreeSet::new();
    for s in images {
        blobs.insert(s.id.clone());
        if layouts.oci {
            blobs.insert(s.manifest.clone());
        }
        blobs.extend(s.layers.iter().cloned());
    }
    let [manifest_json, index, repositories] = documents(images)?;

    let mut tar = tar::Builder::new(out);
    for dir in ["blobs/", "blobs/sha256/"] {
        tar.append(&header(dir, 0, true), io::empty())
            .map_err(ArchiveError::Output)?;
    }
    let blobs: Vec<Digest> = blobs.into_iter().collect();
    let mut sizes = Vec::with_capacity(blobs.len());
    for d in &blobs {
        let len = store.open_blob(d)?.metadata().map(|m| m.len());
        sizes.push(len.map_err(ArchiveError::Output)?);
    }
    let bar = ByteBar::new("Saving", Some(sizes.iter().sum()));
    let r = write_blobs(store, &blobs, &sizes, &mut tar, &bar);
    bar.finish();
    r?;
    let files: [(&str, bool, Vec<u8>); 4] = [
        ("index.json", layouts.oci, index),
        ("manifest.json", layouts.docker, manifest_json),
        (
            "oci-layout",
            layouts.oci,
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("repositories", layouts.docker, repositories),
    ];
    for (name, _, data) in files.into_iter().filter(|f| f.1) {
        tar.append(&header(name, data.len() as u64, false), &data[..])
            .map_err(ArchiveError::Output)?;
    }
    let mut out = tar.into_inner().map_err(ArchiveError::Output)?;
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(ArchiveError::Closed),
        r => r.map_err(ArchiveError::Output),
    }
}

/// Appends the blobs to the archive, each as it is in the store, reading each once: this
/// thread reads and writes the bytes while a second thread hashes them, and a blob that
/// does not match its digest fails the save.
fn write_blobs<W: Write>(
    store: &Store,
    blobs: &[Digest],
    sizes: &[u64],
    tar: &mut tar::Builder<W>,
    bar: &ByteBar,
) -> Result<(), ArchiveError> {
    let stopped = || ArchiveError::Stopped("the thread hashing blobs stopped");
    std::thread::scope(|s| {
        // Chunks to hash (`None` ends a blob), chunks handed back for reuse, digests.
        let (tx, rx) = sync_channel::<Option<Vec<u8>>>(4);
        let (back_tx, back_rx) = sync_channel::<Vec<u8>>(8);
        let (done_tx, done_rx) = sync_channel::<(Digest, u64)>(1);
        s.spawn(move || {
            let mut h = Sha256Writer::new(io::sink());
            for chunk in rx {
                match chunk {
                    Some(buf) => {
                        let _ = h.write_all(&buf);
                        let _ = back_tx.try_send(buf);
                    }
                    None => {
                        let (_, d, n) =
                            std::mem::replace(&mut h, Sha256Writer::new(io::sink())).finish();
                        if done_tx.send((d, n)).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        for (d, &size) in blobs.iter().zip(sizes) {
            let mut f = store.open_blob(d)?;
            let out = tar.get_mut();
            out.write_all(header(&blob_member(d), size, false).as_bytes())
                .map_err(ArchiveError::Output)?;
            let mut n = 0u64;
            while n < size {
                let mut buf = back_rx.try_recv().unwrap_or_default();
                buf.resize(CHUNK.min(usize::try_from(size - n).unwrap_or(CHUNK)), 0);
                let got = read_full(&mut f, &mut buf)
                    .map_err(ArchiveError::io(format!("cannot read blob {d}")))?;
                if got == 0 {
                    break;
                }
                buf.truncate(got);
                out.write_all(&buf).map_err(ArchiveError::Output)?;
                n += got as u64;
                bar.inc(got as u64);
                tx.send(Some(buf)).map_err(|_| stopped())?;
            }
            let pad = (512 - size % 512) % 512;
            out.write_all(&[0u8; 512][..pad as usize])
                .map_err(ArchiveError::Output)?;
            tx.send(None).map_err(|_| stopped())?;
            let (got, count) = done_rx.recv().map_err(|_| stopped())?;
            if got != *d || count != size || n != size {
                return Err(ArchiveError::Corrupt(d.clone()));
            }
        }
        Ok(())
    })
}
