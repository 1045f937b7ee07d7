//! `strata cp CONTAINER:SRC DEST|-` and `strata cp SRC CONTAINER:DEST`, and
//! `strata export [-o FILE] CONTAINER`: files in and out of a container, running or not.

use crate::container::copy::{self, HostSink, TarSink};
use crate::container::lookup::{find, live_state};
use crate::context::Ctx;
use crate::error::SilentExit;
use anyhow::{bail, Context, Result};
use rustix::fd::AsFd;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use store_layout::ContainerStatus;

/// Arguments of `cp`.
#[derive(clap::Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// CONTAINER:SRC_PATH or a host path (`-` for a tar stream on STDOUT as DEST).
    pub src: String,
    /// CONTAINER:DEST_PATH or a host path.
    pub dest: String,
}

/// Arguments of `export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// The container.
    pub container: String,
}

/// `CONTAINER:PATH` as docker tells it from a host path: a colon before any slash.
fn container_part(arg: &str) -> Option<(&str, &str)> {
    let (c, p) = arg.split_once(':')?;
    (!c.is_empty() && !c.contains('/')).then_some((c, p))
}

/// For an ordinary user and a container that does not run, runs this command again in
/// a user namespace (its layers are mounted from the helper there); a running
/// container's files are reached through its own user namespace instead.
fn in_userns_unless_running(ctx: &Ctx, container: &str) -> Result<Option<()>> {
    if rustix::process::getuid().is_root() || crate::userns::in_child() {
        return Ok(None);
    }
    let rec = find(&ctx.store, container)?;
    if live_state(&ctx.store, &rec.id)?.status == ContainerStatus::Running {
        return Ok(None);
    }
    match crate::userns::run_in_userns(ctx.store.root())? {
        0 => Ok(Some(())),
        code => Err(SilentExit(code).into()),
    }
}

/// Runs `cp`.
pub fn cp(ctx: &Ctx, args: &CpArgs) -> Result<()> {
    let named = container_part(&args.src).or(container_part(&args.dest));
    if let Some((name, _)) = named {
        if let Some(done) = in_userns_unless_running(ctx, name)? {
            return Ok(done);
        }
    }
    match (container_part(&args.src), container_part(&args.dest)) {
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
        (Some((name, src)), None) => {
            let rec = find(&ctx.store, name)?;
            let root = copy::open_root(&ctx.store, &rec)?;
            if args.dest == "-" {
                let mut sink = TarSink {
                    tar: tar::Builder::new(std::io::stdout().lock()),
                };
                copy::copy_out(root.fd.as_fd(), name, src, args.follow_link, &mut sink)?;
                sink.tar.into_inner()?.flush()?;
                return Ok(());
            }
            let dest = copy::host_target(src, Path::new(&args.dest));
            let mut sink = HostSink { dest };
            Ok(copy::copy_out(
                root.fd.as_fd(),
                name,
                src,
                args.follow_link,
                &mut sink,
            )?)
        }
        (None, Some((name, dest))) => {
            if args.src == "-" {
                bail!("copying a tar stream from STDIN is not supported");
            }
            let src = Path::new(&args.src);
            if src.symlink_metadata().is_err() {
                bail!("lstat {}: no such file or directory", src.display());
            }
            let rec = find(&ctx.store, name)?;
            let root = copy::open_root(&ctx.store, &rec)?;
            Ok(copy::copy_in(root.fd.as_fd(), name, src, dest)?)
        }
    }
}

/// Runs `export`.
pub fn export(ctx: &Ctx, args: &ExportArgs) -> Result<()> {
    if let Some(done) = in_userns_unless_running(ctx, &args.container)? {
        return Ok(done);
    }
    let out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ),
        None if std::io::stdout().is_terminal() => {
            bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let rec = find(&ctx.store, &args.container)?;
    let root = copy::open_root(&ctx.store, &rec)?;
    let mut sink = TarSink {
        tar: tar::Builder::new(std::io::BufWriter::new(out)),
    };
    copy::export(root.fd.as_fd(), &mut sink)?;
    sink.tar.into_inner()?.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::container_part;

    #[test]
    fn container_paths_have_a_colon_before_any_slash() {
        assert_eq!(container_part("web:/etc"), Some(("web", "/etc")));
        assert_eq!(container_part("./a:b"), None);
        assert_eq!(container_part("/tmp/x"), None);
        assert_eq!(container_part(":x"), None);
    }
}
