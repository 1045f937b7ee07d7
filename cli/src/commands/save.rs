//! `strata save [-o FILE] [--format FORMAT] IMAGE...`: images to one tar archive that
//! is both a docker archive and an OCI image layout, as docker 25 and later write it, or,
//! with `--format docker-archive` or `--format oci-archive`, only one of the two.
//!
//! The archive is reproducible: members are sorted, every blob is stored once, as it is
//! in the store, and headers carry fixed times, owners and modes, so saving the same
//! images twice gives the same bytes.

use crate::archive::{
    blob_member, Descriptor, DockerManifestEntry, Index, Manifest, ANN_IMAGE_NAME, ANN_REF_NAME,
    MAX_JSON, OCI_INDEX, OCI_MANIFEST,
};
use crate::context::Ctx;
use crate::ingest::read_full;
use crate::progress::ByteBar;
use crate::reference::{familiar, Reference};
use crate::resolve::{resolve, Matched};
use anyhow::{anyhow, bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, IsTerminal, Read, Write};
use std::sync::mpsc::sync_channel;
use store_layout::{Digest, Sha256Writer, Store};

/// Bytes hashed at a time.
const CHUNK: usize = 1 << 20;

/// Arguments of `save`.
#[derive(clap::Args, Debug)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Write only one layout: `docker-archive` or `oci-archive` (default: both).
    #[arg(long = "format", value_name = "FORMAT")]
    pub format: Option<String>,
    /// The images to save.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// Which layouts the archive holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layouts {
    docker: bool,
    oci: bool,
}

impl Layouts {
    fn parse(format: Option<&str>) -> Result<Self> {
        match format {
            None => Ok(Layouts {
                docker: true,
                oci: true,
            }),
            Some("docker-archive") => Ok(Layouts {
                docker: true,
                oci: false,
            }),
            Some("oci-archive") => Ok(Layouts {
                docker: false,
                oci: true,
            }),
            Some(other) => {
                bail!("invalid --format {other:?}: expected docker-archive or oci-archive")
            }
        }
    }
}

/// One image to write.
struct Saved {
    id: Digest,
    manifest: Digest,
    manifest_media_type: String,
    manifest_size: u64,
    layers: Vec<Digest>,
    /// Full references.
    tags: Vec<String>,
}

