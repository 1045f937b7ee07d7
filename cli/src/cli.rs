//! The command line: clap definitions, dispatch, and how errors are shown.

use crate::commands::{
    commit, completion, containers, diff, history, images, import, inspect, load, login, prune, ps,
    pull, push, rm, rmi, run, save, start, system, tag,
};
use crate::context::{store_root, Ctx};
use crate::error::{error_line, SilentExit};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// strata: a daemonless, Docker-compatible container image tool.
#[derive(Parser, Debug)]
#[command(name = "strata", version)]
pub struct Cli {
    /// Root directory of the image store (default /var/lib/strata for root,
    /// $XDG_DATA_HOME/strata otherwise; also STRATA_ROOT).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create and run a new container from an image.
    Run(Box<run::RunArgs>),
    /// Build an image from a Dockerfile.
    Build(crate::commands::build::BuildArgs),
    /// List containers.
    Ps(ps::PsArgs),
    /// Start one or more stopped containers.
    Start(start::StartArgs),
    /// Remove one or more containers.
    Rm(rm::RmArgs),
    #[command(flatten)]
    Life(crate::commands::lifecycle::LifeCommand),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(diff::DiffArgs),
    /// Create a new image from a container's changes.
    Commit(commit::CommitArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(import::ImportArgs),
    /// List images.
    Images(images::ImagesArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(tag::TagArgs),
    /// Remove one or more images.
    Rmi(rmi::RmiArgs),
    /// Return low-level information on images.
    Inspect(inspect::InspectArgs),
    /// Show the history of an image.
    History(history::HistoryArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default).
    Save(save::SaveArgs),
    /// Load an image from a tar archive or STDIN.
    Load(load::LoadArgs),
    /// Download an image from a registry.
    Pull(pull::PullArgs),
    /// Upload an image to a registry.
    Push(push::PushArgs),
    /// Log in to a registry.
    Login(login::LoginArgs),
    /// Log out from a registry.
    Logout(login::LogoutArgs),
    /// Manage images.
    Image {
        /// The image command.
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// Manage containers.
    Container {
        /// The container command.
        #[command(subcommand)]
        command: ContainerCommand,
    },
    /// Manage builds.
    Builder {
        /// The builder command.
        #[command(subcommand)]
        command: BuilderCommand,
    },
    /// Manage strata.
    System {
        /// The system command.
        #[command(subcommand)]
        command: SystemCommand,
    },
    /// Show the strata version information.
    Version(system::VersionArgs),
    /// Display system-wide information.
    Info(system::InfoArgs),
    /// Print the shell completion script for bash, zsh or fish.
    Completion(completion::CompletionArgs),
}

/// `strata image …`.
#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// List images.
    #[command(visible_alias = "list")]
    Ls(images::ImagesArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(import::ImportArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(tag::TagArgs),
    /// Remove one or more images.
    #[command(visible_alias = "remove")]
    Rm(rmi::RmiArgs),
    /// Display detailed information on one or more images.
    Inspect(inspect::InspectArgs),
    /// Show the history of an image.
    History(history::HistoryArgs),
    /// Remove unused images.
    Prune(prune::PruneArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default).
    Save(save::SaveArgs),
    /// Load an image from a tar archive or STDIN.
    Load(load::LoadArgs),
    /// Download an image from a registry.
    Pull(pull::PullArgs),
    /// Upload an image to a registry.
    Push(push::PushArgs),
}

/// `strata container …`.
#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    /// Create and run a new container from an image.
    Run(Box<run::RunArgs>),
    /// List containers.
    #[command(visible_aliases = ["list", "ps"])]
    Ls(ps::PsArgs),
    /// Start one or more stopped containers.
    Start(start::StartArgs),
    /// Remove one or more containers.
    #[command(visible_alias = "remove")]
    Rm(rm::RmArgs),
    #[command(flatten)]
    Life(crate::commands::lifecycle::LifeCommand),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(diff::DiffArgs),
    /// Create a new image from a container's changes.
    Commit(commit::CommitArgs),
    /// Display detailed information on one or more containers.
    Inspect(containers::ContainerInspectArgs),
    /// Remove all stopped containers.
    Prune(containers::ContainerPruneArgs),
}

/// `strata builder …`.
#[derive(Subcommand, Debug)]
pub enum BuilderCommand {
    /// Remove build cache.
    Prune(crate::commands::builder::BuilderPruneArgs),
}

/// `strata system …`.
#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Show strata disk usage.
    Df(system::DfArgs),
    /// Display system-wide information.
    Info(system::InfoArgs),
    /// Verify the whole store; with --repair, remove what is broken or unused.
    Check(crate::commands::check::CheckArgs),
    /// Remove unused data.
    Prune(containers::SystemPruneArgs),
}

impl Command {
    /// Whether the command only reads the store, and so must create nothing: an absent
    /// store reads as empty.
    fn only_reads(&self) -> bool {
        matches!(
            self,
            Command::Images(_)
                | Command::Ps(_)
                | Command::Inspect(_)
                | Command::History(_)
                | Command::Save(_)
                | Command::Info(_)
                | Command::Image {
                    command: ImageCommand::Ls(_)
                        | ImageCommand::Inspect(_)
                        | ImageCommand::History(_)
                        | ImageCommand::Save(_)
                }
                | Command::Container {
                    command: ContainerCommand::Ls(_)
                }
                | Command::System {
                    command: SystemCommand::Df(_) | SystemCommand::Info(_)
                }
        )
    }

    /// Whether the command is a `run` with resource limits (for an ordinary user: run in
    /// a systemd user scope, see `container::scope`).
    fn asks_for_limits(&self) -> bool {
        match self {
            Command::Run(a)
            | Command::Container {
                command: ContainerCommand::Run(a),
            } => a.memory.is_some() || a.cpus.is_some() || a.pids_limit.is_some(),
            _ => false,
        }
    }

    /// Whether the command writes or deletes layer files, and so must run inside the
    /// user namespace when strata runs as an ordinary user.
    fn changes_layers(&self) -> bool {
        if let Command::Life(c)
        | Command::Container {
            command: ContainerCommand::Life(c),
        } = self
        {
            return c.changes_layers();
        }
        matches!(
            self,
            Command::Import(_)
                | Command::Run(_)
                | Command::Build(crate::commands::build::BuildArgs {
                    print_ast: false,
                    ..
                })
                | Command::Start(_)
                | Command::Rm(_)
                | Command::Diff(_)
                | Command::Commit(_)
                | Command::Container {
                    command: ContainerCommand::Run(_)
                        | ContainerCommand::Start(_)
                        | ContainerCommand::Rm(_)
                        | ContainerCommand::Diff(_)
                        | ContainerCommand::Commit(_)
                        | ContainerCommand::Prune(_)
                }
                | Command::System {
                    command: SystemCommand::Prune(_)
                }
                | Command::Rmi(_)
                | Command::System {
                    command: SystemCommand::Check(_)
                }
                | Command::Builder { .. }
                | Command::Load(_)
                | Command::Pull(_)
                | Command::Image {
                    command: ImageCommand::Import(_)
                        | ImageCommand::Rm(_)
                        | ImageCommand::Prune(_)
                        | ImageCommand::Load(_)
                        | ImageCommand::Pull(_)
                }
        )
    }
}

/// Runs strata with the process's arguments; returns the exit code.
pub fn main() -> i32 {
    if crate::userns::in_child() {
        if let Err(e) = crate::userns::enter_as_child() {
            eprintln!("Error: {:#}", anyhow::Error::from(e));
            return 125;
        }
    }
    let cli = match parse() {
        Ok(c) => c,
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidSubcommand => {
            eprintln!("{}", unknown_command(&e));
            return 1;
        }
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 125,
            };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            if let Some(SilentExit(code)) = e.downcast_ref::<SilentExit>() {
                return *code;
            }
            eprintln!("Error: {}", error_line(&e));
            1
        }
    }
}

