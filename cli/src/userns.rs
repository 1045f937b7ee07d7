//! Running as an ordinary user: re-executing strata inside a user namespace in which the
//! user is root and the other image uids map onto the user's subordinate range.
//!
//! Commands that write or delete layer files (whose owners are image uids) run there;
//! read-only commands do not pay for it. The parent starts the child, the child unshares
//! its user namespace first thing (while it is still single-threaded) and says so on a
//! pipe, the parent writes the maps with `newuidmap`/`newgidmap` (or a single-uid map
//! when the user has no subordinate range), and tells the child to go on.

use nix::sys::signal::{SigSet, Signal};
use nix::unistd::{Pid, User};
use rustix::process::{getgid, getuid};
use rustix::thread::{Gid, Uid};
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

const ENV_CHILD: &str = "_STRATA_USERNS_CHILD";

/// In the child, when the parent mapped only the user's own uid (no subordinate range):
/// that uid on the host.
static ALONE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// What to add to a failure to take on an image's `uid`/`gid` (`kind`) that `errno` says
/// is not mapped (EINVAL) when the user has no subordinate range; empty otherwise.
pub fn unmapped_hint(kind: &str, id: u32, errno: rustix::io::Errno) -> String {
    let Some(name) = ALONE
        .get()
        .filter(|_| errno == rustix::io::Errno::INVAL && id != 0)
    else {
        return String::new();
    };
    format!(
        " ({kind} {id} is not mapped: user {name} has no subordinate ids, so strata maps only its own uid, as root; as root give it a range, e.g. `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {name}` (the lines `{name}:100000:65536` in /etc/subuid and /etc/subgid); without one, only images and --user that run as root work)"
    )
}

/// Why strata could not run itself in a user namespace.
#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    /// The child's environment does not name the hand-over pipes.
    #[error("malformed user namespace hand-over")]
    Handover,
    /// The parent did not map the namespace.
    #[error("the user namespace could not be set up")]
    NotMapped,
    /// The child ended before it unshared.
    #[error("the child exited before entering its user namespace")]
    ChildGone,
    /// The uidmap tools are only half there.
    #[error("newuidmap or newgidmap is missing (install the uidmap package)")]
    NoUidmap,
    /// `newuidmap` or `newgidmap` refused.
    #[error("{tool} failed: {stderr} (check /etc/subuid and /etc/subgid)")]
    MapFailed {
        /// The tool.
        tool: String,
        /// What it said.
        stderr: String,
    },
    /// A step that failed, with why.
    #[error("{what}")]
    Io {
        /// The step.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A read or write on the hand-over pipes, or waiting for the child.
    #[error(transparent)]
    Os(#[from] std::io::Error),
    /// The signal mask.
    #[error(transparent)]
    Signal(#[from] nix::errno::Errno),
    /// An ordinary user's store root is another user's directory.
    #[error(
        "the store {} belongs to {owner}, not to you, {you}: each user has a store of their own; leave --root and STRATA_ROOT unset to use yours (~/.local/share/strata), or give a directory you own; to use its images, run strata as its owner",
        .path.display()
    )]
    ForeignStore {
        /// The store root.
        path: std::path::PathBuf,
        /// Its owner: name and uid.
        owner: String,
        /// The caller: name and uid.
        you: String,
    },
    /// `unshare`.
    #[error("{what}")]
    Sys {
        /// The step.
        what: &'static str,
        /// Why.
        #[source]
        source: nix::errno::Errno,
    },
}

type Result<T, E = UsernsError> = std::result::Result<T, E>;

/// An io error (or errno) with the step it concerns.
fn at<E: Into<std::io::Error>>(what: impl std::fmt::Display) -> impl FnOnce(E) -> UsernsError {
    move |e| UsernsError::Io {
        what: what.to_string(),
        source: e.into(),
    }
}

/// Whether this process is the re-executed child running inside the user namespace.
pub fn in_child() -> bool {
    std::env::var_os(ENV_CHILD).is_some()
}

/// Whether files are owned for real (root on the host) or through a user namespace.
pub fn is_rootless() -> bool {
    in_child() || !getuid().is_root()
}

/// "name (uid N)", or "uid N" for an id without a name.
fn who(uid: u32) -> String {
    match User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
    {
        Some(u) => format!("{} (uid {uid})", u.name),
        None => format!("uid {uid}"),
    }
}

