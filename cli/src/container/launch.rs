//! Starting a container and watching it: the overlay from the helper (or in-process for
//! root), `clone` into new namespaces, the state file, signals and the exit status.
//!
//! The process that calls `clone` stays as the container's watcher: it records
//! `running` with its own pid, forwards signals, waits, and records the exit. The
//! container's first process dies with it (PR_SET_PDEATHSIG), and with that process its
//! namespaces and the overlay mount, so a killed `strata run` leaves no mount behind.

use super::process;
use super::rootfs::{self, RootfsPlan};
use super::spec::RunConfig;
use super::tty;
use crate::clock::now_rfc3339;
use anyhow::{anyhow, bail, Context, Result};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use rustix::fd::{AsFd, OwnedFd};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use store_layout::{ContainerRecord, ContainerState, Store};

/// Where the container's output goes.
pub enum Mode {
    /// strata's own standard streams (a terminal with `-t`).
    Attached,
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

const HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// Creates the container's init layer (mount points that the image may lack, kept out of
/// the writable layer) and its /etc/hosts, /etc/hostname and /etc/resolv.conf.
pub fn prepare(dir: &Path, cfg: &RunConfig) -> Result<()> {
    let init = dir.join("init");
    if !init.exists() {
        let tmp = dir.join("init.tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        for d in ["proc", "dev", "sys", "etc"] {
            std::fs::create_dir_all(tmp.join(d)).with_context(|| format!("{}", tmp.display()))?;
        }
        for f in ["etc/hosts", "etc/hostname", "etc/resolv.conf"] {
            std::fs::write(tmp.join(f), b"").with_context(|| format!("{}", tmp.display()))?;
        }
        std::fs::rename(&tmp, &init).with_context(|| format!("{}", init.display()))?;
    }
    std::fs::create_dir_all(dir.join("rootfs"))?;
    let hosts = format!("{HOSTS}127.0.1.1\t{}\n", cfg.hostname);
    std::fs::write(dir.join("hosts"), hosts)?;
    std::fs::write(dir.join("hostname"), format!("{}\n", cfg.hostname))?;
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolv = if cfg.network == "none" {
        without_local_nameservers(&host)
    } else {
        host
    };
    std::fs::write(dir.join("resolv.conf"), resolv)?;
    Ok(())
}

/// The host's resolv.conf as docker gives it to a container outside the host's network
/// namespace: without nameservers on the host's loopback (which the container cannot
/// reach), and with docker's default public ones if none is left.
fn without_local_nameservers(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut f = line.split_whitespace();
        if f.next() == Some("nameserver") {
            let addr = f.next().unwrap_or("");
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

fn open_dir(p: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        p,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .with_context(|| format!("cannot open {}", p.display()))
}

/// The container's overlay as a detached mount: from the helper for an ordinary user,
/// made in-process for root (after the helper's own descriptor checks).
pub fn overlay(store: &Store, rec: &ContainerRecord, dir: &Path) -> Result<OwnedFd> {
    let mut lowers = vec![open_dir(&dir.join("init"))?];
    for chain in rec.layers.iter().rev() {
        lowers.push(open_dir(&store.layer_dir(chain))?);
    }
    let upper = open_dir(&dir.join("upper"))?;
    let work = open_dir(&dir.join("work"))?;
    let lower_fds: Vec<_> = lowers.iter().map(|l| l.as_fd()).collect();
    if crate::userns::in_child() {
        let socket = crate::config::helper_socket();
        Ok(strata_helper::client::request_mount(
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

/// Runs the container's process and watches it. Attached: returns its exit code when
/// it ends. Detached: forks a watcher that outlives strata and returns 0 once the
/// command has started.
pub fn start(store: &Store, rec: &ContainerRecord, cfg: &RunConfig, mode: Mode) -> Result<i32> {
    let dir = store.container_dir(&rec.id)?;
    prepare(&dir, cfg)?;
    match mode {
        Mode::Attached => watch(store, rec, cfg, &dir, None),
        Mode::Detached => detach(store, rec, cfg, &dir),
    }
}

fn detach(store: &Store, rec: &ContainerRecord, cfg: &RunConfig, dir: &Path) -> Result<i32> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("container.log"))
        .context("cannot open the container log")?;
    // SAFETY: strata is single-threaded here; the child only continues strata's own code.
    match unsafe { nix::unistd::fork() }.context("fork")? {
        nix::unistd::ForkResult::Child => {
            drop(r);
            let _ = nix::unistd::setsid();
            let null = std::fs::File::open("/dev/null");
            if let Ok(n) = &null {
                let _ = nix::unistd::dup2(n.as_raw_fd(), 0);
            }
            let _ = nix::unistd::dup2(log.as_raw_fd(), 1);
            let _ = nix::unistd::dup2(log.as_raw_fd(), 2);
            let mut cfg = cfg.clone();
            cfg.tty = false;
            cfg.interactive = false;
            let code = watch(store, rec, &cfg, dir, Some(w)).unwrap_or(125);
            // SAFETY: leave without running the parent's exit handlers twice.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { .. } => {
            drop(w);
            let mut msg = String::new();
            std::fs::File::from(r).read_to_string(&mut msg)?;
            if msg == "ok" {
                return Ok(0);
            }
            match msg.split_once('\t') {
                Some((code, m)) => Err(StartError {
                    code: code.parse().unwrap_or(125),
                    message: m.to_string(),
                }
                .into()),
                None => bail!("the container's watcher ended before the container started"),
            }
        }
    }
}

/// The plan for the container's root.
fn plan(dir: &Path, cfg: &RunConfig, overlay: OwnedFd) -> RootfsPlan {
    RootfsPlan {
        attach_at: dir.join("rootfs"),
        overlay,
        etc_files: vec![
            ("etc/hosts", dir.join("hosts")),
            ("etc/hostname", dir.join("hostname")),
            ("etc/resolv.conf", dir.join("resolv.conf")),
        ],
        binds: cfg.mounts.clone(),
        own_netns: cfg.network == "none",
        hostname: cfg.hostname.clone(),
    }
}

/// Writes `CODE\tMESSAGE` to the error pipe and exits (in the container's process).
fn die(err_fd: RawFd, code: i32, message: &str) -> ! {
    let line = format!("{code}\t{message}");
    // SAFETY: writing a buffer we own to a descriptor we own, then exiting.
    unsafe {
        libc::write(err_fd, line.as_ptr().cast(), line.len());
        libc::_exit(code)
    }
}

/// The container's first process: root, terminal, then the command.
struct ChildIo {
    err_fd: RawFd,
    console: Option<RawFd>,
    size: Option<libc::winsize>,
    null: Option<RawFd>,
}

fn child(plan: &RootfsPlan, cfg: &RunConfig, io: &ChildIo) -> isize {
    let err_fd = io.err_fd;
    // SAFETY: plain system calls on descriptors this process owns.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if let Some(n) = io.null {
            libc::dup2(n, 0);
        }
    }
    if let Err(e) = rootfs::enter(plan) {
        die(err_fd, 125, &e.0);
    }
    if let Some(sock) = io.console {
        if let Err(e) = tty::setup_in_container(sock, io.size) {
            die(err_fd, 125, &e);
        }
        // SAFETY: closing our end of the console socket.
        unsafe { libc::close(sock) };
    }
    // Leave strata's signal handling behind.
    let _ = SigSet::all().thread_unblock();
    for s in Signal::iterator() {
        if !matches!(s, Signal::SIGKILL | Signal::SIGSTOP) {
            // SAFETY: restoring default dispositions before exec.
            unsafe {
                let _ = nix::sys::signal::signal(s, nix::sys::signal::SigHandler::SigDfl);
            }
        }
    }
    let e = process::exec(cfg);
    die(err_fd, e.code, &e.message)
}

fn watch(
    store: &Store,
    rec: &ContainerRecord,
    cfg: &RunConfig,
    dir: &Path,
    notify: Option<OwnedFd>,
) -> Result<i32> {
    let report = |notify: &Option<OwnedFd>, text: &str| {
        if let Some(n) = notify {
            let _ = std::fs::File::from(n.try_clone().expect("dup")).write_all(text.as_bytes());
        }
    };
    // Blocked before the clone, so a signal that comes while the container starts waits
    // for the forwarding thread instead of killing strata (the child unblocks them).
    let mut forwarded = SigSet::empty();
    for s in crate::userns::RELAYED.iter().chain([&Signal::SIGWINCH]) {
        forwarded.add(*s);
    }
    forwarded.thread_block()?;
    let result = (|| -> Result<(Pid, std::fs::File, Option<OwnedFd>)> {
        let mount = overlay(store, rec, dir)?;
        let plan = plan(dir, cfg, mount);
        let console = if cfg.tty {
            Some(
                nix::sys::socket::socketpair(
                    nix::sys::socket::AddressFamily::Unix,
                    nix::sys::socket::SockType::Stream,
                    None,
                    nix::sys::socket::SockFlag::SOCK_CLOEXEC,
                )
                .context("socketpair")?,
            )
        } else {
            None
        };
        let null = if cfg.interactive {
            None
        } else {
            Some(std::fs::File::open("/dev/null")?)
        };
        let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let mut flags = CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWPID
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWIPC;
        if cfg.network == "none" {
            flags |= CloneFlags::CLONE_NEWNET;
        }
        let mut stack = vec![0u8; 1 << 20];
        let io = ChildIo {
            err_fd: err_w.as_raw_fd(),
            console: console.as_ref().map(|(_, c)| c.as_raw_fd()),
            size: if cfg.tty { tty::current_size() } else { None },
            null: null.as_ref().map(|n| n.as_raw_fd()),
        };
        // SAFETY: strata is single-threaded here; the child runs `child`, which ends in
        // exec or _exit.
        let pid = unsafe {
            nix::sched::clone(
                Box::new(|| child(&plan, cfg, &io)),
                &mut stack,
                flags,
                Some(libc::SIGCHLD),
            )
        }
        .context("cannot create the container's namespaces")?;
        drop(err_w);
        drop(plan);
        let master = console.and_then(|(ours, theirs)| {
            drop(theirs);
            tty::receive(&ours)
        });
        Ok((pid, std::fs::File::from(err_r), master))
    })();
    let (pid, mut err_r, master) = match result {
        Ok(v) => v,
        Err(e) => {
            if cfg.auto_remove {
                let _ = store.remove_container(&rec.id);
            }
            report(&notify, &format!("125\t{e:#}"));
            return Err(e);
        }
    };
    let me = std::process::id() as i32;
    let started = now_rfc3339();
    store.set_container_state(
        &rec.id,
        &ContainerState {
            status: "running".into(),
            pid: Some(me),
            pid_start: super::lookup::process_start(me),
            started_at: Some(started.clone()),
            ..Default::default()
        },
    )?;
    let mut msg = String::new();
    let _ = err_r.read_to_string(&mut msg);
    if !msg.is_empty() {
        let _ = waitpid(pid, None);
        let (code, message) = msg.split_once('\t').unwrap_or(("125", msg.as_str()));
        let code: i32 = code.parse().unwrap_or(125);
        finish(store, rec, &started, code)?;
        if cfg.auto_remove {
            store.remove_container(&rec.id)?;
        }
        report(&notify, &format!("{code}\t{message}"));
        return Err(StartError {
            code,
            message: message.to_string(),
        }
        .into());
    }
    report(&notify, "ok");
    drop(notify);

    let master_raw = master.as_ref().map(|m| m.as_raw_fd());
    // Without a terminal of its own the command is in strata's process group, so what
    // strata's terminal sends (Ctrl-C to the foreground group) reaches it already;
    // with one (its own session) strata passes that on too.
    let own_session = cfg.tty;
    std::thread::spawn(move || loop {
        match crate::userns::wait_signal(&forwarded) {
            Some((Signal::SIGWINCH, _)) => {
                if let Some(m) = master_raw {
                    tty::resize(m);
                }
            }
            Some((s, from_a_process)) if from_a_process || own_session => {
                let _ = nix::sys::signal::kill(pid, s);
            }
            _ => {}
        }
    });
    if let Some(m) = master {
        let _raw = if cfg.interactive {
            Some(tty::RawMode::enable())
        } else {
            None
        };
        tty::proxy(m, cfg.interactive);
    }
    let code = loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, c)) => break c,
            Ok(WaitStatus::Signaled(_, s, _)) => break 128 + s as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(anyhow!("waiting for the container: {e}")),
        }
    };
    finish(store, rec, &started, code)?;
    if cfg.auto_remove {
        store.remove_container(&rec.id)?;
    }
    Ok(code)
}

fn finish(store: &Store, rec: &ContainerRecord, started: &str, code: i32) -> Result<()> {
    store.set_container_state(
        &rec.id,
        &ContainerState {
            status: "exited".into(),
            started_at: Some(started.to_string()),
            finished_at: Some(now_rfc3339()),
            exit_code: Some(code),
            ..Default::default()
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::without_local_nameservers;

    #[test]
    fn resolv_conf_loses_loopback_nameservers_as_docker_does() {
        let host = "# by hand\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch lan\n";
        assert_eq!(
            without_local_nameservers(host),
            "# by hand\nnameserver 10.0.0.2\nsearch lan\n"
        );
        assert_eq!(
            without_local_nameservers("nameserver 127.0.0.53\nnameserver ::1\noptions edns0\n"),
            "options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
    }
}
