//! Typed instructions: what each Dockerfile instruction says, checked, so the builder only
//! consumes data. Word fields hold the text as written until [`Scope::expand`] substitutes
//! variables in exactly the fields docker expands.
//!
//! [`Scope::expand`]: super::args::Scope::expand

use super::heredoc::Heredoc;
use super::mount::Mount;
use super::stage::StageRef;
use std::time::Duration;

/// One instruction of a stage, with where it stands in the Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The instruction's first line (1-based).
    pub line: usize,
    /// Its last line (heredoc bodies included).
    pub end_line: usize,
    /// The logical line as written (continuations joined), for history and messages.
    pub source: String,
    /// What it says.
    pub instruction: Instruction,
}

/// A command in shell form (run by the stage's SHELL) or exec form (a JSON array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    /// `RUN echo hi`: the text handed to the shell.
    Shell(String),
    /// `RUN ["echo", "hi"]`: the argument vector.
    Exec(Vec<String>),
}

/// `KEY=value` of ENV or LABEL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// One `NAME[=default]` of ARG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// The name.
    pub name: String,
    /// The default, if one is given.
    pub default: Option<String>,
}

/// `FROM [--platform=P] IMAGE [AS NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    /// The image (or earlier stage) name, expanded with the global ARGs at build time.
    pub image: String,
    /// The stage name, lower-cased.
    pub name: Option<String>,
    /// `--platform=`, expanded with the global ARGs at build time.
    pub platform: Option<String>,
}

/// `RUN --network=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// The builder's default network.
    #[default]
    Default,
    /// No network.
    None,
    /// The host's network.
    Host,
}

/// `RUN --security=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Security {
    /// The normal sandbox.
    #[default]
    Sandbox,
    /// Full privileges.
    Insecure,
}

/// `RUN [--mount=…]... [--network=…] [--security=…] CMD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The command.
    pub cmd: CommandLine,
    /// Heredocs the command line opens (`RUN <<EOF`); their bodies go to the shell.
    pub heredocs: Vec<Heredoc>,
    /// `--mount` specs.
    pub mounts: Vec<Mount>,
    /// `--network`.
    pub network: Network,
    /// `--security`.
    pub security: Security,
    /// `--device` specs.
    pub devices: Vec<String>,
}

/// `COPY [--from=…] [--chown=…] [--chmod=…] [--link] [--parents] [--exclude=…] SRC... DEST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Source paths (or patterns) in the context or the `from` stage.
    pub sources: Vec<String>,
    /// Heredoc sources (`COPY <<EOF /file`): each becomes a file named after it.
    pub heredocs: Vec<Heredoc>,
    /// The destination.
    pub dest: String,
    /// `--from`: the stage or image the sources come from.
    pub from: Option<StageRef>,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
    /// `--chmod=mode`.
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--parents`.
    pub parents: bool,
    /// `--exclude` patterns.
    pub excludes: Vec<String>,
}

/// `ADD [--chown=…] [--chmod=…] [--link] [--checksum=…] [--keep-git-dir] [--unpack]
/// [--exclude=…] SRC... DEST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Add {
    /// Source paths, patterns or URLs.
    pub sources: Vec<String>,
    /// Heredoc sources.
    pub heredocs: Vec<Heredoc>,
    /// The destination.
    pub dest: String,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
    /// `--chmod=mode`.
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--checksum=sha256:…` for a URL source.
    pub checksum: Option<String>,
    /// `--keep-git-dir`, if given.
    pub keep_git_dir: Option<bool>,
    /// `--unpack`, if given.
    pub unpack: Option<bool>,
    /// `--exclude` patterns.
    pub excludes: Vec<String>,
}

/// `HEALTHCHECK [--interval=…] [--timeout=…] [--start-period=…] [--start-interval=…]
/// [--retries=…] CMD …` or `HEALTHCHECK NONE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// The image config's `Test`: `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", cmd]`.
    pub test: Vec<String>,
    /// `--interval` (zero: inherit).
    pub interval: Duration,
    /// `--timeout` (zero: inherit).
    pub timeout: Duration,
    /// `--start-period` (zero: inherit).
    pub start_period: Duration,
    /// `--start-interval` (zero: inherit).
    pub start_interval: Duration,
    /// `--retries` (zero: inherit).
    pub retries: u32,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// FROM (also held by the [`Stage`](super::stage::Stage) it starts).
    From(From),
    /// RUN.
    Run(Run),
    /// CMD.
    Cmd(CommandLine),
    /// ENTRYPOINT.
    Entrypoint(CommandLine),
    /// ENV.
    Env(Vec<KeyValue>),
    /// ARG.
    Arg(Vec<Arg>),
    /// LABEL.
    Label(Vec<KeyValue>),
    /// MAINTAINER (deprecated; sets the author).
    Maintainer(String),
    /// EXPOSE ports (`80`, `53/udp`, `8000-8010`), sorted as docker sorts them.
    Expose(Vec<String>),
    /// COPY.
    Copy(Copy),
    /// ADD.
    Add(Add),
    /// WORKDIR.
    Workdir(String),
    /// USER.
    User(String),
    /// VOLUME paths.
    Volume(Vec<String>),
    /// STOPSIGNAL.
    Stopsignal(String),
    /// HEALTHCHECK.
    Healthcheck(Healthcheck),
    /// SHELL (exec form only).
    Shell(Vec<String>),
    /// ONBUILD: the trigger instruction as text, run when the image is used as a base.
    Onbuild(String),
}

impl Instruction {
    /// The instruction's name in upper case (`RUN`).
    pub fn name(&self) -> &'static str {
        match self {
            Instruction::From(_) => "FROM",
            Instruction::Run(_) => "RUN",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Env(_) => "ENV",
            Instruction::Arg(_) => "ARG",
            Instruction::Label(_) => "LABEL",
            Instruction::Maintainer(_) => "MAINTAINER",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Copy(_) => "COPY",
            Instruction::Add(_) => "ADD",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::User(_) => "USER",
            Instruction::Volume(_) => "VOLUME",
            Instruction::Stopsignal(_) => "STOPSIGNAL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Shell(_) => "SHELL",
            Instruction::Onbuild(_) => "ONBUILD",
        }
    }

    /// Whether the instruction makes a filesystem layer (RUN, COPY, ADD) rather than only
    /// changing the image config.
    pub fn makes_layer(&self) -> bool {
        matches!(
            self,
            Instruction::Run(_) | Instruction::Copy(_) | Instruction::Add(_)
        )
    }
}
