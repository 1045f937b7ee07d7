//! `strata load [-i FILE] [-q]`: images from a docker archive (`manifest.json`, also the
//! legacy `ID/layer.tar` form) or an OCI image layout (`index.json`), plain or gzip,
//! zstd, xz or bzip2 compressed.
//!
//! A tar is a stream whose `manifest.json` may come last, so the archive's regular files
//! are first extracted into the transaction's scratch directory (refusing `..`,
//! absolute names and links). Then every config and layer is verified against the
//! digests that name it and the DiffIDs its config lists, the layers are unpacked, and
//! everything commits in one transaction: on any error nothing is visible.

use super::now_unix;
use crate::archive::{
    digest_of_member, DockerManifestEntry, Index, Manifest, ANN_IMAGE_NAME, ANN_REF_NAME,
    DOCKER_LIST, MAX_JSON, OCI_INDEX,
};
use crate::context::Ctx;
use crate::image::manifest::{manifest_bytes, oci_manifest};
use crate::image::ImageConfig;
use crate::ingest::ingest_layer;
use crate::reference::{familiar, Reference};
use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use store_layout::{chain_id, BlobRef, Digest, ImageRecord, LayerRecord, Sha256Writer};

/// Arguments of `load`.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Read from a tar archive file, instead of STDIN.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Suppress the load output (strata shows no progress; the `Loaded image` lines stay,
    /// as with docker).
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
}

/// An image the archive describes, before anything is verified.
struct Planned {
    /// Member holding the config.
    config: String,
    /// The config's digest when something names it (member name, OCI descriptor).
    config_digest: Option<Digest>,
    /// Members holding the layers and the blob digests that name them, if any.
    layers: Vec<(String, Option<Digest>)>,
    /// Full references.
    tags: Vec<String>,
}