/// strata's command line: clap's definitions with docker's conventions on top (see
/// [`crate::flags`]); the completion script and the manual pages come from it too.
pub fn command() -> clap::Command {
    let cmd = <Cli as clap::CommandFactory>::command();
    crate::flags::docker_version_flag(crate::flags::bool_flags_take_values(cmd))
}

fn parse() -> Result<Cli, clap::Error> {
    let mut matches = command().try_get_matches()?;
    <Cli as clap::FromArgMatches>::from_arg_matches_mut(&mut matches)
}

/// docker's message for an unknown command, with the close matches among the commands
/// at the level where it was typed.
fn unknown_command(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let typed = match e.get(ContextKind::InvalidSubcommand) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let mut cmd = command();
    let mut path = Vec::new();
    for a in std::env::args().skip(1).take_while(|a| *a != typed) {
        if let Some(sub) = cmd.find_subcommand(&a).cloned() {
            path.push(a);
            cmd = sub;
        }
    }
    let names: Vec<&str> = cmd
        .get_subcommands()
        .flat_map(|c| std::iter::once(c.get_name()).chain(c.get_all_aliases()))
        .collect();
    crate::flags::unknown_command(&path.join(" "), &typed, names)
}

/// Runs strata again in a user namespace of its own (an ordinary user's command that
/// writes or removes layer files), creating the store directory first.
fn reexec_in_userns(root: std::path::PathBuf) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&root)
        .ok();
    let code = crate::userns::run_in_userns(&std::fs::canonicalize(&root).unwrap_or(root))?;
    if code == 0 {
        Ok(())
    } else {
        Err(SilentExit(code).into())
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let root = store_root(cli.root.clone())?;
    if !matches!(cli.command, Command::Version(_)) {
        crate::userns::check_store_owner(&root)?;
    }
    if !crate::userns::is_rootless() {
        crate::container::network::bridge::recover();
    }
    if cli.command.changes_layers()
        && !rustix::process::getuid().is_root()
        && !crate::userns::in_child()
    {
        use crate::container::scope;
        if cli.command.asks_for_limits() && !scope::in_scope() && scope::unavailable().is_none() {
            let e = scope::reexec_in_scope();
            return Err(anyhow::anyhow!(
                "cannot run systemd-run for a user scope: {e}"
            ));
        }
        return reexec_in_userns(root);
    }
    match &cli.command {
        Command::Version(a) => return system::version(&root, a),
        Command::Completion(a) => return completion::run(a, command()),
        Command::Login(a) => return login::login(a),
        Command::Logout(a) => return login::logout(a),
        Command::Build(a) => return crate::commands::build::run(&root, a),
        Command::System {
            command: SystemCommand::Check(a),
        } => return crate::commands::check::run(&root, a),
        _ => {}
    }
    let ctx = if cli.command.only_reads() {
        Ctx::open_existing(&root, cli.root.is_some())?
    } else {
        Ctx::open(&root)?
    };
    dispatch(&cli.command, &ctx)
}

