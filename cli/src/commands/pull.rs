//! `strata pull [-a] [-q] [--platform os/arch[/variant]] NAME[:TAG|@DIGEST]`.

use crate::context::Ctx;
use crate::image::platform::Platform;
use crate::reference::Reference;
use crate::registry::progress::Reporter;
use crate::registry::pull::{list_tags, pull};
use crate::registry::Options;
use anyhow::{anyhow, bail, Result};
use std::path::PathBuf;

/// Arguments of `pull`.
#[derive(clap::Args, Debug)]
pub struct PullArgs {
    /// The image: `NAME[:TAG|@DIGEST]`.
    pub name: String,
    /// Download all tagged images in the repository.
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable (`os/arch[/variant]`).
    #[arg(long)]
    pub platform: Option<String>,
    /// Require HTTPS and verify certificates (`--tls-verify=false`: HTTPS without checking
    /// the certificate, or plain HTTP for a registry that does not speak TLS).
    #[arg(long = "tls-verify", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
    /// A directory of CA certificates (`*.crt`) to trust for this registry.
    #[arg(long = "cert-dir", value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
}

/// Runs `pull`.
pub fn run(ctx: &Ctx, args: &PullArgs) -> Result<()> {
    let r = Reference::parse(&args.name).map_err(|e| anyhow!("{e}"))?;
    let platform = Platform::parse(args.platform.as_deref())?;
    let opts = Options {
        insecure: !args.tls_verify,
        cert_dir: args.cert_dir.clone(),
    };
    let rep = Reporter::new(args.quiet);
    if args.all_tags {
        if r.tag().is_some() || r.digest().is_some() {
            bail!("tag can't be used with --all-tags/-a");
        }
        let tags = list_tags(&r, &opts)?;
        if tags.is_empty() {
            bail!("no tags found for {}", r.familiar_name());
        }
        for t in tags {
            let tr = r.with_tag(&t).map_err(|e| anyhow!("tag {t:?}: {e}"))?;
            pull(&ctx.store, &tr, &platform, &opts, &rep)?;
        }
        return Ok(crate::output::out(&r.name())?);
    }
    if r.tag().is_none() && r.digest().is_none() {
        rep.line("Using default tag: latest");
    }
    let r = r.with_default_tag();
    pull(&ctx.store, &r, &platform, &opts, &rep)?;
    Ok(crate::output::out(&r.full_string())?)
}