/// Runs `save`.
pub fn run(ctx: &Ctx, args: &SaveArgs) -> Result<()> {
    let layouts = Layouts::parse(args.format.as_deref())?;
    if args.output.is_none() && io::stdout().is_terminal() {
        bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let db = ctx.store.db()?;
    let mut images: Vec<Saved> = Vec::new();
    for arg in &args.images {
        let (id, matched) = resolve(&db, arg).map_err(|e| anyhow!("{e}"))?;
        let tag = match matched {
            Matched::Tag(t) => Some(t),
            _ => None,
        };
        if let Some(s) = images.iter_mut().find(|s| s.id == id) {
            if let Some(t) = tag {
                if !s.tags.contains(&t) {
                    s.tags.push(t);
                }
            }
            continue;
        }
        let record = db
            .images
            .get(&id)
            .ok_or_else(|| anyhow!("No such image: {arg}"))?;
        let bytes = read_small_blob(&ctx.store, &record.manifest)
            .with_context(|| format!("cannot read the manifest of {arg}"))?;
        let m: Manifest = serde_json::from_slice(&bytes)
            .with_context(|| format!("the manifest of {arg} is not valid"))?;
        let config = Digest::parse(&m.config.digest)?;
        if config != id {
            bail!("the manifest of {arg} names config {config}, not the image's {id}");
        }
        let layers = m
            .layers
            .iter()
            .map(|l| Digest::parse(&l.digest))
            .collect::<Result<Vec<_>, _>>()?;
        images.push(Saved {
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
        });
    }

    match &args.output {
        Some(path) => {
            let f = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let r = write_archive(
                &ctx.store,
                &images,
                layouts,
                io::BufWriter::with_capacity(1 << 20, f),
            );
            if r.is_err() {
                let _ = std::fs::remove_file(path);
            }
            r.with_context(|| format!("cannot write {}", path.display()))
        }
        None => write_archive(
            &ctx.store,
            &images,
            layouts,
            io::BufWriter::with_capacity(1 << 20, io::stdout().lock()),
        ),
    }
}

fn read_small_blob(store: &Store, d: &Digest) -> Result<Vec<u8>> {
    let f = store.open_blob(d)?;
    let mut data = Vec::new();
    f.take(MAX_JSON + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_JSON {
        bail!("blob {d} is larger than {MAX_JSON} bytes");
    }
    if Digest::of(&data) != *d {
        bail!("blob {d} in the store does not match its digest");
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

fn write_archive<W: Write>(
    store: &Store,
    images: &[Saved],
    layouts: Layouts,
    out: W,
) -> Result<()> {
    // Every blob once, in digest order. A docker archive names no manifests.
    let mut blobs: BTreeSet<Digest> = BTreeSet::new();
    for s in images {
        blobs.insert(s.id.clone());
        if layouts.oci {
            blobs.insert(s.manifest.clone());
        }
        blobs.extend(s.layers.iter().cloned());
    }

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
        };
        for t in &s.tags {
            repo_tags.push(familiar(t));
            let r = Reference::parse(t).map_err(|e| anyhow!("stored tag {t:?}: {e}"))?;
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

    let mut tar = tar::Builder::new(out);
    tar.append(&header("blobs/", 0, true), io::empty())?;
    tar.append(&header("blobs/sha256/", 0, true), io::empty())?;
    let blobs: Vec<Digest> = blobs.into_iter().collect();
    let mut sizes = Vec::with_capacity(blobs.len());
    for d in &blobs {
        sizes.push(store.open_blob(d)?.metadata()?.len());
    }
    let bar = ByteBar::new("Saving", Some(sizes.iter().sum()));
    let r = write_blobs(store, &blobs, &sizes, &mut tar, &bar);
    bar.finish();
    r?;
    let files: [(&str, bool, Vec<u8>); 4] = [
        ("index.json", layouts.oci, serde_json::to_vec(&index)?),
        (
            "manifest.json",
            layouts.docker,
            serde_json::to_vec(&manifest_json)?,
        ),
        (
            "oci-layout",
            layouts.oci,
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        (
            "repositories",
            layouts.docker,
            serde_json::to_vec(&repositories)?,
        ),
    ];
    for (name, _, data) in files.into_iter().filter(|f| f.1) {
        tar.append(&header(name, data.len() as u64, false), &data[..])?;
    }
    let mut out = tar.into_inner()?;
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(1),
        r => Ok(r?),
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
) -> Result<()> {
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
            out.write_all(header(&blob_member(d), size, false).as_bytes())?;
            let mut n = 0u64;
            while n < size {
                let mut buf = back_rx.try_recv().unwrap_or_default();
                buf.resize(CHUNK.min(usize::try_from(size - n).unwrap_or(CHUNK)), 0);
                let got =
                    read_full(&mut f, &mut buf).with_context(|| format!("cannot read blob {d}"))?;
                if got == 0 {
                    break;
                }
                buf.truncate(got);
                out.write_all(&buf)?;
                n += got as u64;
                bar.inc(got as u64);
                tx.send(Some(buf))
                    .map_err(|_| anyhow!("the thread hashing blobs stopped"))?;
            }
            let pad = (512 - size % 512) % 512;
            out.write_all(&[0u8; 512][..pad as usize])?;
            tx.send(None)
                .map_err(|_| anyhow!("the thread hashing blobs stopped"))?;
            let (got, count) = done_rx
                .recv()
                .map_err(|_| anyhow!("the thread hashing blobs stopped"))?;
            if got != *d || count != size || n != size {
                bail!("blob {d} in the store does not match its digest");
            }
        }
        Ok(())
    })
}
