//! `strata build [OPTIONS] CONTEXT|-`: docker's flags; reads and checks the Dockerfile
//! (`--print-ast` prints the parse), then hands the steps to the builder (`crate::build`).

use crate::build as builder;

use crate::dockerfile::{self, Dockerfile, GlobalScope, Platform};
use crate::layer::decompress::{decompress, detect, Compression};
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
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

/// The Dockerfile's text and the name errors give it.
struct Source {
    text: String,
    name: String,
    /// The context archive read from standard input (`CONTEXT` `-` with a tar).
    archive: Option<Vec<u8>>,
}

fn base_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// The `-f` file (or `Dockerfile`) out of a tar archive `data` (plain, gzip, bzip2, xz or
/// zstd), if `data` is one.
fn from_tar(data: &[u8], wanted: &str) -> Result<Option<String>> {
    let mut plain = Vec::new();
    let data = if detect(data) == Compression::None {
        data
    } else {
        let (_, mut reader) = decompress(data).context("cannot read the context archive")?;
        reader
            .read_to_end(&mut plain)
            .context("cannot decompress the context archive")?;
        &plain
    };
    let is_tar = data.len() > 262 && &data[257..262] == b"ustar";
    if !is_tar {
        return Ok(None);
    }
    let wanted = wanted.trim_start_matches("./");
    let mut archive = tar::Archive::new(data);
    for entry in archive
        .entries()
        .context("cannot read the context archive")?
    {
        let mut entry = entry.context("cannot read the context archive")?;
        let path = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        if path == wanted {
            let mut text = String::new();
            entry.read_to_string(&mut text)?;
            return Ok(Some(text));
        }
    }
    bail!("cannot find {wanted} in the context archive")
}

fn read_stdin() -> Result<Vec<u8>> {
    let mut data = Vec::new();
    std::io::stdin()
        .read_to_end(&mut data)
        .context("cannot read standard input")?;
    Ok(data)
}

/// Finds and reads the Dockerfile as docker does: `-f -` and `CONTEXT=-` read standard
/// input; otherwise `-f FILE` (relative to the current directory) or `CONTEXT/Dockerfile`.
fn read_dockerfile(args: &BuildArgs) -> Result<Source> {
    let context = args.context.as_deref().unwrap_or(".");
    match (args.file.as_deref(), context) {
        (Some("-"), "-") => {
            bail!("invalid argument: can't use stdin for both build context and dockerfile")
        }
        (Some("-"), _) => Ok(Source {
            text: String::from_utf8_lossy(&read_stdin()?).into_owned(),
            name: "Dockerfile".into(),
            archive: None,
        }),
        (file, "-") => {
            let data = read_stdin()?;
            let wanted = file.unwrap_or("Dockerfile");
            let (text, archive) = match from_tar(&data, wanted)? {
                Some(t) => (t, Some(data)),
                None => (String::from_utf8_lossy(&data).into_owned(), None),
            };
            Ok(Source {
                text,
                name: base_name(wanted),
                archive,
            })
        }
        (file, dir) => {
            if !args.print_ast && !Path::new(dir).is_dir() {
                bail!("unable to prepare context: path {dir:?} not found");
            }
            let path = match file {
                Some(f) => PathBuf::from(f),
                None => Path::new(dir).join("Dockerfile"),
            };
            let bytes = std::fs::read(&path)
                .with_context(|| format!("unable to read the dockerfile {}", path.display()))?;
            Ok(Source {
                text: String::from_utf8_lossy(&bytes).into_owned(),
                name: base_name(&path.to_string_lossy()),
                archive: None,
            })
        }
    }
}

/// Runs `build`.
pub fn run(root: &Path, args: &BuildArgs) -> Result<()> {
    if args.context.is_none() && !args.print_ast {
        bail!("\"strata build\" requires exactly 1 argument: the build context (a directory or -)");
    }
    let src = read_dockerfile(args)?;
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
        quiet,
        iidfile: args.iidfile.clone(),
        epoch: source_date_epoch()?,
        secrets: builder::Secrets::parse(&args.secrets)?,
        unused_args: unused_build_args(args, df),
    };
    let id = builder::build(&ctx.store, df, global, build_args, &context, &opts)?;
    if quiet {
        crate::output::out(id.as_str())?;
    }
    Ok(())
}
