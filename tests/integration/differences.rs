//! The differences a docker user hit (issue 14), each through the real binary: what
//! docker does is what strata must do.

use strata_tests::registry::Registry;
use strata_tests::*;

/// Whether `s` is Go's `time.Time.String()` in UTC: `2026-12-06 03:51:23 +0000 UTC`.
fn is_go_time(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 29
        && s.ends_with(" +0000 UTC")
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
        && s[..4].bytes().all(|c| c.is_ascii_digit())
}

/// Whether `s` is RFC 3339 in UTC to the second: `2026-12-06T03:51:23Z`.
fn is_rfc3339_seconds(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 20
        && b[4] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && s.ends_with('Z')
        && s[17..19].bytes().all(|c| c.is_ascii_digit())
}

/// An image pushed to `reg` as `name` from a store of its own; returns the reference.
fn pushed_busybox(reg: &Registry, name: &str) -> String {
    let image = reg.image(name);
    let env = Env::new();
    env.import_busybox(&image);
    env.cmd(["push", "-q", &image]).ok();
    image
}

#[test]
fn rmi_of_a_pulled_image_a_stopped_container_uses_untags_both_names_and_keeps_it() {
    let reg = Registry::start();
    let image = pushed_busybox(&reg, "t/bb:1");
    let env = Env::new();
    env.cmd(["pull", "-q", &image]).ok();
    let id = env.inspect(&image)["Id"].as_str().unwrap().to_string();
    let digest = env.inspect(&image)["RepoDigests"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(digest.starts_with(&reg.image("t/bb@sha256:")), "{digest}");
    env.cmd(["run", "--name", "ct", &image, "true"]).ok();
    // The tag and its digest are one name: without -f, docker refuses.
    let out = env.cmd(["rmi", &image]).code(1);
    assert!(
        out.single_error()
            .contains("conflict: unable to remove repository reference"),
        "{out:?}"
    );
    assert_eq!(env.repo_tags(), vec![format!("{image}")]);
    // With -f both names go, and the image stays, dangling, for the container.
    let out = env.cmd(["rmi", "-f", &image]).ok();
    assert_eq!(
        out.lines(),
        vec![format!("Untagged: {image}"), format!("Untagged: {digest}")]
    );
    let dangling = env
        .cmd(["images", "-q", "--no-trunc", "-f", "dangling=true"])
        .ok();
    assert_eq!(dangling.lines(), vec![id.as_str()]);
    assert!(env.inspect(&id)["RepoDigests"]
        .as_array()
        .unwrap()
        .is_empty());
    // The container still starts from it; once it is gone the image can go.
    env.cmd(["start", "-a", "ct"]).ok();
    env.cmd(["rm", "ct"]).ok();
    let out = env.cmd(["rmi", &id]).ok();
    assert_eq!(out.lines()[0], format!("Deleted: {id}"));
    assert!(env.image_ids().is_empty());
}

#[test]
fn ps_json_created_at_is_a_timestamp() {
    let env = Env::new();
    env.import_busybox("bb");
    env.cmd(["run", "--name", "ct", "bb", "true"]).ok();
    let out = env.cmd(["ps", "-a", "--format", "{{json .}}"]).ok();
    let row: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let created = row["CreatedAt"].as_str().unwrap();
    assert!(is_go_time(created), "{created:?}");
    let running_for = row["RunningFor"].as_str().unwrap();
    assert!(running_for.ends_with("ago"), "{running_for:?}");
    // The default table's CREATED column is the time since, as docker's is.
    let table = env.cmd(["ps", "-a"]).ok();
    assert!(table.lines()[1].contains(" ago "), "{table:?}");
    assert!(!table.stdout.contains("+0000 UTC"), "{table:?}");
}

#[test]
fn load_over_an_existing_tag_says_the_old_image_was_renamed() {
    let other = Env::new();
    let new_id = other.import(&small_rootfs_tar(&[("a", b"new")]), Some("app:1"));
    let archive = other.work().join("app.tar");
    other
        .cmd(["save", "-o", archive.to_str().unwrap(), "app:1"])
        .ok();
    let env = Env::new();
    let old_id = env.import(&small_rootfs_tar(&[("a", b"old")]), Some("app:1"));
    let out = env.cmd(["load", "-i", archive.to_str().unwrap()]).ok();
    assert_eq!(
        out.lines(),
        vec![
            format!(
                "The image app:1 already exists, renaming the old one with ID {old_id} to empty string"
            )
            .as_str(),
            "Loaded image: app:1",
        ]
    );
    assert_eq!(env.inspect("app:1")["Id"], new_id.as_str());
    assert!(env.image_ids().contains(&old_id[7..19].to_string()));
    // Loading it again moves nothing, and says nothing of a rename.
    let out = env.cmd(["load", "-i", archive.to_str().unwrap()]).ok();
    assert_eq!(out.lines(), vec!["Loaded image: app:1"]);
}

#[test]
fn images_takes_a_pattern_as_docker_does() {
    let env = Env::new();
    env.import(&small_rootfs_tar(&[("a", b"1")]), Some("repo/a:1"));
    env.import(&small_rootfs_tar(&[("a", b"2")]), Some("repo/b:2"));
    env.import(&small_rootfs_tar(&[("a", b"3")]), Some("other:1"));
    let out = env
        .cmd(["images", "repo/*", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok();
    let mut rows = out.lines();
    rows.sort();
    assert_eq!(rows, vec!["repo/a:1", "repo/b:2"]);
    // `*` stops at `/`, as Go's path.Match does for docker.
    let out = env
        .cmd(["images", "*:1", "--format", "{{.Repository}}"])
        .ok();
    assert_eq!(out.lines(), vec!["other"]);
    // A plain name still names a repository.
    let out = env.cmd(["images", "other", "--format", "{{.Tag}}"]).ok();
    assert_eq!(out.lines(), vec!["1"]);
}

#[test]
fn boolean_flags_take_true_and_false() {
    let env = Env::new();
    env.import_busybox("bb");
    let quiet = env.cmd(["images", "-q"]).ok();
    assert_eq!(quiet.lines().len(), 1);
    assert_eq!(env.cmd(["images", "-q=true"]).ok(), quiet);
    assert_eq!(env.cmd(["images", "--quiet=true"]).ok(), quiet);
    // The tables without CREATED: "Less than a second ago" may turn into "1 second ago".
    let listing = |args: &[&str]| Table::parse(&env.cmd(args).ok().stdout).without("CREATED");
    let table = listing(&["images"]);
    assert_eq!(table.header[0], "REPOSITORY");
    assert_eq!(listing(&["images", "-q=false"]), table);
    assert_eq!(
        listing(&["images", "--no-trunc=false", "--quiet=false"]),
        table
    );
    // Short flags still combine.
    assert_eq!(env.cmd(["images", "-aq"]).ok(), quiet);
    // --rm=false keeps the container, as docker's does.
    env.cmd(["run", "--rm=false", "--name", "kept", "bb", "true"])
        .ok();
    let out = env.cmd(["ps", "-a=true", "--format", "{{.Names}}"]).ok();
    assert_eq!(out.lines(), vec!["kept"]);
    let out = env.cmd(["ps", "--all=false", "-q"]).ok();
    assert!(out.stdout.is_empty(), "{out:?}");
    // A flag that is true by default takes the same forms.
    env.cmd(["commit", "-p=false", "kept", "img1"]).ok();
    env.cmd(["commit", "--pause", "kept", "img2"]).ok();
    assert_eq!(
        env.repo_tags(),
        vec!["bb:latest", "img1:latest", "img2:latest"]
    );
    // Not a boolean: docker's usage error code, naming the value.
    let out = env.cmd(["images", "--all=maybe"]).code(125);
    assert!(out.stderr.contains("maybe"), "{out:?}");
}

#[test]
fn read_only_commands_create_no_store() {
    let env = Env::new();
    for args in [
        &["images"][..],
        &["image", "ls", "-a"],
        &["ps", "-a"],
        &["info"],
        &["system", "df"],
        &["system", "info"],
    ] {
        env.cmd(args).ok();
        assert!(!env.store().exists(), "`{}` made the store", args.join(" "));
    }
    for args in [
        &["inspect", "x"][..],
        &["history", "x"],
        &["save", "-o", "x.tar", "x"],
    ] {
        env.cmd(args).code(1);
        assert!(!env.store().exists(), "`{}` made the store", args.join(" "));
    }
    // --root naming a directory that does not exist: a mistyped path is an error.
    let missing = env.path().join("no-such-dir");
    let out = env
        .cmd(["--root", missing.to_str().unwrap(), "images"])
        .code(1);
    assert_eq!(
        out.single_error(),
        format!(
            "Error: no store at {}: the directory does not exist (check --root)",
            missing.display()
        )
    );
    assert!(!missing.exists());
    // An empty directory reads as an empty store, and stays empty.
    let empty = env.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = env
        .cmd(["--root", empty.to_str().unwrap(), "images", "-q"])
        .ok();
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    // A store that is there is read, and left as it was.
    env.import_busybox("bb");
    let before = env.snapshot();
    env.cmd(["images"]).ok();
    env.cmd(["info"]).ok();
    assert_eq!(env.snapshot(), before);
}

#[test]
fn a_single_uid_map_is_noted_once() {
    let env = Env::new();
    // Without newuidmap on PATH, an ordinary user's namespace maps only its own uid.
    let first = env
        .cmd([
            "import",
            env.write("a.tar", &small_rootfs_tar(&[("a", b"1")]))
                .to_str()
                .unwrap(),
        ])
        .env("PATH", "/nonexistent")
        .ok();
    let second = env
        .cmd([
            "import",
            env.write("b.tar", &small_rootfs_tar(&[("b", b"2")]))
                .to_str()
                .unwrap(),
        ])
        .env("PATH", "/nonexistent")
        .ok();
    assert!(!second.stderr.contains("note:"), "{second:?}");
    if is_root() {
        // Root needs no user namespace: nothing to say, nothing remembered.
        assert!(first.stderr.is_empty(), "{first:?}");
        assert!(!env.store().join("single-uid-noted").exists());
    } else {
        assert_eq!(first.err_lines().len(), 1, "{first:?}");
        assert!(
            first
                .stderr
                .starts_with("note: strata maps only your own uid"),
            "{first:?}"
        );
        assert!(first.stderr.contains("uidmap"), "{first:?}");
        assert!(env.store().join("single-uid-noted").exists());
    }
}

#[test]
fn history_names_stored_parents_and_prints_rfc3339_seconds() {
    let env = Env::new();
    let base = env.import_busybox("base");
    env.cmd(["run", "--name", "ct", "base", "sh", "-c", "echo x > /f"])
        .ok();
    let child = env
        .cmd(["commit", "ct", "child"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let out = env
        .cmd(["history", "--no-trunc", "--format", "{{.ID}}", "child"])
        .ok();
    assert_eq!(out.lines(), vec![child.as_str(), base.as_str()]);
    let out = env.cmd(["history", "-q", "child"]).ok();
    assert_eq!(out.lines(), vec![&child[7..19], &base[7..19]]);
    for h in ["-H=false", "--human=false"] {
        let out = env
            .cmd([
                "history",
                h,
                "--format",
                "{{.CreatedSince}}|{{.CreatedAt}}",
                "child",
            ])
            .ok();
        for line in out.lines() {
            let (since, at) = line.split_once('|').unwrap();
            assert!(is_rfc3339_seconds(since), "{line:?}");
            assert_eq!(since, at);
        }
    }
    let human = env.cmd(["history", "-H", "child"]).ok();
    assert!(human.stdout.contains("ago"), "{human:?}");
}

#[test]
fn save_to_a_file_is_private_and_load_refuses_a_terminal() {
    let env = Env::new();
    env.import_busybox("bb");
    let path = env.work().join("bb.tar");
    env.cmd(["save", "-o", path.to_str().unwrap(), "bb"]).ok();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        has_script(),
        "`script` (util-linux) is needed to give strata a terminal"
    );
    let out = env
        .sh("script -qec '\"$STRATA\" load' /dev/null </dev/null")
        .timeout(std::time::Duration::from_secs(20))
        .code(1);
    assert!(
        out.stdout
            .contains("Error: requested load from stdin, but stdin is empty"),
        "{out:?}"
    );
}

#[test]
fn registry_bars_show_sizes_only_once_known_and_end_as_status_lines() {
    assert!(
        has_script(),
        "`script` (util-linux) is needed to give strata a terminal"
    );
    let reg = Registry::start();
    let image = pushed_busybox(&reg, "t/bars:1");
    let env = Env::new();
    let on_terminal = |cmd: &str| {
        env.sh(&format!(
            "TERM=xterm script -qec '\"$STRATA\" {cmd}' /dev/null"
        ))
        .ok()
    };
    let out = on_terminal(&format!("pull {image}"));
    assert!(out.stdout.contains('\x1b'), "{out:?}");
    assert!(!out.stdout.contains("0 B/0 B"), "{out:?}");
    assert!(out.stdout.contains("Pull complete"), "{out:?}");
    // The last thing drawn of each layer is its status alone, as docker leaves it.
    let tail = out.stdout.rsplit("Pull complete").next().unwrap_or("");
    assert!(!tail.contains("B/s"), "{out:?}");
    // Pushed to another repository of the same registry, the layer is mounted: no
    // byte rate for bytes that never moved.
    let copy = reg.image("u/mounted:1");
    env.cmd(["tag", &image, &copy]).ok();
    let out = on_terminal(&format!("push {copy}"));
    assert!(out.stdout.contains("Mounted from t/bars"), "{out:?}");
    assert!(!out.stdout.contains("B/s"), "{out:?}");
    assert!(!out.stdout.contains("0 B/0 B"), "{out:?}");
}

#[test]
fn version_help_and_unknown_commands_as_docker() {
    let env = Env::new();
    let v = env.cmd(["-v"]).ok();
    assert_eq!(env.cmd(["--version"]).ok(), v);
    assert!(v.stdout.starts_with("strata "), "{v:?}");
    let help = env.cmd(["help", "images"]).ok();
    assert_eq!(help, env.cmd(["images", "--help"]).ok());
    assert!(help.stdout.contains("Usage: strata images"), "{help:?}");
    let out = env.cmd(["help"]).ok();
    assert!(out.stdout.contains("Usage: strata"), "{out:?}");
    let out = env
        .cmd([
            "version",
            "--format",
            "{{.Client.Version}} {{.Server.Version}}",
        ])
        .ok();
    let version = v.stdout.trim().trim_start_matches("strata ");
    assert_eq!(out.stdout, format!("{version} {version}\n"));
    let out = env.cmd(["version", "--format", "json"]).ok();
    let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(j["Client"]["Version"], version);
    env.import_busybox("bb");
    let out = env
        .cmd(["info", "--format", "{{.Images}} {{.Driver}}"])
        .ok();
    assert_eq!(out.stdout, "1 overlay\n");
    let out = env.cmd(["system", "info", "-f", "json"]).ok();
    let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(j["Images"], 1);
    // An unknown command: docker's lines, and only close matches.
    let out = env.cmd(["stpo"]).code(1);
    assert!(
        out.stderr
            .starts_with("strata: 'stpo' is not a strata command.\n"),
        "{out:?}"
    );
    assert!(out.stderr.ends_with("See 'strata --help'\n"), "{out:?}");
    assert!(!out.stderr.contains("history"), "{out:?}");
    let out = env.cmd(["imagse"]).code(1);
    assert!(out.stderr.contains("\timages\n"), "{out:?}");
    let out = env.cmd(["xyzzy"]).code(1);
    assert!(!out.stderr.contains("Did you mean"), "{out:?}");
    let out = env.cmd(["image", "lss"]).code(1);
    assert!(
        out.stderr
            .starts_with("strata: 'image lss' is not a strata command."),
        "{out:?}"
    );
    assert!(out.stderr.contains("\tls\n"), "{out:?}");
}

#[test]
fn inspect_prints_keys_in_dockers_order() {
    let env = Env::new();
    env.import_busybox("bb");
    let out = env.cmd(["inspect", "bb"]).ok();
    let position = |indent: &str, key: &str| {
        out.stdout
            .find(&format!("\n{indent}\"{key}\":"))
            .unwrap_or_else(|| panic!("no {key} in {}", out.stdout))
    };
    let top = [
        "Id",
        "RepoTags",
        "RepoDigests",
        "Parent",
        "Comment",
        "Created",
        "DockerVersion",
        "Author",
        "Config",
        "Architecture",
        "Variant",
        "Os",
        "Size",
        "GraphDriver",
        "RootFS",
        "Metadata",
    ];
    let at: Vec<usize> = top.iter().map(|k| position("    ", k)).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{}", out.stdout);
    let config = ["Hostname", "Domainname", "User", "Env", "Cmd", "Labels"];
    let at: Vec<usize> = config.iter().map(|k| position("      ", k)).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{}", out.stdout);
    assert!(position("      ", "Type") < position("      ", "Layers"));
    // Templates still see every field.
    let out = env
        .cmd(["inspect", "-f", "{{.Os}} {{.RootFS.Type}}", "bb"])
        .ok();
    assert_eq!(out.stdout, "linux layers\n");
}
