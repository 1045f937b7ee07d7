//! Running as an ordinary user: re-executing strata inside a user namespace in which the
//! user is root and the other image uids map onto the user's subordinate range.
//!
//! Commands that write or delete layer files (whose owners are image uids) run there;
//! read-only commands do not pay for it. The parent starts the child, the child unshares
//! its user namespace first thing (while it is still single-threaded) and says so on a
//! pipe, the parent writes the maps with `newuidmap`/`newgidmap` (or a single-uid map
//! when the user has no subordinate range), and tells the child to go on.

use anyhow::{bail, Context, Result};
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::{getgid, getuid, Gid, Pid, Uid, User};
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

const ENV_CHILD: &str = "_STRATA_USERNS_CHILD";

/// Whether this process is the re-executed child running inside the user namespace.
pub fn in_child() -> bool {
    std::env::var_os(ENV_CHILD).is_some()
}

/// Whether files are owned for real (root on the host) or through a user namespace.
pub fn is_rootless() -> bool {
    in_child() || !getuid().is_root()
}

/// In the child: enter the user namespace and wait until the parent has mapped it.
/// Must run before any thread is started.
pub fn enter_as_child() -> Result<()> {
    let spec = std::env::var(ENV_CHILD).unwrap_or_default();
    let (ready, go) = spec
        .split_once(',')
        .and_then(|(a, b)| Some((a.parse::<i32>().ok()?, b.parse::<i32>().ok()?)))
        .context("malformed user namespace hand-over")?;
    // SAFETY: the parent passed these two pipe ends to us and nothing else owns them.
    let (mut ready, mut go) = unsafe {
        (
            fs::File::from(OwnedFd::from_raw_fd(ready)),
            fs::File::from(OwnedFd::from_raw_fd(go)),
        )
    };
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
        .context("cannot create a user namespace")?;
    ready.write_all(b"1")?;
    drop(ready);
    let mut b = [0u8; 1];
    if go.read(&mut b)? != 1 || b[0] != b'1' {
        bail!("the user namespace could not be set up");
    }
    nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .context("setresgid in the user namespace")?;
    nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
        .context("setresuid in the user namespace")?;
    Ok(())
}

/// In the parent: runs this same command again inside a new user namespace, with the
/// store root fixed in the environment, and returns its exit code.
pub fn run_in_userns(store_root: &std::path::Path) -> Result<i32> {
    let (ready_r, ready_w) = nix::unistd::pipe().context("pipe")?;
    let (go_r, go_w) = nix::unistd::pipe().context("pipe")?;
    let exe = fs::read_link("/proc/self/exe").context("cannot find the strata executable")?;
    let mut cmd = Command::new(exe);
    cmd.args(std::env::args_os().skip(1))
        .env(ENV_CHILD, "3,4")
        .env("STRATA_ROOT", store_root);
    // Blocked from before the child exists until the forwarding thread takes them; the
    // child starts with them unblocked.
    let mut passed = SigSet::empty();
    for s in RELAYED {
        passed.add(*s);
    }
    passed.thread_block()?;
    let (rw, gr) = (ready_w.as_raw_fd(), go_r.as_raw_fd());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(rw, 3) < 0 || libc::dup2(gr, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .context("cannot start strata in a user namespace")?;
    drop(ready_w);
    drop(go_r);
    let mut ready = fs::File::from(ready_r);
    let mut go = fs::File::from(go_w);
    let mut b = [0u8; 1];
    let mapped = match ready.read(&mut b) {
        Ok(1) => write_maps(Pid::from_raw(child.id() as i32)),
        _ => Err(anyhow::anyhow!(
            "the child exited before entering its user namespace"
        )),
    };
    if let Err(e) = &mapped {
        let _ = child.kill();
        let _ = child.wait();
        return Err(anyhow::anyhow!("{e:#}"));
    }
    go.write_all(b"1")?;
    drop(go);
    // A signal sent to this process (kill PID) is passed on to the child. One the
    // terminal sends (Ctrl-C, Ctrl-\, a hangup) goes to the whole foreground process
    // group, the child included, so it is not passed on a second time.
    let child_pid = Pid::from_raw(child.id() as i32);
    std::thread::spawn(move || loop {
        if let Some((s, from_a_process)) = wait_signal(&passed) {
            if from_a_process {
                let _ = nix::sys::signal::kill(child_pid, s);
            }
        }
    });
    let status = child.wait()?;
    Ok(exit_code(status))
}

/// The signals the parent passes on to the child (and the container's watcher to the
/// command): those that end a process by default and that a program may handle.
pub(crate) const RELAYED: &[Signal] = &[
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Waits for a signal of `set` (blocked in this thread) and returns it, and whether a
/// process sent it (`kill`) rather than the kernel (a terminal's Ctrl-C, Ctrl-\ or
/// hangup, which reach every process of the foreground group at once).
pub(crate) fn wait_signal(set: &SigSet) -> Option<(Signal, bool)> {
    // SAFETY: sigwaitinfo fills the siginfo_t it is given; zeroed is a valid start.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid signal set and a valid siginfo_t to fill.
    let n = unsafe { libc::sigwaitinfo(set.as_ref(), &mut info) };
    let s = Signal::try_from(n).ok()?;
    Some((s, info.si_code != libc::SI_KERNEL))
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// A subordinate id range from /etc/subuid or /etc/subgid.
pub fn sub_range(file: &str, name: &str, id: u32) -> Option<(u32, u32)> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.trim().split(':');
        let (who, start, count) = (f.next()?, f.next()?, f.next()?);
        if who == name || who == id.to_string() {
            Some((start.parse().ok()?, count.parse().ok()?))
        } else {
            None
        }
    })
}

