//! Starting a container and watching it: the overlay from the helper (or in-process for
//! root), `clone` into the plan's namespaces, the state file, signals and the exit status.
//!
//! The process that calls `clone` stays as the container's watcher: it records
//! `running` with its own pid, forwards signals, waits, and records the exit. The
//! container's first process dies with it (PR_SET_PDEATHSIG), and with that process its
//! namespaces and the overlay mount, so a killed `strata run` leaves no mount behind.

use super::apply::{self, ChildIo};
use super::logs::{self, LogWriter, MAX_SIZE};
use super::plan::{ContainerPlan, Namespace};
use super::rootfs::{LayersTree, Rootfs};
use super::spec::RunConfig;
use super::tty;
use crate::clock::now_rfc3339;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use rustix::fd::{AsFd, OwnedFd};
use rustix::pipe::{pipe_with, PipeFlags};
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use store_layout::{ContainerRecord, ContainerState, ContainerStatus, Store, StoreError};

/// Where the container's output goes.
pub enum Mode {
    /// strata's own standard streams (a terminal with `-t`), nothing kept (a build step).
    Attached,
    /// strata's own standard streams, and the container's json-file log as well (docker
    /// keeps it for attached runs; not with `--rm`, whose log would go at once).
    AttachedLogged,
    /// The container's log file; strata returns once the command started.
    Detached,
}

/// The failure of a container's command to start, with its exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StartError {
    /// 125, 126 or 127, as docker returns.
    pub code: i32,
    /// What went wrong.
    pub message: String,
}