/// Runs `load`.
pub fn run(ctx: &Ctx, args: &LoadArgs) -> Result<()> {
    let input: Box<dyn Read + Send> = match &args.input {
        Some(p) => Box::new(
            std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        ),
        None => Box::new(io::stdin()),
    };
    let mut input = BufReader::with_capacity(1 << 20, input);
    if input
        .fill_buf()
        .context("cannot read the archive")?
        .is_empty()
    {
        bail!("invalid archive: empty input");
    }
    let (_, plain) = crate::layer::decompress::decompress(input)
        .context("invalid archive: cannot decompress")?;

    let txn = ctx.store.begin()?;
    let root = txn.scratch().join("archive");
    std::fs::create_dir(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let links = extract(plain, &root)?;
    let root = Extracted { root, links };

    let plans = if member_path(&root, "manifest.json")?.is_file() {
        docker_plans(&root)?
    } else if member_path(&root, "index.json")?.is_file() {
        oci_plans(&root)?
    } else {
        bail!("invalid archive: no manifest.json or index.json");
    };

    let db = ctx.store.db()?;
    // Layers unpacked in this transaction, by chain ID: (blob, size).
    let mut fresh: HashMap<Digest, (BlobRef, u64)> = HashMap::new();
    let mut records: Vec<(Digest, Option<ImageRecord>, Vec<String>)> = Vec::new();
    for plan in &plans {
        let config_bytes = read_json_member(&root, &plan.config)?;
        let id = Digest::of(&config_bytes);
        if let Some(want) = &plan.config_digest {
            if *want != id {
                bail!("blob {want} does not match its digest (it is {id})");
            }
        }
        let name = plan
            .tags
            .first()
            .map(|t| familiar(t))
            .unwrap_or_else(|| id.to_string());
        let config = ImageConfig::from_slice(&config_bytes)
            .map_err(|e| anyhow!("invalid archive: config of {name} is not valid: {e}"))?;
        if config.rootfs.diff_ids.len() != plan.layers.len() {
            bail!(
                "invalid archive: {name} lists {} layers but its config has {} DiffIDs",
                plan.layers.len(),
                config.rootfs.diff_ids.len()
            );
        }
        if db.images.contains_key(&id) || records.iter().any(|(r, _, _)| *r == id) {
            records.push((id, None, plan.tags.clone()));
            continue;
        }

        let mut parent: Option<Digest> = None;
        let mut chains = Vec::new();
        let mut blobs = Vec::new();
        let mut size = 0u64;
        for (i, (member, want_blob)) in plan.layers.iter().enumerate() {
            let n = i + 1;
            let diff_id = Digest::parse(&config.rootfs.diff_ids[i])
                .map_err(|e| anyhow!("layer {n} of {name}: invalid DiffID in the config: {e}"))?;
            let chain = chain_id(parent.as_ref(), &diff_id);
            let path = member_path(&root, member)?;
            let existing = db
                .layers
                .get(&chain)
                .and_then(|l| l.blob.clone().map(|b| (b, l.size)))
                .or_else(|| fresh.get(&chain).cloned());
            if let Some((blob, layer_size)) = existing {
                // Already here: the content is known by its chain ID; still refuse a
                // member that does not match the digest that names it.
                if let Some(want) = want_blob {
                    let mut r = Sha256Writer::new(open_member(&path, member)?);
                    io::copy(&mut r, &mut io::sink())
                        .with_context(|| format!("cannot read {member}"))?;
                    let (_, got, _) = r.finish();
                    if got != *want {
                        bail!("blob {want} does not match its digest (it is {got})");
                    }
                }
                blobs.push(blob);
                size += layer_size;
            } else {
                let mut r = Sha256Writer::new(open_member(&path, member)?);
                let layer = ingest_layer(&txn, &mut r, &|_| {})
                    .with_context(|| format!("layer {n} of {name}"))?;
                let (_, got, _) = r.finish();
                if let Some(want) = want_blob {
                    if got != *want {
                        bail!("blob {want} does not match its digest (it is {got})");
                    }
                }
                if layer.diff_id != diff_id {
                    bail!(
                        "layer {n} of {name}: DiffID mismatch: config says {diff_id}, layer is {}",
                        layer.diff_id
                    );
                }
                txn.add_layer(
                    layer.index,
                    chain.clone(),
                    LayerRecord {
                        diff_id: diff_id.clone(),
                        parent: parent.clone(),
                        size: layer.stats.size,
                        blob: Some(layer.blob.clone()),
                    },
                );
                fresh.insert(chain.clone(), (layer.blob.clone(), layer.stats.size));
                blobs.push(layer.blob);
                size += layer.stats.size;
            }
            chains.push(chain.clone());
            parent = Some(chain);
        }

        let stored = txn.put_blob(&config_bytes)?;
        debug_assert_eq!(stored, id);
        let manifest = manifest_bytes(&oci_manifest(&id, config_bytes.len() as u64, &blobs));
        let manifest_digest = txn.put_blob(&manifest)?;
        let record = ImageRecord {
            manifest: manifest_digest,
            layers: chains,
            created: config.created.clone(),
            size,
            repo_digests: Vec::new(),
            labels: config.labels(),
            parent: None,
            added: now_unix(),
        };
        records.push((id, Some(record), plan.tags.clone()));
    }

    let lines: Vec<String> = records
        .iter()
        .flat_map(|(id, _, tags)| {
            if tags.is_empty() {
                vec![format!("Loaded image ID: {id}")]
            } else {
                tags.iter()
                    .map(|t| format!("Loaded image: {}", familiar(t)))
                    .collect()
            }
        })
        .collect();
    ctx.store.commit(txn, move |db| {
        for (id, record, tags) in records {
            if let Some(r) = record {
                db.images.entry(id.clone()).or_insert(r);
            } else if !db.images.contains_key(&id) {
                return Err(store_layout::StoreError::NotFound(format!(
                    "image {id} (removed while loading)"
                )));
            }
            for t in tags {
                db.tags.insert(t, id.clone());
            }
        }
        Ok(())
    })?;
    for l in lines {
        super::out(&l)?;
    }
    Ok(())
}

/// An archive extracted under `root`; its symbolic and hard links are kept as aliases
/// (member name → target member name), never created on disk.
struct Extracted {
    root: PathBuf,
    links: HashMap<String, String>,
}

/// The member name a link points at, resolved inside the archive: symbolic link targets
/// are relative to the link's directory, hard link targets to the archive's root.
fn link_target(name: &str, target: &str, symbolic: bool) -> Result<String> {
    let what = if symbolic { "symbolic" } else { "hard" };
    let leaves = || {
        anyhow!("invalid archive: member {name:?} is a {what} link that leaves the archive ({target:?})")
    };
    if target.starts_with('/') {
        return Err(leaves());
    }
    let mut parts: Vec<&str> = Vec::new();
    if symbolic {
        parts = clean_name(name)?;
        parts.pop();
    }
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(leaves());
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(leaves());
    }
    Ok(parts.join("/"))
}

