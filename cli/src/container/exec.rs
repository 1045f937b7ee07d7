//! `exec`: a new process in a running container. strata joins the namespaces of the
//! container's first process through /proc/PID/ns (its user namespace first, when it has
//! one of its own, which gives an ordinary user the rights for the rest), takes its root
//! (fchdir + chroot on /proc/PID/root), then forks the process, which carries out the
//! same user, working directory, capability and exec steps as the container's command.
//! Before that, strata moves into the container's cgroups, so the process starts there
//! (strata itself goes back once it forked); with `-t`, strata's terminal size follows
//! onto the process's terminal on SIGWINCH.

use super::plan::ContainerPlan;
use super::signal::{running_state, SignalError};
use super::spec::RunConfig;
use super::{lookup::process_start, process, tty};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::pipe::{pipe_with, PipeFlags};
use rustix::thread::LinkNameSpaceType;
use std::fs::File;
use std::io::Read;
use store_layout::{ContainerRecord, Store};

/// What `exec` runs and how.
#[derive(Clone, Debug, Default)]
pub struct ExecOptions {
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// `KEY=value` pairs added to the container's environment.
    pub env: Vec<String>,
    /// The working directory (else the container's).
    pub workdir: Option<String>,
    /// `USER[:GROUP]` (else the container's).
    pub user: Option<String>,
    /// A pseudo-terminal.
    pub tty: bool,
    /// Standard input stays open.
    pub interactive: bool,
    /// Return once the command started.
    pub detach: bool,
}

/// Why `exec` could not run its command.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The container does not run, or its records.
    #[error(transparent)]
    Signal(#[from] SignalError),
    /// The container's configuration cannot be read.
    #[error("container {0}: invalid record")]
    Record(String),
    /// Joining the container failed at a step.
    #[error("{what}: {source}")]
    Join {
        /// The step.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The container's cgroups could not be joined.
    #[error("join the container's cgroup: {0}")]
    Cgroup(#[from] super::cgroup::CgroupError),
    /// The command did not start (126 cannot run, 127 not found, 125 otherwise).
    #[error("OCI runtime exec failed: exec failed: unable to start container process: {message}: unknown")]
    Start {
        /// The exit code.
        code: i32,
        /// Why.
        message: String,
    },
}

impl ExecError {
    /// The exit code `exec` returns: the command's when it could not start, else 126
    /// (docker's for a failed exec), 1 for a container that does not run.
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecError::Start { code, .. } => *code,
            ExecError::Signal(_) => 1,
            _ => 126,
        }
    }
}

fn join_err(what: impl Into<String>) -> impl FnOnce(rustix::io::Errno) -> ExecError {
    move |e| ExecError::Join {
        what: what.into(),
        source: e.into(),
    }
}

/// The container's plan, its process changed as `opts` say.
fn plan(
    store: &Store,
    rec: &ContainerRecord,
    opts: &ExecOptions,
) -> Result<ContainerPlan, ExecError> {
    let cfg: RunConfig = serde_json::from_value(rec.config.clone())
        .map_err(|_| ExecError::Record(rec.id.clone()))?;
    let dir = store
        .container_dir(&rec.id)
        .map_err(|e| ExecError::Signal(e.into()))?;
    let mut plan = ContainerPlan::new(&cfg, &dir, "");
    let p = &mut plan.process;
    p.argv = opts.argv.clone();
    p.env.retain(|e| !e.starts_with("TERM="));
    if opts.tty {
        p.env.push("TERM=xterm".into());
    }
    for e in &opts.env {
        let key = e.split('=').next().unwrap_or(e);
        p.env.retain(|old| old.split('=').next() != Some(key));
        p.env.push(e.clone());
    }
    if let Some(w) = &opts.workdir {
        p.cwd = w.clone();
    }
    if let Some(u) = &opts.user {
        p.user = u.clone();
    }
    p.tty = opts.tty;
    p.stdin = opts.interactive;
    Ok(plan)
}

/// Joins the user namespace `fd` (a container's, when strata runs as an ordinary user):
/// as its owner strata gets every right in it, and may then open the container's root
/// and join its other namespaces. The process must be single-threaded.
pub fn enter_user_ns(fd: rustix::fd::BorrowedFd<'_>) -> rustix::io::Result<()> {
    rustix::thread::move_into_link_name_space(fd, Some(LinkNameSpaceType::User))
}

