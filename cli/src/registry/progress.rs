//! What pull and push show while they work: docker's per-layer status lines when
//! standard output is not a terminal, live bars (bytes, rate) with indicatif when it is,
//! and nothing with `-q`.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

enum Mode {
    Quiet,
    Lines,
    Bars(MultiProgress),
}

/// Reports per-layer progress; shared by the threads of one pull or push.
pub struct Reporter {
    mode: Mode,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Reporter {
    /// Quiet, bars on a terminal, or lines.
    pub fn new(quiet: bool) -> Reporter {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stdout().is_terminal()
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

    /// Whether nothing but the final result is shown.
    pub fn quiet(&self) -> bool {
        matches!(self.mode, Mode::Quiet)
    }

    /// A line of its own (`Digest: …`).
    pub fn line(&self, s: &str) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                let _ = crate::commands::out(s);
            }
            Mode::Bars(m) => {
                let bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
                if !bars.is_empty() && bars.values().all(|b| b.is_finished()) {
                    // Below the finished bars, as docker prints the summary.
                    let _ = crate::commands::out(s);
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
                    b.set_style(
                        ProgressStyle::with_template(
                            "{prefix}: {msg:<18} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
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
                let _ = crate::commands::out(&format!("{id}: {status}"));
            }
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

    /// A layer's status that ends its bar.
    pub fn done(&self, id: &str, status: &str) {
        if let Some(b) = self.bar(id) {
            b.set_message(status.to_string());
            b.finish();
            return;
        }
        self.status(id, status);
    }

    /// Starts counting a layer's bytes (bars only), `total` in all.
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
                b.set_position(n);
            }
        }
    }

    /// Clears the bars (before an error is printed).
    pub fn clear(&self) {
        if let Mode::Bars(m) = &self.mode {
            let _ = m.clear();
        }
    }
}
