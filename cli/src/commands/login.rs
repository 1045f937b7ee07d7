//! `strata login [-u USER] [-p PASSWORD | --password-stdin] [SERVER]` and
//! `strata logout [SERVER]`: credentials checked against the registry, kept in
//! `~/.docker/config.json` (mode 0600) or the credential helper it names.

use crate::reference::DEFAULT_DOMAIN;
use crate::registry::auth::{erase, store, Credentials};
use crate::registry::client::{Body, Client};
use crate::registry::endpoint::{auth_key, endpoint};
use crate::registry::Options;
use anyhow::{anyhow, bail, Context, Result};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// Arguments of `login`.
#[derive(clap::Args, Debug)]
pub struct LoginArgs {
    /// The registry (default Docker Hub).
    pub server: Option<String>,
    /// Username.
    #[arg(short = 'u', long = "username")]
    pub username: Option<String>,
    /// Password.
    #[arg(short = 'p', long = "password")]
    pub password: Option<String>,
    /// Take the password from stdin.
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// Require HTTPS and verify certificates (`--tls-verify=false`: HTTPS without checking
    /// the certificate, or plain HTTP for a registry that does not speak TLS).
    #[arg(long = "tls-verify", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
    /// A directory of CA certificates (`*.crt`) to trust for this registry.
    #[arg(long = "cert-dir", value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
}

/// Arguments of `logout`.
#[derive(clap::Args, Debug)]
pub struct LogoutArgs {
    /// The registry (default Docker Hub).
    pub server: Option<String>,
}

/// `https://host:port/v1/` → `host:port`, as docker normalises server names.
fn domain_of(server: Option<&str>) -> String {
    let s = server.unwrap_or(DEFAULT_DOMAIN);
    let s = s
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let s = s.split('/').next().unwrap_or(s);
    match s {
        "index.docker.io" | "registry-1.docker.io" | "" => DEFAULT_DOMAIN.to_string(),
        s => s.to_string(),
    }
}

fn prompt(label: &str) -> Result<String> {
    eprint!("{label}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn read_password() -> Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return prompt("Password: ");
    }
    use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
    let old = tcgetattr(&stdin).context("cannot read the terminal settings")?;
    let mut quiet = old.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(&stdin, OptionalActions::Now, &quiet).context("cannot turn off echo")?;
    let p = prompt("Password: ");
    let _ = tcsetattr(&stdin, OptionalActions::Now, &old);
    eprintln!();
    p
}

/// Runs `login`.
pub fn login(args: &LoginArgs) -> Result<()> {
    let domain = domain_of(args.server.as_deref());
    let password = if args.password_stdin {
        if args.password.is_some() {
            bail!("--password and --password-stdin are mutually exclusive");
        }
        if args.username.is_none() {
            bail!("must provide --username with --password-stdin");
        }
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("cannot read the password from stdin")?;
        Some(s.trim_end_matches(['\r', '\n']).to_string())
    } else {
        if args.password.is_some() {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        }
        args.password.clone()
    };
    let username = match &args.username {
        Some(u) => u.clone(),
        None => prompt("Username: ")?,
    };
    if username.is_empty() {
        bail!("username is empty");
    }
    let password = match password {
        Some(p) => p,
        None => read_password()?,
    };
    if password.is_empty() {
        bail!("password is empty");
    }
    let creds = Credentials { username, password };
    let opts = Options {
        insecure: !args.tls_verify,
        cert_dir: args.cert_dir.clone(),
    };
    let ep = endpoint(&domain, &opts)?;
    let client = Client::with_credentials(ep, "", "pull", Some(creds.clone()));
    // `GET /v2/` with the credentials: a 401 is answered with them (basic, or a token
    // fetched with them); a second 401 means they are wrong.
    let url = client.api_root();
    client
        .send(
            "GET",
            &url,
            &[],
            &Body::Empty,
            &format!("login to {domain}"),
        )
        .map_err(|e| anyhow!("login to {domain} failed: {e}"))?;
    store(&auth_key(&domain), &creds).context("cannot store the credentials")?;
    Ok(crate::output::out("Login Succeeded")?)
}

/// Runs `logout`.
pub fn logout(args: &LogoutArgs) -> Result<()> {
    let domain = domain_of(args.server.as_deref());
    let key = auth_key(&domain);
    let line = if erase(&key).context("cannot remove the credentials")? {
        format!("Removing login credentials for {key}")
    } else {
        format!("Not logged in to {key}")
    };
    Ok(crate::output::out(&line)?)
}
