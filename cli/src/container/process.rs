//! The container's process, after its root is in place: its user and groups from the
//! image's /etc/passwd and /etc/group, working directory, capabilities, and `execve`
//! with docker's exit codes for a command that cannot run.

use super::plan::{search_path, ProcessPlan};
use rustix::thread::{CapabilitySet, Gid, Uid};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Why the command did not start: an exit code (125 strata, 126 cannot run, 127 not
/// found) and one line for the user.
#[derive(Debug)]
pub struct ExecError {
    /// The exit code `run` returns.
    pub code: i32,
    /// What went wrong.
    pub message: String,
}

fn fail(code: i32, message: impl Into<String>) -> ExecError {
    ExecError {
        code,
        message: message.into(),
    }
}

/// Finds the program as the container's PATH says.
pub fn find_program(prog: &str, env: &[String]) -> Result<PathBuf, ExecError> {
    if prog.is_empty() {
        return Err(fail(127, "exec: \"\": executable file not found in $PATH"));
    }
    if prog.contains('/') {
        let p = PathBuf::from(prog);
        return match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => Err(fail(126, format!("exec: \"{prog}\": is a directory"))),
            Ok(_) => Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(fail(
                127,
                format!("exec: \"{prog}\": stat {prog}: no such file or directory"),
            )),
            Err(_) => Err(fail(126, format!("exec: \"{prog}\": permission denied"))),
        };
    }
    for dir in search_path(env).split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(prog);
        if let Ok(m) = std::fs::metadata(&p) {
            use std::os::unix::fs::PermissionsExt;
            if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                return Ok(p);
            }
        }
    }
    Err(fail(
        127,
        format!("exec: \"{prog}\": executable file not found in $PATH"),
    ))
}

fn cstring(s: &[u8]) -> Result<CString, ExecError> {
    CString::new(s).map_err(|_| fail(125, "argument or environment holds a NUL byte"))
}

fn cstrings<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<CString>, ExecError> {
    items.into_iter().map(cstring).collect()
}

/// Removes every capability but `keep` from the bounding set (so a root process in the
/// container cannot load modules, change the clock, trace other processes, …) and
/// clears the ambient set.
fn drop_capabilities(keep: &[u32]) -> Result<(), String> {
    for cap in 0..64u32 {
        if keep.contains(&cap) {
            continue;
        }
        let set = CapabilitySet::from_bits_retain(1 << cap);
        match rustix::thread::remove_capability_from_bounding_set(set) {
            Ok(()) => {}
            // Past the kernel's last capability.
            Err(rustix::io::Errno::INVAL) => break,
            Err(e) => {
                return Err(format!(
                    "drop capability {cap}: {}",
                    std::io::Error::from(e)
                ))
            }
        }
    }
    let _ = rustix::thread::clear_ambient_capability_set();
    Ok(())
}

/// Takes on the user's groups and ids (the process is single-threaded here, so the
/// thread's ids are the process's).
fn become_user(uid: u32, gid: u32, groups: &[u32]) -> Result<(), ExecError> {
    let gids: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
    if let Err(e) = rustix::thread::set_thread_groups(&gids) {
        // A user namespace with setgroups denied (a single-uid map) keeps its one group.
        if !(e == rustix::io::Errno::PERM && groups == [0]) {
            return Err(fail(125, format!("setgroups: {}", nix_desc(e))));
        }
    }
    let g = Gid::from_raw(gid);
    let u = Uid::from_raw(uid);
    rustix::thread::set_thread_res_gid(g, g, g).map_err(|e| {
        fail(
            125,
            format!(
                "setgid {gid}: {}{}",
                nix_desc(e),
                unmapped_hint("gid", gid, e)
            ),
        )
    })?;
    rustix::thread::set_thread_res_uid(u, u, u).map_err(|e| {
        fail(
            125,
            format!(
                "setuid {uid}: {}{}",
                nix_desc(e),
                unmapped_hint("uid", uid, e)
            ),
        )
    })?;
    Ok(())
}

use crate::userns::unmapped_hint;

/// An errno shown as nix shows it (`EPERM: Operation not permitted`), as before.
fn nix_desc(e: rustix::io::Errno) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(e.raw_os_error())
}

/// Switches to the process's user and working directory, keeps only `caps`, and
/// executes its command. Returns only on failure.
pub fn exec(plan: &ProcessPlan, caps: &[u32]) -> ExecError {
    match prepare_and_exec(plan, caps) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn prepare_and_exec(
    plan: &ProcessPlan,
    caps: &[u32],
) -> Result<std::convert::Infallible, ExecError> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let (id, env) = plan
        .resolve(&passwd, &group)
        .map_err(|e| fail(125, e.to_string()))?;
    let wd = plan.cwd.as_str();
    std::fs::create_dir_all(wd)
        .map_err(|e| fail(125, format!("cannot create working directory {wd}: {e}")))?;
    std::env::set_current_dir(wd)
        .map_err(|e| fail(125, format!("cannot enter working directory {wd}: {e}")))?;
    let argv = &plan.argv;
    let prog = find_program(&argv[0], &env)?;
    drop_capabilities(caps).map_err(|e| fail(125, e))?;
    become_user(id.uid, id.gid, &id.groups)?;

    let c_prog = cstring(prog.as_os_str().as_bytes())?;
    let c_argv = cstrings(argv.iter().map(|a| a.as_bytes()))?;
    let c_env = cstrings(env.iter().map(|e| e.as_bytes()))?;
    let err = match nix::unistd::execve(&c_prog, &c_argv, &c_env) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    let code = if err == nix::errno::Errno::ENOENT {
        127
    } else {
        126
    };
    let what = match err {
        nix::errno::Errno::EACCES => "permission denied".to_string(),
        nix::errno::Errno::ENOENT => "no such file or directory".to_string(),
        nix::errno::Errno::ENOEXEC => "exec format error".to_string(),
        e => e.desc().to_lowercase(),
    };
    Err(fail(code, format!("exec: \"{}\": {what}", argv[0])))
}
