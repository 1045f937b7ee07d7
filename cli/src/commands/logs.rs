//! `strata logs [-f] [-t] [--since] [--tail] CONTAINER`: a detached container's output
//! from its json-file log, each line on the stream it was written to.

use crate::container::logs::{self, Entry, Filter};
use crate::container::lookup::{find, live_state};
use crate::context::Ctx;
use anyhow::{anyhow, Result};
use std::io::Write;
use std::time::Duration;
use store_layout::ContainerStatus;

/// Arguments of `logs`.
#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show timestamps.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m").
    #[arg(long)]
    pub since: Option<String>,
    /// Number of lines to show from the end of the logs.
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// The container.
    pub container: String,
}

/// Writes entries to standard output or error, as they were written.
pub(super) fn show(entries: &[Entry], timestamps: bool) -> Result<()> {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for e in entries {
        let w: &mut dyn Write = if e.stream == "stderr" {
            &mut err
        } else {
            &mut out
        };
        if timestamps {
            write!(w, "{} ", logs::fixed_time(&e.time))?;
        }
        w.write_all(e.log.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// Runs `logs`.
pub fn run(ctx: &Ctx, args: &LogsArgs) -> Result<()> {
    let rec = find(&ctx.store, &args.container)?;
    let tail = match args.tail.as_str() {
        "all" => None,
        n => Some(
            n.parse::<i64>()
                .map_err(|_| anyhow!("invalid value for \"tail\": {n}"))?,
        )
        .filter(|n| *n >= 0)
        .map(|n| n as usize),
    };
    let since = match &args.since {
        Some(s) => Some(
            logs::parse_since(s, crate::clock::now_unix())
                .ok_or_else(|| anyhow!("invalid value for \"since\": {s}"))?,
        ),
        None => None,
    };
    let dir = ctx.store.container_dir(&rec.id)?;
    let (entries, offset) = logs::read(&dir, &Filter { since, tail })?;
    show(&entries, args.timestamps)?;
    if args.follow {
        follow(ctx, &rec.id, offset, args.timestamps)?;
    }
    Ok(())
}

/// Shows what the container writes after `offset` of its log until it ends.
pub(super) fn follow(ctx: &Ctx, id: &str, offset: u64, timestamps: bool) -> Result<()> {
    follow_until(ctx, id, offset, timestamps, || false)
}

/// [`follow`], ending early once `stop` says so (`attach`'s detach keys).
pub(super) fn follow_until(
    ctx: &Ctx,
    id: &str,
    mut offset: u64,
    timestamps: bool,
    stop: impl Fn() -> bool,
) -> Result<()> {
    let dir = ctx.store.container_dir(id)?;
    loop {
        // Read once more after it ended: what it wrote last is in the log by then.
        let running = matches!(
            live_state(&ctx.store, id),
            Ok(s) if s.status == ContainerStatus::Running
        );
        let (more, next) = logs::read_from(&dir, offset)?;
        offset = next;
        show(&more, timestamps)?;
        if !running || stop() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
