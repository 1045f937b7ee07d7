//! Signalling a running container and waiting for it to end: `kill`, `stop`, `restart`
//! and `wait`. The container's first process is found from its state file and checked
//! (a pidfd opened on it, then its start time compared with the recorded one) so a
//! reused pid is never signalled.

use super::lookup::{live_state, process_start};
use rustix::fd::OwnedFd;
use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};
use std::time::{Duration, Instant};
use store_layout::{ContainerRecord, ContainerState, ContainerStatus, Store, StoreError};

/// Why a container could not be signalled or waited for.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// It does not run.
    #[error("container {0} is not running")]
    NotRunning(String),
    /// A signal name or number strata does not know.
    #[error("invalid signal: {0}")]
    BadSignal(String),
    /// The process could not be opened or signalled.
    #[error("cannot signal the container's process {pid}: {source}")]
    Send {
        /// Its pid.
        pid: i32,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The container's records.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A signal name in docker's spelling: `kill`, `KILL` and `SIGKILL` are `SIGKILL`.
pub fn signal_name(text: &str) -> String {
    let upper = text.to_ascii_uppercase();
    if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    }
}

/// A signal as docker's `-s` takes it: `KILL`, `SIGKILL`, `kill` or `9`.
pub fn parse_signal(text: &str) -> Result<Signal, SignalError> {
    let bad = || SignalError::BadSignal(text.to_string());
    let raw = match text.parse::<i32>() {
        Ok(n) => n,
        Err(_) => signal_name(text)
            .parse::<nix::sys::signal::Signal>()
            .map_err(|_| bad())? as i32,
    };
    Signal::from_named_raw(raw).ok_or_else(bad)
}

/// A process of the container, opened as a pidfd after its start time was checked.
fn open_checked(pid: i32, start: Option<u64>) -> Option<OwnedFd> {
    let fd = pidfd_open(Pid::from_raw(pid)?, PidfdFlags::empty()).ok()?;
    // Checked after opening: the pidfd then refers to the process that was checked.
    (start.is_none() || process_start(pid) == start).then_some(fd)
}

/// The container's first process, or (for a record from before it was kept) its watcher,
/// which passes most signals on.
pub fn target(state: &ContainerState) -> Option<(i32, OwnedFd)> {
    if let Some(pid) = state.init_pid {
        return open_checked(pid, state.init_start).map(|fd| (pid, fd));
    }
    let pid = state.pid?;
    open_checked(pid, state.pid_start).map(|fd| (pid, fd))
}

/// The state of a running container, or `NotRunning`.
pub fn running_state(store: &Store, rec: &ContainerRecord) -> Result<ContainerState, SignalError> {
    let state = live_state(store, &rec.id)?;
    if state.status != ContainerStatus::Running {
        return Err(SignalError::NotRunning(rec.id.clone()));
    }
    Ok(state)
}

/// Sends `sig` to a running container's first process.
pub fn kill(store: &Store, rec: &ContainerRecord, sig: Signal) -> Result<(), SignalError> {
    let state = running_state(store, rec)?;
    let Some((pid, fd)) = target(&state) else {
        return Err(SignalError::NotRunning(rec.id.clone()));
    };
    pidfd_send_signal(&fd, sig).map_err(|e| SignalError::Send {
        pid,
        source: e.into(),
    })
}

/// Waits until the container's watcher has recorded its end (or `timeout` passes: then
/// `None`). Returns the final state; a removed container (`--rm`) counts as ended. A
/// container that was created and never started is waited for through its first run,
/// as docker's `wait` does.
pub fn wait_exit(
    store: &Store,
    id: &str,
    timeout: Option<Duration>,
) -> Result<Option<ContainerState>, SignalError> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut pause = Duration::from_millis(1);
    loop {
        let state = match live_state(store, id) {
            Ok(s) => s,
            Err(StoreError::NotFound(_)) => return Ok(Some(ContainerState::default())),
            Err(e) => return Err(e.into()),
        };
        if !store.container_dir(id)?.exists() {
            return Ok(Some(state));
        }
        if state.status == ContainerStatus::Exited {
            return Ok(Some(state));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(4));
    }
}

/// Stops a container as docker does: `sig` (its stop signal), then SIGKILL when it has
/// not ended after `timeout`. A container that does not run is left as it is.
pub fn stop(
    store: &Store,
    rec: &ContainerRecord,
    sig: Signal,
    timeout: Duration,
) -> Result<(), SignalError> {
    match kill(store, rec, sig) {
        Ok(()) => {}
        Err(SignalError::NotRunning(_)) => return Ok(()),
        Err(e) => return Err(e),
    }
    if wait_exit(store, &rec.id, Some(timeout))?.is_some() {
        return Ok(());
    }
    match kill(store, rec, Signal::KILL) {
        Ok(()) | Err(SignalError::NotRunning(_)) => {}
        Err(e) => return Err(e),
    }
    wait_exit(store, &rec.id, None)?;
    Ok(())
}

/// The container's stop signal: `run --stop-signal` as recorded, else the image's
/// `STOPSIGNAL` (for records made before strata recorded it), else SIGTERM.
pub fn stop_signal(store: &Store, rec: &ContainerRecord) -> Result<Signal, SignalError> {
    let recorded = serde_json::from_value::<crate::container::spec::RunConfig>(rec.config.clone())
        .ok()
        .and_then(|c| c.stop_signal);
    let name = recorded.or_else(|| {
        store
            .read_blob(&rec.image)
            .ok()
            .and_then(|b| crate::image::ImageConfig::from_slice(&b).ok())
            .and_then(|c| c.config)
            .and_then(|c| c.stop_signal)
    });
    match name {
        Some(n) => parse_signal(&n),
        None => Ok(Signal::TERM),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        for t in ["KILL", "SIGKILL", "kill", "9"] {
            assert_eq!(parse_signal(t).unwrap(), Signal::KILL, "{t}");
        }
        assert_eq!(parse_signal("usr1").unwrap(), Signal::USR1);
        assert!(matches!(
            parse_signal("NOPE"),
            Err(SignalError::BadSignal(s)) if s == "NOPE"
        ));
        assert!(parse_signal("0").is_err());
    }
}
