//! `strata history IMAGE`.

use super::inspect::load_config;
use super::table::render;
use crate::clock::now_unix;
use crate::context::Ctx;
use crate::output::{
    human_ago, human_size, parse_rfc3339, DEFAULT_HISTORY_FORMAT, HISTORY_HEADERS,
};
use crate::resolve::resolve;
use anyhow::Result;
use serde_json::json;

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
    rows.reverse();
    let now = now_unix();
    let mut values = Vec::new();
    for (i, (h, size)) in rows.iter().enumerate() {
        let shown_id = if i == 0 {
            if args.no_trunc {
                id.to_string()
            } else {
                id.short().to_string()
            }
        } else {
            "<missing>".to_string()
        };
        if args.quiet {
            crate::output::out(&shown_id)?;
            continue;
        }
        let created = h.created.as_deref().and_then(parse_rfc3339).unwrap_or(0);
        let mut by = h.created_by.clone().unwrap_or_default().replace('\t', " ");
        if !args.no_trunc && by.chars().count() > 45 {
            by = by.chars().take(44).collect::<String>() + "…";
        }
        values.push(json!({
            "ID": shown_id,
            "CreatedSince": if args.human { human_ago(created, now) } else { h.created.clone().unwrap_or_default() },
            "CreatedAt": h.created.clone().unwrap_or_default(),
            "CreatedBy": by,
            "Size": if args.human { human_size(*size) } else { size.to_string() },
            "Comment": h.comment.clone().unwrap_or_default(),
        }));
    }
    if args.quiet {
        return Ok(());
    }
    for line in render(
        args.format.as_deref(),
        DEFAULT_HISTORY_FORMAT,
        &values,
        HISTORY_HEADERS,
    )? {
        crate::output::out(&line)?;
    }
    Ok(())
}