/// Why a container did not start or was not watched to its end.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// Its command did not start; the code says why (docker's 125, 126, 127).
    #[error(transparent)]
    Start(#[from] StartError),
    /// A file or directory of the container, or a system resource.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The same, with what was being done.
    #[error("{what}")]
    IoAt {
        /// The path or step.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A process or signal call.
    #[error("{what}")]
    Sys {
        /// The step.
        what: &'static str,
        /// Why.
        #[source]
        source: nix::errno::Errno,
    },
    /// A signal mask could not be set.
    #[error(transparent)]
    Signal(#[from] nix::errno::Errno),
    /// The container's records.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The overlay from the helper.
    #[error(transparent)]
    Helper(#[from] strata_helper::ClientError),
    /// A layer directory root's strata refuses to mount.
    #[error(transparent)]
    Check(#[from] strata_helper::CheckError),
    /// The overlay made in-process.
    #[error(transparent)]
    Mount(#[from] strata_helper::MountError),
    /// A detached container's watcher ended without saying how the start went.
    #[error("the container's watcher ended before the container started")]
    WatcherGone,
    /// Its cgroup limits could not be applied.
    #[error(transparent)]
    Cgroup(#[from] super::cgroup::CgroupError),
    /// Its network could not be set up.
    #[error(transparent)]
    Network(#[from] super::network::NetworkError),
    /// The container's first process could not be waited for.
    #[error("waiting for the container: {0}")]
    Wait(nix::errno::Errno),
}

impl LaunchError {
    /// The exit code `run` returns for this failure: the command's when it could not
    /// start, else 125.
    pub fn exit_code(&self) -> i32 {
        match self {
            LaunchError::Start(s) => s.code,
            _ => 125,
        }
    }
}

type Result<T, E = LaunchError> = std::result::Result<T, E>;

/// An io error with the path or step it concerns.
fn at(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> LaunchError {
    move |source| LaunchError::IoAt {
        what: what.to_string(),
        source,
    }
}

/// A process call's error with its step.
fn sys(what: &'static str) -> impl FnOnce(nix::errno::Errno) -> LaunchError {
    move |source| LaunchError::Sys { what, source }
}

/// An error and its causes joined with ": ", as strata shows them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Creates the container's init layer (mount points that the image may lack, kept out of
/// the writable layer) and writes the plan's /etc/hosts, /etc/hostname and
/// /etc/resolv.conf into the container's directory.
pub fn prepare(dir: &Path, plan: &ContainerPlan) -> Result<()> {
    let init = dir.join("init");
    if !init.exists() {
        let tmp = dir.join("init.tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        for d in ["proc", "dev", "sys", "etc"] {
            std::fs::create_dir_all(tmp.join(d)).map_err(at(tmp.display()))?;
        }
        for (f, _, _) in plan.etc.entries() {
            std::fs::write(tmp.join(f), b"").map_err(at(tmp.display()))?;
        }
        std::fs::rename(&tmp, &init).map_err(at(init.display()))?;
    }
    std::fs::create_dir_all(dir.join("rootfs"))?;
    for (_, name, content) in plan.etc.entries() {
        std::fs::write(dir.join(name), content)?;
    }
    Ok(())
}

fn open_dir(p: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        p,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| at(format!("cannot open {}", p.display()))(e.into()))
}

/// The container's overlay as a detached mount: from the helper for an ordinary user,
/// made in-process for root (after the helper's own descriptor checks).
pub fn overlay(store: &Store, rec: &ContainerRecord, dir: &Path) -> Result<OwnedFd> {
    // A container that never started has no init layer yet (`cp`, `export`).
    let init = dir.join("init");
    let mut lowers = Vec::new();
    if init.exists() {
        lowers.push(open_dir(&init)?);
    }
    for chain in rec.layers.iter().rev() {
        lowers.push(open_dir(&store.layer_dir(chain))?);
    }
    overlay_of(&lowers, &dir.join("upper"), &dir.join("work"))
}

/// An overlay of `lowers` (topmost first) with the writable directories `upper` and
/// `work`, as a detached mount.
fn overlay_of(lowers: &[OwnedFd], upper: &Path, work: &Path) -> Result<OwnedFd> {
    let upper = open_dir(upper)?;
    let work = open_dir(work)?;
    let lower_fds: Vec<_> = lowers.iter().map(|l| l.as_fd()).collect();
    if crate::userns::in_child() {
        let socket = crate::config::helper_socket();
        Ok(crate::setuid_helper::request_mount(
            &socket,
            &lower_fds,
            upper.as_fd(),
            work.as_fd(),
        )?)
    } else {
        for fd in lower_fds.iter().chain([&upper.as_fd(), &work.as_fd()]) {
            strata_helper::check_layer_fd(*fd, 0)?;
        }
        Ok(strata_helper::mount_overlay(&strata_helper::OverlaySpec {
            lowers: lower_fds,
            upper: upper.as_fd(),
            work: work.as_fd(),
            restricted: false,
        })?)
    }
}

/// The overlays of the plan's layer mounts, each with a writable layer of its own in the
/// container's directory (`layers-N`), which goes with the container.
fn layer_mounts(
    store: &Store,
    dir: &Path,
    mounts: &[super::spec::LayersMount],
) -> Result<Vec<LayersTree>> {
    let mut out = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        let d = dir.join(format!("layers-{i}"));
        for sub in ["upper", "work", "root", "empty"] {
            std::fs::create_dir_all(d.join(sub)).map_err(at(d.display()))?;
        }
        let mut lowers = Vec::new();
        for chain in m.layers.iter().rev() {
            lowers.push(open_dir(&store.layer_dir(chain))?);
        }
        if lowers.is_empty() {
            lowers.push(open_dir(&d.join("empty"))?);
        }
        out.push(LayersTree {
            overlay: overlay_of(&lowers, &d.join("upper"), &d.join("work"))?,
            attach_at: d.join("root"),
            source: m.source.trim_start_matches('/').to_string(),
            target: m.target.trim_start_matches('/').to_string(),
            readonly: m.readonly,
        });
    }
    Ok(out)
}

/// Runs the container's process and watches it. Attached: returns its exit code when
/// it ends. Detached: forks a watcher that outlives strata and returns 0 once the
/// command has started.
pub fn start(store: &Store, rec: &ContainerRecord, cfg: &RunConfig, mode: Mode) -> Result<i32> {
    let dir = store.container_dir(&rec.id)?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let plan = ContainerPlan::new(cfg, &dir, &host_resolv);
    prepare(&dir, &plan)?;
    let c = Container {
        store,
        rec,
        plan: &plan,
        dir: &dir,
        auto_remove: cfg.auto_remove,
    };
    match mode {
        Mode::AttachedLogged if !cfg.auto_remove => {
            let log =
                LogWriter::open(&dir, MAX_SIZE).map_err(at("cannot open the container log"))?;
            watch(&c, None, Some(LogPipes::new(log, true)?))
        }
        Mode::Attached | Mode::AttachedLogged => watch(&c, None, None),
        Mode::Detached => detach(&c),
    }
}

/// A container being started, and where it is kept.
struct Container<'a> {
    store: &'a Store,
    rec: &'a ContainerRecord,
    plan: &'a ContainerPlan,
    dir: &'a Path,
    auto_remove: bool,
}

fn detach(c: &Container<'_>) -> Result<i32> {
    let (r, w) = pipe_with(PipeFlags::CLOEXEC).map_err(std::io::Error::from)?;
    let log = LogWriter::open(c.dir, MAX_SIZE).map_err(at("cannot open the container log"))?;
    // SAFETY: strata is single-threaded here; the child only continues strata's own code.
    match unsafe { nix::unistd::fork() }.map_err(sys("fork"))? {
        nix::unistd::ForkResult::Child => {
            drop(r);
            let _ = rustix::process::setsid();
            // With `-i` the container reads what `attach` writes into its input pipe
            // (with `-t` through its terminal, which the watcher feeds from there).
            let input = match c.plan.process.stdin {
                true => super::attach::open_stdin_pipe(c.dir).map_err(|e| e.to_string()),
                false => File::open("/dev/null")
                    .map(OwnedFd::from)
                    .map_err(|e| e.to_string()),
            };
            let input =
                input.and_then(|fd| rustix::stdio::dup2_stdin(&fd).map_err(|e| e.to_string()));
            let logged = input.and_then(|()| LogPipes::new(log, false).map_err(|e| chain(&e)));
            let code = match logged {
                Ok(pipes) => watch(c, Some(w), Some(pipes)).unwrap_or(125),
                Err(e) => {
                    report(&Some(w), &format!("125\t{e}"));
                    125
                }
            };
            // fork's counterpart: std has no _exit and rustix's is unstable.
            // SAFETY: leave without running the parent's exit handlers twice.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { .. } => {
            drop(w);
            let mut msg = String::new();
            File::from(r).read_to_string(&mut msg)?;
            if msg == "ok" {
                return Ok(0);
            }
            match msg.split_once('\t') {
                Some((code, m)) => Err(StartError {
                    code: code.parse().unwrap_or(125),
                    message: m.to_string(),
                }
                .into()),
                None => Err(LaunchError::WatcherGone),
            }
        }
    }
}

/// Tells a detached `run` (waiting on the other end) how the start went.
fn report(notify: &Option<OwnedFd>, text: &str) {
    if let Some(n) = notify {
        if let Ok(n) = n.try_clone() {
            let _ = File::from(n).write_all(text.as_bytes());
        }
    }
}

/// The container's first process, just created.
struct Spawned {
    pid: Pid,
    /// The error pipe's read end: empty at end of file once the command is executing.
    errors: File,
    /// The terminal's master side (`-t`).
    master: Option<OwnedFd>,
    /// What serves its network until it ends.
    network: super::network::Attached,
    /// Its cgroup, removed when it ends.
    cgroup: Option<super::cgroup::Cgroup>,
}

fn clone_flags(plan: &ContainerPlan) -> CloneFlags {
    plan.namespaces.iter().fold(CloneFlags::empty(), |f, ns| {
        f | match ns {
            Namespace::Mount => CloneFlags::CLONE_NEWNS,
            Namespace::Pid => CloneFlags::CLONE_NEWPID,
            Namespace::Uts => CloneFlags::CLONE_NEWUTS,
            Namespace::Ipc => CloneFlags::CLONE_NEWIPC,
            Namespace::Network => CloneFlags::CLONE_NEWNET,
        }
    })
}

/// Mounts the overlay and clones the container's first process into its namespaces,
/// where `apply::child` carries out the plan.
fn spawn(c: &Container<'_>) -> Result<Spawned> {
    let plan = c.plan;
    let rootfs = Rootfs {
        attach_at: c.dir.join("rootfs"),
        overlay: overlay(c.store, c.rec, c.dir)?,
        layers: layer_mounts(c.store, c.dir, &plan.layer_mounts)?,
    };
    let console = if plan.process.tty {
        let pair = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| at("socketpair")(e.into()))?;
        Some(pair)
    } else {
        None
    };
    let null = if plan.process.stdin {
        None
    } else {
        Some(File::open("/dev/null")?)
    };
    let (err_r, err_w) = pipe_with(PipeFlags::CLOEXEC).map_err(std::io::Error::from)?;
    let (go_r, go_w) = pipe_with(PipeFlags::CLOEXEC).map_err(std::io::Error::from)?;
    let (ours, theirs) = console.unzip();
    let mut io = ChildIo {
        err: err_w.as_fd(),
        console: theirs,
        size: if plan.process.tty {
            tty::current_size()
        } else {
            None
        },
        null: null.as_ref().map(|n| n.as_fd()),
        go: Some(go_r.as_fd()),
    };
    let mut stack = vec![0u8; 1 << 20];
    // SAFETY: strata is single-threaded here; the child runs `apply::child`, which ends
    // in exec or returns the exit code.
    let pid = unsafe {
        nix::sched::clone(
            Box::new(|| apply::child(plan, &rootfs, &mut io)),
            &mut stack,
            clone_flags(plan),
            Some(libc::SIGCHLD),
        )
    }
    .map_err(sys("cannot create the container's namespaces"))?;
    drop(io);
    drop(go_r);
    drop(err_w);
    drop(rootfs);
    let host_side = super::cgroup::Cgroup::join(&plan.resources, &c.rec.id, pid.as_raw())
        .map_err(LaunchError::from)
        .and_then(|cg| {
            let n = super::network::attach(&plan.network, &c.rec.id, pid.as_raw(), c.dir)?;
            Ok((n, cg))
        });
    let (network, cgroup) = match host_side {
        Ok(n) => n,
        Err(e) => {
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
            // The container's own failure, when it failed first, is the one to report.
            let mut msg = String::new();
            let _ = File::from(err_r).read_to_string(&mut msg);
            return Err(match msg.split_once('\t') {
                Some((code, m)) => StartError {
                    code: code.parse().unwrap_or(125),
                    message: m.to_string(),
                }
                .into(),
                None => e,
            });
        }
    };
    let _ = rustix::io::write(&go_w, b"1");
    let master = ours.and_then(|o| tty::receive(&o));
    Ok(Spawned {
        pid,
        errors: File::from(err_r),
        master,
        network,
        cgroup,
    })
}

/// Blocks the signals the watcher passes on, before the clone, so that one that comes
/// while the container starts waits for the forwarding thread instead of killing strata
/// (the child unblocks them).
fn block_forwarded() -> Result<SigSet> {
    let mut forwarded = SigSet::empty();
    for s in crate::userns::RELAYED.iter().chain([&Signal::SIGWINCH]) {
        forwarded.add(*s);
    }
    forwarded.thread_block()?;
    Ok(forwarded)
}

/// Passes signals on to the container and terminal size changes to its terminal.
fn forward_signals(forwarded: SigSet, pid: Pid, master: Option<OwnedFd>, own_session: bool) {
    std::thread::spawn(move || loop {
        match crate::userns::wait_signal(&forwarded) {
            Some((Signal::SIGWINCH, _)) => {
                if let Some(m) = &master {
                    tty::resize(m.as_fd());
                }
            }
            Some((s, from_a_process)) if from_a_process || own_session => {
                let _ = nix::sys::signal::kill(pid, s);
            }
            _ => {}
        }
    });
}

/// Waits for the container's first process and returns its exit code (128 + the
/// signal that killed it).
fn wait_exit(pid: Pid) -> Result<i32> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, c)) => return Ok(c),
            Ok(WaitStatus::Signaled(_, s, _)) => return Ok(128 + s as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(LaunchError::Wait(e)),
        }
    }
}

