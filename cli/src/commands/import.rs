//! `strata import FILE|-|URL [REPOSITORY[:TAG]]`: a root filesystem tarball becomes a
//! one-layer image.

use crate::clock::now_rfc3339;
use crate::context::Ctx;
use crate::image::changes::apply_change;
use crate::image::platform::Platform;
use crate::image::writer::{Assembly, ImageLayers, NewImage};
use crate::image::{ContainerConfig, History, ImageConfig, RootFs};
use crate::ingest::ingest_layer;
use anyhow::{anyhow, Context, Result};
use std::io::Read;

/// Arguments of `import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The tarball: a file, `-` for standard input, or an http(s) URL.
    pub source: String,
    /// Name for the new image.
    pub reference: Option<String>,
    /// Apply a Dockerfile instruction to the image's config.
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    /// Set a commit message for the imported image.
    #[arg(short = 'm', long = "message")]
    pub message: Option<String>,
    /// Set platform (only the host's platform's os/arch is meaningful).
    #[arg(long)]
    pub platform: Option<String>,
}

/// Runs `import`.
pub fn run(ctx: &Ctx, args: &ImportArgs) -> Result<()> {
    let target = super::new_image_tag(args.reference.as_deref())?;
    let mut container = ContainerConfig::default();
    for c in &args.change {
        apply_change(&mut container, c).map_err(|e| anyhow!("invalid change {c:?}: {e}"))?;
    }
    let platform = Platform::parse(args.platform.as_deref())?;

    let input: Box<dyn Read + Send> = if args.source == "-" {
        Box::new(std::io::stdin())
    } else if args.source.starts_with("http://") || args.source.starts_with("https://") {
        let resp = ureq::get(&args.source)
            .call()
            .map_err(|e| anyhow!("cannot download {}: {e}", args.source))?;
        Box::new(resp.into_reader())
    } else {
        let f = std::fs::File::open(&args.source)
            .with_context(|| format!("cannot open {}", args.source))?;
        Box::new(f)
    };

    let txn = ctx.store.begin()?;
    let layer = ingest_layer(&txn, input, &|_| {})
        .with_context(|| format!("cannot import {}", args.source))?;
    let diff_id = layer.diff_id.clone();
    let mut layers = ImageLayers::new();
    layers.push_new(&txn, layer.into_layer());

    let created = now_rfc3339();
    let comment = args
        .message
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("Imported from {}", args.source));
    let mut config = ImageConfig {
        created: Some(created.clone()),
        platform,
        config: Some(container),
        rootfs: RootFs {
            typ: "layers".into(),
            diff_ids: vec![diff_id.to_string()],
        },
        history: vec![History {
            created: Some(created),
            comment: Some(comment),
            ..Default::default()
        }],
        ..Default::default()
    };
    if let Some(m) = args.message.as_ref().filter(|m| !m.is_empty()) {
        config
            .extra
            .insert("comment".into(), serde_json::Value::String(m.clone()));
    }
    let image = NewImage::new(&config, layers).stage(&txn)?;
    super::commit_new_image(ctx, txn, Assembly::Import, image, target)
}

/// Parses `--platform os/arch[/variant]`, defaulting to the host's.
pub fn platform(p: Option<&str>) -> Result<(String, String, Option<String>)> {
    let p = Platform::parse(p)?;
    Ok((p.os, p.architecture, p.variant))
}
