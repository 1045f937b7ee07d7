//! `strata commit [-a AUTHOR] [-m MESSAGE] [-c CHANGE] CONTAINER [REPOSITORY[:TAG]]`: a
//! container's writable layer becomes the top layer of a new image.
//!
//! The upper directory already is the diff: it is written out as a layer tar (whiteouts
//! as `.wh.` entries) straight into the layer pipeline, which hashes it and unpacks a
//! copy, so later changes in the container never reach the image.

use crate::clock::now_rfc3339;
use crate::container::changes::{layer_from_upper, write_layer_tar};
use crate::container::lookup::find;
use crate::container::lookup::live_state;
use crate::container::spec::RunConfig;
use crate::context::Ctx;
use crate::image::changes::apply_change;
use crate::image::writer::{Assembly, ImageLayers, NewImage};
use crate::image::{History, ImageConfig};
use crate::ingest::{ingest_layer, Ingested};
use anyhow::{anyhow, Context, Result};
use std::path::Path;
use store_layout::Txn;

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
    #[arg(short = 'p', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub pause: bool,
    /// The container.
    pub container: String,
    /// Name for the new image.
    pub reference: Option<String>,
}

/// A new layer from the upper directory of a running container: one tar stream, which
/// the layer pipeline stores, hashes and unpacks, so the blob and the directory agree
/// whatever the container does meanwhile.
fn through_pipeline(txn: &Txn, upper: &Path) -> Result<Ingested> {
    let (reader, writer) = std::io::pipe().context("pipe")?;
    std::thread::scope(|s| {
        let producer = s.spawn(move || write_layer_tar(upper, std::io::BufWriter::new(writer)));
        let ingested = ingest_layer(txn, reader, &|_| {});
        let produced = producer.join().expect("tar writer thread");
        let ingested = ingested?;
        produced.with_context(|| format!("cannot read {}", upper.display()))?;
        Ok(ingested)
    })
}

/// Runs `commit`.
pub fn run(ctx: &Ctx, args: &CommitArgs) -> Result<()> {
    let target = super::new_image_tag(args.reference.as_deref())?;
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
    let mut layers = ImageLayers::stored(&db, &rec.layers)?;
    // The new image has the container's layers and one more: refused before any work
    // when it could never run.
    crate::ingest::check_layer_count(rec.layers.len() + 1)?;

    let upper = dir.join("upper");
    let txn = ctx.store.begin()?;
    let running = live_state(&ctx.store, &rec.id)?.status == store_layout::ContainerStatus::Running;
    let layer = if running {
        through_pipeline(&txn, &upper)?
    } else {
        layer_from_upper(&txn, &upper)?
    };
    let diff_id = layer.diff_id.clone();
    layers.push_new(&txn, layer.into_layer());

    let created = now_rfc3339();
    config.created = Some(created.clone());
    config.author = args.author.clone().filter(|a| !a.is_empty());
    config.config = Some(container);
    let history = History {
        created: Some(created),
        created_by: Some(cfg.command_line()),
        author: config.author.clone(),
        comment: args.message.clone().filter(|m| !m.is_empty()),
        empty_layer: None,
    };
    config.push_layer(&diff_id, history);
    config.extra.remove("comment");
    if let Some(m) = args.message.as_ref().filter(|m| !m.is_empty()) {
        config
            .extra
            .insert("comment".into(), serde_json::Value::String(m.clone()));
    }
    let image = NewImage {
        parent: Some(rec.image.clone()),
        ..NewImage::new(&config, layers)
    }
    .stage(&txn)?;
    super::commit_new_image(ctx, txn, Assembly::Commit, image, target)
}
