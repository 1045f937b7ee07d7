//! What a build prints: docker classic's lines in plain mode (`Step N/M : …`,
//! ` ---> Using cache`, ` ---> Running in ID`, ` ---> ID`, `Successfully built ID`,
//! `Successfully tagged NAME`), nothing but the image ID with `-q`, the live view
//! (`live`) on a terminal.

use super::live::Live;
use rustix::fd::OwnedFd;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::Mutex;

/// How a build shows its progress (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Docker classic's lines.
    Plain,
    /// The live view on the terminal, then its summary.
    Tty,
    /// Nothing but the image ID (`-q`).
    Quiet,
}

/// The build's output.
pub struct Printer {
    quiet: bool,
    live: Option<Live>,
}

impl Printer {
    /// The output for `progress` (the live view starts here).
    pub fn new(progress: Progress) -> Printer {
        Printer {
            quiet: progress == Progress::Quiet,
            live: (progress == Progress::Tty).then(Live::start).flatten(),
        }
    }

    /// Prints one line of build output.
    pub fn line(&self, text: &str) {
        if let Some(live) = &self.live {
            live.line(text);
        } else if !self.quiet {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }

    /// While the returned guard lives, what containers write goes nowhere in quiet mode.
    pub fn container_output(&self) -> Option<Silence> {
        self.quiet.then(Silence::new).flatten()
    }

    /// Ends the live view, if there is one, with its summary.
    pub fn finish(&mut self, failed: bool) {
        if let Some(live) = self.live.take() {
            live.finish(failed);
        }
    }
}

impl Drop for Printer {
    fn drop(&mut self) {
        self.finish(true);
    }
}

/// Standard output and error pointed at /dev/null while any guard lives (stages built
/// at the same time share it), restored when the last one goes.
pub struct Silence;

/// How many guards live, and the saved standard streams.
static SILENCED: Mutex<(usize, Vec<(i32, OwnedFd)>)> = Mutex::new((0, Vec::new()));

impl Silence {
    fn new() -> Option<Silence> {
        let mut s = SILENCED.lock().ok()?;
        if s.0 == 0 {
            let null = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .ok()?;
            for fd in [1, 2] {
                // SAFETY: 1 and 2 are this process's standard streams, open for its life.
                let cur = unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) };
                let copy = rustix::io::fcntl_dupfd_cloexec(cur, 3).ok()?;
                nix::unistd::dup2(null.as_raw_fd(), fd).ok()?;
                s.1.push((fd, copy));
            }
        }
        s.0 += 1;
        Some(Silence)
    }
}

impl Drop for Silence {
    fn drop(&mut self) {
        if let Ok(mut s) = SILENCED.lock() {
            s.0 -= 1;
            if s.0 == 0 {
                for (fd, copy) in s.1.drain(..) {
                    let _ = nix::unistd::dup2(copy.as_raw_fd(), fd);
                }
            }
        }
    }
}
