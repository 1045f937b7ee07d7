//! `strata push [-a] [-q] [--compression gzip|zstd] NAME[:TAG]`.

use crate::context::Ctx;
use crate::reference::Reference;
use crate::registry::progress::Reporter;
use crate::registry::push::{push, LayerCompression};
use crate::registry::Options;
use anyhow::{anyhow, bail, Result};
use std::path::PathBuf;

/// Arguments of `push`.
#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// The image: `NAME[:TAG]`.
    pub name: String,
    /// Push all tags of the repository that exist locally.
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// How layers stored uncompressed are compressed (once; the result is kept).
    #[arg(long, value_enum, default_value = "gzip")]
    pub compression: LayerCompression,
    /// Require HTTPS and verify certificates (`--tls-verify=false`: HTTPS without checking
    /// the certificate, or plain HTTP for a registry that does not speak TLS).
    #[arg(long = "tls-verify", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
    /// A directory of CA certificates (`*.crt`) to trust for this registry.
    #[arg(long = "cert-dir", value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
}

/// Runs `push`.
pub fn run(ctx: &Ctx, args: &PushArgs) -> Result<()> {
    let r = Reference::parse(&args.name).map_err(|e| anyhow!("{e}"))?;
    if r.digest().is_some() {
        bail!("cannot push a digest reference");
    }
    let opts = Options {
        insecure: !args.tls_verify,
        cert_dir: args.cert_dir.clone(),
    };
    let rep = Reporter::new(args.quiet);
    let refs: Vec<Reference> = if args.all_tags {
        if r.tag().is_some() {
            bail!("tag can't be used with --all-tags/-a");
        }
        let prefix = format!("{}:", r.name());
        let db = ctx.store.db()?;
        let v: Vec<Reference> = db
            .tags()
            .keys()
            .filter(|t| t.starts_with(&prefix))
            .filter_map(|t| Reference::parse(t).ok())
            .collect();
        if v.is_empty() {
            bail!(
                "An image does not exist locally with the tag: {}",
                r.familiar_name()
            );
        }
        v
    } else {
        if r.tag().is_none() {
            rep.line("Using default tag: latest");
        }
        vec![r.with_default_tag()]
    };
    for r in &refs {
        push(&ctx.store, r, &opts, &rep, args.compression)?;
        if rep.quiet() {
            crate::output::out(&r.familiar_string())?;
        }
    }
    Ok(())
}
