//! Carrying out a [`ContainerPlan`] in the container's first process: its root (`rootfs`),
//! its terminal (`tty`), strata's signal handling left behind, then its user, working
//! directory, capabilities and command (`process`). A failure is written as
//! `CODE\tMESSAGE` to the error pipe, where strata reads why the container did not start.

use super::plan::{ContainerPlan, NetworkSetup};
use super::rootfs::{self, Rootfs};
use super::{process, tty};
use nix::sys::signal::{SigHandler, SigSet, Signal};
use rustix::termios::Winsize;
use std::os::fd::{BorrowedFd, OwnedFd};

/// The descriptors the container's first process starts with, besides its standard ones.
pub struct ChildIo<'a> {
    /// The error pipe's write end (close-on-exec: a successful exec closes it).
    pub err: BorrowedFd<'a>,
    /// The child's end of the socket the terminal's master side is sent on (`-t`).
    pub console: Option<OwnedFd>,
    /// strata's terminal size, for the container's terminal.
    pub size: Option<Winsize>,
    /// /dev/null, for standard input without `-i`.
    pub null: Option<BorrowedFd<'a>>,
    /// The read end of the pipe on which strata says that the network is ready; the
    /// command starts only after a byte arrives (end of file: strata gave up).
    pub go: Option<BorrowedFd<'a>>,
}

/// Writes `CODE\tMESSAGE` to the error pipe and returns the code to exit with.
fn fail(err: BorrowedFd<'_>, code: i32, message: &str) -> isize {
    let line = format!("{code}\t{message}");
    let _ = rustix::io::write(err, line.as_bytes());
    code as isize
}

/// The container's first process: runs in the new namespaces, and either becomes the
/// command (exec) or returns the exit code after reporting why not.
pub fn child(plan: &ContainerPlan, root: &Rootfs, io: &mut ChildIo<'_>) -> isize {
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    if let Some(n) = io.null {
        let _ = rustix::stdio::dup2_stdin(n);
    }
    if plan.network != NetworkSetup::Host {
        if let Err(e) = super::network::loopback::up() {
            return fail(
                io.err,
                125,
                &format!("bring up the loopback interface: {e}"),
            );
        }
    }
    if let Err(e) = rootfs::enter(plan, root) {
        return fail(io.err, 125, &e.0);
    }
    if let Some(sock) = io.console.take() {
        if let Err(e) = tty::setup_in_container(std::os::fd::AsFd::as_fd(&sock), io.size) {
            return fail(io.err, 125, &e);
        }
    }
    if let Some(go) = io.go {
        let mut byte = [0u8];
        if !matches!(rustix::io::read(go, &mut byte), Ok(1)) {
            return 125;
        }
    }
    reset_signals();
    if plan.process.init {
        if let Err(e) = super::init::become_init() {
            return fail(io.err, 125, &e);
        }
    }
    let e = process::exec(&plan.process, &plan.capabilities);
    fail(io.err, e.code, &e.message)
}

/// Leaves strata's signal handling behind: nothing blocked, every disposition the
/// default (exec keeps an ignored signal ignored, and Rust ignores SIGPIPE).
fn reset_signals() {
    let _ = SigSet::all().thread_unblock();
    for s in Signal::iterator() {
        if !matches!(s, Signal::SIGKILL | Signal::SIGSTOP) {
            // Signal handling: rustix has no sigaction outside its unstable runtime API.
            // SAFETY: installing the default disposition runs no code of ours in a
            // handler; this process is single-threaded and about to exec.
            unsafe {
                let _ = nix::sys::signal::signal(s, SigHandler::SigDfl);
            }
        }
    }
}
