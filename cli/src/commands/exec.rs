//! `strata exec [-i] [-t] [-d] [-e] [-w] [-u] CONTAINER COMMAND [ARG...]`: run a command
//! in a running container.

use crate::container::exec::{self, ExecError, ExecOptions};
use crate::container::lookup::find;
use crate::context::Ctx;
use crate::error::SilentExit;
use anyhow::{bail, Result};
use std::io::IsTerminal;

/// Arguments of `exec`.
#[derive(clap::Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Detached mode: run command in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]").
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// The container, then the command and its arguments.
    #[arg(value_name = "CONTAINER", required = true, num_args = 2..)]
    pub container_and_command: Vec<String>,
}

/// Runs `exec`; exits with the command's status.
pub fn run(ctx: &Ctx, args: &ExecArgs) -> Result<()> {
    if args.interactive && args.tty && !args.detach && !std::io::stdin().is_terminal() {
        bail!("the input device is not a TTY");
    }
    let rec = find(&ctx.store, &args.container_and_command[0])?;
    let opts = ExecOptions {
        argv: args.container_and_command[1..].to_vec(),
        env: args.env.clone(),
        workdir: args.workdir.clone(),
        user: args.user.clone(),
        tty: args.tty,
        interactive: args.interactive,
        detach: args.detach,
    };
    match exec::exec(&ctx.store, &rec, &opts) {
        Ok(0) => Ok(()),
        Ok(code) => Err(SilentExit(code).into()),
        Err(e @ ExecError::Start { .. }) => {
            eprintln!("{e}");
            Err(SilentExit(e.exit_code()).into())
        }
        Err(ExecError::Signal(e)) => {
            eprintln!("Error response from daemon: {e}");
            Err(SilentExit(1).into())
        }
        Err(e) => {
            eprintln!("Error: {e}");
            Err(SilentExit(e.exit_code()).into())
        }
    }
}
