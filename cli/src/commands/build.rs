//! `strata build [OPTIONS] CONTEXT|-`: docker's flags; reads and checks the Dockerfile
//! (`--print-ast` prints the parse), then hands the steps to the builder (`crate::build`).

use crate::build as builder;

use crate::build::source::{read_dockerfile, Source};
use crate::dockerfile::{self, Dockerfile, GlobalScope, Platform};
use anyhow::{bail, Context, Result};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Arguments of `build`.
#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally a tag in the 'name:tag' format.
    #[arg(short = 't', long = "tag", value_name = "NAME")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: 'PATH/Dockerfile'); `-` reads it from standard input.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<String>,
    /// Set build-time variables.
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// Set the target build stage to build.
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Do not use cache when building the image.
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the base images.
    #[arg(long)]
    pub pull: bool,
    /// Set metadata for an image.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Secret to expose to the build (format: "id=mysecret,src=/local/secret").
    #[arg(long = "secret", value_name = "SPEC")]
    pub secrets: Vec<String>,
    /// SSH agent socket to expose to the build (format: default|<id>[=<socket>]).
    #[arg(long = "ssh", value_name = "SPEC")]
    pub ssh: Vec<String>,
    /// Suppress the build output and print the image ID on success.
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image ID to the file.
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Set type of progress output.
    #[arg(long, value_name = "MODE", default_value = "auto",
          value_parser = ["auto", "plain", "tty", "quiet"])]
    pub progress: String,
    /// Print the parsed Dockerfile as S-expressions, one line per instruction, and exit.
    #[arg(long)]
    pub print_ast: bool,
    /// The build context: a directory, or `-` for a tar archive or a Dockerfile on
    /// standard input.
    #[arg(value_name = "PATH|-")]
    pub context: Option<String>,
}

/// Runs `build`.
pub fn run(root: &Path, args: &BuildArgs) -> Result<()> {
    if args.context.is_none() && !args.print_ast {
        bail!("\"strata build\" requires exactly 1 argument: the build context (a directory or -)");
    }
    let src = read_dockerfile(
        args.file.as_deref(),
        args.context.as_deref().unwrap_or("."),
        !args.print_ast,
    )?;
    let ast = dockerfile::parse(&src.text, &src.name)?;
    if let Some(syntax) = &ast.directives.syntax {
        eprintln!(
            "note: ignoring the syntax directive ({syntax}): strata reads Dockerfiles itself"
        );
    }
    if args.print_ast {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(dockerfile::print::ast_sexp(&ast).as_bytes())?;
        return stdout.flush().context("cannot write to standard output");
    }
    for w in &ast.warnings {
        eprintln!("[WARNING]: {}", w.message);
    }
    let df = Dockerfile::from_ast(&ast, &src.name)?;
    let build_args = dockerfile::BuildArgs::parse(&args.build_args);
    let host = Platform::host();
    let global = GlobalScope::new(&df, &build_args, &host, &host)?;
    df.check(&global, &build_args, args.target.as_deref())?;
    build_image(root, args, &src, &df, &global, &build_args)
}

/// `SOURCE_DATE_EPOCH`, when set.
fn source_date_epoch() -> Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| anyhow::anyhow!("invalid SOURCE_DATE_EPOCH: {v:?}")),
        _ => Ok(None),
    }
}

/// The `--build-arg` names no ARG declares (nor the predefined ones), which docker warns
/// about.
fn unused_build_args(args: &BuildArgs, df: &Dockerfile) -> Vec<String> {
    let declared = df.declared_args();
    let host = Platform::host();
    let predefined = dockerfile::args::predefined_args(&host, &host);
    let mut unused: Vec<String> = args
        .build_args
        .iter()
        .map(|a| a.split_once('=').map_or(a.as_str(), |(k, _)| k).to_string())
        .filter(|k| {
            !declared.contains(k)
                && !dockerfile::args::PROXY_ARGS.contains(&k.as_str())
                && predefined.iter().all(|(p, _)| p != k)
        })
        .collect();
    unused.sort();
    unused.dedup();
    unused
}

/// Runs the checked Dockerfile's steps, then names the image and prints its ID.
fn build_image(
    root: &Path,
    args: &BuildArgs,
    src: &Source,
    df: &Dockerfile,
    global: &GlobalScope,
    build_args: &dockerfile::BuildArgs,
) -> Result<()> {
    let ctx = crate::context::Ctx::open(root)?;
    let quiet = args.quiet || args.progress == "quiet";
    let progress = match args.progress.as_str() {
        _ if quiet => builder::Progress::Quiet,
        "tty" => builder::Progress::Tty,
        "auto" if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() => {
            builder::Progress::Tty
        }
        _ => builder::Progress::Plain,
    };
    let mut tags = Vec::new();
    for t in &args.tags {
        let tag = super::new_image_tag(Some(t))
            .with_context(|| format!("invalid argument {t:?} for \"-t, --tag\" flag"))?;
        tags.extend(tag);
    }
    let labels = args
        .labels
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            dockerfile::KeyValue {
                key: k.to_string(),
                value: v.to_string(),
            }
        })
        .collect();
    let context = match args.context.as_deref() {
        Some("-") => builder::BuildContext::archive(&ctx.store, src.archive.as_deref())?,
        dir => {
            let dir = Path::new(dir.unwrap_or("."));
            let beside = args
                .file
                .as_deref()
                .filter(|f| *f != "-")
                .map(|f| PathBuf::from(format!("{f}.dockerignore")));
            builder::BuildContext::dir(dir, beside.as_deref().filter(|p| p.exists()))?
        }
    };
    let opts = builder::Options {
        tags,
        labels,
        target: args.target.clone(),
        no_cache: args.no_cache,
        pull: args.pull,
        progress,
        iidfile: args.iidfile.clone(),
        epoch: source_date_epoch()?,
        secrets: builder::Secrets::parse(&args.secrets)?,
        ssh: builder::SshAgents::parse(&args.ssh)?,
        unused_args: unused_build_args(args, df),
    };
    let id = builder::build(&ctx.store, df, global, build_args, &context, &opts)?;
    if quiet {
        crate::output::out(id.as_str())?;
    }
    Ok(())
}
