//! Confining the server at start: only the capabilities the mount and overlay copy-up
//! need, `NO_NEW_PRIVS`, an empty environment, no inherited descriptors.
//!
//! Capabilities are per thread, so [`confine`] must run before any thread starts; the
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
}

fn sys<T>(step: &'static str, r: rustix::io::Result<T>) -> Result<T, PrivilegeError> {
    r.map_err(|errno| PrivilegeError::Sys { step, errno })
}

/// Clears the environment, closes every descriptor from 3 up except `keep_fd`, raises
/// the descriptor limit, drops every capability not in [`KEEP`] from all five sets (the
/// bounding set when it may, i.e. holding `CAP_SETPCAP`; under systemd the unit's
/// `CapabilityBoundingSet` did it) and sets `NO_NEW_PRIVS`. Returns the effective set.
///
/// Call it first thing in `main`, while the process has one thread.
pub fn confine(keep_fd: Option<i32>) -> Result<CapabilitySet, PrivilegeError> {
    for (k, _) in std::env::vars_os() {
        std::env::remove_var(k);
    }
    close_from(3, keep_fd);
    raise_nofile_limit();

    let now = sys("capget", capabilities(None))?;
    if now.effective.contains(CapabilitySet::SETPCAP) {
        for bit in 0..64u32 {
            let cap = CapabilitySet::from_bits_retain(1 << bit);
            if KEEP.contains(cap) {
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
    if !(KEEP.contains(now.permitted) && KEEP.contains(now.inheritable)) {
        let keep = now.permitted & KEEP;
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

/// A request holds up to 503 descriptors; raise the soft limit to the hard one.
fn raise_nofile_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut l = getrlimit(Resource::Nofile);
    l.current = l.maximum;
    let _ = setrlimit(Resource::Nofile, l);
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
