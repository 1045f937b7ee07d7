//! `strata top CONTAINER [ps OPTIONS]` and `strata attach CONTAINER`.

use crate::container::logs;
use crate::container::lookup::{find, live_state};
use crate::container::signal::{running_state, wait_exit};
use crate::container::top::{filter_ps, pids_of};
use crate::context::Ctx;
use crate::error::SilentExit;
use anyhow::{anyhow, bail, Result};
use store_layout::ContainerStatus;

/// Arguments of `top`.
#[derive(clap::Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct TopArgs {
    /// The container.
    pub container: String,
    /// Options for ps (default -ef).
    #[arg(allow_hyphen_values = true)]
    pub ps_options: Vec<String>,
}

/// Arguments of `attach`.
#[derive(clap::Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN (strata's detached containers have none: always so).
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// The container.
    pub container: String,
}

/// Runs `top`.
pub fn top(ctx: &Ctx, args: &TopArgs) -> Result<()> {
    let rec = find(&ctx.store, &args.container)?;
    let state =
        running_state(&ctx.store, &rec).map_err(|e| anyhow!("Error response from daemon: {e}"))?;
    let init = state
        .init_pid
        .ok_or_else(|| anyhow!("container {} is not running", rec.id))?;
    let pids = pids_of(init);
    let opts = if args.ps_options.is_empty() {
        vec!["-ef".to_string()]
    } else {
        args.ps_options.clone()
    };
    let out = std::process::Command::new("ps")
        .args(&opts)
        .output()
        .map_err(|e| anyhow!("cannot run ps: {e}"))?;
    if !out.status.success() {
        bail!("ps: {}", String::from_utf8_lossy(&out.stderr).trim_end());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let rows =
        filter_ps(&text, &pids).ok_or_else(|| anyhow!("Couldn't find PID field in ps output"))?;
    for row in rows {
        crate::output::out(&row)?;
    }
    Ok(())
}

/// Runs `attach`: the container's output from now on, until it ends; exits with its
/// exit code.
pub fn attach(ctx: &Ctx, args: &AttachArgs) -> Result<()> {
    let rec = find(&ctx.store, &args.container)?;
    if live_state(&ctx.store, &rec.id)?.status != ContainerStatus::Running {
        bail!("You cannot attach to a stopped container, start it first");
    }
    let dir = ctx.store.container_dir(&rec.id)?;
    let (_, offset) = logs::read(&dir, &logs::Filter::default())?;
    super::logs::follow(ctx, &rec.id, offset, false)?;
    let code = wait_exit(&ctx.store, &rec.id, None)?
        .and_then(|s| s.exit_code)
        .unwrap_or(0);
    if code != 0 {
        return Err(SilentExit(code).into());
    }
    Ok(())
}
