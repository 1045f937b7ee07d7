//! `strata-docgen`: writes the manual pages and shell completions the package installs,
//! from the same definitions `strata` parses its command line with.
//!
//! `strata-docgen man DIR`: `strata.1`, `strata-*.1`, `strata-config.toml.5`.
//! `strata-docgen completions DIR`: `strata.bash`, `_strata` (zsh), `strata.fish`.

use std::path::PathBuf;
use std::process::ExitCode;
use strata::commands::completion::{write, Shell};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (what, dir) = (args.next(), args.next().map(PathBuf::from));
    let result = match (what.as_deref(), dir, args.next()) {
        (Some("man"), Some(dir), None) => std::fs::create_dir_all(&dir)
            .and_then(|()| strata::manpages::write_all(strata::cli::command(), &dir))
            .map(|files| files.len()),
        (Some("completions"), Some(dir), None) => completions(&dir),
        _ => {
            eprintln!("usage: strata-docgen man|completions DIR");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(n) => {
            eprintln!("strata-docgen: wrote {n} files");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("strata-docgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn completions(dir: &std::path::Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let files = [
        (Shell::Bash, "strata.bash"),
        (Shell::Zsh, "_strata"),
        (Shell::Fish, "strata.fish"),
    ];
    for (shell, name) in files {
        let mut out = Vec::new();
        write(shell, &mut strata::cli::command(), &mut out);
        std::fs::write(dir.join(name), out)?;
    }
    Ok(files.len())
}
