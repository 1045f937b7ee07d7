//! What pull and push show while they work: live bars (bytes, rate) with indicatif when
//! standard output is a terminal whose `TERM` is set and not `dumb` and
//! `STRATA_NO_PROGRESS` is unset; docker's per-layer status lines otherwise (pipes,
//! files, dumb terminals), on standard error for `run` pulling an image it lacks; and
//! nothing with `-q`.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Read};
use std::sync::Mutex;

/// Where and how progress is shown.
enum Mode {
    /// Nothing (`-q`).
    Quiet,
    /// Docker's status lines on standard output.
    Lines,
    /// Docker's lines on standard error (`run` pulling a missing image).
    ErrLines,
    /// Live bars on standard output.
    Bars(MultiProgress),
}

/// Reports per-layer progress; shared by the threads of one pull or push.
pub struct Reporter {
    mode: Mode,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

/// Whether a terminal of type `term` (`$TERM`) can redraw bars: not when it is unset,
/// empty or `dumb`.
fn cursor_terminal(term: Option<&std::ffi::OsStr>) -> bool {
    term.is_some_and(|t| !t.is_empty() && t != "dumb")
}

/// A layer's line while its size is unknown, and when it is done: `ID: STATUS`.
fn status_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix}: {msg}").unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// A layer's line while its bytes move: the bar, the count of the size, and the rate.
fn bytes_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix}: {msg:<18} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

impl Reporter {
    /// Quiet, bars on a terminal, or lines.
    pub fn new(quiet: bool) -> Reporter {
        let progress = crate::config::current().progress();
        let mode = if quiet || progress == crate::config::Progress::Quiet {
            Mode::Quiet
        } else if progress == crate::config::Progress::Auto
            && std::io::stdout().is_terminal()
            && cursor_terminal(std::env::var_os("TERM").as_deref())
            && std::env::var_os("STRATA_NO_PROGRESS").is_none()
        {
            Mode::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stdout()))
        } else {
            Mode::Lines
        };
        Reporter {
            mode,
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// Docker's status lines on standard error, for a command whose standard output is
    /// another program's (`run` pulling an image it does not have).
    pub fn stderr_lines() -> Reporter {
        Reporter {
            mode: Mode::ErrLines,
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// Whether nothing but the final result is shown.
    pub fn quiet(&self) -> bool {
        matches!(self.mode, Mode::Quiet)
    }

    /// A line of its own (`Digest: …`).
    pub fn line(&self, s: &str) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                let _ = crate::output::out(s);
            }
            Mode::ErrLines => eprintln!("{s}"),
            Mode::Bars(m) => {
                let bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
                if !bars.is_empty() && bars.values().all(|b| b.is_finished()) {
                    // Below the finished bars, as docker prints the summary.
                    let _ = crate::output::out(s);
                } else {
                    let _ = m.println(s);
                }
            }
        }
    }

    fn bar(&self, id: &str) -> Option<ProgressBar> {
        let Mode::Bars(m) = &self.mode else {
            return None;
        };
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            bars.entry(id.to_string())
                .or_insert_with(|| {
                    let b = m.add(ProgressBar::new(0));
                    b.set_style(status_style());
                    b.set_prefix(id.to_string());
                    b
                })
                .clone(),
        )
    }

    /// A layer's status (`Pulling fs layer`, `Pull complete`, `Pushed`).
    pub fn status(&self, id: &str, status: &str) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                let _ = crate::output::out(&format!("{id}: {status}"));
            }
            Mode::ErrLines => eprintln!("{id}: {status}"),
            Mode::Bars(_) => {
                if let Some(b) = self.bar(id) {
                    b.set_message(status.to_string());
                    if b.length() == Some(0) {
                        b.tick();
                    }
                }
            }
        }
    }

    /// A layer's status that ends its bar: the status alone, as docker leaves it.
    pub fn done(&self, id: &str, status: &str) {
        if let Some(b) = self.bar(id) {
            b.set_style(status_style());
            b.set_message(status.to_string());
            b.finish();
            return;
        }
        self.status(id, status);
    }

    /// Starts counting a layer's bytes (bars only), `total` in all; the bar shows once
    /// bytes move (a layer the registry has or mounts never shows one).
    pub fn start(&self, id: &str, status: &str, total: u64) {
        if let Some(b) = self.bar(id) {
            b.set_length(total);
            b.set_message(status.to_string());
            b.reset_elapsed();
        }
    }

    /// A layer's running byte count.
    pub fn bytes(&self, id: &str, n: u64) {
        if let Mode::Bars(_) = &self.mode {
            if let Some(b) = self.bars.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
                if b.position() == 0 {
                    b.set_style(bytes_style());
                }
                b.set_position(n);
            }
        }
    }

    /// Something that counts bytes read towards a layer's bar (from any thread, for
    /// readers that must own what they use); counts nothing without bars.
    pub fn counter(&self, id: &str) -> ByteCounter {
        ByteCounter { bar: self.bar(id) }
    }

    /// Clears the bars (before an error is printed).
    pub fn clear(&self) {
        if let Mode::Bars(m) = &self.mode {
            let _ = m.clear();
        }
    }
}

/// Counts the bytes of readers towards one layer's bar.
#[derive(Clone)]
pub struct ByteCounter {
    bar: Option<ProgressBar>,
}

impl ByteCounter {
    /// One that counts nothing.
    pub fn none() -> ByteCounter {
        ByteCounter { bar: None }
    }

    /// `inner`, which starts at byte `start` of the blob, each byte read from it counted
    /// (a retry or a chunk sets the count back to where it starts).
    pub fn wrap<R: Read + Send + 'static>(&self, inner: R, start: u64) -> Box<dyn Read + Send> {
        match &self.bar {
            None => Box::new(inner),
            Some(b) => {
                b.set_style(bytes_style());
                b.set_position(start);
                Box::new(crate::progress::ByteBar::from(b.clone()).wrap_read(inner))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn bars_need_a_terminal_that_moves_its_cursor() {
        assert!(cursor_terminal(Some(OsStr::new("xterm-256color"))));
        assert!(cursor_terminal(Some(OsStr::new("linux"))));
        assert!(!cursor_terminal(Some(OsStr::new("dumb"))));
        assert!(!cursor_terminal(Some(OsStr::new(""))));
        assert!(!cursor_terminal(None));
    }

    #[test]
    fn quiet_shows_nothing() {
        let r = Reporter::new(true);
        assert!(r.quiet());
        // Nothing to draw on and nothing printed; these must not panic.
        r.start("abc", "Downloading", 10);
        r.bytes("abc", 5);
        r.done("abc", "Pull complete");
        let mut out = Vec::new();
        r.counter("abc")
            .wrap(&b"bytes"[..], 0)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"bytes");
    }
}
