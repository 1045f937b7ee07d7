//! `strata completion SHELL`: the shell completion script for bash, zsh or fish,
//! generated from the command-line definitions (clap_complete).

use anyhow::{Context as _, Result};
use std::io::Write;

/// Arguments of `completion`.
#[derive(clap::Args, Debug)]
pub struct CompletionArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells strata writes completions for.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    /// GNU bash (source it, or install as /usr/share/bash-completion/completions/strata).
    Bash,
    /// zsh (install as `_strata` in a directory of `$fpath`).
    Zsh,
    /// fish (install as `strata.fish` in a completions directory).
    Fish,
}

impl Shell {
    fn generator(self) -> clap_complete::Shell {
        match self {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
        }
    }
}

/// Writes the completion script for `shell` and the command line `cmd` to `out`.
pub fn write(shell: Shell, cmd: &mut clap::Command, out: &mut dyn Write) {
    clap_complete::generate(shell.generator(), cmd, "strata", out);
}

/// Runs `completion`: the script on standard output.
pub fn run(args: &CompletionArgs, mut cmd: clap::Command) -> Result<()> {
    let mut buf = Vec::new();
    write(args.shell, &mut cmd, &mut buf);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&buf)
        .and_then(|()| stdout.flush())
        .context("cannot write the completion script")
}