/// The parts of a member name, or an error when it leaves the archive.
fn clean_name(name: &str) -> Result<Vec<&str>> {
    if name.starts_with('/') {
        bail!("invalid archive: member {name:?} has an absolute name");
    }
    let mut parts = Vec::new();
    for p in name.split('/') {
        match p {
            "" | "." => {}
            ".." => bail!("invalid archive: member {name:?} leaves the archive"),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        bail!("invalid archive: member {name:?} has an empty name");
    }
    Ok(parts)
}

/// Where member `name` is extracted (following links inside the archive).
fn member_path(ar: &Extracted, name: &str) -> Result<PathBuf> {
    let mut cur = clean_name(name)?.join("/");
    let mut hops = 0;
    while let Some(t) = ar.links.get(&cur) {
        hops += 1;
        if hops > 16 {
            bail!("invalid archive: member {name:?}: too many levels of links");
        }
        cur = t.clone();
    }
    Ok(ar.root.join(cur))
}

fn open_member(path: &Path, name: &str) -> Result<std::fs::File> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => bail!("invalid archive: member {name:?} is not a regular file"),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            bail!("invalid archive: member {name:?} is missing")
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read member {name:?}")),
    }
    std::fs::File::open(path).with_context(|| format!("cannot read member {name:?}"))
}

/// Reads a JSON member of at most [`MAX_JSON`] bytes.
fn read_json_member(root: &Extracted, name: &str) -> Result<Vec<u8>> {
    let path = member_path(root, name)?;
    let f = open_member(&path, name)?;
    let mut data = Vec::new();
    f.take(MAX_JSON + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("cannot read member {name:?}"))?;
    if data.len() as u64 > MAX_JSON {
        bail!("invalid archive: member {name:?} is larger than {MAX_JSON} bytes");
    }
    Ok(data)
}

/// Extracts the regular files of the archive under `root`.
fn extract(plain: impl Read, root: &Path) -> Result<HashMap<String, String>> {
    let mut links = HashMap::new();
    let mut archive = tar::Archive::new(plain);
    let entries = archive
        .entries()
        .map_err(|e| anyhow!("invalid archive: not a tar archive: {e}"))?;
    let mut first = true;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) if first => bail!("invalid archive: not a tar archive: {e}"),
            Err(e) => bail!("invalid archive: {e}"),
        };
        first = false;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        use tar::EntryType as E;
        match kind {
            E::Regular | E::Continuous => {}
            E::Directory | E::XGlobalHeader => continue,
            E::Symlink | E::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                let resolved = link_target(&name, &target, kind == E::Symlink)?;
                links.insert(clean_name(&name)?.join("/"), resolved);
                continue;
            }
            _ => bail!("invalid archive: member {name:?} is not a regular file or directory"),
        }
        let path = root.join(clean_name(&name)?.join("/"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow!("invalid archive: cannot extract member {name:?}: {e}"))?;
        }
        let size = entry.size();
        let mut f = std::fs::File::create(&path)
            .map_err(|e| anyhow!("invalid archive: cannot extract member {name:?}: {e}"))?;
        let n = io::copy(&mut entry, &mut f)
            .map_err(|e| anyhow!("invalid archive: cannot read member {name:?}: {e}"))?;
        if n != size {
            bail!("invalid archive: member {name:?} is truncated ({n} of {size} bytes)");
        }
    }
    if first {
        bail!("invalid archive: no manifest.json or index.json");
    }
    Ok(links)
}