/// For an ordinary user: refuses a store root that exists and belongs to another uid
/// (strata would fail on its first file there, or write files its owner cannot remove).
/// Root, and the child inside its namespace, may use any.
pub fn check_store_owner(root: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let me = getuid().as_raw();
    if me == 0 || in_child() {
        return Ok(());
    }
    match fs::metadata(root) {
        Ok(m) if m.uid() != me => Err(UsernsError::ForeignStore {
            path: root.to_path_buf(),
            owner: who(m.uid()),
            you: who(me),
        }),
        _ => Ok(()),
    }
}

/// In the child: enter the user namespace and wait until the parent has mapped it.
/// Must run before any thread is started.
pub fn enter_as_child() -> Result<()> {
    let spec = std::env::var(ENV_CHILD).unwrap_or_default();
    let fds: Vec<i32> = spec.split(',').filter_map(|f| f.parse().ok()).collect();
    let (ready, go, broker) = match fds[..] {
        [r, g] => (r, g, None),
        [r, g, b] => (r, g, Some(b)),
        _ => return Err(UsernsError::Handover),
    };
    if let Some(b) = broker {
        // SAFETY: the parent passed the broker's end on this descriptor; nothing else owns it.
        crate::setuid_helper::take_broker(unsafe { OwnedFd::from_raw_fd(b) })?;
    }
    // Descriptors inherited across exec, as with socket activation: only a raw number.
    // SAFETY: the parent passed these two pipe ends to us and nothing else owns them.
    let (mut ready, mut go) = unsafe {
        (
            fs::File::from(OwnedFd::from_raw_fd(ready)),
            fs::File::from(OwnedFd::from_raw_fd(go)),
        )
    };
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).map_err(|source| {
        UsernsError::Sys {
            what: "cannot create a user namespace",
            source,
        }
    })?;
    ready.write_all(b"1")?;
    drop(ready);
    let mut b = [0u8; 1];
    if go.read(&mut b)? != 1 || !matches!(b[0], b'1' | b's') {
        return Err(UsernsError::NotMapped);
    }
    if b[0] == b's' {
        let map = fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
        let host: Option<u32> = map.split_whitespace().nth(1).and_then(|u| u.parse().ok());
        let host = host.unwrap_or(u32::MAX);
        // The name now: the container's own /etc/passwd replaces the host's later.
        let user = User::from_uid(nix::unistd::Uid::from_raw(host))
            .ok()
            .flatten();
        let _ = ALONE.set(user.map_or_else(|| host.to_string(), |u| u.name));
    }
    // Still single-threaded, so the thread's ids are the process's.
    rustix::thread::set_thread_res_gid(Gid::ROOT, Gid::ROOT, Gid::ROOT)
        .map_err(at("setresgid in the user namespace"))?;
    rustix::thread::set_thread_res_uid(Uid::ROOT, Uid::ROOT, Uid::ROOT)
        .map_err(at("setresuid in the user namespace"))?;
    Ok(())
}

