//! `strata builder prune [-a] [-f] [--filter until=…]`: removes the build cache (cache
//! entries and `RUN --mount=type=cache` directories) from the store.

use crate::context::Ctx;
use crate::output::{human_size, parse_filters};
use anyhow::{anyhow, bail, Result};

/// Arguments of `builder prune`.
#[derive(clap::Args, Debug)]
pub struct BuilderPruneArgs {
    /// Remove all unused build cache, not just dangling ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. 'until=24h').
    #[arg(long = "filter")]
    pub filter: Vec<String>,
}

/// Runs `builder prune`.
pub fn prune(ctx: &Ctx, args: &BuilderPruneArgs) -> Result<()> {
    let mut until = None;
    for (k, v) in parse_filters(&args.filter).map_err(|e| anyhow!("{e}"))? {
        match k.as_str() {
            "until" => until = Some(super::prune::parse_until(&v, crate::clock::now_unix())?),
            other => bail!("invalid filter '{other}'"),
        }
    }
    if !args.force {
        let what = if args.all {
            "WARNING! This will remove all build cache."
        } else {
            "WARNING! This will remove all dangling build cache."
        };
        if !super::prune::confirm(what)? {
            return Ok(());
        }
    }
    let pruned = crate::build::prune_cache(&ctx.store, args.all, until)?;
    if !pruned.removed.is_empty() {
        crate::output::out("Deleted build cache objects:")?;
        for r in &pruned.removed {
            crate::output::out(r)?;
        }
        crate::output::out("")?;
    }
    Ok(crate::output::out(&format!(
        "Total reclaimed space: {}",
        human_size(pruned.bytes)
    ))?)
}
