//! `strata stop [-t] CONTAINER...`, `restart`, `kill [-s]` and `wait`: signalling
//! running containers and waiting for them to end.

use crate::container::launch::Mode;
use crate::container::lookup::find;
use crate::container::signal::{self, parse_signal, SignalError};
use crate::context::Ctx;
use anyhow::{anyhow, Result};
use std::time::Duration;

/// Arguments of `stop`.
#[derive(clap::Args, Debug)]
pub struct StopArgs {
    /// Signal to send to the container (default: the image's StopSignal, else SIGTERM).
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container.
    #[arg(
        short = 't',
        long = "time",
        visible_alias = "timeout",
        default_value_t = 10
    )]
    pub time: u64,
    /// The containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Arguments of `kill`.
#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container.
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    /// The containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Arguments of `wait`.
#[derive(clap::Args, Debug)]
pub struct WaitArgs {
    /// The containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

fn stop_one(ctx: &Ctx, arg: &str, args: &StopArgs) -> Result<()> {
    let rec = find(&ctx.store, arg)?;
    let sig = match &args.signal {
        Some(s) => parse_signal(s)?,
        None => signal::stop_signal(&ctx.store, &rec)?,
    };
    signal::stop(&ctx.store, &rec, sig, Duration::from_secs(args.time))
        .map_err(|e| anyhow!("cannot stop container: {arg}: {e}"))
}

/// Runs `stop`.
pub fn stop(ctx: &Ctx, args: &StopArgs) -> Result<()> {
    each(&args.containers, |arg| {
        stop_one(ctx, arg, args)?;
        Ok(arg.to_string())
    })
}

/// Runs `restart`: stop (if running), then start detached.
pub fn restart(ctx: &Ctx, args: &StopArgs) -> Result<()> {
    each(&args.containers, |arg| {
        stop_one(ctx, arg, args)?;
        super::start::start_one(ctx, arg, Mode::Detached, false)?;
        Ok(arg.to_string())
    })
}

/// Runs `kill`.
pub fn kill(ctx: &Ctx, args: &KillArgs) -> Result<()> {
    let sig = parse_signal(&args.signal)?;
    each(&args.containers, |arg| {
        let rec = find(&ctx.store, arg)?;
        signal::kill(&ctx.store, &rec, sig).map_err(|e| match e {
            SignalError::NotRunning(_) | SignalError::Send { .. } => {
                anyhow!("cannot kill container: {arg}: {e}")
            }
            e => e.into(),
        })?;
        Ok(arg.to_string())
    })
}

/// Runs `wait`: blocks until each container ends and prints its exit code.
pub fn wait(ctx: &Ctx, args: &WaitArgs) -> Result<()> {
    each(&args.containers, |arg| {
        let rec = find(&ctx.store, arg)?;
        let state = signal::wait_exit(&ctx.store, &rec.id, None)?;
        Ok(state.and_then(|s| s.exit_code).unwrap_or(0).to_string())
    })
}

/// Runs `one` on each named container and prints the line it returns, or docker's
/// `Error response from daemon:` line; exits 1 when any failed.
pub(super) fn each(names: &[String], mut one: impl FnMut(&str) -> Result<String>) -> Result<()> {
    let mut failed = false;
    for arg in names {
        match one(arg) {
            Ok(line) => crate::output::out(&line)?,
            Err(e) => {
                eprintln!(
                    "Error response from daemon: {}",
                    crate::error::error_line(&e)
                );
                failed = true;
            }
        }
    }
    if failed {
        anyhow::bail!(crate::error::SilentExit(1));
    }
    Ok(())
}
