//! `strata load [-i FILE] [-q]`: images from a docker archive (`manifest.json`, also the
//! legacy `ID/layer.tar` form) or an OCI image layout (`index.json`, also a multi-platform
//! one, resolved to this machine's platform), plain or gzip, zstd, xz or bzip2
//! compressed. The work is `archive::load`'s; this module opens the input, draws the
//! progress bar and prints what was loaded.

use crate::archive::load::{load, Loaded};
use crate::context::Ctx;
use crate::progress::ByteBar;
use crate::reference::familiar;
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

/// Arguments of `load`.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Read from a tar archive file, instead of STDIN.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Suppress the load output (the progress bar; the `Loaded image` lines stay, as
    /// with docker).
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
}

/// Runs `load`.
pub fn run(ctx: &Ctx, args: &LoadArgs) -> Result<()> {
    let (input, total): (Box<dyn Read + Send>, Option<u64>) = match &args.input {
        Some(p) => {
            let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
            (Box::new(f), len)
        }
        None => (Box::new(io::stdin()), None),
    };
    let bar = if args.quiet {
        ByteBar::hidden()
    } else {
        ByteBar::new("Loading", total)
    };
    let r = load(&ctx.store, bar.wrap_read(input));
    bar.finish();
    for l in r? {
        crate::output::out(&match l {
            Loaded::Tagged(t) => format!("Loaded image: {}", familiar(&t)),
            Loaded::Untagged(id) => format!("Loaded image ID: {id}"),
        })?;
    }
    Ok(())
}
