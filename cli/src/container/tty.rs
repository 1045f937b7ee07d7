//! The terminal side of `run -t`: a pseudo-terminal pair made by strata, the user's
//! terminal in raw mode while the container runs, and bytes copied both ways.

use nix::sys::termios::{self, SetArg, Termios};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

/// strata's terminal size, to give the container's terminal.
pub fn current_size() -> Option<libc::winsize> {
    window_size(libc::STDIN_FILENO).or_else(|| window_size(libc::STDOUT_FILENO))
}

/// The size of the terminal on `fd`, if it is one.
fn window_size(fd: i32) -> Option<libc::winsize> {
    // SAFETY: an all-zero winsize is valid.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize into the struct we pass.
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (r == 0).then_some(ws)
}

/// In the container, after its root is in place: opens a terminal on the container's
/// own devpts (so `tty` names it), makes it the controlling terminal and standard
/// streams, and sends the master side to strata over `socket`.
pub fn setup_in_container(socket: RawFd, size: Option<libc::winsize>) -> Result<(), String> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| format!("open /dev/ptmx: {e}"))?;
    nix::pty::grantpt(&master).map_err(|e| format!("grantpt: {e}"))?;
    nix::pty::unlockpt(&master).map_err(|e| format!("unlockpt: {e}"))?;
    let name = nix::pty::ptsname_r(&master).map_err(|e| format!("ptsname: {e}"))?;
    if let Some(ws) = size {
        // SAFETY: TIOCSWINSZ reads the struct we pass.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| format!("open {name}: {e}"))?;
    let fds = [master.as_raw_fd()];
    let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&fds)];
    let iov = [std::io::IoSlice::new(b"t")];
    nix::sys::socket::sendmsg::<()>(
        socket,
        &iov,
        &cmsg,
        nix::sys::socket::MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("send the terminal: {e}"))?;
    drop(master);
    // SAFETY: plain system calls on descriptors this process owns.
    unsafe {
        libc::setsid();
        libc::ioctl(slave, libc::TIOCSCTTY, 0);
        for t in 0..3 {
            libc::dup2(slave, t);
        }
        if slave > 2 {
            libc::close(slave);
        }
    }
    Ok(())
}

/// In strata: receives the terminal's master side from the container (None when the
/// container failed before sending it).
pub fn receive(socket: &OwnedFd) -> Option<OwnedFd> {
    use std::os::fd::FromRawFd;
    let mut buf = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = nix::sys::socket::recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ok()?;
    for c in msg.cmsgs().ok()? {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just gave us this descriptor.
                return Some(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    None
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