/// Joins the user namespace of process `pid` unless strata is in it already.
pub fn join_user_ns_of(pid: i32) -> rustix::io::Result<()> {
    let theirs = format!("/proc/{pid}/ns/user");
    if ns_inode(&theirs) == ns_inode("/proc/self/ns/user") {
        return Ok(());
    }
    let fd = rustix::fs::open(&theirs, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    enter_user_ns(fd.as_fd())
}

fn ns_inode(path: &str) -> Option<u64> {
    rustix::fs::stat(path).ok().map(|s| s.st_ino)
}

/// Joins the namespaces and root of the process `pid` (started at `start`).
fn join(pid: i32, start: Option<u64>) -> Result<(), ExecError> {
    let open = |p: String| {
        rustix::fs::open(&p, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(join_err(format!("open {p}")))
    };
    let kinds = [
        ("user", LinkNameSpaceType::User),
        ("ipc", LinkNameSpaceType::InterProcessCommunication),
        ("uts", LinkNameSpaceType::HostNameAndNISDomainName),
        ("net", LinkNameSpaceType::Network),
        ("pid", LinkNameSpaceType::ProcessID),
        ("mnt", LinkNameSpaceType::Mount),
    ];
    let mut fds = Vec::new();
    for (name, kind) in kinds {
        let theirs = format!("/proc/{pid}/ns/{name}");
        // Joining one's own namespace is refused for a user namespace, and is no-op else.
        let ours = ns_inode(&format!("/proc/self/ns/{name}"));
        if ns_inode(&theirs).is_some_and(|i| Some(i) != ours) {
            fds.push((open(theirs)?, kind, name));
        }
    }
    let mut rest = fds.into_iter().peekable();
    if let Some((fd, _, _)) = rest.next_if(|(_, k, _)| *k == LinkNameSpaceType::User) {
        enter_user_ns(fd.as_fd()).map_err(join_err("join the container's user namespace"))?;
    }
    // After the user namespace: its rights let an ordinary user open the root.
    let root = rustix::fs::open(
        format!("/proc/{pid}/root"),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(join_err("open the container's root"))?;
    if process_start(pid) != start {
        return Err(SignalError::NotRunning(pid.to_string()).into());
    }
    for (fd, kind, name) in rest {
        rustix::thread::move_into_link_name_space(fd.as_fd(), Some(kind))
            .map_err(join_err(format!("join the container's {name} namespace")))?;
    }
    rustix::process::fchdir(&root).map_err(join_err("enter the container's root"))?;
    rustix::process::chroot(".").map_err(join_err("chroot into the container's root"))?;
    Ok(())
}

/// Runs `opts.argv` in the running container `rec`; returns its exit code (0 at once
/// with `detach`).
pub fn exec(store: &Store, rec: &ContainerRecord, opts: &ExecOptions) -> Result<i32, ExecError> {
    let state = running_state(store, rec)?;
    let plan = plan(store, rec, opts)?;
    let (Some(pid), start) = (state.init_pid, state.init_start) else {
        return Err(SignalError::NotRunning(rec.id.clone()).into());
    };
    let root = rustix::process::geteuid().is_root();
    let left = super::cgroup::join_cgroups_of(pid, root)?;
    join(pid, start)?;
    let (err_r, err_w) = pipe_with(PipeFlags::CLOEXEC).map_err(join_err("pipe"))?;
    let console = if opts.tty {
        let (a, b) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .map_err(join_err("socketpair"))?;
        Some((a, b))
    } else {
        None
    };
    let size = if opts.tty { tty::current_size() } else { None };
    // SAFETY: strata is single-threaded here; the child only runs strata's own code and
    // ends in exec or _exit.
    let forked = unsafe { nix::unistd::fork() }.map_err(|e| ExecError::Join {
        what: "fork".into(),
        source: e.into(),
    })?;
    match forked {
        nix::unistd::ForkResult::Child => {
            drop(err_r);
            let console = console.map(|(_, b)| b);
            let code = child(&plan, console, size, opts.detach, err_w);
            // SAFETY: leave without running the parent's exit handlers twice.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            super::cgroup::move_back(&left);
            drop(err_w);
            let master = console.and_then(|(a, b)| {
                drop(b);
                tty::receive(&a)
            });
            let mut msg = String::new();
            let _ = File::from(err_r).read_to_string(&mut msg);
            if !msg.is_empty() {
                let _ = nix::sys::wait::waitpid(child, None);
                let (code, message) = msg.split_once('\t').unwrap_or(("126", msg.as_str()));
                return Err(ExecError::Start {
                    code: code.parse().unwrap_or(126),
                    message: message.to_string(),
                });
            }
            if opts.detach {
                return Ok(0);
            }
            if let Some(m) = master {
                let _raw = opts.interactive.then(tty::RawMode::enable);
                tty::proxy(m, opts.interactive, size_signals());
            }
            Ok(wait_child(child))
        }
    }
}

/// SIGWINCH as a descriptor, for the terminal's size to follow strata's (blocked here,
/// after the fork, so the command keeps its own disposition).
fn size_signals() -> Option<nix::sys::signalfd::SignalFd> {
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut winch = nix::sys::signal::SigSet::empty();
    winch.add(nix::sys::signal::Signal::SIGWINCH);
    winch.thread_block().ok()?;
    SignalFd::with_flags(&winch, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok()
}

fn wait_child(pid: nix::unistd::Pid) -> i32 {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, c)) => return c,
            Ok(WaitStatus::Signaled(_, s, _)) => return 128 + s as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 126,
        }
    }
}

/// The forked process, inside the container: its standard streams, terminal and
/// command. Returns the exit code after writing why to `err` when it cannot exec.
fn child(
    plan: &ContainerPlan,
    console: Option<OwnedFd>,
    size: Option<rustix::termios::Winsize>,
    detach: bool,
    err: OwnedFd,
) -> i32 {
    let p = &plan.process;
    let fail = |code: i32, message: &str| {
        let _ = rustix::io::write(&err, format!("{code}\t{message}").as_bytes());
        code
    };
    if let Ok(null) = File::open("/dev/null") {
        if !p.stdin {
            let _ = rustix::stdio::dup2_stdin(&null);
        }
        if detach {
            let _ = rustix::stdio::dup2_stdout(&null);
            let _ = rustix::stdio::dup2_stderr(&null);
            let _ = rustix::process::setsid();
        }
    }
    if let Some(sock) = console {
        if let Err(e) = tty::setup_in_container(sock.as_fd(), size) {
            return fail(126, &e);
        }
    }
    // Rust ignores SIGPIPE, and exec keeps an ignored signal ignored.
    // SAFETY: the default disposition runs no code of ours; single-threaded before exec.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
    let e = process::exec(p, &plan.capabilities);
    fail(e.code, &e.message)
}
