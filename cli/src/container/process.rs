//! The container's process, after its root is in place: user and groups from the
//! image's /etc/passwd and /etc/group, working directory, environment, and `execve`
//! with docker's exit codes for a command that cannot run.

use super::spec::RunConfig;
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

/// A resolved user.
#[derive(Debug, PartialEq, Eq)]
pub struct Identity {
    /// User ID.
    pub uid: u32,
    /// Primary group ID.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Home directory.
    pub home: String,
}

/// Resolves `USER[:GROUP]` (names or numbers) against the container's passwd and group
/// files, as docker does: a number needs no entry; a name must have one.
pub fn resolve_user(spec: &str, passwd: &str, group: &str) -> Result<Identity, String> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let entries: Vec<Vec<&str>> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 7)
        .collect();
    let found = entries.iter().find(|f| match user.parse::<u32>() {
        Ok(n) => f[2].parse::<u32>() == Ok(n),
        Err(_) => f[0] == user,
    });
    let (uid, mut gid, name, home) = match (found, user.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse()
                .map_err(|_| format!("invalid passwd entry for {user}"))?,
            f[3].parse()
                .map_err(|_| format!("invalid passwd entry for {user}"))?,
            Some(f[0].to_string()),
            f[5].to_string(),
        ),
        (None, Ok(n)) => (n, 0, None, "/".to_string()),
        (None, Err(_)) => {
            return Err(format!(
                "unable to find user {user}: no matching entries in passwd file"
            ))
        }
    };
    let groups_file: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 4)
        .collect();
    if let Some(g) = grp.filter(|g| !g.is_empty()) {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups_file
                .iter()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    format!("unable to find group {g}: no matching entries in group file")
                })?,
        };
    }
    let mut groups = vec![gid];
    if let Some(name) = &name {
        for f in &groups_file {
            if f[3].split(',').any(|m| m == name) {
                if let Ok(n) = f[2].parse::<u32>() {
                    if !groups.contains(&n) {
                        groups.push(n);
                    }
                }
            }
        }
    }
    Ok(Identity {
        uid,
        gid,
        groups,
        home,
    })
}

/// The process's environment: the configuration's, with HOSTNAME, HOME and (with a
/// terminal) TERM added where missing, as docker does.
pub fn environment(cfg: &RunConfig, home: &str) -> Vec<String> {
    let mut env = vec![format!("HOSTNAME={}", cfg.hostname)];
    let has = |k: &str| cfg.env.iter().any(|e| e.split('=').next() == Some(k));
    env.extend(cfg.env.iter().cloned());
    if cfg.tty && !has("TERM") {
        env.push("TERM=xterm".into());
    }
    if !has("HOME") {
        env.push(format!("HOME={home}"));
    }
    env
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
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(super::spec::DEFAULT_PATH);
    for dir in path.split(':').filter(|d| !d.is_empty()) {
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

/// docker's default capabilities: chown, dac_override, fowner, fsetid, kill, setgid,
/// setuid, setpcap, net_bind_service, net_raw, sys_chroot, mknod, audit_write, setfcap.
pub const DEFAULT_CAPS: &[u32] = &[0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31];

/// Removes every other capability from the bounding set (so a root process in the
/// container cannot load modules, change the clock, trace other processes, …) and
/// clears the ambient set.
fn drop_capabilities() -> Result<(), String> {
    for cap in 0..64u32 {
        if DEFAULT_CAPS.contains(&cap) {
            continue;
        }
        // SAFETY: prctl with integer arguments.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINVAL) {
                break; // past the kernel's last capability
            }
            return Err(format!("drop capability {cap}: {e}"));
        }
    }
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
    }
    Ok(())
}

/// Switches to the container's user and working directory and executes its command.
/// Returns only on failure.
pub fn exec(cfg: &RunConfig) -> ExecError {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let id = match resolve_user(&cfg.user, &passwd, &group) {
        Ok(id) => id,
        Err(e) => return fail(125, e),
    };
    let wd = if cfg.working_dir.is_empty() {
        "/"
    } else {
        cfg.working_dir.as_str()
    };
    if let Err(e) = std::fs::create_dir_all(wd) {
        return fail(125, format!("cannot create working directory {wd}: {e}"));
    }
    if let Err(e) = std::env::set_current_dir(wd) {
        return fail(125, format!("cannot enter working directory {wd}: {e}"));
    }
    let env = environment(cfg, &id.home);
    let argv = cfg.argv();
    let prog = match find_program(&argv[0], &env) {
        Ok(p) => p,
        Err(e) => return e,
    };

    if let Err(e) = drop_capabilities() {
        return fail(125, e);
    }
    let groups: Vec<nix::unistd::Gid> = id
        .groups
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    if let Err(e) = nix::unistd::setgroups(&groups) {
        // A user namespace with setgroups denied (a single-uid map) keeps its one group.
        if !(e == nix::errno::Errno::EPERM && id.groups == [0]) {
            return fail(125, format!("setgroups: {e}"));
        }
    }
    let gid = nix::unistd::Gid::from_raw(id.gid);
    let uid = nix::unistd::Uid::from_raw(id.uid);
    if let Err(e) = nix::unistd::setresgid(gid, gid, gid) {
        return fail(125, format!("setgid {}: {e}", id.gid));
    }
    if let Err(e) = nix::unistd::setresuid(uid, uid, uid) {
        return fail(125, format!("setuid {}: {e}", id.uid));
    }

    let c_prog = match cstring(prog.as_os_str().as_bytes()) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let mut c_argv = Vec::new();
    for a in &argv {
        match cstring(a.as_bytes()) {
            Ok(c) => c_argv.push(c),
            Err(e) => return e,
        }
    }
    let mut c_env = Vec::new();
    for e in &env {
        match cstring(e.as_bytes()) {
            Ok(c) => c_env.push(c),
            Err(e) => return e,
        }
    }
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
    fail(code, format!("exec: \"{}\": {what}", argv[0]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:34:www:/var/www:/bin/false\n";
    const GROUP: &str = "root:x:0:\nwww:x:34:\nstaff:x:50:www,bob\n";

    #[test]
    fn names_numbers_and_groups() {
        let root = resolve_user("", PASSWD, GROUP).unwrap();
        assert_eq!((root.uid, root.gid, root.home.as_str()), (0, 0, "/root"));
        let www = resolve_user("www", PASSWD, GROUP).unwrap();
        assert_eq!((www.uid, www.gid), (33, 34));
        assert_eq!(www.groups, [34, 50]);
        let n = resolve_user("1000:50", PASSWD, GROUP).unwrap();
        assert_eq!((n.uid, n.gid, n.home.as_str()), (1000, 50, "/"));
        let g = resolve_user("33:staff", PASSWD, GROUP).unwrap();
        assert_eq!((g.uid, g.gid), (33, 50));
        assert!(resolve_user("nobody", PASSWD, GROUP)
            .unwrap_err()
            .contains("no matching entries in passwd file"));
        assert!(resolve_user("0:nogroup", PASSWD, GROUP).is_err());
    }

    #[test]
    fn environment_adds_hostname_home_and_term() {
        let cfg = RunConfig {
            env: vec!["PATH=/bin".into()],
            hostname: "h".into(),
            tty: true,
            ..Default::default()
        };
        assert_eq!(
            environment(&cfg, "/root"),
            ["HOSTNAME=h", "PATH=/bin", "TERM=xterm", "HOME=/root"]
        );
    }
}
