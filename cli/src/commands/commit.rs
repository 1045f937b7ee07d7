//! `strata commit [-a AUTHOR] [-m MESSAGE] [-c CHANGE] CONTAINER [REPOSITORY[:TAG]]`: a
//! container's writable layer becomes the top layer of a new image.
//!
//! The upper directory already is the diff: it is written out as a layer tar (whiteouts
//! as `.wh.` entries) straight into the layer pipeline, which hashes it and unpacks a
//! copy, so later changes in the container never reach the image.

use super::{now_rfc3339, now_unix};
use crate::container::changes::write_layer_tar;
use crate::container::lookup::find;
use crate::container::spec::RunConfig;
use crate::context::Ctx;
use crate::image::changes::apply_change;
use crate::image::manifest::{manifest_bytes, oci_manifest};
use crate::image::{History, ImageConfig};
use crate::ingest::ingest_layer;
use crate::reference::Reference;
use anyhow::{anyhow, bail, Context, Result};
use store_layout::{chain_id, BlobRef, Digest, ImageRecord, LayerRecord};

/// Arguments of `commit`.
#[derive(clap::Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Commit message.
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Apply Dockerfile instruction to the created image.
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    /// Pause container during commit (accepted for compatibility; strata reads the
    /// writable layer as it is).
    #[arg(short = 'p', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    /// The container.
    pub container: String,
    /// Name for the new image.
    pub reference: Option<String>,
}

/// Runs `commit`.
pub fn run(ctx: &Ctx, args: &CommitArgs) -> Result<()> {
    let target = match &args.reference {
        Some(r) => {
            let parsed = Reference::parse(r).map_err(|e| anyhow!("{e}"))?;
            if parsed.digest().is_some() {
                bail!("refusing to create a tag with a digest reference");
            }
            Some(parsed.with_default_tag().full_string())
        }
        None => None,
    };
    let rec = find(&ctx.store, &args.container)?;
    let dir = ctx.store.container_dir(&rec.id)?;
    let cfg: RunConfig = serde_json::from_value(rec.config.clone())
        .map_err(|e| anyhow!("container {}: invalid record: {e}", &rec.id[..12]))?;
    let base_bytes = std::fs::read(dir.join("image-config.json"))
        .with_context(|| format!("container {}: image config missing", &rec.id[..12]))?;
    let mut config = ImageConfig::from_slice(&base_bytes)
        .map_err(|e| anyhow!("container {}: invalid image config: {e}", &rec.id[..12]))?;
    let mut container = cfg.to_container_config(config.config.as_ref());
    for c in &args.change {
        apply_change(&mut container, c).map_err(|e| anyhow!("invalid change {c:?}: {e}"))?;
    }

    let db = ctx.store.db()?;
    let mut blobs: Vec<BlobRef> = Vec::new();
    for chain in &rec.layers {
        let layer = db
            .layers
            .get(chain)
            .ok_or_else(|| anyhow!("layer {chain} of the container's image is missing"))?;
        blobs.push(
            layer
                .blob
                .clone()
                .ok_or_else(|| anyhow!("layer {chain} has no stored archive"))?,
        );
    }
    let base_size: u64 = rec
        .layers
        .iter()
        .filter_map(|c| db.layers.get(c).map(|l| l.size))
        .sum();

    let upper = dir.join("upper");
    let txn = ctx.store.begin()?;
    let (reader, writer) = std::io::pipe().context("pipe")?;
    let layer = std::thread::scope(|s| {
        let upper = &upper;
        let producer = s.spawn(move || write_layer_tar(upper, std::io::BufWriter::new(writer)));
        let ingested = ingest_layer(&txn, reader, &|_| {});
        let produced = producer.join().expect("tar writer thread");
        let ingested = ingested?;
        produced.with_context(|| format!("cannot read {}", upper.display()))?;
        Ok::<_, anyhow::Error>(ingested)
    })?;
    let parent_chain = rec.layers.last().cloned();
    let chain = chain_id(parent_chain.as_ref(), &layer.diff_id);
    txn.add_layer(
        layer.index,
        chain.clone(),
        LayerRecord {
            diff_id: layer.diff_id.clone(),
            parent: parent_chain,
            size: layer.stats.size,
            blob: Some(layer.blob.clone()),
        },
    );
    blobs.push(layer.blob.clone());

    let created = now_rfc3339();
    config.created = Some(created.clone());
    config.author = args.author.clone().filter(|a| !a.is_empty());
    config.config = Some(container);
    config.rootfs.diff_ids.push(layer.diff_id.to_string());
    config.history.push(History {
        created: Some(created.clone()),
        created_by: Some(cfg.command_line()),
        author: config.author.clone(),
        comment: args.message.clone().filter(|m| !m.is_empty()),
        empty_layer: None,
    });
    config.extra.remove("comment");
    if let Some(m) = args.message.as_ref().filter(|m| !m.is_empty()) {
        config
            .extra
            .insert("comment".into(), serde_json::Value::String(m.clone()));
    }
    let config_bytes = config.to_bytes();
    let id = txn.put_blob(&config_bytes)?;
    let manifest = manifest_bytes(&oci_manifest(&id, config_bytes.len() as u64, &blobs));
    let manifest_digest = txn.put_blob(&manifest)?;
    let mut layers = rec.layers.clone();
    layers.push(chain);
    let record = ImageRecord {
        manifest: manifest_digest,
        layers,
        created: Some(created),
        size: base_size + layer.stats.size,
        repo_digests: Vec::new(),
        labels: config.labels(),
        parent: Some(rec.image.clone()),
        added: now_unix(),
    };
    let image_id: Digest = id.clone();
    ctx.store.commit(txn, move |db| {
        db.images.entry(image_id.clone()).or_insert(record);
        if let Some(t) = target {
            db.tags.insert(t, image_id);
        }
        Ok(())
    })?;
    super::out(id.as_str())
}
