//! `strata rm [-f] CONTAINER...`: remove containers and their writable layers.

use crate::container::lookup::{find, live_state, process_start};
use crate::context::Ctx;
use crate::error::SilentExit;
use anyhow::{bail, Result};
use std::time::{Duration, Instant};
use store_layout::ContainerStatus;

/// Arguments of `rm`.
#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// The containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Runs `rm`.
pub fn run(ctx: &Ctx, args: &RmArgs) -> Result<()> {
    each_container(&args.containers, |arg| remove_one(ctx, arg, args.force))
}

/// Runs `one` on each named container, printing the name after each success and an
/// `Error:` line after each failure, as docker's container commands do; exits 1 when
/// any failed.
pub(super) fn each_container(
    names: &[String],
    mut one: impl FnMut(&str) -> Result<()>,
) -> Result<()> {
    let mut failed = false;
    for arg in names {
        match one(arg) {
            Ok(()) => crate::output::out(arg)?,
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

fn remove_one(ctx: &Ctx, arg: &str, force: bool) -> Result<()> {
    let rec = find(&ctx.store, arg)?;
    let state = live_state(&ctx.store, &rec.id)?;
    if state.status == ContainerStatus::Running {
        if !force {
            bail!(
                "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                rec.id
            );
        }
        if let (Some(pid), Some(start)) = (state.pid, state.pid_start) {
            // The watcher's death takes the container with it (PR_SET_PDEATHSIG).
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while process_start(pid) == Some(start) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            // pasta or slirp4netns end with the watcher, a moment later: their ports are
            // free when rm returns.
            if let Ok(dir) = ctx.store.container_dir(&rec.id) {
                crate::container::network::end_user_net(&dir);
            }
            // What the killed watcher held of root's bridge network goes now.
            if !crate::userns::is_rootless() {
                crate::container::network::bridge::recover();
            }
        }
    }
    ctx.store.remove_container(&rec.id)?;
    Ok(())
}
