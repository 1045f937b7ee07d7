//! Finding a container by name, full ID or unique ID prefix, and telling whether it
//! still runs.

use anyhow::{anyhow, bail, Result};
use store_layout::{ContainerRecord, ContainerState, ContainerStatus, Store};

/// Finds a container as docker does: exact ID, exact name, then unique ID prefix.
pub fn find(store: &Store, arg: &str) -> Result<ContainerRecord> {
    let all = store.containers()?;
    find_in(&all, arg).cloned()
}

/// `find` over records already read.
pub fn find_in<'a>(all: &'a [ContainerRecord], arg: &str) -> Result<&'a ContainerRecord> {
    let name = arg.strip_prefix('/').unwrap_or(arg);
    if let Some(c) = all.iter().find(|c| c.id == arg || c.name == name) {
        return Ok(c);
    }
    if !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_hexdigit()) {
        let lower = arg.to_ascii_lowercase();
        let mut hits = all.iter().filter(|c| c.id.starts_with(&lower));
        if let Some(c) = hits.next() {
            if hits.next().is_some() {
                bail!("multiple IDs found with provided prefix: {arg}");
            }
            return Ok(c);
        }
    }
    Err(anyhow!("No such container: {arg}"))
}

/// The start time of a process (field 22 of /proc/PID/stat), if it exists.
pub fn process_start(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: count fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// The container's state, with a `running` state whose watcher died turned into
/// `exited` (137, as if killed).
pub fn live_state(store: &Store, id: &str) -> Result<ContainerState> {
    let mut s = store.container_state(id)?;
    if s.status == ContainerStatus::Running {
        let alive = match (s.pid, s.pid_start) {
            (Some(pid), Some(start)) => process_start(pid) == Some(start),
            _ => false,
        };
        if !alive {
            s.status = ContainerStatus::Exited;
            s.exit_code = Some(s.exit_code.unwrap_or(137));
            s.pid = None;
        }
    }
    Ok(s)
}
