//! What a build prints: docker classic's lines in plain mode (`Step N/M : …`,
//! ` ---> Using cache`, ` ---> Running in ID`, ` ---> ID`, `Successfully built ID`,
//! `Successfully tagged NAME`), nothing but the image ID with `-q`.

use rustix::fd::OwnedFd;
use std::io::Write;

/// The build's output.
pub struct Printer {
    /// `-q` / `--progress quiet`.
    pub quiet: bool,
}

impl Printer {
    /// Prints one line of build output.
    pub fn line(&self, text: &str) {
        if !self.quiet {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }

    /// While the returned guard lives, what containers write goes nowhere in quiet mode.
    pub fn container_output(&self) -> Option<Silence> {
        self.quiet.then(Silence::new).flatten()
    }
}

/// Standard output and error pointed at /dev/null, restored on drop.
pub struct Silence {
    saved: Vec<(i32, OwnedFd)>,
}

impl Silence {
    fn new() -> Option<Silence> {
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .ok()?;
        let mut saved = Vec::new();
        for fd in [1, 2] {
            // SAFETY: 1 and 2 are this process's standard streams, open for its life.
            let cur = unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) };
            let copy = rustix::io::fcntl_dupfd_cloexec(cur, 3).ok()?;
            nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fd).ok()?;
            saved.push((fd, copy));
        }
        Some(Silence { saved })
    }
}

impl Drop for Silence {
    fn drop(&mut self) {
        for (fd, copy) in &self.saved {
            let _ = nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(copy), *fd);
        }
    }
}
