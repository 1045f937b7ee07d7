//! The terminal side of `run -t`: a pseudo-terminal pair made by strata, the user's
//! terminal in raw mode while the container runs, and bytes copied both ways.

use nix::sys::signalfd::SignalFd;
use rustix::event::{PollFd, PollFlags};
use rustix::fs::{Mode, OFlags};
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use rustix::pty::OpenptFlags;
use rustix::termios::{OptionalActions, Termios, Winsize};
use std::io::Write;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// An errno as the messages of this module have always shown it
/// (`EACCES: Permission denied`).
fn errno_text(e: rustix::io::Errno) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(e.raw_os_error())
}

/// strata's terminal size, to give the container's terminal.
pub fn current_size() -> Option<Winsize> {
    rustix::termios::tcgetwinsize(std::io::stdin())
        .or_else(|_| rustix::termios::tcgetwinsize(std::io::stdout()))
        .ok()
}

/// In the container, after its root is in place: opens a terminal on the container's
/// own devpts (so `tty` names it), makes it the controlling terminal and standard
/// streams, and sends the master side to strata over `socket`.
pub fn setup_in_container(socket: BorrowedFd<'_>, size: Option<Winsize>) -> Result<(), String> {
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .map_err(|e| format!("open /dev/ptmx: {}", errno_text(e)))?;
    rustix::pty::grantpt(&master).map_err(|e| format!("grantpt: {}", errno_text(e)))?;
    rustix::pty::unlockpt(&master).map_err(|e| format!("unlockpt: {}", errno_text(e)))?;
    let name = rustix::pty::ptsname(&master, Vec::new())
        .map_err(|e| format!("ptsname: {}", errno_text(e)))?;
    let name = name.to_string_lossy().into_owned();
    if let Some(ws) = size {
        let _ = rustix::termios::tcsetwinsize(&master, ws);
    }
    let slave = rustix::fs::open(name.as_str(), OFlags::RDWR | OFlags::NOCTTY, Mode::empty())
        .map_err(|e| format!("open {name}: {}", errno_text(e)))?;
    let fds = [master.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = SendAncillaryBuffer::new(&mut space);
    cmsg.push(SendAncillaryMessage::ScmRights(&fds));
    rustix::net::sendmsg(
        socket,
        &[std::io::IoSlice::new(b"t")],
        &mut cmsg,
        SendFlags::empty(),
    )
    .map_err(|e| format!("send the terminal: {}", errno_text(e)))?;
    drop(master);
    let _ = rustix::process::setsid();
    let _ = rustix::process::ioctl_tiocsctty(&slave);
    let _ = rustix::stdio::dup2_stdin(&slave);
    let _ = rustix::stdio::dup2_stdout(&slave);
    let _ = rustix::stdio::dup2_stderr(&slave);
    // Closed here unless it is one of the three (then it stays as that stream).
    if std::os::fd::AsRawFd::as_raw_fd(&slave) <= 2 {
        std::mem::forget(slave);
    }
    Ok(())
}

/// In strata: receives the terminal's master side from the container (None when the
/// container failed before sending it).
pub fn receive(socket: &OwnedFd) -> Option<OwnedFd> {
    let mut buf = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    rustix::net::recvmsg(socket, &mut iov, &mut cmsg, RecvFlags::CMSG_CLOEXEC).ok()?;
    let mut received = None;
    for msg in cmsg.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = msg {
            for fd in fds {
                received.get_or_insert(fd);
            }
        }
    }
    received
}

/// Copies strata's terminal size onto the pseudo-terminal (after SIGWINCH).
pub fn resize(master: BorrowedFd<'_>) {
    if let Ok(ws) = rustix::termios::tcgetwinsize(std::io::stdin()) {
        let _ = rustix::termios::tcsetwinsize(master, ws);
    }
}

/// Puts standard input in raw mode until dropped.
pub struct RawMode(Option<Termios>);

impl RawMode {
    /// Raw mode on standard input when it is a terminal; a no-op otherwise.
    pub fn enable() -> RawMode {
        let stdin = std::io::stdin();
        let Ok(saved) = rustix::termios::tcgetattr(&stdin) else {
            return RawMode(None);
        };
        let mut raw = saved.clone();
        raw.make_raw();
        if rustix::termios::tcsetattr(&stdin, OptionalActions::Now, &raw).is_err() {
            return RawMode(None);
        }
        RawMode(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = rustix::termios::tcsetattr(std::io::stdin(), OptionalActions::Now, saved);
        }
    }
}

/// Copies standard input to the terminal (when `interactive`) and the terminal's
/// output to standard output until the container side closes, in this one thread (an
/// `exec` that joined a pid namespace cannot start threads); on each signal read from
/// `winch` (SIGWINCH) strata's terminal size is copied onto the terminal.
pub fn proxy(master: OwnedFd, interactive: bool, winch: Option<SignalFd>) {
    let stdin = std::io::stdin();
    let mut stdin_open = interactive;
    let mut stdout = std::io::stdout().lock();
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = vec![PollFd::new(&master, PollFlags::IN)];
        if stdin_open {
            fds.push(PollFd::new(&stdin, PollFlags::IN));
        }
        if let Some(w) = &winch {
            fds.push(PollFd::new(w, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        if ready[0] {
            match rustix::io::read(&master, &mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if stdout.write_all(&buf[..n]).is_err() {
                        return;
                    }
                    let _ = stdout.flush();
                }
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                // EIO: every copy of the container's side is closed.
                Err(_) => return,
            }
        }
        if stdin_open && ready[1] {
            match rustix::io::read(&stdin, &mut buf) {
                Ok(n) if n > 0 => {
                    if rustix::io::write(&master, &buf[..n]).is_err() {
                        stdin_open = false;
                    }
                }
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                _ => {
                    // End of input: send the terminal's EOF character.
                    let _ = rustix::io::write(&master, &[4]);
                    stdin_open = false;
                }
            }
        }
        if let Some(w) = &winch {
            if ready[ready.len() - 1] && w.read_signal().is_ok() {
                resize(master.as_fd());
            }
        }
    }
}
