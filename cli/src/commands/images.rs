//! `strata images` / `strata image ls`.

use super::table::print;
use crate::clock::now_unix;
use crate::context::Ctx;
use crate::output::{
    human_ago, human_size, parse_filters, parse_rfc3339, Template, DEFAULT_IMAGES_DIGEST_FORMAT,
    DEFAULT_IMAGES_FORMAT, IMAGES_HEADERS,
};
use crate::reference::{familiar, Reference};
use crate::resolve::resolve;
use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use store_layout::{Db, Digest, ImageRecord};

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

/// Image filters, as docker's `-f`.
struct Filters {
    dangling: Option<bool>,
    references: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    before: Option<i64>,
    since: Option<i64>,
}

fn created_of(img: &ImageRecord) -> i64 {
    img.created
        .as_deref()
        .and_then(parse_rfc3339)
        .unwrap_or(img.added)
}

fn parse(db: &Db, raw: &[String]) -> Result<Filters> {
    let mut f = Filters {
        dangling: None,
        references: Vec::new(),
        labels: Vec::new(),
        before: None,
        since: None,
    };
    for (k, v) in parse_filters(raw).map_err(|e| anyhow!("{e}"))? {
        match k.as_str() {
            "dangling" => {
                f.dangling = Some(match v.to_ascii_lowercase().as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => bail!("invalid filter 'dangling={v}'"),
                })
            }
            "reference" => f.references.push(v),
            "label" => {
                let (k, val) = match v.split_once('=') {
                    Some((k, val)) => (k.to_string(), Some(val.to_string())),
                    None => (v.clone(), None),
                };
                f.labels.push((k, val));
            }
            "before" | "since" => {
                let (id, _) = resolve(db, &v)?;
                let t = created_of(&db.images[&id]);
                if k == "before" {
                    f.before = Some(t);
                } else {
                    f.since = Some(t);
                }
            }
            other => bail!("invalid filter '{other}'"),
        }
    }
    Ok(f)
}

/// Shell-style glob match (`*`, `?`), as Go's path.Match does for references.
pub fn glob(pat: &str, s: &str) -> bool {
    fn m(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).any(|i| !s[..i].contains(&b'/') && m(&p[1..], &s[i..])),
            Some(b'?') => !s.is_empty() && s[0] != b'/' && m(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && m(&p[1..], &s[1..]),
        }
    }
    m(pat.as_bytes(), s.as_bytes())
}

/// One row of output before formatting.
struct Row<'a> {
    id: &'a Digest,
    img: &'a ImageRecord,
    repo: String,
    tag: String,
    digest: String,
}

impl Filters {
    /// Whether an image (`dangling` when untagged) passes the `dangling`, `before`,
    /// `since` and `label` filters.
    fn keeps_image(&self, img: &ImageRecord, dangling: bool) -> bool {
        if self.dangling.is_some_and(|d| d != dangling) {
            return false;
        }
        let t = created_of(img);
        if self.before.is_some_and(|b| t >= b) || self.since.is_some_and(|s| t <= s) {
            return false;
        }
        self.labels
            .iter()
            .all(|(k, v)| match (img.labels.get(k), v) {
                (Some(_), None) => true,
                (Some(have), Some(want)) => have == want,
                (None, _) => false,
            })
    }

    /// Whether a row passes the `reference` filters and the `REPOSITORY[:TAG]`
    /// argument (when either is given, untagged rows do not).
    fn keeps_row(&self, row: &Row<'_>, repository: Option<&Reference>) -> bool {
        if self.references.is_empty() && repository.is_none() {
            return true;
        }
        if row.repo == "<none>" {
            return false;
        }
        let with_tag = format!("{}:{}", row.repo, row.tag);
        if !self.references.is_empty()
            && !self
                .references
                .iter()
                .any(|p| glob(p, &row.repo) || glob(p, &with_tag))
        {
            return false;
        }
        repository.is_none_or(|rf| {
            rf.familiar_name() == row.repo && rf.tag().is_none_or(|t| t == row.tag)
        })
    }
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
    let filters = parse(&db, &args.filter)?;
    let repository = match &args.repository {
        Some(r) => Some(Reference::parse(r).map_err(|e| anyhow!("{e}"))?),
        None => None,
    };
    let parents: BTreeSet<&Digest> = db
        .images
        .values()
        .filter_map(|i| i.parent.as_ref())
        .collect();

    let mut images: Vec<(&Digest, &ImageRecord)> = db.images.iter().collect();
    images.sort_by(|a, b| created_of(b.1).cmp(&created_of(a.1)).then(a.0.cmp(b.0)));
    let mut rows = Vec::new();
    for (id, img) in images {
        let tags = db.tags_of(id);
        let dangling = tags.is_empty();
        // Untagged parents are intermediate images, shown with `-a` only.
        if (!args.all && dangling && parents.contains(id)) || !filters.keeps_image(img, dangling) {
            continue;
        }
        let image_rows = image_rows(id, img, &tags, args.digests)?;
        rows.extend(
            image_rows
                .into_iter()
                .filter(|row| filters.keeps_row(row, repository.as_ref())),
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

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_like_path_match() {
        assert!(glob("demo/*", "demo/app"));
        assert!(!glob("demo/*", "demo/a/b"));
        assert!(glob("busy*", "busybox"));
        assert!(glob("*:1.?", "app:1.0"));
        assert!(!glob("app", "app2"));
    }
}
