//! What `strata info` says about how strata is set up on this machine: the store's size,
//! the helper in use and whether it answers, the overlay features the kernel offers, the
//! user namespace mapping, and the configuration files read.

use crate::output::human_size;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The lines `info` adds after its store section.
pub fn report(root: &Path) -> String {
    let is_root = rustix::process::geteuid().is_root();
    let mut files: Vec<String> = crate::config::current()
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    if let Some(json) = crate::registry::endpoint::registries_json_files()
        .into_iter()
        .find(|f| f.exists())
    {
        files.push(format!("{} (registries.json)", json.display()));
    }
    if files.is_empty() {
        files.push("none (built-in defaults)".to_string());
    }
    format!(
        "\n\nSetup:\n Store Size: {}\n Helper: {}\n Overlay: {}\n User Namespace: {}\n Config Files:\n  {}",
        human_size(disk_usage(root)),
        helper(is_root),
        overlay(),
        user_namespace(is_root),
        files.join("\n  ")
    )
}

/// Bytes allocated under `root`, hard-linked files counted once; what cannot be read is
/// left out.
pub(super) fn disk_usage(root: &Path) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stack: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.nlink() > 1 && !m.is_dir() && !seen.insert((m.dev(), m.ino())) {
            continue;
        }
        total += m.blocks() * 512;
        if m.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    total
}

/// Which helper mounts containers, and whether its socket answers.
fn helper(is_root: bool) -> String {
    let socket = crate::config::helper_socket();
    let state = match std::os::unix::net::UnixStream::connect(&socket) {
        Ok(_) => "answers".to_string(),
        Err(e) if is_root => format!("not answering: {e}"),
        Err(e) => match crate::setuid_helper::setuid_binary() {
            Some(bin) => format!(
                "not answering: {e}; the setuid helper {} mounts instead",
                bin.display()
            ),
            None => format!(
                "not answering: {e}; start it with `systemctl enable --now strata-helper.socket`, or make the helper setuid (man strata, THE HELPER)"
            ),
        },
    };
    let who = if is_root {
        "none needed, root mounts in process; "
    } else {
        ""
    };
    format!("{who}socket {} ({state})", socket.display())
}

/// The overlay features of the running kernel, by its version, and whether overlayfs is
/// there at all.
fn overlay() -> String {
    let registered = std::fs::read_to_string("/proc/filesystems")
        .map(|t| t.lines().any(|l| l.trim_end().ends_with("\toverlay")))
        .unwrap_or(false);
    let release = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    let how = if version >= (6, 13) {
        "fd-based lowerdir+ (layers passed by descriptor)"
    } else if version >= (6, 8) {
        "lowerdir+ with /proc/self/fd paths (fallback: no descriptor-valued lowerdir+)"
    } else {
        "one joined lowerdir (fallback: no lowerdir+, about 13 layers at most)"
    };
    if registered {
        how.to_string()
    } else {
        format!("{how}; overlayfs is not loaded (`modprobe overlay`, or the kernel lacks it)")
    }
}

/// How an ordinary user's files are owned: a subordinate id range, or the user alone.
fn user_namespace(is_root: bool) -> String {
    if is_root {
        return "none (root owns the files itself)".to_string();
    }
    let uid = nix::unistd::getuid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_default();
    match crate::userns::sub_range("/etc/subuid", &name, uid.as_raw()) {
        Some((start, count)) => format!(
            "subuid range {start}-{} ({count} ids)",
            u64::from(start) + u64::from(count) - 1
        ),
        None => "single uid (no range in /etc/subuid: images whose files have several owners cannot be unpacked; ask for one with `usermod --add-subuids`)".to_string(),
    }
}
