//! Confining the helper at start: only the capabilities the mount and overlay copy-up
//! need, `NO_NEW_PRIVS`, an empty environment, no inherited descriptors.
//!
//! Both ways the helper starts go through [`confine`], the one place that clears the
//! environment, closes descriptors, sets the descriptor limit, cuts the capabilities and
//! sets `NO_NEW_PRIVS`: [`start_service`] for `serve`, and [`start_setuid`] for `once`,
//! which first distrusts what an ordinary invoker passed (signals, resource limits,
//! umask, working directory, standard streams) and takes the request's socket on
//! descriptor 0.
//!
//! Capabilities are per thread, so this must run before any thread starts; the
//! connection threads inherit the reduced sets.

use rustix::io::Errno;
use rustix::thread::{
    capabilities, clear_ambient_capability_set, remove_capability_from_bounding_set,
    set_capabilities, set_no_new_privs, CapabilitySet, CapabilitySets,
};

/// The capabilities the helper keeps (see the README for why each one).
///
/// Overlayfs records the mounter's credentials when the superblock is created
/// (`fsconfig(FSCONFIG_CMD_CREATE)`) and performs every access to the upper and lower
/// directories with them, so these are also the credentials of every copy-up, whiteout
/// and file creation in the containers later.
/// `tests/copyup_caps.rs` checks that each one is needed and that these suffice.
pub const KEEP: CapabilitySet = CapabilitySet::SYS_ADMIN
    .union(CapabilitySet::DAC_OVERRIDE)
    .union(CapabilitySet::CHOWN)
    .union(CapabilitySet::FOWNER)
    .union(CapabilitySet::MKNOD)
    .union(CapabilitySet::SETFCAP);

/// What went wrong while confining.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    /// A `prctl` or `capset` call failed.
    #[error("{step}: {errno}")]
    Sys {
        /// What was being done.
        step: &'static str,
        /// The kernel's answer.
        errno: Errno,
    },
    /// The invoker's hard limit is below what the setuid helper needs.
    #[error("the invoker's hard {resource:?} limit {hard} is under the {floor} the helper needs")]
    Limit {
        /// The resource.
        resource: rustix::process::Resource,
        /// The invoker's hard limit.
        hard: u64,
        /// The least the helper needs.
        floor: u64,
    },
}

fn sys<T>(step: &'static str, r: rustix::io::Result<T>) -> Result<T, PrivilegeError> {
    r.map_err(|errno| PrivilegeError::Sys { step, errno })
}

/// `serve`: confines the helper (see [`confine`]) with every capability in [`KEEP`],
/// keeping `listen_fd`, systemd's listening socket, open. Returns the effective set.
///
/// Call it first thing in `main`, while the process has one thread.
pub fn start_service(listen_fd: Option<i32>) -> Result<CapabilitySet, PrivilegeError> {
    confine(listen_fd, KEEP)
}

/// `once`, which an ordinary user starts (the helper installed setuid root): distrusts
/// everything the invoker passed ([`distrust_invoker`]), takes descriptor 0, which must
/// be a unix stream socket (the request comes on it), then confines the helper (see
/// [`confine`]); for a caller other than root without `CAP_MKNOD`, as an ordinary user's
/// layers hold no device nodes. Returns the connection and the real uid, the only
/// caller this helper acts for.
///
/// Call it first thing in `main`, while the process has one thread.
pub fn start_setuid() -> Result<(std::os::unix::net::UnixStream, u32), PrivilegeError> {
    let uid = rustix::process::getuid().as_raw();
    distrust_invoker()?;
    let conn = request_socket()?;
    let mut keep = KEEP;
    if uid != 0 {
        keep.remove(CapabilitySet::MKNOD);
    }
    confine(None, keep)?;
    Ok((conn, uid))
}

