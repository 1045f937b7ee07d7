//! `strata start [-a] [-i] CONTAINER...`: start stopped containers again, with their
//! writable layer as they left it.

use crate::container::launch::{self, Mode};
use crate::container::lookup::{find, live_state};
use crate::container::spec::RunConfig;
use crate::context::Ctx;
use crate::error::SilentExit;
use anyhow::{anyhow, bail, Result};
use store_layout::ContainerStatus;

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
    if !attach {
        return super::rm::each_container(&args.containers, |arg| {
            start_one(ctx, arg, Mode::Detached, false).map(drop)
        });
    }
    let [arg] = args.containers.as_slice() else {
        bail!("you cannot start and attach multiple containers at once");
    };
    match start_one(ctx, arg, Mode::AttachedLogged, args.interactive) {
        Ok(0) => Ok(()),
        Ok(code) => Err(SilentExit(code).into()),
        Err(e) => Err(super::run::exit_error(e)),
    }
}

pub(super) fn start_one(ctx: &Ctx, arg: &str, mode: Mode, interactive: bool) -> Result<i32> {
    let rec = find(&ctx.store, arg)?;
    if live_state(&ctx.store, &rec.id)?.status == ContainerStatus::Running {
        return Ok(0);
    }
    let mut cfg: RunConfig = serde_json::from_value(rec.config.clone())
        .map_err(|e| anyhow!("container {}: invalid record: {e}", &rec.id[..12]))?;
    // A detached start keeps the input `create -i` recorded, for `attach`.
    if !matches!(mode, Mode::Detached) {
        cfg.interactive = interactive;
    }
    Ok(launch::start(&ctx.store, &rec, &cfg, mode)?)
}
