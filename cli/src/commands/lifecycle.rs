//! The container life-cycle verbs, shared by the top level and `strata container …`.

use super::{cp, exec, logs, rename, run, stop, top};
use crate::context::Ctx;
use anyhow::Result;
use clap::Subcommand;

/// `create`, `stop`, `restart`, `kill`, `wait`, `logs`, `rename`, ….
#[derive(Subcommand, Debug)]
pub enum LifeCommand {
    /// Create a new container.
    Create(Box<run::RunArgs>),
    /// Stop one or more running containers.
    Stop(stop::StopArgs),
    /// Restart one or more containers.
    Restart(stop::StopArgs),
    /// Kill one or more running containers.
    Kill(stop::KillArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(stop::WaitArgs),
    /// Fetch the logs of a container.
    Logs(logs::LogsArgs),
    /// Rename a container.
    Rename(rename::RenameArgs),
    /// Execute a command in a running container.
    Exec(exec::ExecArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(cp::CpArgs),
    /// Export a container's filesystem as a tar archive.
    Export(cp::ExportArgs),
    /// Display the running processes of a container.
    Top(top::TopArgs),
    /// Attach to a running container's output.
    Attach(top::AttachArgs),
}

impl LifeCommand {
    /// Whether the command writes or deletes layer files (and so runs inside the user
    /// namespace for an ordinary user). Those that join a running container's own
    /// namespaces must not: they need the user's place outside.
    pub fn changes_layers(&self) -> bool {
        matches!(self, LifeCommand::Create(_) | LifeCommand::Restart(_))
    }

    /// Runs the command.
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        match self {
            LifeCommand::Create(a) => rename::create(ctx, a),
            LifeCommand::Stop(a) => stop::stop(ctx, a),
            LifeCommand::Restart(a) => stop::restart(ctx, a),
            LifeCommand::Kill(a) => stop::kill(ctx, a),
            LifeCommand::Wait(a) => stop::wait(ctx, a),
            LifeCommand::Logs(a) => logs::run(ctx, a),
            LifeCommand::Rename(a) => rename::rename(ctx, a),
            LifeCommand::Exec(a) => exec::run(ctx, a),
            LifeCommand::Cp(a) => cp::cp(ctx, a),
            LifeCommand::Export(a) => cp::export(ctx, a),
            LifeCommand::Top(a) => top::top(ctx, a),
            LifeCommand::Attach(a) => top::attach(ctx, a),
        }
    }
}