/// Clears the environment, closes every descriptor from 3 up except `keep_fd`, raises
/// the descriptor limit, drops every capability not in `keep` from all five sets (the
/// bounding set when it may, i.e. holding `CAP_SETPCAP`; under systemd the unit's
/// `CapabilityBoundingSet` did it) and sets `NO_NEW_PRIVS`. Returns the effective set.
fn confine(keep_fd: Option<i32>, keep: CapabilitySet) -> Result<CapabilitySet, PrivilegeError> {
    for (k, _) in std::env::vars_os() {
        std::env::remove_var(k);
    }
    close_from(3, keep_fd);
    // A request holds up to 503 descriptors. No limit on descriptors may be unlimited
    // (the kernel caps it at fs.nr_open), so this raises the soft limit to the hard one.
    reset_limit(rustix::process::Resource::Nofile, None, 0)?;

    let now = sys("capget", capabilities(None))?;
    if now.effective.contains(CapabilitySet::SETPCAP) {
        for bit in 0..64u32 {
            let cap = CapabilitySet::from_bits_retain(1 << bit);
            if keep.contains(cap) {
                continue;
            }
            match remove_capability_from_bounding_set(cap) {
                Ok(()) | Err(Errno::INVAL) => {} // INVAL: beyond the kernel's last cap
                Err(errno) => {
                    return Err(PrivilegeError::Sys {
                        step: "PR_CAPBSET_DROP",
                        errno,
                    })
                }
            }
        }
    }
    sys("PR_CAP_AMBIENT_CLEAR_ALL", clear_ambient_capability_set())?;
    // Under systemd every set already is at most KEEP (bounding and ambient sets from the
    // unit) and the unit's system call filter denies capset; started by hand as root,
    // the permitted set holds everything and capset cuts it down.
    let now = sys("capget", capabilities(None))?;
    if !(keep.contains(now.permitted) && keep.contains(now.inheritable)) {
        let keep = now.permitted & keep;
        sys(
            "capset",
            set_capabilities(
                None,
                CapabilitySets {
                    effective: keep,
                    permitted: keep,
                    inheritable: CapabilitySet::empty(),
                },
            ),
        )?;
    }
    sys("PR_SET_NO_NEW_PRIVS", set_no_new_privs(true))?;
    Ok(sys("capget", capabilities(None))?.effective)
}

/// Sets the disposition of a signal the C library keeps for itself (32 and 33, which
/// `signal` refuses) to default, with the kernel's own call.
fn reset_reserved_signal(sig: i32) {
    /// The kernel's `struct sigaction` (handler, flags, restorer, mask) on the
    /// architectures Debian builds strata for.
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let default = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: rt_sigaction (which neither rustix nor libc wraps for these signals) reads
    // the struct above, valid for the call, and installs no handler; the old action is
    // not asked for. SIGKILL and SIGSTOP fail harmlessly.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &default,
            std::ptr::null_mut::<u8>(),
            8usize,
        )
    };
}

/// Sets `resource` to `safe` (None: unlimited) both ways. Without `CAP_SYS_RESOURCE` (a
/// container's root may lack it) a lowered hard limit stays: the soft one rises to it,
/// and a hard limit under `floor` is refused.
fn reset_limit(
    resource: rustix::process::Resource,
    safe: Option<u64>,
    floor: u64,
) -> Result<(), PrivilegeError> {
    use rustix::process::{getrlimit, setrlimit, Rlimit};
    let exact = Rlimit {
        current: safe,
        maximum: safe,
    };
    if setrlimit(resource, exact).is_ok() {
        return Ok(());
    }
    let hard = getrlimit(resource).maximum;
    if let Some(h) = hard.filter(|h| *h < floor) {
        return Err(PrivilegeError::Limit {
            resource,
            hard: h,
            floor,
        });
    }
    let raised = Rlimit {
        current: hard,
        maximum: hard,
    };
    sys("setrlimit", setrlimit(resource, raised))
}

/// Closes every descriptor numbered `from` or above, except `keep`.
fn close_from(from: u32, keep: Option<i32>) {
    let close_range = |lo: u32, hi: u32| {
        if lo <= hi {
            // SAFETY: close_range (which rustix lacks) only closes descriptors; nothing
            // in this process holds these (confine runs before anything is opened).
            unsafe { libc::syscall(libc::SYS_close_range, lo, hi, 0u32) };
        }
    };
    match keep {
        Some(k) if k >= from as i32 => {
            close_range(from, k as u32 - 1);
            close_range(k as u32 + 1, u32::MAX);
        }
        _ => close_range(from, u32::MAX),
    }
}

