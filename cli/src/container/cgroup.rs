//! `-m`, `--cpus` and `--pids-limit`: a cgroup of the container's own under strata's
//! (`/sys/fs/cgroup/strata/ID` on cgroup v2; `/sys/fs/cgroup/CONTROLLER/strata/ID` where
//! the controllers are on v1 hierarchies), made by the watcher after the clone, before
//! the command starts, and removed when the container ends. One left by a killed
//! watcher is empty (its processes died with it) and is removed by the next container
//! that makes one. An ordinary user's go into the systemd user scope strata runs in
//! (see `scope`); where there can be none strata refuses with the reason.

use super::spec::Resources;
use std::path::{Path, PathBuf};

/// The root of the cgroup file systems.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The CFS period docker uses for `--cpus`, in microseconds.
const CPU_PERIOD: u64 = 100_000;

/// Why the limits cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// An ordinary user without a delegated cgroup subtree.
    #[error(
        "resource limits (--memory, --cpus, --pids-limit) need a cgroup v2 subtree \
         delegated to you by systemd (a user session with systemd --user); {0}: run as \
         root or leave out these flags"
    )]
    Rootless(String),
    /// A controller the user's systemd manager does not delegate.
    #[error(
        "the cgroup controller {0} is not delegated to your systemd user manager (an \
         administrator can add it with Delegate= in user@.service)"
    )]
    NotDelegated(&'static str),
    /// A controller the machine does not offer.
    #[error("the cgroup controller {0} is not available on this machine")]
    NoController(&'static str),
    /// A cgroup file or directory.
    #[error("cgroup {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The cgroup layout of the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// The unified hierarchy with the controllers in it.
    V2,
    /// One hierarchy per controller.
    V1,
}

/// `(controller, file, value)` for each limit, as `version` spells them.
pub fn writes(res: &Resources, version: Version) -> Vec<(&'static str, &'static str, String)> {
    let mut w = Vec::new();
    if let Some(m) = res.memory {
        let file = match version {
            Version::V2 => "memory.max",
            Version::V1 => "memory.limit_in_bytes",
        };
        w.push(("memory", file, m.to_string()));
    }
    if let Some(n) = res.nano_cpus {
        let quota = n * CPU_PERIOD / 1_000_000_000;
        match version {
            Version::V2 => w.push(("cpu", "cpu.max", format!("{quota} {CPU_PERIOD}"))),
            Version::V1 => {
                w.push(("cpu", "cpu.cfs_period_us", CPU_PERIOD.to_string()));
                w.push(("cpu", "cpu.cfs_quota_us", quota.to_string()));
            }
        }
    }
    if let Some(p) = res.pids_limit {
        w.push(("pids", "pids.max", p.to_string()));
    }
    w
}

/// An ordinary user's limits: allowed in a systemd user scope, else refused with why.
pub fn check_rootless() -> Result<(), CgroupError> {
    super::scope::check()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The container's cgroup directories; dropping it removes them.
pub struct Cgroup {
    dirs: Vec<PathBuf>,
}

impl Cgroup {
    /// Makes the cgroup of container `id`, writes the limits and moves `pid` into it.
    /// `None` when no limit is set.
    pub fn join(res: &Resources, id: &str, pid: i32) -> Result<Option<Cgroup>, CgroupError> {
        if !res.any() {
            return Ok(None);
        }
        let root = Path::new(CGROUP_ROOT);
        let version = if root.join("cgroup.controllers").exists() {
            Version::V2
        } else {
            Version::V1
        };
        let limits = writes(res, version);
        if crate::userns::is_rootless() {
            return join_scope(&limits, id, pid).map(Some);
        }
        let mut cg = Cgroup { dirs: Vec::new() };
        for (controller, file, value) in &limits {
            let base = match version {
                Version::V2 => {
                    enable_v2(root, controller)?;
                    root.join("strata")
                }
                Version::V1 => root.join(controller).join("strata"),
            };
            if version == Version::V1 && !base.parent().is_some_and(Path::exists) {
                return Err(CgroupError::NoController(controller));
            }
            let dir = base.join(id);
            if !cg.dirs.contains(&dir) {
                std::fs::create_dir_all(&base).map_err(io(&base))?;
                if version == Version::V2 {
                    enable_v2(&base, controller)?;
                }
                remove_stale(&base);
                std::fs::create_dir_all(&dir).map_err(io(&dir))?;
                cg.dirs.push(dir.clone());
            }
            let path = dir.join(file);
            std::fs::write(&path, value).map_err(io(&path))?;
        }
        for dir in &cg.dirs {
            let procs = dir.join("cgroup.procs");
            std::fs::write(&procs, pid.to_string()).map_err(io(&procs))?;
        }
        Ok(Some(cg))
    }
}

/// An ordinary user's container cgroup, in the delegated scope strata runs in.
fn join_scope(
    limits: &[(&'static str, &'static str, String)],
    id: &str,
    pid: i32,
) -> Result<Cgroup, CgroupError> {
    // `start` of a container created with limits, outside a scope: refused with why.
    super::scope::check()?;
    let mut controllers: Vec<&'static str> = limits.iter().map(|(c, _, _)| *c).collect();
    controllers.dedup();
    let base = super::scope::prepare(&super::scope::own_cgroup()?, &controllers)?;
    let dir = base.join(id);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let cg = Cgroup {
        dirs: vec![dir.clone()],
    };
    for (_, file, value) in limits {
        let path = dir.join(file);
        std::fs::write(&path, value).map_err(io(&path))?;
    }
    let procs = dir.join("cgroup.procs");
    std::fs::write(&procs, pid.to_string()).map_err(io(&procs))?;
    Ok(cg)
}

/// Turns `controller` on for the children of the v2 cgroup `dir`.
fn enable_v2(dir: &Path, controller: &'static str) -> Result<(), CgroupError> {
    let offered = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    if !offered.split_whitespace().any(|c| c == controller) {
        return Err(CgroupError::NoController(controller));
    }
    let control = dir.join("cgroup.subtree_control");
    std::fs::write(&control, format!("+{controller}")).map_err(io(&control))
}

/// Removes the empty cgroups of containers whose watcher was killed (a cgroup with
/// processes refuses rmdir, so a running container's is kept).
fn remove_stale(base: &Path) {
    if let Ok(entries) = std::fs::read_dir(base) {
        for e in entries.flatten() {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

/// A mounted cgroup hierarchy: where it is, and the controllers it holds (`None` for
/// the unified v2 hierarchy).
struct Hierarchy {
    mount_point: PathBuf,
    root: String,
    controllers: Option<Vec<String>>,
}

/// The cgroup hierarchies mounted in this mount namespace (/proc/self/mountinfo).
fn hierarchies() -> Vec<Hierarchy> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    parse_mountinfo(&info)
}

fn parse_mountinfo(info: &str) -> Vec<Hierarchy> {
    let mut found = Vec::new();
    for line in info.lines() {
        let Some((mount, fs)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = mount.split(' ').collect();
        let fs: Vec<&str> = fs.split(' ').collect();
        let (Some(root), Some(point), Some(kind)) = (fields.get(3), fields.get(4), fs.first())
        else {
            continue;
        };
        let controllers = match *kind {
            "cgroup2" => None,
            "cgroup" => Some(
                fs.get(2)
                    .unwrap_or(&"")
                    .split(',')
                    .map(str::to_string)
                    .collect(),
            ),
            _ => continue,
        };
        found.push(Hierarchy {
            mount_point: PathBuf::from(point.replace("\\040", " ")),
            root: root.to_string(),
            controllers,
        });
    }
    found
}

/// The directories of the cgroups listed in a /proc/PID/cgroup text, in `hierarchies`.
fn cgroup_dirs(proc_cgroup: &str, hierarchies: &[Hierarchy]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(names), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let wanted: Vec<&str> = names.split(',').filter(|n| !n.is_empty()).collect();
        let h = hierarchies.iter().find(|h| match &h.controllers {
            None => wanted.is_empty(),
            Some(have) => !wanted.is_empty() && wanted.iter().all(|w| have.iter().any(|c| c == w)),
        });
        if let Some(h) = h {
            let rel = path
                .strip_prefix(h.root.trim_end_matches('/'))
                .unwrap_or(path);
            dirs.push(h.mount_point.join(rel.trim_start_matches('/')));
        }
    }
    dirs
}

/// The directories of the cgroups process `pid` is in (`self` for strata).
fn dirs_of(pid: &str, hierarchies: &[Hierarchy]) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    cgroup_dirs(&text, hierarchies)
}

/// Moves strata into the cgroups of the container's process `pid` (for `exec`: what it
/// forks then starts there, as docker's exec joins the container's cgroup); returns
/// the cgroups it left, for [`move_back`]. Root must join the cgroups strata made for
/// the container's limits; other cgroups, and an ordinary user's (joined where they are
/// delegated to them: a container with limits under a systemd user scope), are joined
/// where the kernel allows it.
pub fn join_cgroups_of(pid: i32, root: bool) -> Result<Vec<PathBuf>, CgroupError> {
    let hierarchies = hierarchies();
    let ours = dirs_of("self", &hierarchies);
    let me = std::process::id().to_string();
    let mut left = Vec::new();
    for dir in dirs_of(&pid.to_string(), &hierarchies) {
        if ours.contains(&dir) {
            continue;
        }
        let procs = dir.join("cgroup.procs");
        match std::fs::write(&procs, &me) {
            Ok(()) => {
                if let Some(old) = ours.iter().find(|o| same_hierarchy(o, &dir, &hierarchies)) {
                    left.push(old.clone());
                }
            }
            // A cgroup strata made for the container's limits must be joined; others
            // (the watcher's own, perhaps read-only in a container) are joined if they
            // can be.
            Err(e) if root && dir.components().any(|c| c.as_os_str() == "strata") => {
                return Err(io(&procs)(e))
            }
            Err(_) => {}
        }
    }
    Ok(left)
}

/// Whether two cgroup directories are in one hierarchy.
fn same_hierarchy(a: &Path, b: &Path, hierarchies: &[Hierarchy]) -> bool {
    let of = |p: &Path| {
        hierarchies
            .iter()
            .filter(|h| p.starts_with(&h.mount_point))
            .max_by_key(|h| h.mount_point.as_os_str().len())
            .map(|h| h.mount_point.clone())
    };
    of(a).is_some() && of(a) == of(b)
}

/// Moves strata back into the cgroups [`join_cgroups_of`] took it out of.
pub fn move_back(dirs: &[PathBuf]) {
    let me = std::process::id().to_string();
    for d in dirs {
        let _ = std::fs::write(d.join("cgroup.procs"), &me);
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for d in &self.dirs {
            // The last processes may take a moment to leave after the container ended.
            for _ in 0..100 {
                if std::fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_in_each_versions_files() {
        let res = Resources {
            memory: Some(64 << 20),
            nano_cpus: Some(1_500_000_000),
            pids_limit: Some(20),
        };
        assert_eq!(
            writes(&res, Version::V2),
            [
                ("memory", "memory.max", "67108864".to_string()),
                ("cpu", "cpu.max", "150000 100000".into()),
                ("pids", "pids.max", "20".into()),
            ]
        );
        assert_eq!(
            writes(&res, Version::V1),
            [
                ("memory", "memory.limit_in_bytes", "67108864".to_string()),
                ("cpu", "cpu.cfs_period_us", "100000".into()),
                ("cpu", "cpu.cfs_quota_us", "150000".into()),
                ("pids", "pids.max", "20".into()),
            ]
        );
        assert!(writes(&Resources::default(), Version::V2).is_empty());
    }

    #[test]
    fn cgroups_found_in_a_hybrid_and_a_unified_layout() {
        let hybrid = "25 24 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
29 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";
        let h = parse_mountinfo(hybrid);
        assert_eq!(h.len(), 4);
        let dirs = cgroup_dirs(
            "4:memory:/strata/abc\n2:cpu,cpuacct:/\n1:name=systemd:/user.slice\n0::/x\n",
            &h,
        );
        assert_eq!(
            dirs,
            [
                PathBuf::from("/sys/fs/cgroup/memory/strata/abc"),
                "/sys/fs/cgroup/cpu,cpuacct".into(),
                "/sys/fs/cgroup/systemd/user.slice".into(),
                "/sys/fs/cgroup/unified/x".into(),
            ]
        );
        assert!(same_hierarchy(
            &dirs[0],
            Path::new("/sys/fs/cgroup/memory"),
            &h
        ));
        assert!(!same_hierarchy(&dirs[0], &dirs[1], &h));
        let unified = "30 1 0:27 /user.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let h = parse_mountinfo(unified);
        assert_eq!(
            cgroup_dirs("0::/user.slice/app.slice/strata.scope\n", &h),
            [PathBuf::from("/sys/fs/cgroup/app.slice/strata.scope")]
        );
    }

    #[test]
    fn an_ordinary_user_is_refused_with_the_reason() {
        let e = check_rootless().unwrap_err();
        assert!(matches!(e, CgroupError::Rootless(_)));
        assert!(e
            .to_string()
            .starts_with("resource limits (--memory, --cpus, --pids-limit)"));
    }
}
