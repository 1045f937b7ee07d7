//! `strata history IMAGE`.

use super::inspect::load_config;
use super::table::print;
use crate::clock::now_unix;
use crate::context::Ctx;
use crate::output::{
    human_ago, human_size, parse_rfc3339, rfc3339, DEFAULT_HISTORY_FORMAT, HISTORY_HEADERS,
};
use crate::resolve::resolve;
use anyhow::Result;
use serde_json::json;
use store_layout::{Db, Digest};

/// Arguments of `history`.
#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// The image.
    pub image: String,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
    /// Print sizes and dates in human readable format.
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub human: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Runs `history`.
pub fn run(ctx: &Ctx, args: &HistoryArgs) -> Result<()> {
    let db = ctx.store.db()?;
    let (id, _) = resolve(&db, &args.image)?;
    let img = &db.images()[&id];
    let cfg = load_config(&ctx.store, &id)?;
    let mut sizes = img
        .layers
        .iter()
        .map(|c| db.layers().get(c).map_or(0, |l| l.size));
    let mut rows = Vec::new();
    let history = if cfg.history.is_empty() {
        vec![Default::default(); img.layers.len()]
    } else {
        cfg.history.clone()
    };
    for h in &history {
        let size = if h.empty_layer == Some(true) {
            0
        } else {
            sizes.next().unwrap_or(0)
        };
        rows.push((h.clone(), size));
    }
    let ids = stored_ids(ctx, &db, &id, &img.layers, &history);
    rows.reverse();
    let now = now_unix();
    let mut values = Vec::new();
    for (i, (h, size)) in rows.iter().enumerate() {
        let shown_id = match &ids[rows.len() - 1 - i] {
            Some(d) if args.no_trunc => d.to_string(),
            Some(d) => d.short().to_string(),
            None => "<missing>".to_string(),
        };
        if args.quiet {
            crate::output::out(&shown_id)?;
            continue;
        }
        let created = h.created.as_deref().and_then(parse_rfc3339).unwrap_or(0);
        let created_at = h.created.as_ref().map(|_| rfc3339(created, 0));
        let mut by = h.created_by.clone().unwrap_or_default().replace('\t', " ");
        if !args.no_trunc && by.chars().count() > 45 {
            by = by.chars().take(44).collect::<String>() + "…";
        }
        values.push(json!({
            "ID": shown_id,
            "CreatedSince": if args.human { human_ago(created, now) } else { created_at.clone().unwrap_or_default() },
            "CreatedAt": created_at.unwrap_or_default(),
            "CreatedBy": by,
            "Size": if args.human { human_size(*size) } else { size.to_string() },
            "Comment": h.comment.clone().unwrap_or_default(),
        }));
    }
    if args.quiet {
        return Ok(());
    }
    print(
        args.format.as_deref(),
        DEFAULT_HISTORY_FORMAT,
        &values,
        HISTORY_HEADERS,
    )
}

/// For each entry of `history` (oldest first), the image of the store that ends there:
/// `id` for the last, and for an earlier one an image whose layers are the layers up to
/// that entry and whose history is as long (docker's `<missing>` where there is none).
fn stored_ids(
    ctx: &Ctx,
    db: &Db,
    id: &Digest,
    layers: &[Digest],
    history: &[crate::image::History],
) -> Vec<Option<Digest>> {
    let mut ids = vec![None; history.len()];
    let mut layer_count = Vec::with_capacity(history.len());
    let mut n = 0;
    for h in history {
        if h.empty_layer != Some(true) {
            n += 1;
        }
        layer_count.push(n);
    }
    for (other, img) in db.images() {
        if other == id || img.layers.len() > layers.len() || !layers.starts_with(&img.layers) {
            continue;
        }
        let Ok(cfg) = load_config(&ctx.store, other) else {
            continue;
        };
        let len = cfg.history.len();
        if len == 0 || len >= history.len() || layer_count[len - 1] != img.layers.len() {
            continue;
        }
        ids[len - 1].get_or_insert_with(|| other.clone());
    }
    if let Some(last) = ids.last_mut() {
        *last = Some(id.clone());
    }
    ids
}
