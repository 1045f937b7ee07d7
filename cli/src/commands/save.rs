//! `strata save [-o FILE] [--format FORMAT] IMAGE...`: images to one tar archive that
//! is both a docker archive and an OCI image layout, as docker 25 and later write it, or,
//! with `--format docker-archive` or `--format oci-archive`, only one of the two.
//!
//! The archive is written by `archive::writer`; this module picks the images and the
//! output.

use crate::archive::writer::{write_archive, Layouts, SavedImage};
use crate::archive::ArchiveError;
use crate::context::Ctx;
use crate::error::SilentExit;
use crate::resolve::{resolve, Matched};
use anyhow::{anyhow, bail, Context, Result};
use std::io::{self, IsTerminal};

/// Arguments of `save`.
#[derive(clap::Args, Debug)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Write only one layout: `docker-archive` or `oci-archive` (default: both).
    #[arg(long = "format", value_name = "FORMAT")]
    pub format: Option<String>,
    /// The images to save.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// The layouts `--format` asks for.
fn layouts(format: Option<&str>) -> Result<Layouts> {
    match format {
        None => Ok(Layouts {
            docker: true,
            oci: true,
        }),
        Some("docker-archive") => Ok(Layouts {
            docker: true,
            oci: false,
        }),
        Some("oci-archive") => Ok(Layouts {
            docker: false,
            oci: true,
        }),
        Some(other) => {
            bail!("invalid --format {other:?}: expected docker-archive or oci-archive")
        }
    }
}

/// The images to save, each once, with the tags the arguments name.
fn images(ctx: &Ctx, args: &[String]) -> Result<Vec<SavedImage>> {
    let db = ctx.store.db()?;
    let mut images: Vec<SavedImage> = Vec::new();
    for arg in args {
        let (id, matched) = resolve(&db, arg).map_err(|e| anyhow!("{e}"))?;
        let tag = match matched {
            Matched::Tag(t) => Some(t),
            _ => None,
        };
        if let Some(s) = images.iter_mut().find(|s| *s.id() == id) {
            if let Some(t) = tag {
                s.add_tag(t);
            }
            continue;
        }
        let record = db
            .images()
            .get(&id)
            .ok_or_else(|| anyhow!("No such image: {arg}"))?;
        images.push(SavedImage::read(&ctx.store, id, record, tag, arg)?);
    }
    Ok(images)
}

/// Runs `save`.
pub fn run(ctx: &Ctx, args: &SaveArgs) -> Result<()> {
    let layouts = layouts(args.format.as_deref())?;
    if args.output.is_none() && io::stdout().is_terminal() {
        bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let images = images(ctx, &args.images)?;
    let written = match &args.output {
        Some(path) => {
            let f = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let out = io::BufWriter::with_capacity(1 << 20, f);
            let r = write_archive(&ctx.store, &images, layouts, out);
            if r.is_err() {
                let _ = std::fs::remove_file(path);
            }
            r.with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let out = io::BufWriter::with_capacity(1 << 20, io::stdout().lock());
            write_archive(&ctx.store, &images, layouts, out).map_err(anyhow::Error::from)
        }
    };
    match written {
        // The reader went away: docker exits 1 without a word.
        Err(e) if matches!(e.downcast_ref(), Some(ArchiveError::Closed)) => {
            Err(SilentExit(1).into())
        }
        r => r,
    }
}