/// Runs a command that works on the open store.
fn dispatch(command: &Command, ctx: &Ctx) -> anyhow::Result<()> {
    match command {
        Command::Run(a)
        | Command::Container {
            command: ContainerCommand::Run(a),
        } => run::run(ctx, a),
        Command::Ps(a)
        | Command::Container {
            command: ContainerCommand::Ls(a),
        } => ps::run(ctx, a),
        Command::Start(a)
        | Command::Container {
            command: ContainerCommand::Start(a),
        } => start::run(ctx, a),
        Command::Rm(a)
        | Command::Container {
            command: ContainerCommand::Rm(a),
        } => rm::run(ctx, a),
        Command::Life(c)
        | Command::Container {
            command: ContainerCommand::Life(c),
        } => c.run(ctx),
        Command::Diff(a)
        | Command::Container {
            command: ContainerCommand::Diff(a),
        } => diff::run(ctx, a),
        Command::Commit(a)
        | Command::Container {
            command: ContainerCommand::Commit(a),
        } => commit::run(ctx, a),
        Command::Import(a)
        | Command::Image {
            command: ImageCommand::Import(a),
        } => import::run(ctx, a),
        Command::Images(a)
        | Command::Image {
            command: ImageCommand::Ls(a),
        } => images::run(ctx, a),
        Command::Tag(a)
        | Command::Image {
            command: ImageCommand::Tag(a),
        } => tag::run(ctx, a),
        Command::Rmi(a)
        | Command::Image {
            command: ImageCommand::Rm(a),
        } => rmi::run(ctx, a),
        Command::Inspect(a)
        | Command::Image {
            command: ImageCommand::Inspect(a),
        } => inspect::run(ctx, a),
        Command::History(a)
        | Command::Image {
            command: ImageCommand::History(a),
        } => history::run(ctx, a),
        Command::Image {
            command: ImageCommand::Prune(a),
        } => prune::run(ctx, a),
        Command::Save(a)
        | Command::Image {
            command: ImageCommand::Save(a),
        } => save::run(ctx, a),
        Command::Load(a)
        | Command::Image {
            command: ImageCommand::Load(a),
        } => load::run(ctx, a),
        Command::Pull(a)
        | Command::Image {
            command: ImageCommand::Pull(a),
        } => pull::run(ctx, a),
        Command::Push(a)
        | Command::Image {
            command: ImageCommand::Push(a),
        } => push::run(ctx, a),
        Command::System {
            command: SystemCommand::Df(a),
        } => system::df(ctx, a),
        Command::Builder {
            command: BuilderCommand::Prune(a),
        } => crate::commands::builder::prune(ctx, a),
        Command::System {
            command: SystemCommand::Prune(a),
        } => containers::prune_system(ctx, a),
        Command::Container {
            command: ContainerCommand::Inspect(a),
        } => containers::inspect_containers(ctx, a),
        Command::Container {
            command: ContainerCommand::Prune(a),
        } => containers::prune_containers(ctx, a),
        Command::Info(a)
        | Command::System {
            command: SystemCommand::Info(a),
        } => system::info(ctx, a),
        Command::Version(_)
        | Command::System {
            command: SystemCommand::Check(_),
        }
        | Command::Login(_)
        | Command::Logout(_)
        | Command::Build(_)
        | Command::Completion(_) => {
            unreachable!("handled above")
        }
    }
}
