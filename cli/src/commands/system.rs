//! `strata system df`, `strata version`, `strata info`.

use super::table::print;
use crate::context::Ctx;
use crate::output::Template;
use crate::output::{human_size, DEFAULT_SYSTEM_DF_FORMAT, IMAGES_HEADERS, SYSTEM_DF_HEADERS};
use anyhow::{anyhow, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use store_layout::Digest;

/// Arguments of `system df`.
#[derive(clap::Args, Debug)]
pub struct DfArgs {
    /// Show detailed information on space usage.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
}

const VERBOSE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}";

/// Runs `system df`. Layers used by several images are counted once in the total; each
/// image's shared size is what it shares with any other image, its unique size the rest.
pub fn df(ctx: &Ctx, args: &DfArgs) -> Result<()> {
    let db = ctx.store.db()?;
    let mut users: BTreeMap<&Digest, usize> = BTreeMap::new();
    for img in db.images().values() {
        for l in img.layers.iter().collect::<std::collections::BTreeSet<_>>() {
            *users.entry(l).or_default() += 1;
        }
    }
    let layer_size = |c: &Digest| db.layers().get(c).map_or(0, |l| l.size);
    let total: u64 = users.keys().map(|c| layer_size(c)).sum();
    if args.verbose {
        crate::output::out("Images space usage:\n")?;
        let now = crate::clock::now_unix();
        let mut rows = Vec::new();
        for (id, img) in db.images() {
            let shared: u64 = img
                .layers
                .iter()
                .filter(|l| users[l] > 1)
                .map(&layer_size)
                .sum();
            let tags = db.tags_of(id);
            let (repo, tag) = tags
                .first()
                .and_then(|t| crate::reference::Reference::parse(t).ok())
                .map(|r| (r.familiar_name(), r.tag().unwrap_or("<none>").to_string()))
                .unwrap_or(("<none>".into(), "<none>".into()));
            let created = img
                .created
                .as_deref()
                .and_then(crate::output::parse_rfc3339)
                .unwrap_or(img.added);
            rows.push(json!({
                "Repository": repo, "Tag": tag, "ID": id.short(),
                "CreatedSince": crate::output::human_ago(created, now),
                "Size": human_size(img.size), "SharedSize": human_size(shared),
                "UniqueSize": human_size(img.size - shared), "Containers": 0,
            }));
        }
        return print(args.format.as_deref(), VERBOSE, &rows, IMAGES_HEADERS);
    }
    let pct = |part: u64, whole: u64| (part * 100).checked_div(whole).unwrap_or(0);
    let (cache_count, cache_bytes) = crate::build::cache_usage(&ctx.store);
    let rows = vec![
        json!({"Type": "Images", "TotalCount": db.images().len(), "Active": 0, "Size": human_size(total),
               "Reclaimable": format!("{} ({}%)", human_size(total), pct(total, total))}),
        json!({"Type": "Containers", "TotalCount": 0, "Active": 0, "Size": "0B", "Reclaimable": "0B"}),
        json!({"Type": "Local Volumes", "TotalCount": 0, "Active": 0, "Size": "0B", "Reclaimable": "0B"}),
        json!({"Type": "Build Cache", "TotalCount": cache_count, "Active": 0, "Size": human_size(cache_bytes),
               "Reclaimable": human_size(cache_bytes)}),
    ];
    print(
        args.format.as_deref(),
        DEFAULT_SYSTEM_DF_FORMAT,
        &rows,
        SYSTEM_DF_HEADERS,
    )
}

/// Arguments of `version`.
#[derive(clap::Args, Debug)]
pub struct VersionArgs {
    /// Format output using a custom template ('json' or a Go template).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

/// Arguments of `info`.
#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// Format output using a custom template ('json' or a Go template).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

/// Prints `value` as `--format` asks: `json`, or a Go template.
fn print_object(format: &str, value: &Value) -> Result<()> {
    let text = if format == "json" {
        serde_json::to_string(value)?
    } else {
        Template::parse(&crate::output::expand_escapes(format))
            .and_then(|t| t.render(value))
            .map_err(|e| anyhow!("{e}"))?
    };
    Ok(crate::output::out(&text)?)
}

/// Runs `version`. There is no daemon: `Server` repeats the client's version, so that
/// scripts asking docker for `{{.Server.Version}}` get an answer.
pub fn version(root: &std::path::Path, args: &VersionArgs) -> Result<()> {
    if let Some(f) = &args.format {
        let client = json!({
            "Version": env!("CARGO_PKG_VERSION"),
            "Os": "linux",
            "Arch": crate::image::platform::host_arch(),
            "StoreLayout": store_layout::LAYOUT_VERSION,
            "StoreRoot": root.display().to_string(),
        });
        return print_object(f, &json!({"Client": client.clone(), "Server": client}));
    }
    let text = format!(
        "Client:\n Version:           {}\n Rust target:       {}-linux\n OS/Arch:           linux/{}\n Store layout:      {}\n Store root:        {}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        crate::image::platform::host_arch(),
        store_layout::LAYOUT_VERSION,
        root.display()
    );
    Ok(crate::output::out(&text)?)
}

/// Runs `info`.
pub fn info(ctx: &Ctx, args: &InfoArgs) -> Result<()> {
    let db = ctx.store.db()?;
    let uname = rustix::system::uname();
    let rootless = crate::userns::is_rootless() || !rustix::process::getuid().is_root();
    if let Some(f) = &args.format {
        let containers = ctx.store.containers()?.len();
        let value = json!({
            "ServerVersion": env!("CARGO_PKG_VERSION"),
            "Images": db.images().len(),
            "Containers": containers,
            "Tags": db.tags().len(),
            "Layers": db.layers().len(),
            "Driver": "overlay",
            "DockerRootDir": ctx.store.root().display().to_string(),
            "LayoutVersion": store_layout::LAYOUT_VERSION,
            "Rootless": rootless,
            "KernelVersion": uname.release().to_string_lossy(),
            "OperatingSystem": uname.sysname().to_string_lossy(),
            "OSType": "linux",
            "Architecture": std::env::consts::ARCH,
        });
        return print_object(f, &value);
    }
    let text = format!(
        "Client:\n Version:    {}\n\nStore:\n Images: {}\n Tags: {}\n Layers: {}\n Storage Driver: overlay\n Root Dir: {}\n Layout: {}\n Rootless: {}\n Kernel Version: {}\n Operating System: {}\n Architecture: {}",
        env!("CARGO_PKG_VERSION"),
        db.images().len(),
        db.tags().len(),
        db.layers().len(),
        ctx.store.root().display(),
        store_layout::LAYOUT_VERSION,
        rootless,
        uname.release().to_string_lossy(),
        uname.sysname().to_string_lossy(),
        std::env::consts::ARCH,
    );
    Ok(crate::output::out(
        &(text + &super::setup::report(ctx.store.root())),
    )?)
}
