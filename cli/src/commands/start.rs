//! `strata start [-a] [-i] CONTAINER...`: start stopped containers again, with their
//! writable layer as they left it.

use crate::container::launch::{self, Mode};
use crate::container::lookup::{find, live_state};
use crate::container::spec::RunConfig;
use crate::context::Ctx;
use crate::error::SilentExit;
use anyhow::{anyhow, bail, Result};

/// Arguments of `start`.
#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// The containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Runs `start`.
pub fn run(ctx: &Ctx, args: &StartArgs) -> Result<()> {
    let attach = args.attach || args.interactive;
    if attach && args.containers.len() > 1 {
        bail!("you cannot start and attach multiple containers at once");
    }
    let mut failed = false;
    for arg in &args.containers {
        match start_one(ctx, arg, attach, args.interactive) {
            Ok(0) if !attach => crate::output::out(arg)?,
            Ok(0) => {}
            Ok(code) => return Err(SilentExit(code).into()),
            Err(e) if attach => return Err(super::run::exit_error(e)),
            Err(e) => {
                eprintln!("Error: {}", crate::error::error_line(&e));
                failed = true;
            }
        }
    }
    if failed {
        bail!(SilentExit(1));
    }
    Ok(())
}

fn start_one(ctx: &Ctx, arg: &str, attach: bool, interactive: bool) -> Result<i32> {
    let rec = find(&ctx.store, arg)?;
    if live_state(&ctx.store, &rec.id)?.status == "running" {
        return Ok(0);
    }
    let mut cfg: RunConfig = serde_json::from_value(rec.config.clone())
        .map_err(|e| anyhow!("container {}: invalid record: {e}", &rec.id[..12]))?;
    cfg.interactive = interactive;
    let mode = if attach {
        Mode::Attached
    } else {
        Mode::Detached
    };
    launch::start(&ctx.store, &rec, &cfg, mode)
}
