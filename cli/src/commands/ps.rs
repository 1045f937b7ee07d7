//! `strata ps [-a] [-q] [-l] [-n N] [-s] [-f FILTER] [--no-trunc] [--format]`: list
//! containers.

use crate::container::filter;
use crate::container::lookup::live_state;
use crate::container::spec::RunConfig;
use crate::context::Ctx;
use crate::output::{human_ago, human_duration, human_size, parse_filters, parse_rfc3339};
use anyhow::{anyhow, bail, Result};
use serde_json::json;
use store_layout::{ContainerRecord, ContainerStatus};

/// Arguments of `ps`.
#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a
    /// Go template).
    #[arg(long)]
    pub format: Option<String>,
    /// Filter output based on conditions provided (status, name, id, ancestor, label,
    /// exited).
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Show the latest created container (includes all states).
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Show n last created containers (includes all states).
    #[arg(short = 'n', long = "last", default_value_t = -1, allow_negative_numbers = true)]
    pub last: i64,
    /// Display total file sizes.
    #[arg(short = 's', long)]
    pub size: bool,
}

/// docker's default `ps` table.
const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED"),
    ("RunningFor", "CREATED"),
    ("Status", "STATUS"),
    ("State", "STATE"),
    ("Ports", "PORTS"),
    ("Names", "NAMES"),
    ("Size", "SIZE"),
];

/// Quotes and shortens the command as docker's ps does.
fn command_column(cmd: &str, no_trunc: bool) -> String {
    let shown = if !no_trunc && cmd.chars().count() > 20 {
        let head: String = cmd.chars().take(19).collect();
        format!("{head}…")
    } else {
        cmd.to_string()
    };
    format!("\"{shown}\"")
}

/// Runs `ps`.
pub fn run(ctx: &Ctx, args: &PsArgs) -> Result<()> {
    let now = crate::clock::now_unix();
    let filters = parse_filters(&args.filter).map_err(|e| anyhow!("{e}"))?;
    if let Some((k, _)) = filters
        .iter()
        .find(|(k, _)| !filter::FILTERS.contains(&k.as_str()))
    {
        bail!("invalid filter '{k}'");
    }
    let limit = if args.latest { 1 } else { args.last };
    let all = args.all || limit >= 0 || filters.iter().any(|(k, _)| k == "exited" || k == "status");
    let mut rows = Vec::new();
    let db = ctx.store.db()?;
    let mut shown = 0;
    for c in ctx.store.containers()? {
        if limit >= 0 && shown >= limit {
            break;
        }
        let state = live_state(&ctx.store, &c.id)?;
        let running = state.status == ContainerStatus::Running;
        if !all && !running {
            continue;
        }
        if !filters
            .iter()
            .all(|(k, v)| filter::matches(&db, &c, &state, k, v))
        {
            continue;
        }
        shown += 1;
        let id = if args.no_trunc {
            c.id.clone()
        } else {
            c.id[..12].to_string()
        };
        if args.quiet {
            crate::output::out(&id)?;
            continue;
        }
        let cfg: RunConfig = serde_json::from_value(c.config.clone()).unwrap_or_default();
        let since = |t: &Option<String>| t.as_deref().and_then(parse_rfc3339).unwrap_or(now);
        let status = match state.status {
            ContainerStatus::Running => {
                format!("Up {}", human_duration(now - since(&state.started_at)))
            }
            ContainerStatus::Exited => format!(
                "Exited ({}) {}",
                state.exit_code.unwrap_or(0),
                human_ago(since(&state.finished_at), now)
            ),
            ContainerStatus::Created => "Created".to_string(),
        };
        let created = parse_rfc3339(&c.created).unwrap_or(now);
        rows.push(json!({
            "ID": id,
            "Image": c.image_name,
            "Command": command_column(&cfg.command_line(), args.no_trunc),
            "CreatedAt": crate::output::created_at(created),
            "RunningFor": human_ago(created, now),
            "Status": status,
            "State": state.status.as_str(),
            "Ports": if running { cfg.ports_column() } else { String::new() },
            "Names": c.name,
            "Size": if args.size { size_column(ctx, &c)? } else { String::new() },
        }));
    }
    if args.quiet {
        return Ok(());
    }
    let default = if args.size {
        format!("{DEFAULT_FORMAT}\t{{{{.Size}}}}")
    } else {
        DEFAULT_FORMAT.to_string()
    };
    for line in super::table::render(args.format.as_deref(), &default, &rows, HEADERS)? {
        crate::output::out(&line)?;
    }
    Ok(())
}

/// docker's SIZE: the writable layer, and with the image's layers.
fn size_column(ctx: &Ctx, c: &ContainerRecord) -> Result<String> {
    let rw = super::setup::disk_usage(&ctx.store.container_dir(&c.id)?.join("upper"));
    let db = ctx.store.db()?;
    let image: u64 = c
        .layers
        .iter()
        .filter_map(|l| db.layers().get(l).map(|l| l.size))
        .sum();
    Ok(format!(
        "{} (virtual {})",
        human_size(rw),
        human_size(rw + image)
    ))
}

#[cfg(test)]
mod tests {
    use super::command_column;

    #[test]
    fn command_is_quoted_and_cut_at_twenty() {
        assert_eq!(command_column("sh", false), "\"sh\"");
        assert_eq!(
            command_column("sh -c 'echo hello world'", false),
            "\"sh -c 'echo hello w…\""
        );
        assert_eq!(
            command_column("a b c d e f g h i j k", true),
            "\"a b c d e f g h i j k\""
        );
    }
}