/// The soft descriptor limit (to size the connection cap).
pub fn nofile_limit() -> u64 {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX)
}

/// Capability names for the log, e.g. `cap_sys_admin,cap_chown`.
pub fn names(set: CapabilitySet) -> String {
    let v: Vec<String> = set
        .iter_names()
        .map(|(n, _)| format!("cap_{}", n.to_lowercase()))
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(",")
    }
}

/// Whether this process runs setuid or setgid: real and effective ids differ.
pub fn is_setuid() -> bool {
    use rustix::process::{getegid, geteuid, getgid, getuid};
    getuid() != geteuid() || getgid() != getegid()
}

/// Trusts nothing an ordinary invoker passed: resets every signal's disposition and
/// clears the mask, sets every resource limit that could stop the helper part way to a
/// safe value (it holds every capability here, so it may), sets the umask to 077 and the
/// working directory to `/`, and puts `/dev/null` on descriptors 1 and 2. [`confine`]
/// then clears the environment and closes every descriptor from 3 up.
fn distrust_invoker() -> Result<(), PrivilegeError> {
    use rustix::fs::{Mode, OFlags};
    use rustix::process::Resource;
    for sig in 1..=libc::SIGRTMAX() {
        let action = if sig == libc::SIGPIPE {
            libc::SIG_IGN
        } else {
            libc::SIG_DFL
        };
        // SAFETY: resetting a disposition to default (or ignoring SIGPIPE, as Rust's
        // runtime does) installs no handler; SIGKILL and SIGSTOP fail harmlessly.
        if unsafe { libc::signal(sig, action) } == libc::SIG_ERR {
            reset_reserved_signal(sig);
        }
    }
    // SAFETY: an empty set, valid for the call; no old mask asked for.
    let unmasked = unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut())
    };
    if unmasked != 0 {
        return Err(PrivilegeError::Sys {
            step: "sigprocmask",
            errno: Errno::INVAL,
        });
    }
    let mib = 1 << 20;
    // The descriptor limit too, as the invoker may have lowered the hard one; [`confine`]
    // then finds the soft one at the hard one already.
    for (resource, safe, floor) in [
        (Resource::Cpu, None, 10),
        (Resource::Fsize, None, 0),
        (Resource::Data, None, 256 * mib),
        (Resource::As, None, 256 * mib),
        (Resource::Stack, Some(8 * mib), mib),
        (Resource::Core, Some(0), 0),
        (Resource::Nofile, Some(1024), 64),
        (Resource::Locks, None, 0),
        (Resource::Rttime, None, 0),
    ] {
        reset_limit(resource, safe, floor)?;
    }
    rustix::process::umask(Mode::from_raw_mode(0o077));
    sys("chdir /", rustix::process::chdir("/"))?;
    let null = sys(
        "/dev/null",
        rustix::fs::open("/dev/null", OFlags::RDWR, Mode::empty()),
    )?;
    sys("dup2 1", rustix::stdio::dup2_stdout(&null))?;
    sys("dup2 2", rustix::stdio::dup2_stderr(&null))?;
    Ok(())
}

/// Descriptor 0 of the setuid mode, which must be a unix stream socket.
fn request_socket() -> Result<std::os::unix::net::UnixStream, PrivilegeError> {
    use rustix::net::{sockopt, AddressFamily, SocketType};
    use std::os::fd::{BorrowedFd, FromRawFd};
    // SAFETY: descriptor 0 is open (Rust's runtime opens /dev/null on a closed one) and
    // this process owns it; it is only borrowed here.
    let zero = unsafe { BorrowedFd::borrow_raw(0) };
    let unix = sys("descriptor 0", sockopt::socket_domain(zero))? == AddressFamily::UNIX;
    if !unix || sys("descriptor 0", sockopt::socket_type(zero))? != SocketType::STREAM {
        return Err(PrivilegeError::Sys {
            step: "descriptor 0 is not a unix stream socket",
            errno: Errno::NOTSOCK,
        });
    }
    // SAFETY: descriptor 0 is a unix stream socket (checked above) that nothing else owns.
    Ok(unsafe { std::os::unix::net::UnixStream::from_raw_fd(0) })
}