fn docker_plans(root: &Extracted) -> Result<Vec<Planned>> {
    let data = read_json_member(root, "manifest.json")?;
    let entries: Vec<DockerManifestEntry> = serde_json::from_slice(&data)
        .map_err(|e| anyhow!("invalid archive: manifest.json is not valid: {e}"))?;
    if entries.is_empty() {
        bail!("invalid archive: manifest.json lists no images");
    }
    entries
        .into_iter()
        .map(|e| {
            let tags = e
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| full_tag(t))
                .collect::<Result<Vec<_>>>()?;
            Ok(Planned {
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

fn full_tag(t: &str) -> Result<String> {
    let r = Reference::parse(t).map_err(|e| anyhow!("invalid archive: tag {t:?}: {e}"))?;
    if r.digest().is_some() {
        bail!("invalid archive: tag {t:?} is a digest reference");
    }
    Ok(r.with_default_tag().full_string())
}

fn oci_blob_member(digest: &str) -> Result<(String, Digest)> {
    let d = Digest::parse(digest)
        .map_err(|e| anyhow!("invalid archive: unsupported digest {digest:?}: {e}"))?;
    Ok((crate::archive::blob_member(&d), d))
}

fn oci_plans(root: &Extracted) -> Result<Vec<Planned>> {
    let data = read_json_member(root, "index.json")?;
    let index: Index = serde_json::from_slice(&data)
        .map_err(|e| anyhow!("invalid archive: index.json is not valid: {e}"))?;
    let mut plans = Vec::new();
    for desc in &index.manifests {
        if desc.media_type == OCI_INDEX || desc.media_type == DOCKER_LIST {
            bail!("invalid archive: nested image indexes are not supported yet");
        }
        let (member, digest) = oci_blob_member(&desc.digest)?;
        let bytes = read_json_member(root, &member)?;
        let got = Digest::of(&bytes);
        if got != digest {
            bail!("blob {digest} does not match its digest (it is {got})");
        }
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow!("invalid archive: manifest {digest} is not valid: {e}"))?;
        let (config, config_digest) = oci_blob_member(&m.config.digest)?;
        let layers = m
            .layers
            .iter()
            .map(|l| oci_blob_member(&l.digest).map(|(p, d)| (p, Some(d))))
            .collect::<Result<Vec<_>>>()?;
        let tag = desc.annotations.get(ANN_IMAGE_NAME).cloned().or_else(|| {
            // skopeo writes `name:tag` here, docker and the OCI spec only the tag.
            desc.annotations
                .get(ANN_REF_NAME)
                .filter(|n| n.contains(':') || n.contains('/'))
                .cloned()
        });
        let tags = match tag {
            Some(t) => vec![full_tag(&t)?],
            None => Vec::new(),
        };
        // One image under several names is listed once per name.
        if let Some(p) = plans
            .iter_mut()
            .find(|p: &&mut Planned| p.config_digest.as_ref() == Some(&config_digest))
        {
            p.tags.extend(tags);
            continue;
        }
        plans.push(Planned {
            config,
            config_digest: Some(config_digest),
            layers,
            tags,
        });
    }
    if plans.is_empty() {
        bail!("invalid archive: index.json lists no images");
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            clean_name("./blobs/sha256/x").unwrap(),
            ["blobs", "sha256", "x"]
        );
        assert!(clean_name("../x").is_err());
        assert!(clean_name("a/../../x").is_err());
        assert!(clean_name("/etc/passwd").is_err());
        assert!(clean_name("./").is_err());
        assert_eq!(
            link_target("a/layer.tar", "../b.tar", true).unwrap(),
            "b.tar"
        );
        assert_eq!(
            link_target("a/layer.tar", "a/b.tar", false).unwrap(),
            "a/b.tar"
        );
        assert!(link_target("a/layer.tar", "../../b.tar", true).is_err());
        assert!(link_target("x", "/etc/passwd", true).is_err());
        assert!(link_target("x", "../y", false).is_err());
    }
}
