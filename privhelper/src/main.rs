//! strata-helper: the privileged overlay mount helper.
//!
//! `strata-helper serve [--socket PATH] [--timeout SECS]`: with `--socket`, listen on
//! PATH (mode 0666); without it, take the listening socket from systemd (`LISTEN_FDS`,
//! descriptor 3), or else listen on the default socket.
//!
//! `strata-helper once`: the setuid mode. strata starts it with a socket pair on
//! descriptor 0; it serves that one request for the real uid and exits. Setuid, it runs
//! nothing else.

use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use strata_helper::{privilege, server, DEFAULT_SOCKET};

const USAGE: &str = "usage: strata-helper serve [--socket PATH] [--timeout SECS] | once
  --socket PATH   listen on PATH (mode 0666) instead of systemd's socket or /run/strata/helper.sock
  --timeout SECS  time limit for reading one request (default 10)
  once            serve the one request on descriptor 0 (setuid mode; strata starts it)";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strata-helper: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if privilege::is_setuid() && first.as_deref() != Some("once") {
        return Err(format!(
            "refusing to run {:?} setuid (real uid {}, effective uid {}): installed setuid root, the helper only serves strata's one request (`once`); a setuid `serve` would let any user bind root's sockets",
            first.unwrap_or_default(),
            rustix::process::getuid().as_raw(),
            rustix::process::geteuid().as_raw()
        ));
    }
    let mut socket: Option<PathBuf> = None;
    let mut opts = server::Options::default();
    match first.as_deref() {
        Some("--version") | Some("version") => {
            println!("strata-helper {}", env!("CARGO_PKG_VERSION"));
            return Ok(());
        }
        Some("serve") => {}
        Some("once") if args.next().is_none() => return once(),
        Some("--help") | Some("-h") | Some("help") => {
            println!("{USAGE}");
            return Ok(());
        }
        _ => return Err(format!("expected a command\n{USAGE}")),
    }
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--socket" => socket = Some(PathBuf::from(value()?)),
            "--timeout" => {
                let v = value()?;
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s > 0.0 && *s <= 3600.0)
                    .ok_or_else(|| format!("--timeout {v}: expected seconds, 0 to 3600"))?;
                opts.timeout = Duration::from_secs_f64(secs);
            }
            _ => return Err(format!("unknown argument {a}\n{USAGE}")),
        }
    }
    let activated = socket.is_none() && systemd_socket();
    let caps =
        privilege::start_service(activated.then_some(3)).map_err(|e| format!("confining: {e}"))?;
    let listener = if activated {
        // SAFETY: systemd passed descriptor 3 (LISTEN_FDS=1, LISTEN_PID=us) and nothing
        // else owns it.
        unsafe { UnixListener::from_raw_fd(3 as RawFd) }
    } else {
        bind(&socket.unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET)))?
    };
    let per_request = 2 + strata_helper::MAX_LOWERS as u64 + 1;
    let fit = (privilege::nofile_limit().saturating_sub(32) / per_request).max(1) as usize;
    opts.max_connections = opts.max_connections.min(fit);
    opts.max_per_uid = opts.max_per_uid.min(opts.max_connections);
    eprintln!(
        "strata-helper {}: serving {} (capabilities: {}; at most {} requests at once, {} per user; {:.1}s per request)",
        env!("CARGO_PKG_VERSION"),
        if activated { "the systemd socket".to_string() } else { "its socket".to_string() },
        privilege::names(caps),
        opts.max_connections,
        opts.max_per_uid,
        opts.timeout.as_secs_f64()
    );
    if !caps.contains(rustix::thread::CapabilitySet::SYS_ADMIN) {
        eprintln!(
            "strata-helper: warning: no CAP_SYS_ADMIN, every mount will fail (run it as root)"
        );
    }
    server::serve(listener, opts).map_err(|e| e.to_string())
}

/// The setuid mode: one request on descriptor 0, for the real uid, after distrusting
/// everything the invoker passed (see [`privilege::start_setuid`]).
fn once() -> Result<(), String> {
    let (conn, uid) = privilege::start_setuid().map_err(|e| format!("setuid start: {e}"))?;
    server::serve_one(conn, uid, &server::Options::default());
    Ok(())
}

/// True when systemd passed us exactly one socket.
fn systemd_socket() -> bool {
    let pid = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok());
    let n = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|p| p.parse::<u32>().ok());
    pid == Some(std::process::id()) && n == Some(1)
}

/// Listens on `path`, replacing a stale socket, with mode 0666.
fn bind(path: &std::path::Path) -> Result<UnixListener, String> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
        }
    }
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if m.file_type().is_socket() {
            let _ = std::fs::remove_file(path);
        } else {
            return Err(format!("{} exists and is not a socket", path.display()));
        }
    }
    // Bound and listening under a temporary name, then renamed: whoever sees the path can connect.
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let l = UnixListener::bind(&tmp).map_err(|e| format!("listening on {}: {e}", tmp.display()))?;
    let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o666));
    if let Err(e) = placed.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("placing {}: {e}", path.display()));
    }
    Ok(l)
}