/// In the parent: runs this same command again inside a new user namespace, with the
/// store root fixed in the environment, and returns its exit code.
pub fn run_in_userns(store_root: &std::path::Path) -> Result<i32> {
    let (ready_r, ready_w) = rustix::pipe::pipe().map_err(at("pipe"))?;
    let (go_r, go_w) = rustix::pipe::pipe().map_err(at("pipe"))?;
    let exe = fs::read_link("/proc/self/exe").map_err(at("cannot find the strata executable"))?;
    // Blocked from before the child exists until the forwarding thread takes them; the
    // child starts with them unblocked.
    let mut passed = SigSet::empty();
    for s in RELAYED {
        passed.add(*s);
    }
    passed.thread_block()?;
    // Outside the namespace, where the kernel honours a setuid helper (see setuid_helper);
    // its thread starts with the relayed signals blocked, so they reach the forwarder.
    let broker = crate::setuid_helper::start_broker().map_err(at("the setuid helper's broker"))?;
    let broker_fd = broker.as_ref().map(|b| b.as_raw_fd());
    let mut cmd = Command::new(exe);
    cmd.args(std::env::args_os().skip(1))
        .env(ENV_CHILD, if broker.is_some() { "3,4,5" } else { "3,4" })
        .env("STRATA_ROOT", store_root);
    let (rw, gr) = (ready_w.as_raw_fd(), go_r.as_raw_fd());
    // std offers code between fork and exec only as an unsafe hook.
    // SAFETY: only async-signal-safe system calls between fork and exec, no allocation.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::dup2(rw, 3)?;
            nix::unistd::dup2(gr, 4)?;
            if let Some(b) = broker_fd {
                nix::unistd::dup2(b, 5)?;
            }
            let _ = rustix::process::set_parent_process_death_signal(Some(
                rustix::process::Signal::KILL,
            ));
            let _ = SigSet::empty().thread_set_mask();
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(at("cannot start strata in a user namespace"))?;
    drop(ready_w);
    drop(go_r);
    drop(broker);
    let mut ready = fs::File::from(ready_r);
    let mut go = fs::File::from(go_w);
    let mut b = [0u8; 1];
    let mapped = match ready.read(&mut b) {
        Ok(1) => write_maps(Pid::from_raw(child.id() as i32)).map(|map| match map {
            UidMap::Single(why) => {
                note_single_uid_once(store_root, &why);
                true
            }
            UidMap::Range => false,
        }),
        _ => Err(UsernsError::ChildGone),
    };
    let alone = match mapped {
        Ok(alone) => alone,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    go.write_all(if alone { b"s" } else { b"1" })?;
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
    // Signal handling: neither nix nor rustix (outside its unstable runtime API) has
    // sigwaitinfo, and the sender's si_code is what tells a kill from a terminal.
    // SAFETY: an all-zero siginfo_t is valid plain data, which sigwaitinfo fills; the
    // set is a valid sigset_t borrowed for the call.
    let (n, info) = unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        (libc::sigwaitinfo(set.as_ref(), &mut info), info)
    };
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

/// Which uid map the user namespace got.
enum UidMap {
    /// The user's own id and its subordinate range.
    Range,
    /// Only the user's own id, and why.
    Single(SingleUidCause),
}

/// Why only the user's own id is mapped.
enum SingleUidCause {
    /// /etc/subuid or /etc/subgid has no range for the user (named).
    NoRange(String),
    /// newuidmap and newgidmap are not installed.
    NoTools,
}

/// The file in the store that remembers that the single-uid note was shown.
const SINGLE_UID_NOTED: &str = "single-uid-noted";

/// Says once per store (remembered in it) that files of other owners in images will
/// show as root, and what to do about it.
fn note_single_uid_once(store_root: &std::path::Path, why: &SingleUidCause) {
    let marker = store_root.join(SINGLE_UID_NOTED);
    if marker.exists() {
        return;
    }
    let fix = match why {
        SingleUidCause::NoRange(name) => format!(
            "no subordinate id range for {name} in /etc/subuid and /etc/subgid; add one as root, e.g.: echo {name}:100000:65536 >> /etc/subuid; echo {name}:100000:65536 >> /etc/subgid"
        ),
        SingleUidCause::NoTools => {
            "newuidmap and newgidmap are not installed (Debian's uidmap package)".to_string()
        }
    };
    eprintln!(
        "note: strata maps only your own uid, so files that other users own in images show as owned by root: {fix} (this note is shown once)"
    );
    let _ = fs::write(marker, b"");
}

fn write_maps(pid: Pid) -> Result<UidMap> {
    let (uid, gid) = (getuid().as_raw(), getgid().as_raw());
    let name = User::from_uid(nix::unistd::Uid::from_raw(uid))
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
                return u.and(g).map(|()| UidMap::Range);
            }
            (Ok(c), Err(e)) | (Err(e), Ok(c)) => {
                let _ = c.wait_with_output();
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(at("cannot run newuidmap/newgidmap")(e));
                }
                return Err(UsernsError::NoUidmap);
            }
            (Err(e), Err(_)) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(at("cannot run newuidmap/newgidmap")(e));
            }
            // Neither tool is installed: fall through to the single-uid map.
            (Err(_), Err(_)) => {}
        }
    }
    let why = if subuid.is_some() && subgid.is_some() {
        SingleUidCause::NoTools
    } else {
        SingleUidCause::NoRange(name)
    };
    // No subordinate range (or no uidmap tools): map just the user to root.
    let proc = format!("/proc/{pid}");
    fs::write(format!("{proc}/uid_map"), format!("0 {uid} 1\n"))
        .map_err(at("cannot write the uid map"))?;
    fs::write(format!("{proc}/setgroups"), "deny").map_err(at("cannot write setgroups"))?;
    fs::write(format!("{proc}/gid_map"), format!("0 {gid} 1\n"))
        .map_err(at("cannot write the gid map"))?;
    Ok(UidMap::Single(why))
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
        .map_err(at(format!("cannot run {tool}")))?;
    if !out.status.success() {
        return Err(UsernsError::MapFailed {
            tool: tool.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}
