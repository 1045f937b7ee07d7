//! `run --init`: the container's PID 1 is a small reaper, strata itself, that runs the
//! command as its only child, passes every signal it gets on to it, reaps every orphan
//! that the kernel reparents to it, and exits with the command's status. (PID 1 gets
//! no default signal actions, so a command that is PID 1 itself ignores SIGTERM and
//! leaves zombies; this is what docker's tini is for.)

use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

/// Forks: the child returns (to exec the command), and this process becomes the reaper
/// and never returns. Called in the container's first process, just before exec.
pub fn become_init() -> Result<(), String> {
    let all = SigSet::all();
    all.thread_block()
        .map_err(|e| format!("init: block signals: {e}"))?;
    // SAFETY: the container's first process is single-threaded; the child only unblocks
    // signals and goes on to exec.
    match unsafe { nix::unistd::fork() }.map_err(|e| format!("init: fork: {e}"))? {
        ForkResult::Child => {
            let _ = all.thread_unblock();
            Ok(())
        }
        ForkResult::Parent { child } => {
            // The reaper keeps only its standard streams: the error pipe and the rest
            // must close when the command executes, as strata waits for that.
            // SAFETY: no descriptor above 2 is in use by this process from here on.
            unsafe {
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            }
            reap(child, &all)
        }
    }
}

/// Passes signals on to `child` and reaps until it ends; exits with its status.
fn reap(child: Pid, all: &SigSet) -> ! {
    loop {
        match all.wait() {
            Ok(Signal::SIGCHLD) => {
                if let Some(code) = reap_all(child) {
                    std::process::exit(code);
                }
            }
            Ok(s) => {
                let _ = nix::sys::signal::kill(child, s);
            }
            Err(_) => {}
        }
    }
}

/// Reaps every ended process; the command's exit code once it has ended.
fn reap_all(child: Pid) -> Option<i32> {
    let mut code = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, c)) if p == child => code = Some(c),
            Ok(WaitStatus::Signaled(p, s, _)) if p == child => code = Some(128 + s as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return code,
            Ok(_) => continue,
        }
    }
}
