//! Finding a container by name, full ID or unique ID prefix, and telling whether it
//! still runs.

use store_layout::{ContainerRecord, ContainerState, ContainerStatus, Store, StoreError};

/// Why no single container has a name.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Nothing has that name, ID or ID prefix.
    #[error("No such container: {0}")]
    NotFound(String),
    /// More than one ID starts with it.
    #[error("multiple IDs found with provided prefix: {0}")]
    Ambiguous(String),
    /// The records could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Finds a container as docker does: exact ID, exact name, then unique ID prefix.
pub fn find(store: &Store, arg: &str) -> Result<ContainerRecord, LookupError> {
    let all = store.containers()?;
    find_in(&all, arg).cloned()
}

/// `find` over records already read.
pub fn find_in<'a>(
    all: &'a [ContainerRecord],
    arg: &str,
) -> Result<&'a ContainerRecord, LookupError> {
    let name = arg.strip_prefix('/').unwrap_or(arg);
    if let Some(c) = all.iter().find(|c| c.id == arg || c.name == name) {
        return Ok(c);
    }
    if !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_hexdigit()) {
        let lower = arg.to_ascii_lowercase();
        let mut hits = all.iter().filter(|c| c.id.starts_with(&lower));
        if let Some(c) = hits.next() {
            if hits.next().is_some() {
                return Err(LookupError::Ambiguous(arg.to_string()));
            }
            return Ok(c);
        }
    }
    Err(LookupError::NotFound(arg.to_string()))
}

/// The start time of a process (field 22 of /proc/PID/stat), if it exists.
pub fn process_start(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: count fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    // A zombie has ended: only its exit status waits to be collected.
    if rest.starts_with(['Z', 'X']) {
        return None;
    }
    rest.split(' ').nth(19)?.parse().ok()
}

/// The container's state, with a `running` state whose watcher died turned into
/// `exited` (137, as if killed).
pub fn live_state(store: &Store, id: &str) -> Result<ContainerState, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, name: &str) -> ContainerRecord {
        ContainerRecord {
            id: id.repeat(64 / id.len()),
            name: name.into(),
            image: store_layout::Digest::of(b"x"),
            image_name: "img".into(),
            layers: Vec::new(),
            created: String::new(),
            config: serde_json::Value::Null,
        }
    }

    #[test]
    fn by_id_name_and_unique_prefix() {
        let all = [rec("ab", "web"), rec("ac", "db")];
        assert_eq!(find_in(&all, "web").unwrap().name, "web");
        assert_eq!(find_in(&all, "/db").unwrap().name, "db");
        assert_eq!(find_in(&all, &"ab".repeat(32)).unwrap().name, "web");
        assert_eq!(find_in(&all, "AB").unwrap().name, "web");
        let e = find_in(&all, "a").unwrap_err();
        assert!(matches!(&e, LookupError::Ambiguous(p) if p == "a"));
        assert_eq!(e.to_string(), "multiple IDs found with provided prefix: a");
        let e = find_in(&all, "cache").unwrap_err();
        assert!(matches!(&e, LookupError::NotFound(n) if n == "cache"));
        assert_eq!(e.to_string(), "No such container: cache");
    }
}
