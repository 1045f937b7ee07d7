//! Progress bars on standard error, for work measured in bytes (`save`, `load`).
//!
//! A bar is drawn only when standard error is a terminal (`TERM` is not looked at,
//! unlike pull's and push's bars in `registry::progress`); otherwise (pipes, files,
//! tests) it is hidden and prints nothing at all. It is cheap to update from any thread.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Read};
use std::time::Duration;

/// A byte progress bar on standard error: `LABEL [=====>   ] 12.3 MiB/335.0 MiB 210 MiB/s`,
/// or, when the total is not known, a spinner with the bytes so far and the rate.
#[derive(Clone)]
pub struct ByteBar {
    bar: ProgressBar,
}

impl ByteBar {
    /// A bar labelled `label` counting towards `total` bytes (`None`: unknown). Hidden when
    /// standard error is not a terminal.
    pub fn new(label: &str, total: Option<u64>) -> ByteBar {
        if !std::io::stderr().is_terminal() {
            return ByteBar::hidden();
        }
        let bar = match total {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr())
                .with_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30.cyan/blue}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
                    )
                    .expect("the progress template is valid")
                    .progress_chars("=> "),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template(
                    "{prefix} {spinner} {binary_bytes} {binary_bytes_per_sec} {elapsed}",
                )
                .expect("the progress template is valid"),
            ),
        };
        let bar = bar.with_prefix(label.to_string());
        // Drawn at once, then kept moving (rate and spinner) while bytes trickle in.
        bar.tick();
        bar.enable_steady_tick(Duration::from_millis(100));
        ByteBar { bar }
    }

    /// A bar that never draws (`-q`, or nothing to show).
    pub fn hidden() -> ByteBar {
        ByteBar {
            bar: ProgressBar::hidden(),
        }
    }

    /// Whether the bar is drawn at all.
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// Counts `n` more bytes done.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Sets the total (for work whose size is learnt late).
    pub fn set_total(&self, total: u64) {
        self.bar.set_length(total);
    }

    /// Removes the bar from the terminal (on success and on error alike).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Wraps a reader so that every byte read from it counts towards the bar.
    pub fn wrap_read<R: Read>(&self, inner: R) -> BarReader<R> {
        BarReader {
            inner,
            bar: self.clone(),
        }
    }
}

impl From<ProgressBar> for ByteBar {
    /// A bar drawn elsewhere (one of the registry's per-layer bars).
    fn from(bar: ProgressBar) -> ByteBar {
        ByteBar { bar }
    }
}

/// A reader that counts what it reads on a [`ByteBar`].
pub struct BarReader<R> {
    inner: R,
    bar: ByteBar,
}

impl<R: Read> Read for BarReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_bar_counts_and_reader_passes_bytes_through() {
        let bar = ByteBar::hidden();
        assert!(bar.is_hidden());
        let mut out = Vec::new();
        bar.wrap_read(&b"hello"[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"hello");
        bar.set_total(10);
        bar.finish();
    }
}
