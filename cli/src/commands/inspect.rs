//! `strata inspect` / `strata image inspect`: docker's JSON for images.

use crate::context::Ctx;
use crate::image::ImageConfig;
use crate::output::{Ordered, Template};
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

/// The image's container config, in the order of docker's `ContainerConfig`.
fn container_config(cfg: &ImageConfig) -> Ordered {
    let c = cfg.config.clone().unwrap_or_default();
    let mut m = Ordered::default()
        .with("Hostname", json!(""))
        .with("Domainname", json!(""))
        .with("User", json!(c.user.clone().unwrap_or_default()))
        .with("AttachStdin", json!(false))
        .with("AttachStdout", json!(false))
        .with("AttachStderr", json!(false));
    if let Some(p) = &c.exposed_ports {
        m = m.with("ExposedPorts", json!(p));
    }
    m = m
        .with("Tty", json!(false))
        .with("OpenStdin", json!(false))
        .with("StdinOnce", json!(false))
        .with("Env", json!(c.env))
        .with("Cmd", json!(c.cmd))
        .with("Image", json!(""))
        .with("Volumes", json!(c.volumes))
        .with(
            "WorkingDir",
            json!(c.working_dir.clone().unwrap_or_default()),
        )
        .with("Entrypoint", json!(c.entrypoint))
        .with(
            "OnBuild",
            c.extra.get("OnBuild").cloned().unwrap_or(Value::Null),
        )
        .with("Labels", json!(c.labels));
    if let Some(s) = &c.stop_signal {
        m = m.with("StopSignal", json!(s));
    }
    for (k, v) in &c.extra {
        if !m.has(k) {
            m = m.with(k, v.clone());
        }
    }
    m
}

/// docker's inspect object for one image, in the order of docker's `ImageInspect`.
pub fn inspect_value(store: &Store, db: &Db, id: &Digest) -> Result<Ordered> {
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
    let tags: Vec<String> = db.tags_of(id).iter().map(|t| familiar(t)).collect();
    let digests: Vec<String> = img.repo_digests.iter().map(|r| familiar(r)).collect();
    let parent = img
        .parent
        .as_ref()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let docker_version = cfg.extra.get("docker_version").cloned();
    Ok(Ordered::default()
        .with("Id", json!(id.as_str()))
        .with("RepoTags", json!(tags))
        .with("RepoDigests", json!(digests))
        .with("Parent", json!(parent))
        .with("Comment", json!(comment))
        .with("Created", json!(cfg.created.clone().unwrap_or_default()))
        .with("DockerVersion", docker_version.unwrap_or(json!("")))
        .with("Author", json!(cfg.author.clone().unwrap_or_default()))
        .with("Config", container_config(&cfg))
        .with("Architecture", json!(cfg.platform.architecture))
        .with("Variant", json!(cfg.platform.variant))
        .with("Os", json!(cfg.platform.os))
        .with("Size", json!(img.size))
        .with(
            "GraphDriver",
            Ordered::default()
                .with("Data", Value::Object(graph))
                .with("Name", json!("overlay")),
        )
        .with(
            "RootFS",
            Ordered::default()
                .with("Type", json!(cfg.rootfs.typ))
                .with("Layers", json!(cfg.rootfs.diff_ids)),
        )
        .with(
            "Metadata",
            json!({"LastTagTime": crate::output::rfc3339(img.added, 0)}),
        ))
}

/// What `inspect` shows for one argument: an image, or a container when no image has
/// the name.
enum Inspected {
    Image(Ordered),
    Container(Box<crate::container::inspect::ContainerJson>),
}

impl serde::Serialize for Inspected {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Inspected::Image(o) => o.serialize(s),
            Inspected::Container(c) => c.serialize(s),
        }
    }
}

impl Inspected {
    /// The value templates see.
    fn to_value(&self) -> Result<Value> {
        Ok(match self {
            Inspected::Image(o) => o.to_value(),
            Inspected::Container(c) => serde_json::to_value(c)?,
        })
    }
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
            Ok((id, _)) => values.push(Inspected::Image(inspect_value(&ctx.store, &db, &id)?)),
            Err(crate::resolve::ResolveError::NotFound(_)) => {
                match crate::container::lookup::find(&ctx.store, a) {
                    Ok(c) => values.push(Inspected::Container(Box::new(
                        crate::container::inspect::inspect(&ctx.store, &c)?,
                    ))),
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
                crate::output::out(&tpl.render(&v.to_value()?).map_err(|e| anyhow!("{e}"))?)?;
            }
        }
    }
    if failed {
        return Err(crate::error::SilentExit(1).into());
    }
    Ok(())
}
