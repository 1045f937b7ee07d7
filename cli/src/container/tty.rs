//! The terminal side of `run -t`: a pseudo-terminal pair made by strata, the user's
//! terminal in raw mode while the container runs, and bytes copied both ways.

use nix::sys::termios::{self, SetArg, Termios};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// A pseudo-terminal: strata keeps `master`; the container gets `slave`.
pub struct Pty {
    /// strata's end.
    pub master: OwnedFd,
    /// The container's terminal.
    pub slave: OwnedFd,
}

/// The size of the terminal on `fd`, if it is one.
fn window_size(fd: i32) -> Option<nix::pty::Winsize> {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize into the struct we pass.
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (r == 0).then_some(ws)
}

/// Opens a new pseudo-terminal, sized like strata's own terminal.
pub fn open() -> std::io::Result<Pty> {
    let ws = window_size(libc::STDIN_FILENO).or_else(|| window_size(libc::STDOUT_FILENO));
    let p = nix::pty::openpty(ws.as_ref(), None)?;
    for fd in [&p.master, &p.slave] {
        nix::fcntl::fcntl(
            fd.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )?;
    }
    Ok(Pty {
        master: p.master,
        slave: p.slave,
    })
}

/// Copies strata's terminal size onto the pseudo-terminal (after SIGWINCH).
pub fn resize(master: i32) {
    if let Some(ws) = window_size(libc::STDIN_FILENO) {
        // SAFETY: TIOCSWINSZ reads the struct we pass.
        unsafe { libc::ioctl(master, libc::TIOCSWINSZ, &ws) };
    }
}

/// Puts standard input in raw mode until dropped.
pub struct RawMode(Option<Termios>);

impl RawMode {
    /// Raw mode on standard input when it is a terminal; a no-op otherwise.
    pub fn enable() -> RawMode {
        let stdin = std::io::stdin();
        let Ok(saved) = termios::tcgetattr(stdin.as_fd()) else {
            return RawMode(None);
        };
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        if termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).is_err() {
            return RawMode(None);
        }
        RawMode(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}

/// Copies standard input to the terminal in a background thread (when `interactive`),
/// and the terminal's output to standard output until the container side closes.
pub fn proxy(master: OwnedFd, interactive: bool) {
    let mut out_side = std::fs::File::from(master);
    if interactive {
        if let Ok(mut in_side) = out_side.try_clone() {
            std::thread::spawn(move || {
                let mut stdin = std::io::stdin().lock();
                let mut buf = [0u8; 4096];
                loop {
                    match stdin.read(&mut buf) {
                        Ok(0) => {
                            // End of input: send the terminal's EOF character.
                            let _ = in_side.write_all(&[4]);
                            break;
                        }
                        Ok(n) => {
                            if in_side.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
            });
        }
    }
    let mut stdout = std::io::stdout().lock();
    let mut buf = [0u8; 8192];
    loop {
        match out_side.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if stdout.write_all(&buf[..n]).is_err() {
                    break;
                }
                let _ = stdout.flush();
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // EIO: every copy of the container's side is closed.
            Err(_) => break,
        }
    }
}
