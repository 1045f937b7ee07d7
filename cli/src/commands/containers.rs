//! `strata container inspect`, `strata container prune` and `strata system prune`.

use crate::container::inspect::{inspect, ContainerJson};
use crate::container::lookup::{find, live_state};
use crate::context::Ctx;
use crate::output::{human_size, out, Template};
use anyhow::{anyhow, Result};
use store_layout::ContainerStatus;

/// Arguments of `container inspect`.
#[derive(clap::Args, Debug)]
pub struct ContainerInspectArgs {
    /// Format output using a custom template ('json' or a Go template).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Display total file sizes (accepted for docker compatibility).
    #[arg(short = 's', long)]
    pub size: bool,
    /// The containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Arguments of `container prune`.
#[derive(clap::Args, Debug)]
pub struct ContainerPruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// Arguments of `system prune`.
#[derive(clap::Args, Debug)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Prune anonymous volumes (strata has none: accepted for docker compatibility).
    #[arg(long)]
    pub volumes: bool,
}

/// Prints `values` as docker's JSON array, or each through `format`.
pub fn print_inspected(values: &[ContainerJson], format: Option<&str>) -> Result<()> {
    match format {
        None | Some("json") => out(&serde_json::to_string_pretty(values)?)?,
        Some(f) => {
            let tpl = Template::parse(f).map_err(|e| anyhow!("{e}"))?;
            for v in values {
                out(&tpl
                    .render(&serde_json::to_value(v)?)
                    .map_err(|e| anyhow!("{e}"))?)?;
            }
        }
    }
    Ok(())
}

/// Runs `container inspect`.
pub fn inspect_containers(ctx: &Ctx, args: &ContainerInspectArgs) -> Result<()> {
    let mut values = Vec::new();
    let mut failed = false;
    for a in &args.containers {
        match find(&ctx.store, a) {
            Ok(rec) => values.push(inspect(&ctx.store, &rec)?),
            Err(_) => {
                eprintln!("Error: No such container: {a}");
                failed = true;
            }
        }
    }
    print_inspected(&values, args.format.as_deref())?;
    if failed {
        return Err(crate::error::SilentExit(1).into());
    }
    Ok(())
}

/// Removes every container that does not run; prints their IDs; returns the bytes
/// their writable layers held.
fn remove_stopped(ctx: &Ctx) -> Result<u64> {
    let mut removed = Vec::new();
    let mut bytes = 0;
    for c in ctx.store.containers()? {
        if live_state(&ctx.store, &c.id)?.status == ContainerStatus::Running {
            continue;
        }
        bytes += super::setup::disk_usage(&ctx.store.container_dir(&c.id)?.join("upper"));
        ctx.store.remove_container(&c.id)?;
        removed.push(c.id);
    }
    if !removed.is_empty() {
        out("Deleted Containers:")?;
        for id in &removed {
            out(id)?;
        }
        out("")?;
    }
    Ok(bytes)
}

/// Runs `container prune`.
pub fn prune_containers(ctx: &Ctx, args: &ContainerPruneArgs) -> Result<()> {
    if !args.force && !super::prune::confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(());
    }
    let bytes = remove_stopped(ctx)?;
    Ok(out(&format!(
        "Total reclaimed space: {}",
        human_size(bytes)
    ))?)
}

/// Runs `system prune`: stopped containers, then dangling images (`-a`: unused ones).
pub fn prune_system(ctx: &Ctx, args: &SystemPruneArgs) -> Result<()> {
    let images = if args.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    };
    let warning = format!("WARNING! This will remove:\n  - all stopped containers\n  - {images}\n");
    if !args.force && !super::prune::confirm(&warning)? {
        return Ok(());
    }
    remove_stopped(ctx)?;
    super::prune::run(
        ctx,
        &super::prune::PruneArgs {
            all: args.all,
            force: true,
            filter: Vec::new(),
        },
    )
}
