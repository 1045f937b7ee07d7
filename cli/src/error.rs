//! Errors as the user sees them: the one `Error: …` line, and exits already reported.

/// An error already reported to the user; only the exit code is left.
#[derive(Debug, thiserror::Error)]
#[error("exit status {0}")]
pub struct SilentExit(pub i32);

/// The error as the one line strata prints after `Error: `, with control characters
/// escaped: messages quote member names, tags, labels and server replies, which come
/// from archives, registries and images.
pub fn error_line(e: &anyhow::Error) -> String {
    escape_controls(&one_line(&chain_message(e)))
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

/// `s` with every control character (C0 but tab, DEL, C1) and every bidirectional
/// override or isolate written as an escape (`\x1b`, `\u{202e}`), so that names taken
/// from archives, registries and images cannot move the cursor, clear the screen or
/// reorder what the terminal shows.
pub fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' => out.push(c),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if (0x80..0xa0).contains(&(c as u32)) || is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_escaped() {
        assert_eq!(escape_controls("a\x1b[2Jb\tc"), "a\\x1b[2Jb\tc");
        assert_eq!(escape_controls("\u{7f}\u{9b}x"), "\\x7f\\u{9b}x");
        assert_eq!(escape_controls("abc\u{202e}txt.exe"), "abc\\u{202e}txt.exe");
        assert_eq!(escape_controls("héllo wörld"), "héllo wörld");
        let e = anyhow::anyhow!("bad member \x1b]0;pwned\x07name");
        assert_eq!(error_line(&e), "bad member \\x1b]0;pwned\\x07name");
    }
}
