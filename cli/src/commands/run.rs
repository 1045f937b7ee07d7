//! `strata run [OPTIONS] IMAGE [COMMAND] [ARG...]`: a new container from an image,
//! started at once.

use crate::config::PullPolicy;
use crate::container::create::create_record;
use crate::container::launch::{self, LaunchError, Mode};
use crate::container::names::{random_bytes, random_name, valid_name};
use crate::container::spec::{self, RunConfig, RunFlags};
use crate::context::Ctx;
use crate::error::SilentExit;
use crate::image::ImageConfig;
use crate::registry::pull::image_for_run;
use anyhow::{anyhow, bail, Result};
use std::io::IsTerminal;
use store_layout::ContainerRecord;

/// Arguments of `run`.
#[derive(clap::Args, Debug)]
#[command(
    disable_help_flag = true,
    trailing_var_arg = true,
    override_usage = "strata run [OPTIONS] IMAGE [COMMAND] [ARG...]"
)]
pub struct RunArgs {
    /// Pull the image before running (`missing`: only when it is not here, `always`,
    /// `never`; default: `pull` in the configuration, else `missing`).
    #[arg(long, value_name = "POLICY", value_enum)]
    pub pull: Option<PullPolicy>,
    /// Keep STDIN open.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Run container in background and print container ID.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Bind mount a volume (HOST:CONTAINER[:ro]).
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Connect a container to a network (bridge, host, none or private; pasta or slirp4netns choose the bridge network's backend).
    #[arg(long, visible_alias = "net")]
    pub network: Option<String>,
    /// Publish a container's port(s) to the host ([IP:][HOST:]CONTAINER[/udp]).
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Set custom DNS servers.
    #[arg(long)]
    pub dns: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Attach a filesystem mount to the container (type=bind or type=tmpfs).
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory (PATH[:size=…,mode=…]).
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Mount the container's root filesystem as read only.
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub init: bool,
    /// Give extended privileges to this container (root only).
    #[arg(long)]
    pub privileged: bool,
    /// Add Linux capabilities.
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Set meta data on a container.
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels.
    #[arg(long = "label-file")]
    pub label_file: Vec<String>,
    /// Memory limit.
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Set platform if server is multi-platform capable (the host's only).
    #[arg(long)]
    pub platform: Option<String>,
    /// Signal to stop the container.
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    // One argument, so that everything after the image belongs to the command even
    // where it looks like one of these options (`run IMAGE id -u`), as in docker.
    /// The image, then the command and its arguments.
    #[arg(value_name = "IMAGE", required = true)]
    pub image_and_command: Vec<String>,
}

impl RunArgs {
    /// The image.
    pub fn image(&self) -> &str {
        &self.image_and_command[0]
    }

    /// The command and its arguments.
    pub fn command(&self) -> &[String] {
        &self.image_and_command[1..]
    }
}

/// Runs `run`; failures before the command starts exit 125, as docker's do.
pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<()> {
    if args.interactive && args.tty && !args.detach && !std::io::stdin().is_terminal() {
        bail!("the input device is not a TTY");
    }
    match create_and_start(ctx, args) {
        Ok(0) => Ok(()),
        Ok(code) => Err(SilentExit(code).into()),
        Err(e) => Err(exit_error(e)),
    }
}

/// Turns a start failure into docker's exit code (125 unless the command could not run).
pub fn exit_error(e: anyhow::Error) -> anyhow::Error {
    if e.downcast_ref::<SilentExit>().is_some() {
        return e;
    }
    let code = e
        .downcast_ref::<LaunchError>()
        .map_or(125, LaunchError::exit_code);
    eprintln!("Error: {}", crate::error::error_line(&e));
    SilentExit(code).into()
}

fn create_and_start(ctx: &Ctx, args: &RunArgs) -> Result<i32> {
    if let Some(n) = &args.name {
        if !valid_name(n) {
            bail!("Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
        }
    }
    if crate::userns::is_rootless() {
        if args.privileged {
            bail!("--privileged needs root: an ordinary user's container cannot have the host's devices and every capability");
        }
        if args.memory.is_some() || args.cpus.is_some() || args.pids_limit.is_some() {
            crate::container::cgroup::check_rootless()?;
        }
    }
    let (rec, cfg) = create(ctx, args)?;
    if args.detach {
        launch::start(&ctx.store, &rec, &cfg, Mode::Detached)?;
        crate::output::out(&rec.id)?;
        return Ok(0);
    }
    Ok(launch::start(&ctx.store, &rec, &cfg, Mode::AttachedLogged)?)
}

/// Creates the container record (and its directories) for `run`.
pub(super) fn create(ctx: &Ctx, args: &RunArgs) -> Result<(ContainerRecord, RunConfig)> {
    let policy = args.pull.unwrap_or_else(|| crate::config::current().pull());
    let (image, db) = image_for_run(&ctx.store, args.image(), policy)?;
    let config_bytes = ctx.store.read_blob(&image)?;
    let config = ImageConfig::from_slice(&config_bytes)
        .map_err(|e| anyhow!("image {}: invalid config: {e}", image.short()))?;
    let id = hex::encode(random_bytes(32)?);
    let flags = RunFlags {
        command: args.command(),
        entrypoint: args.entrypoint.as_deref(),
        env: &args.env,
        env_files: &args.env_file,
        workdir: args.workdir.as_deref(),
        user: args.user.as_deref(),
        volumes: &args.volume,
        hostname: args.hostname.as_deref(),
        network: args.network.as_deref(),
        publish: &args.publish,
        publish_all: args.publish_all,
        dns: &args.dns,
        add_hosts: &args.add_host,
        mounts: &args.mount,
        tmpfs: &args.tmpfs,
        read_only: args.read_only,
        init: args.init,
        privileged: args.privileged,
        cap_add: &args.cap_add,
        cap_drop: &args.cap_drop,
        labels: &args.label,
        label_files: &args.label_file,
        memory: args.memory.as_deref(),
        cpus: args.cpus.as_deref(),
        pids_limit: args.pids_limit,
        platform: args.platform.as_deref(),
        stop_signal: args.stop_signal.as_deref(),
        tty: args.tty,
        interactive: args.interactive,
        auto_remove: args.rm,
    };
    let cfg = spec::build(&config, &flags, &id)?;
    let layers = db
        .images()
        .get(&image)
        .map(|i| i.layers.clone())
        .ok_or_else(|| anyhow!("No such image: {}", args.image()))?;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => random_name(&random_bytes(2)?),
    };
    let mut rec = ContainerRecord {
        id: id.clone(),
        name,
        image: image.clone(),
        image_name: args.image().to_string(),
        layers,
        created: crate::clock::now_rfc3339(),
        config: serde_json::to_value(&cfg)?,
    };
    create_record(&ctx.store, &mut rec, args.name.is_some(), &config_bytes)?;
    Ok((rec, cfg))
}
