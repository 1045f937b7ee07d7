//! `strata images` / `strata image ls`.

use super::table::print;
use crate::clock::now_unix;
use crate::context::Ctx;
use crate::image_filter::{created_of, ImageFilter};
use crate::output::{
    human_ago, human_size, Template, DEFAULT_IMAGES_DIGEST_FORMAT, DEFAULT_IMAGES_FORMAT,
    IMAGES_HEADERS,
};
use crate::reference::{familiar, Reference};
use anyhow::{anyhow, Result};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use store_layout::{Digest, ImageRecord};

/// Arguments of `images`.
#[derive(clap::Args, Debug)]
pub struct ImagesArgs {
    /// Show images of this repository (and tag) only.
    pub repository: Option<String>,
    /// Show all images (default hides intermediate images).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (dangling, reference, label, before, since).
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or TEMPLATE.
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// One row of output before formatting.
struct Row<'a> {
    id: &'a Digest,
    img: &'a ImageRecord,
    repo: String,
    tag: String,
    digest: String,
}

/// The rows of one image: one per tag; with `--digests`, one for each repository
/// digest of a repository without a tag; else one `<none>` row.
fn image_rows<'a>(
    id: &'a Digest,
    img: &'a ImageRecord,
    tags: &[&str],
    digests: bool,
) -> Result<Vec<Row<'a>>> {
    let digest_for = |name: &str| -> String {
        img.repo_digests
            .iter()
            .find_map(|rd| {
                rd.split_once('@')
                    .filter(|(n, _)| *n == name)
                    .map(|(_, d)| d.to_string())
            })
            .unwrap_or_else(|| "<none>".into())
    };
    let row = |repo: String, tag: String, digest: String| Row {
        id,
        img,
        repo,
        tag,
        digest,
    };
    let mut rows = Vec::new();
    for full in tags {
        let r = Reference::parse(full).map_err(|e| anyhow!("{full}: {e}"))?;
        let tag = r.tag().unwrap_or("<none>").to_string();
        rows.push(row(r.familiar_name(), tag, digest_for(&r.name())));
    }
    if digests {
        for (name, d) in img.repo_digests.iter().filter_map(|rd| rd.split_once('@')) {
            let fam = familiar(name);
            if !rows.iter().any(|r| r.repo == fam) {
                rows.push(row(fam, "<none>".into(), d.to_string()));
            }
        }
    }
    if rows.is_empty() {
        rows.push(row("<none>".into(), "<none>".into(), "<none>".into()));
    }
    Ok(rows)
}

/// A row as the template sees it (docker's image context).
fn row_value(r: &Row<'_>, now: i64, no_trunc: bool) -> Value {
    let created = created_of(r.img);
    json!({
        "Containers": "N/A",
        "CreatedAt": crate::output::created_at(created),
        "CreatedSince": human_ago(created, now),
        "Digest": r.digest,
        "ID": show_id(r.id, no_trunc),
        "Repository": r.repo,
        "SharedSize": "N/A",
        "Size": human_size(r.img.size),
        "Tag": r.tag,
        "UniqueSize": "N/A",
        "VirtualSize": human_size(r.img.size),
    })
}

/// Runs `images`.
pub fn run(ctx: &Ctx, args: &ImagesArgs) -> Result<()> {
    let db = ctx.store.db()?;
    let filter = ImageFilter::new(&db, &args.filter, args.repository.as_deref())?;
    let parents: BTreeSet<&Digest> = db
        .images()
        .values()
        .filter_map(|i| i.parent.as_ref())
        .collect();

    let mut images: Vec<(&Digest, &ImageRecord)> = db.images().iter().collect();
    images.sort_by(|a, b| created_of(b.1).cmp(&created_of(a.1)).then(a.0.cmp(b.0)));
    let mut rows = Vec::new();
    for (id, img) in images {
        let tags = db.tags_of(id);
        let dangling = tags.is_empty();
        // Untagged parents are intermediate images, shown with `-a` only.
        if (!args.all && dangling && parents.contains(id)) || !filter.keeps_image(img, dangling) {
            continue;
        }
        let image_rows = image_rows(id, img, &tags, args.digests)?;
        rows.extend(
            image_rows
                .into_iter()
                .filter(|row| filter.keeps_name(&row.repo, &row.tag)),
        );
    }

    if args.quiet {
        let mut seen = BTreeSet::new();
        for r in &rows {
            if seen.insert(r.id) {
                crate::output::out(&show_id(r.id, args.no_trunc))?;
            }
        }
        return Ok(());
    }
    let now = now_unix();
    let values: Vec<Value> = rows
        .iter()
        .map(|r| row_value(r, now, args.no_trunc))
        .collect();
    let default = if args.digests {
        DEFAULT_IMAGES_DIGEST_FORMAT
    } else {
        DEFAULT_IMAGES_FORMAT
    };
    let format = args
        .format
        .as_deref()
        .filter(|f| !f.is_empty() && *f != "table");
    if let Some(f) = format {
        Template::parse(f.strip_prefix("table").unwrap_or(f)).map_err(|e| anyhow!("{e}"))?;
    }
    print(format, default, &values, IMAGES_HEADERS)
}

/// An image ID as `images` shows it.
pub fn show_id(id: &Digest, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.short().to_string()
    }
}
