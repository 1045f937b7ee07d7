//! An ordinary user's resource limits (`-m`, `--cpus`, `--pids-limit`) through a systemd
//! user scope: a cgroup v2 subtree that the user's own systemd manager delegates
//! (`Delegate=yes`), in which the user may make child cgroups and write limits.
//!
//! strata asks for the scope by running itself again under `systemd-run --user --scope
//! -p Delegate=yes` (exec, so the pid, signals and exit code stay those of the command),
//! before it enters its user namespace. `systemd-run` was chosen over a D-Bus client
//! crate (zbus): it ships with every systemd user manager, finds the manager's private
//! socket or the user bus itself, waits for the scope job, and costs one exec only for
//! runs that ask for limits, where a D-Bus crate would add an async runtime and a large
//! dependency tree to every build for one call.
//!
//! In the scope the container's watcher (see `cgroup`) moves the scope's processes into
//! a leaf `strata` (cgroup v2 allows controllers only below cgroups without processes),
//! turns the controllers on for the scope's children, and makes the container's cgroup
//! there.

use super::cgroup::CgroupError;
use std::path::{Path, PathBuf};

/// Set for the strata that `systemd-run` started in its scope.
pub const ENV_SCOPE: &str = "STRATA_SYSTEMD_SCOPE";

/// The root of the unified hierarchy on a pure cgroup v2 machine.
const UNIFIED: &str = "/sys/fs/cgroup";

/// The user's runtime directory (`XDG_RUNTIME_DIR`, else `/run/user/UID`).
fn runtime_dir() -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(format!("/run/user/{}", rustix::process::getuid().as_raw()))
        })
}

/// Whether the limits' controllers are in a unified (v2-only) hierarchy.
fn unified_with_controllers() -> bool {
    std::fs::read_to_string(Path::new(UNIFIED).join("cgroup.controllers"))
        .is_ok_and(|c| c.split_whitespace().any(|n| n == "memory"))
}

/// `systemd-run`'s path, from `PATH`.
fn systemd_run() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join("systemd-run"))
        .find(|p| p.is_file())
}

/// Why no scope can be had here, or `None` when one can: a unified hierarchy, a
/// systemd user manager answering for this user, and `systemd-run`.
pub fn unavailable() -> Option<String> {
    if !unified_with_controllers() {
        return Some(
            "this machine's cgroup controllers are not on a unified cgroup v2 hierarchy \
             (a hybrid or v1 layout, which systemd cannot delegate)"
                .into(),
        );
    }
    let run = runtime_dir();
    if !run.join("systemd/private").exists() && !run.join("bus").exists() {
        return Some(format!(
            "no systemd user manager is running for you (none answers in {}; an \
             administrator can start one with `loginctl enable-linger USER`)",
            run.display()
        ));
    }
    if systemd_run().is_none() {
        return Some("systemd-run is not installed".into());
    }
    None
}

/// Whether this strata runs in the scope `systemd-run` made for it.
pub fn in_scope() -> bool {
    std::env::var_os(ENV_SCOPE).is_some()
}

/// Runs strata again with the same arguments under `systemd-run --user --scope` with
/// `Delegate=yes` (replacing this process); returns only when that could not start.
pub fn reexec_in_scope() -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let Some(systemd_run) = systemd_run() else {
        return std::io::Error::new(std::io::ErrorKind::NotFound, "systemd-run not found");
    };
    let exe = match std::fs::read_link("/proc/self/exe") {
        Ok(e) => e,
        Err(e) => return e,
    };
    std::process::Command::new(systemd_run)
        .args([
            "--user",
            "--scope",
            "--quiet",
            "--collect",
            "-p",
            "Delegate=yes",
        ])
        .arg(format!("--unit=strata-{}", std::process::id()))
        .arg("--")
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(ENV_SCOPE, "1")
        .env("XDG_RUNTIME_DIR", runtime_dir())
        .exec()
}

/// The scope this process is in (from /proc/self/cgroup; it may be in the scope's
/// leaf `strata` by now).
pub fn own_cgroup() -> Result<PathBuf, CgroupError> {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    scope_of(&text).ok_or_else(|| CgroupError::Rootless("strata is in no systemd scope".into()))
}

/// The `.scope` cgroup of a /proc/PID/cgroup text, as a directory.
fn scope_of(proc_cgroup: &str) -> Option<PathBuf> {
    let rel = proc_cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let mut dir = Path::new(UNIFIED).to_path_buf();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        dir.push(part);
        if part.ends_with(".scope") {
            return Some(dir);
        }
    }
    None
}

/// An ordinary user's limits: allowed in a scope, else refused with the reason.
pub fn check() -> Result<(), CgroupError> {
    if in_scope() && unified_with_controllers() {
        return Ok(());
    }
    let why = unavailable().unwrap_or_else(|| {
        "strata was not started in a systemd user scope (start the container with `run`)".into()
    });
    Err(CgroupError::Rootless(why))
}

/// In the scope `dir`: moves its processes into the leaf `strata`, turns on
/// `controllers` for its children, and returns where containers' cgroups go (`dir`).
pub fn prepare(dir: &Path, controllers: &[&'static str]) -> Result<PathBuf, CgroupError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CgroupError::Io { path, source }
    };
    let leaf = dir.join("strata");
    std::fs::create_dir_all(&leaf).map_err(io(&leaf))?;
    let procs = dir.join("cgroup.procs");
    let pids = std::fs::read_to_string(&procs).map_err(io(&procs))?;
    let into = leaf.join("cgroup.procs");
    for pid in pids.lines() {
        // One that ended meanwhile is no error.
        let _ = std::fs::write(&into, pid);
    }
    let offered = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let control = dir.join("cgroup.subtree_control");
    for c in controllers {
        if !offered.split_whitespace().any(|o| o == *c) {
            return Err(CgroupError::NotDelegated(c));
        }
        std::fs::write(&control, format!("+{c}")).map_err(io(&control))?;
    }
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_is_found_from_its_leaf_too() {
        let base = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/strata-7.scope";
        let want = PathBuf::from(
            "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/strata-7.scope",
        );
        assert_eq!(scope_of(&format!("{base}\n")), Some(want.clone()));
        assert_eq!(scope_of(&format!("{base}/strata\n")), Some(want));
        assert_eq!(scope_of("0::/user.slice/session-2.slice\n"), None);
        assert_eq!(scope_of("4:memory:/x.scope\n"), None);
    }

    #[test]
    fn without_a_scope_the_limits_are_refused_with_the_reason() {
        let e = check().unwrap_err();
        assert!(matches!(e, CgroupError::Rootless(_)));
        assert!(e.to_string().contains("; "), "{e}");
    }
}