/// A container's standard output and error: pipes whose write ends are the watcher's
/// (and so the container's) descriptors 1 and 2, read into the json-file log.
struct LogPipes {
    out: OwnedFd,
    err: OwnedFd,
    log: Arc<Mutex<LogWriter>>,
    /// strata's own standard output and error, for an attached container: its output is
    /// shown there too, and they are put back when it ends.
    echo: Option<(OwnedFd, OwnedFd)>,
}

impl LogPipes {
    fn new(log: LogWriter, attached: bool) -> Result<LogPipes> {
        let keep = |fd| rustix::io::fcntl_dupfd_cloexec(fd, 3).map_err(std::io::Error::from);
        let echo = match attached {
            true => Some((
                keep(std::io::stdout().as_fd())?,
                keep(std::io::stderr().as_fd())?,
            )),
            false => None,
        };
        let (out, out_w) = pipe_with(PipeFlags::CLOEXEC).map_err(std::io::Error::from)?;
        let (err, err_w) = pipe_with(PipeFlags::CLOEXEC).map_err(std::io::Error::from)?;
        rustix::stdio::dup2_stdout(&out_w).map_err(std::io::Error::from)?;
        rustix::stdio::dup2_stderr(&err_w).map_err(std::io::Error::from)?;
        Ok(LogPipes {
            out,
            err,
            log: Arc::new(Mutex::new(log)),
            echo,
        })
    }

