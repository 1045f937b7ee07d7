//! The systemd units: the service must stay in the host's mount namespace (overlayfs
//! refuses layers whose mounts are not in the mounter's namespace: "failed to clone
//! upperpath"), may hold no capability beyond the helper's own list, and scores 3.0 or
//! less in `systemd-analyze security`.

use std::path::Path;

/// Built in, so that the test runs wherever its binary is copied (the unprivileged pass).
const UNIT: &str = include_str!("../../systemd/strata-helper.service");

fn settings() -> Vec<(String, String)> {
    UNIT.lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

fn get(s: &[(String, String)], key: &str) -> Option<String> {
    s.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

#[test]
fn the_service_has_no_mount_namespace() {
    let s = settings();
    // Each of these makes systemd give the service a mount namespace of its own.
    for key in [
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "ProtectProc",
        "ProcSubset",
        "PrivateIPC",
        "ReadOnlyPaths",
        "ReadWritePaths",
        "InaccessiblePaths",
        "TemporaryFileSystem",
        "BindPaths",
        "BindReadOnlyPaths",
        "RootDirectory",
        "RootImage",
        "DynamicUser",
        "LogNamespace",
    ] {
        let v = get(&s, key);
        assert!(
            v.as_deref()
                .is_none_or(|v| matches!(v, "no" | "false" | "")),
            "{key}={} would give strata-helper.service its own mount namespace, and overlayfs \
             would then refuse every layer (failed to clone upperpath)",
            v.unwrap_or_default()
        );
    }
    if get(&s, "PrivateNetwork").as_deref() == Some("yes") {
        assert_eq!(
            get(&s, "PrivateMounts").as_deref(),
            Some("no"),
            "PrivateNetwork=yes implies PrivateMounts=yes unless PrivateMounts=no is set"
        );
    }
}

#[test]
fn the_service_holds_only_the_helpers_capabilities() {
    let s = settings();
    let keep: Vec<String> = strata_helper::privilege::KEEP
        .iter_names()
        .map(|(n, _)| format!("CAP_{n}"))
        .collect();
    for key in ["CapabilityBoundingSet", "AmbientCapabilities"] {
        let v = get(&s, key).unwrap_or_else(|| panic!("{key} is not set"));
        for cap in v.split_whitespace() {
            assert!(
                keep.contains(&cap.to_string()),
                "{key} has {cap}, not in {keep:?}"
            );
        }
    }
    assert_eq!(get(&s, "NoNewPrivileges").as_deref(), Some("yes"));
}

#[test]
fn the_service_scores_3_or_less() {
    if !Path::new("/usr/bin/systemd-analyze").exists() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "the_service_scores_3_or_less: NOT RUN: no systemd-analyze on this machine"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("strata-helper.service");
    std::fs::write(&unit, UNIT).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let score: f64 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for ").nth(1))
        .and_then(|rest| rest.split(": ").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no score in:\n{text}"));
    assert!(score <= 3.0, "exposure {score} > 3.0:\n{text}");
}

#[test]
fn the_readme_states_the_line_count() {
    let lines: usize = [
        include_str!("../src/check.rs"),
        include_str!("../src/client.rs"),
        include_str!("../src/lib.rs"),
        include_str!("../src/main.rs"),
        include_str!("../src/overlay.rs"),
        include_str!("../src/privilege.rs"),
        include_str!("../src/proto.rs"),
        include_str!("../src/server.rs"),
    ]
    .iter()
    .map(|s| s.lines().count())
    .sum();
    let readme = include_str!("../README.md");
    let want = format!("Size: {lines} lines of Rust");
    assert!(
        readme.contains(&want),
        "privhelper/README.md must say {want:?} (`wc -l src/*.rs`); update it, or the list of files here"
    );
}

/// A kernel without overlayfs (fsopen says ENODEV) gets told how to load it. The test
/// machine has overlayfs, so this checks the message the mount error carries.
#[test]
fn no_overlayfs_says_modprobe_overlay() {
    let e = strata_helper::MountError::Sys {
        step: "fsopen overlay".into(),
        errno: rustix::io::Errno::NODEV,
    };
    let text = e.to_string();
    assert!(text.starts_with("fsopen overlay: "), "{text}");
    assert!(text.contains("as root run `modprobe overlay`"), "{text}");
    assert!(text.contains("/etc/modules-load.d/"), "{text}");
}
