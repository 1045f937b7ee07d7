//! Errors as the user sees them: the one `Error: …` line, and exits already reported.

/// An error already reported to the user; only the exit code is left.
#[derive(Debug, thiserror::Error)]
#[error("exit status {0}")]
pub struct SilentExit(pub i32);

/// The error as the one line strata prints after `Error: `.
pub fn error_line(e: &anyhow::Error) -> String {
    one_line(&chain_message(e))
}

/// The error and its causes joined with ": ", leaving out a cause whose text the
/// message already holds (library errors often show their source themselves).
fn chain_message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}
