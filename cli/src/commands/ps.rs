//! `strata ps [-a] [-q] [--no-trunc] [--format]`: list containers.

use crate::container::lookup::live_state;
use crate::container::spec::RunConfig;
use crate::context::Ctx;
use crate::output::{human_ago, human_duration, parse_rfc3339};
use anyhow::Result;
use serde_json::json;
use store_layout::ContainerStatus;

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
}

/// docker's default `ps` table.
const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedAt}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
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
    let mut rows = Vec::new();
    for c in ctx.store.containers()? {
        let state = live_state(&ctx.store, &c.id)?;
        let running = state.status == ContainerStatus::Running;
        if !args.all && !running {
            continue;
        }
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
            "CreatedAt": human_ago(created, now),
            "RunningFor": human_ago(created, now),
            "Status": status,
            "State": state.status.as_str(),
            "Ports": if running { cfg.ports_column() } else { String::new() },
            "Names": c.name,
        }));
    }
    if args.quiet {
        return Ok(());
    }
    for line in super::table::render(args.format.as_deref(), DEFAULT_FORMAT, &rows, HEADERS)? {
        crate::output::out(&line)?;
    }
    Ok(())
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