    /// Puts strata's own output back (an attached container that did not start).
    fn put_back(&self) {
        if let Some((out, err)) = &self.echo {
            let _ = rustix::stdio::dup2_stdout(out);
            let _ = rustix::stdio::dup2_stderr(err);
        }
    }

    /// Starts copying into the log (after the clone: no thread may hold a lock the
    /// container's first process would need).
    fn start(self) -> Logging {
        let put_back = self
            .echo
            .as_ref()
            .and_then(|(o, e)| Some((o.try_clone().ok()?, e.try_clone().ok()?)));
        let (echo_out, echo_err) = self.echo.unzip();
        let threads = [
            (self.out, "stdout", echo_out),
            (self.err, "stderr", echo_err),
        ]
        .into_iter()
        .map(|(fd, stream, echo)| {
            let lines = logs::Lines::new(stream, self.log.clone());
            std::thread::spawn(move || logs::pump(File::from(fd), lines, echo.map(File::from)))
        })
        .collect();
        Logging { threads, put_back }
    }
}

/// The threads copying a container's output into its log.
#[derive(Default)]
struct Logging {
    threads: Vec<std::thread::JoinHandle<()>>,
    put_back: Option<(OwnedFd, OwnedFd)>,
}

/// Closes the watcher's own ends of the log pipes (putting strata's own output back for
/// an attached container) and waits until everything the container wrote is in the
/// log. A container without a log has none: its watcher's own output (a build that
/// goes on after this step) stays where it was.
fn end_logging(logging: Logging) {
    if logging.threads.is_empty() {
        return;
    }
    match &logging.put_back {
        Some((out, err)) => {
            let _ = rustix::stdio::dup2_stdout(out);
            let _ = rustix::stdio::dup2_stderr(err);
        }
        None => {
            if let Ok(n) = File::open("/dev/null") {
                let _ = rustix::stdio::dup2_stdout(&n);
                let _ = rustix::stdio::dup2_stderr(&n);
            }
        }
    }
    for t in logging.threads {
        let _ = t.join();
    }
}

