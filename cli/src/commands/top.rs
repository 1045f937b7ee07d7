//! `strata top CONTAINER [ps OPTIONS]` and `strata attach CONTAINER`.

use crate::container::lookup::{find, live_state};
use crate::container::signal::{running_state, wait_exit};
use crate::container::spec::RunConfig;
use crate::container::top::{filter_ps, pids_of};
use crate::container::{attach, logs, tty};
use crate::context::Ctx;
use crate::error::SilentExit;
use anyhow::{anyhow, bail, Result};
use nix::sys::signal::SigSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
    /// Do not attach STDIN.
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process.
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys", default_value = "ctrl-p,ctrl-q")]
    pub detach_keys: String,
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

/// Runs `attach`: the container's output from now on, until it ends; typed input into
/// its standard input when it was started with `-i` (with `-t`: the terminal raw, and
/// the detach keys end `attach` leaving the container running); signals passed on to
/// it without a terminal (`--sig-proxy`). Exits with the container's exit code.
pub fn attach(ctx: &Ctx, args: &AttachArgs) -> Result<()> {
    let rec = find(&ctx.store, &args.container)?;
    if live_state(&ctx.store, &rec.id)?.status != ContainerStatus::Running {
        bail!("You cannot attach to a stopped container, start it first");
    }
    let keys = attach::parse_detach_keys(&args.detach_keys)?;
    let cfg: RunConfig = serde_json::from_value(rec.config.clone())
        .map_err(|e| anyhow!("container {}: invalid record: {e}", &rec.id[..12]))?;
    let dir = ctx.store.container_dir(&rec.id)?;
    let (_, offset) = logs::read(&dir, &logs::Filter::default())?;
    let detached = Arc::new(AtomicBool::new(false));
    let _raw = (cfg.tty && cfg.interactive && !args.no_stdin).then(tty::RawMode::enable);
    // Signals are blocked before any thread starts, so that only the proxy takes them.
    if cfg.tty {
        follow_terminal_size(&ctx.store, &rec);
    } else if args.sig_proxy {
        proxy_signals(&ctx.store, &rec);
    }
    if cfg.interactive && !args.no_stdin {
        let pipe = attach::connect_stdin(&dir)?;
        let keys = if cfg.tty { keys } else { Vec::new() };
        let flag = detached.clone();
        std::thread::spawn(move || forward_input(pipe, keys, &flag));
    }
    super::logs::follow_until(ctx, &rec.id, offset, false, || {
        detached.load(Ordering::Relaxed)
    })?;
    if detached.load(Ordering::Relaxed) {
        return Ok(());
    }
    let code = wait_exit(&ctx.store, &rec.id, None)?
        .and_then(|s| s.exit_code)
        .unwrap_or(0);
    if code != 0 {
        return Err(SilentExit(code).into());
    }
    Ok(())
}

/// Copies typed input into the container's input pipe until it ends, or until the
/// detach keys were typed (then `detached` is set).
fn forward_input(pipe: rustix::fd::OwnedFd, keys: Vec<u8>, detached: &AtomicBool) {
    let mut scanner = attach::EscapeScanner::new(keys);
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    loop {
        let n = match rustix::io::read(std::io::stdin(), &mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        };
        out.clear();
        let done = scanner.feed(&buf[..n], &mut out);
        if !out.is_empty() && rustix::io::write(&pipe, &out).is_err() {
            return;
        }
        if done {
            detached.store(true, Ordering::Relaxed);
            return;
        }
    }
}

/// `--sig-proxy`: the signals `attach` receives go to the container's process.
fn proxy_signals(store: &store_layout::Store, rec: &store_layout::ContainerRecord) {
    let Some((_, target)) = running_state(store, rec)
        .ok()
        .and_then(|s| crate::container::signal::target(&s))
    else {
        return;
    };
    let mut set = SigSet::empty();
    for s in crate::userns::RELAYED {
        set.add(*s);
    }
    if set.thread_block().is_err() {
        return;
    }
    std::thread::spawn(move || {
        while let Some((s, _)) = crate::userns::wait_signal(&set) {
            if let Some(sig) = rustix::process::Signal::from_named_raw(s as i32) {
                let _ = rustix::process::pidfd_send_signal(&target, sig);
            }
        }
    });
}

/// With a terminal: its size is strata's, now and after each SIGWINCH (set on the
/// container's side of it, descriptor 0 of its first process).
fn follow_terminal_size(store: &store_layout::Store, rec: &store_layout::ContainerRecord) {
    let Ok(state) = running_state(store, rec) else {
        return;
    };
    let Some(pid) = state.init_pid else {
        return;
    };
    let Ok(term) = std::fs::File::open(format!("/proc/{pid}/fd/0")) else {
        return;
    };
    tty::resize(rustix::fd::AsFd::as_fd(&term));
    let mut set = SigSet::empty();
    set.add(nix::sys::signal::Signal::SIGWINCH);
    if set.thread_block().is_err() {
        return;
    }
    std::thread::spawn(move || {
        while crate::userns::wait_signal(&set).is_some() {
            tty::resize(rustix::fd::AsFd::as_fd(&term));
        }
    });
}
