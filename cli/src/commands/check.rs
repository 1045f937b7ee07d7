//! `strata system check [--repair] [--quick]`: verifies the whole store and, asked to,
//! removes what is broken or unused.

use crate::error::{escape_controls, SilentExit};
use crate::output::out;
use anyhow::{Context, Result};
use std::path::Path;
use store_layout::{CheckDepth, CheckReport, Store};

/// Arguments of `system check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Remove what is broken or unused, then check again.
    #[arg(long)]
    pub repair: bool,
    /// Do not hash the blobs nor measure the layer directories (everything else is
    /// checked).
    #[arg(long)]
    pub quick: bool,
}

/// Runs `system check`: first the clean-up every command does when it opens the store
/// (rolling back an interrupted change, removing staging areas whose owner is gone,
/// trash and temporary files), one line for each thing it removed; then one line per
/// problem, and a summary. Exits 1 unless the store is then sound (after the repair,
/// with `--repair`).
pub fn run(root: &Path, args: &CheckArgs) -> Result<()> {
    if !root.join("layout-version").exists() {
        // No store yet: nothing can be wrong with it.
        out(&summary(&CheckReport::default()))?;
        return Ok(());
    }
    let what = || format!("cannot check the store at {}", root.display());
    let leftovers = Store::open_as_is(root)
        .and_then(|s| s.leftovers())
        .with_context(what)?;
    let store = Store::open(root).with_context(what)?;
    let depth = if args.quick {
        CheckDepth::Quick
    } else {
        CheckDepth::Full
    };
    let mut report = store.check(depth).with_context(what)?;
    for l in leftovers.iter().filter(|l| !report.problems.contains(l)) {
        out(&escape_controls(&format!("cleaned up {l}")))?;
    }
    if args.repair && !report.is_sound() {
        let (found, repairs) = store.repair(depth).context("cannot repair the store")?;
        print_problems(&found)?;
        for r in &repairs.removed {
            out(&escape_controls(r))?;
        }
        report = store.check(depth).with_context(what)?;
    }
    print_problems(&report)?;
    out(&summary(&report))?;
    if report.is_sound() {
        Ok(())
    } else {
        Err(SilentExit(1).into())
    }
}

fn print_problems(report: &CheckReport) -> Result<()> {
    for p in &report.problems {
        out(&escape_controls(&p.to_string()))?;
    }
    Ok(())
}

fn summary(r: &CheckReport) -> String {
    let counts = format!(
        "checked {} blobs, {} layers, {} images, {} tags, {} containers",
        r.blobs, r.layers, r.images, r.tags, r.containers
    );
    match r.problems.len() {
        0 => format!("{counts}: the store is sound"),
        1 => format!("{counts}: 1 problem"),
        n => format!("{counts}: {n} problems"),
    }
}
