//! `strata system check [--repair] [--quick]`: verifies the whole store and, asked to,
//! removes what is broken or unused.

use crate::error::SilentExit;
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
    /// Do not hash the blobs (everything else is checked).
    #[arg(long)]
    pub quick: bool,
}

/// Runs `system check`: one line per problem, then a summary; exits 1 unless the store
/// is sound (after the repair, with `--repair`). The store is opened as it is, so that
/// what opening it would clean up is reported too.
pub fn run(root: &Path, args: &CheckArgs) -> Result<()> {
    if !root.join("layout-version").exists() {
        // No store yet: nothing can be wrong with it.
        out(&summary(&CheckReport::default()))?;
        return Ok(());
    }
    let store = Store::open_as_is(root)
        .with_context(|| format!("cannot check the store at {}", root.display()))?;
    let depth = if args.quick {
        CheckDepth::Quick
    } else {
        CheckDepth::Full
    };
    let report = if args.repair {
        let (found, repairs) = store.repair(depth).context("cannot repair the store")?;
        print_problems(&found)?;
        for r in &repairs.removed {
            out(r)?;
        }
        store.check(depth).context("cannot check the store")?
    } else {
        let report = store.check(depth).context("cannot check the store")?;
        print_problems(&report)?;
        report
    };
    if args.repair {
        print_problems(&report)?;
    }
    out(&summary(&report))?;
    if report.is_sound() {
        Ok(())
    } else {
        Err(SilentExit(1).into())
    }
}

fn print_problems(report: &CheckReport) -> Result<()> {
    for p in &report.problems {
        out(&crate::error::escape_controls(&p.to_string()))?;
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
