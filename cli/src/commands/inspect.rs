//! `strata inspect` / `strata image inspect`: docker's JSON for images.

use crate::context::Ctx;
use crate::image::ImageConfig;
use crate::output::Template;
use crate::reference::familiar;
use crate::resolve::resolve;
use anyhow::{anyhow, Context, Result};
use serde_json::{json, Map, Value};
use store_layout::{Db, Digest, Store};

/// Arguments of `inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Images to inspect.
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Format output using a custom template ('json' or a Go template).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Only `image` is supported (accepted for docker compatibility).
    #[arg(long = "type")]
    pub typ: Option<String>,
}

/// Loads and parses an image's config blob (verified against its digest).
pub fn load_config(store: &Store, id: &Digest) -> Result<ImageConfig> {
    let data = store.read_blob(id)?;
    ImageConfig::from_slice(&data).with_context(|| format!("image {id}: config is not valid JSON"))
}

fn container_config(cfg: &ImageConfig) -> Value {
    let c = cfg.config.clone().unwrap_or_default();
    let mut m = Map::new();
    m.insert("Hostname".into(), json!(""));
    m.insert("Domainname".into(), json!(""));
    m.insert("User".into(), json!(c.user.clone().unwrap_or_default()));
    m.insert("AttachStdin".into(), json!(false));
    m.insert("AttachStdout".into(), json!(false));
    m.insert("AttachStderr".into(), json!(false));
    if let Some(p) = &c.exposed_ports {
        m.insert("ExposedPorts".into(), json!(p));
    }
    m.insert("Tty".into(), json!(false));
    m.insert("OpenStdin".into(), json!(false));
    m.insert("StdinOnce".into(), json!(false));
    m.insert("Env".into(), json!(c.env));
    m.insert("Cmd".into(), json!(c.cmd));
    m.insert("Image".into(), json!(""));
    m.insert("Volumes".into(), json!(c.volumes));
    m.insert(
        "WorkingDir".into(),
        json!(c.working_dir.clone().unwrap_or_default()),
    );
    m.insert("Entrypoint".into(), json!(c.entrypoint));
    m.insert(
        "OnBuild".into(),
        c.extra.get("OnBuild").cloned().unwrap_or(Value::Null),
    );
    m.insert("Labels".into(), json!(c.labels));
    if let Some(s) = &c.stop_signal {
        m.insert("StopSignal".into(), json!(s));
    }
    for (k, v) in &c.extra {
        m.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(m)
}

/// docker's inspect object for one image.
pub fn inspect_value(store: &Store, db: &Db, id: &Digest) -> Result<Value> {
    let img = db
        .images()
        .get(id)
        .ok_or_else(|| anyhow!("No such image: {id}"))?;
    let cfg = load_config(store, id)?;
    let dirs: Vec<String> = img
        .layers
        .iter()
        .rev()
        .map(|c| store.layer_dir(c).display().to_string())
        .collect();
    let mut graph = Map::new();
    if let Some((upper, lower)) = dirs.split_first() {
        if !lower.is_empty() {
            graph.insert("LowerDir".into(), json!(lower.join(":")));
        }
        graph.insert("UpperDir".into(), json!(upper));
    }
    let comment = cfg
        .extra
        .get("comment")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    Ok(json!({
        "Id": id.as_str(),
        "RepoTags": db.tags_of(id).iter().map(|t| familiar(t)).collect::<Vec<_>>(),
        "RepoDigests": img.repo_digests.iter().map(|r| familiar(r)).collect::<Vec<_>>(),
        "Parent": img.parent.as_ref().map(|p| p.to_string()).unwrap_or_default(),
        "Comment": comment,
        "Created": cfg.created.clone().unwrap_or_default(),
        "DockerVersion": cfg.extra.get("docker_version").cloned().unwrap_or(json!("")),
        "Author": cfg.author.clone().unwrap_or_default(),
        "Config": container_config(&cfg),
        "Architecture": cfg.platform.architecture,
        "Variant": cfg.platform.variant,
        "Os": cfg.platform.os,
        "Size": img.size,
        "GraphDriver": {"Data": graph, "Name": "overlay"},
        "RootFS": {"Type": cfg.rootfs.typ, "Layers": cfg.rootfs.diff_ids},
        "Metadata": {"LastTagTime": crate::output::rfc3339(img.added, 0)},
    }))
}

/// Runs `inspect`.
pub fn run(ctx: &Ctx, args: &InspectArgs) -> Result<()> {
    if args.typ.as_deref() == Some("container") {
        let c = super::containers::ContainerInspectArgs {
            format: args.format.clone(),
            size: false,
            containers: args.images.clone(),
        };
        return super::containers::inspect_containers(ctx, &c);
    }
    if let Some(t) = args.typ.as_deref().filter(|t| *t != "image") {
        anyhow::bail!("unsupported type {t:?}: strata inspects images");
    }
    let db = ctx.store.db()?;
    let mut values = Vec::new();
    let mut failed = false;
    for a in &args.images {
        match resolve(&db, a) {
            Ok((id, _)) => values.push(inspect_value(&ctx.store, &db, &id)?),
            Err(crate::resolve::ResolveError::NotFound(_)) => {
                match crate::container::lookup::find(&ctx.store, a) {
                    Ok(c) => values.push(serde_json::to_value(
                        crate::container::inspect::inspect(&ctx.store, &c)?,
                    )?),
                    Err(_) => {
                        eprintln!("Error: No such object: {a}");
                        failed = true;
                    }
                }
            }
            Err(e) => {
                eprintln!("Error: {e}");
                failed = true;
            }
        }
    }
    match args.format.as_deref() {
        None | Some("json") if !values.is_empty() || !failed => {
            crate::output::out(&serde_json::to_string_pretty(&values)?)?;
        }
        None | Some("json") => crate::output::out("[]")?,
        Some(f) => {
            let tpl = Template::parse(f).map_err(|e| anyhow!("{e}"))?;
            for v in &values {
                crate::output::out(&tpl.render(v).map_err(|e| anyhow!("{e}"))?)?;
            }
        }
    }
    if failed {
        return Err(crate::error::SilentExit(1).into());
    }
    Ok(())
}