fn write_maps(pid: Pid) -> Result<()> {
    let (uid, gid) = (getuid().as_raw(), getgid().as_raw());
    let name = User::from_uid(getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_default();
    let subuid = sub_range("/etc/subuid", &name, uid);
    let subgid = sub_range("/etc/subgid", &name, uid);
    if let (Some((us, uc)), Some((gs, gc))) = (subuid, subgid) {
        // Both tools at once: each is a setuid program that takes a few milliseconds to
        // start, and `run` pays for them on every container.
        let uids = spawn_map("newuidmap", pid, uid, us, uc);
        let gids = spawn_map("newgidmap", pid, gid, gs, gc);
        match (uids, gids) {
            (Ok(u), Ok(g)) => {
                let (u, g) = (finish_map("newuidmap", u), finish_map("newgidmap", g));
                return u.and(g);
            }
            (Ok(c), Err(e)) | (Err(e), Ok(c)) => {
                let _ = c.wait_with_output();
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(anyhow::Error::new(e).context("cannot run newuidmap/newgidmap"));
                }
                bail!("newuidmap or newgidmap is missing (install the uidmap package)");
            }
            (Err(e), Err(_)) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(anyhow::Error::new(e).context("cannot run newuidmap/newgidmap"));
            }
            // Neither tool is installed: fall through to the single-uid map.
            (Err(_), Err(_)) => {}
        }
    }
    // No subordinate range (or no uidmap tools): map just the user to root.
    let proc = format!("/proc/{pid}");
    fs::write(format!("{proc}/uid_map"), format!("0 {uid} 1\n"))
        .context("cannot write the uid map")?;
    fs::write(format!("{proc}/setgroups"), "deny").context("cannot write setgroups")?;
    fs::write(format!("{proc}/gid_map"), format!("0 {gid} 1\n"))
        .context("cannot write the gid map")?;
    Ok(())
}

fn spawn_map(
    tool: &str,
    pid: Pid,
    own: u32,
    start: u32,
    count: u32,
) -> std::io::Result<std::process::Child> {
    Command::new(tool)
        .args([
            pid.to_string(),
            "0".into(),
            own.to_string(),
            "1".into(),
            "1".into(),
            start.to_string(),
            count.to_string(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
}

fn finish_map(tool: &str, child: std::process::Child) -> Result<()> {
    let out = child
        .wait_with_output()
        .with_context(|| format!("cannot run {tool}"))?;
    if !out.status.success() {
        bail!(
            "{tool} failed: {} (check /etc/subuid and /etc/subgid)",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
