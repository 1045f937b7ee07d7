//! `strata images` / `strata image ls`.

use super::table::render;
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
                let t = created_of(&db.images()[&id]);
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

/// Runs `images`.
pub fn run(ctx: &Ctx, args: &ImagesArgs) -> Result<()> {
    let db = ctx.store.db()?;
    let filters = parse(&db, &args.filter)?;
    let repo_filter = match &args.repository {
        Some(r) => Some(Reference::parse(r).map_err(|e| anyhow!("{e}"))?),
        None => None,
    };
    let parents: std::collections::BTreeSet<&Digest> = db
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
        if !args.all && dangling && parents.contains(id) {
            continue;
        }
        if let Some(d) = filters.dangling {
            if d != dangling {
                continue;
            }
        }
        let t = created_of(img);
        if filters.before.is_some_and(|b| t >= b) || filters.since.is_some_and(|s| t <= s) {
            continue;
        }
        if !filters
            .labels
            .iter()
            .all(|(k, v)| match (img.labels.get(k), v) {
                (Some(_), None) => true,
                (Some(have), Some(want)) => have == want,
                (None, _) => false,
            })
        {
            continue;
        }
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
        let mut img_rows = Vec::new();
        for full in &tags {
            let r = Reference::parse(full).map_err(|e| anyhow!("{full}: {e}"))?;
            img_rows.push(Row {
                id,
                img,
                repo: r.familiar_name(),
                tag: r.tag().unwrap_or("<none>").to_string(),
                digest: digest_for(&r.name()),
            });
        }
        if args.digests {
            for rd in &img.repo_digests {
                if let Some((name, d)) = rd.split_once('@') {
                    let fam = familiar(name);
                    if !img_rows.iter().any(|r| r.repo == fam) {
                        img_rows.push(Row {
                            id,
                            img,
                            repo: fam,
                            tag: "<none>".into(),
                            digest: d.to_string(),
                        });
                    }
                }
            }
        }
        if img_rows.is_empty() {
            img_rows.push(Row {
                id,
                img,
                repo: "<none>".into(),
                tag: "<none>".into(),
                digest: "<none>".into(),
            });
        }
        for row in img_rows {
            if !filters.references.is_empty() || repo_filter.is_some() {
                if row.repo == "<none>" {
                    continue;
                }
                let with_tag = format!("{}:{}", row.repo, row.tag);
                if !filters.references.is_empty()
                    && !filters
                        .references
                        .iter()
                        .any(|p| glob(p, &row.repo) || glob(p, &with_tag))
                {
                    continue;
                }
                if let Some(rf) = &repo_filter {
                    if rf.familiar_name() != row.repo || rf.tag().is_some_and(|t| t != row.tag) {
                        continue;
                    }
                }
            }
            rows.push(row);
        }
    }

    if args.quiet {
        let mut seen = std::collections::BTreeSet::new();
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
        .map(|r| {
            let created = created_of(r.img);
            json!({
                "Containers": "N/A",
                "CreatedAt": crate::output::created_at(created),
                "CreatedSince": human_ago(created, now),
                "Digest": r.digest,
                "ID": show_id(r.id, args.no_trunc),
                "Repository": r.repo,
                "SharedSize": "N/A",
                "Size": human_size(r.img.size),
                "Tag": r.tag,
                "UniqueSize": "N/A",
                "VirtualSize": human_size(r.img.size),
            })
        })
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
    for line in render(format, default, &values, IMAGES_HEADERS)? {
        crate::output::out(&line)?;
    }
    Ok(())
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