fn watch(c: &Container<'_>, notify: Option<OwnedFd>, logs: Option<LogPipes>) -> Result<i32> {
    let forwarded = block_forwarded()?;
    let Spawned {
        pid,
        mut errors,
        master,
        network,
        cgroup,
    } = match spawn(c) {
        Ok(s) => s,
        Err(e) => {
            if let Some(l) = &logs {
                l.put_back();
            }
            if c.auto_remove {
                let _ = c.store.remove_container(&c.rec.id);
            }
            report(&notify, &format!("125\t{}", chain(&e)));
            return Err(e);
        }
    };
    let started = record_running(c, pid)?;
    let loggers = logs.map(LogPipes::start).unwrap_or_default();
    let mut msg = String::new();
    let _ = errors.read_to_string(&mut msg);
    if !msg.is_empty() {
        let _ = waitpid(pid, None);
        drop((network, cgroup));
        end_logging(loggers);
        let (code, message) = msg.split_once('\t').unwrap_or(("125", msg.as_str()));
        let code: i32 = code.parse().unwrap_or(125);
        finish(c, &started, code)?;
        report(&notify, &format!("{code}\t{message}"));
        return Err(StartError {
            code,
            message: message.to_string(),
        }
        .into());
    }
    report(&notify, "ok");
    drop(notify);

    // Without a terminal of its own the command is in strata's process group, so what
    // strata's terminal sends (Ctrl-C to the foreground group) reaches it already;
    // with one (its own session) strata passes that on too.
    let resize_on = master.as_ref().and_then(|m| m.try_clone().ok());
    forward_signals(forwarded, pid, resize_on, c.plan.process.tty);
    if let Some(m) = master {
        let _raw = c.plan.process.stdin.then(tty::RawMode::enable);
        tty::proxy(m, c.plan.process.stdin, None);
    }
    let code = wait_exit(pid)?;
    drop((network, cgroup));
    end_logging(loggers);
    finish(c, &started, code)?;
    Ok(code)
}

/// Records the container as running, watched by this process, with its first process
/// `init`; returns the start time.
fn record_running(c: &Container<'_>, init: Pid) -> Result<String> {
    let me = std::process::id() as i32;
    let started = now_rfc3339();
    c.store.set_container_state(
        &c.rec.id,
        &ContainerState {
            status: ContainerStatus::Running,
            pid: Some(me),
            pid_start: super::lookup::process_start(me),
            started_at: Some(started.clone()),
            init_pid: Some(init.as_raw()),
            init_start: super::lookup::process_start(init.as_raw()),
            ..Default::default()
        },
    )?;
    Ok(started)
}

/// Records the exit, and removes the container when it was started with `--rm`.
fn finish(c: &Container<'_>, started: &str, code: i32) -> Result<()> {
    c.store.set_container_state(
        &c.rec.id,
        &ContainerState {
            status: ContainerStatus::Exited,
            started_at: Some(started.to_string()),
            finished_at: Some(now_rfc3339()),
            exit_code: Some(code),
            ..Default::default()
        },
    )?;
    if c.auto_remove {
        c.store.remove_container(&c.rec.id)?;
    }
    Ok(())
}
