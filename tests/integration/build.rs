//! `strata build`: real Dockerfiles built on the busybox image, checked by the image's
//! config and history and by running it; the build cache across invocations; multi-stage
//! builds; failures that leave nothing behind; the context's boundaries; reproducible
//! image IDs with SOURCE_DATE_EPOCH. Run as root and, through the helper, as an
//! ordinary user.

use crate::containers::host_mounts;
use strata_tests::*;

/// A context directory `work/NAME` with `files` (path, content) and a Dockerfile.
pub(crate) fn context(env: &Env, name: &str, dockerfile: &str, files: &[(&str, &str)]) -> String {
    env.write(&format!("{name}/Dockerfile"), dockerfile.as_bytes());
    for (p, data) in files {
        env.write(&format!("{name}/{p}"), data.as_bytes());
    }
    name.to_string()
}

/// An environment with the busybox image as `bb`.
pub(crate) fn world() -> Env {
    let env = Env::new();
    env.import_busybox("bb");
    env
}

/// Builds `ctx` quietly with `args` and returns the image ID.
pub(crate) fn build_id(env: &Env, ctx: &str, args: &[&str]) -> String {
    let out = env.cmd(["build", "-q"]).args(args).arg(ctx).ok();
    let id = out.stdout.trim().to_string();
    assert!(is_sha256_id(&id), "build -q printed {:?}", out.stdout);
    id
}

pub(crate) fn run_in(env: &Env, image: &str, script: &str) -> String {
    env.cmd(["run", "--rm", image, "sh", "-c", script])
        .ok()
        .stdout
}

#[test]
fn config_instructions_reach_the_image_config_and_history() {
    let env = world();
    let df = r#"FROM bb
MAINTAINER someone
ARG PORT=80
ENV APP=/srv/app MODE=prod
LABEL org.example.name="demo app" version=1
EXPOSE ${PORT} 53/udp
WORKDIR /srv
WORKDIR app
COPY --chown=nobody:nobody --chmod=640 data.txt ./
RUN echo "$MODE $PORT" > built.txt
USER nobody
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --retries=2 CMD true
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat built.txt data.txt"]
"#;
    let ctx = context(&env, "c", df, &[("data.txt", "payload\n")]);
    let id = build_id(&env, &ctx, &["-t", "app:1", "--label", "extra=yes"]);
    let img = env.inspect("app:1");
    assert_eq!(img["Id"], id);
    let c = &img["Config"];
    let env_list: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        env_list.contains(&"APP=/srv/app") && env_list.contains(&"MODE=prod"),
        "{env_list:?}"
    );
    assert!(
        !env_list.iter().any(|e| e.starts_with("PORT=")),
        "ARG is not kept: {env_list:?}"
    );
    assert_eq!(c["WorkingDir"], "/srv/app");
    assert_eq!(c["User"], "nobody");
    assert_eq!(c["Labels"]["org.example.name"], "demo app");
    assert_eq!(c["Labels"]["version"], "1");
    assert_eq!(c["Labels"]["extra"], "yes");
    assert!(
        c["ExposedPorts"]["80/tcp"].is_object() && c["ExposedPorts"]["53/udp"].is_object(),
        "{c}"
    );
    assert!(c["Volumes"]["/data"].is_object(), "{c}");
    assert_eq!(c["StopSignal"], "SIGTERM");
    assert_eq!(
        c["Healthcheck"]["Test"],
        serde_json::json!(["CMD-SHELL", "true"])
    );
    assert_eq!(c["Healthcheck"]["Interval"], 5_000_000_000u64);
    assert_eq!(c["Healthcheck"]["Retries"], 2);
    assert_eq!(c["Shell"], serde_json::json!(["/bin/sh", "-ec"]));
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(c["Cmd"], serde_json::json!(["cat built.txt data.txt"]));
    assert_eq!(img["Author"], "someone");

    let hist = env
        .cmd([
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}|{{.Size}}",
            "app:1",
        ])
        .ok();
    let lines = hist.lines();
    assert!(lines[0].contains("LABEL extra=yes"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("|1 PORT=80 /bin/sh -c echo")),
        "{lines:?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains("#(nop)  ")).count(),
        13,
        "{lines:?}"
    );
    // WORKDIR as docker's classic builder records it: resolved, after one space.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("/bin/sh -c #(nop) WORKDIR /srv/app|")),
        "{lines:?}"
    );

    let out = env.cmd(["run", "--rm", "app:1"]).ok();
    assert_eq!(out.stdout, "prod 80\npayload\n");
    let script = "stat -c '%U:%G %a' /srv/app/data.txt; id -un";
    let out = env
        .cmd(["run", "--rm", "--entrypoint", "sh", "app:1", "-c", script])
        .ok();
    assert_eq!(out.stdout, "nobody:nobody 640\nnobody\n");
}

#[test]
fn plain_output_has_docker_classic_lines() {
    let env = world();
    let ctx = context(&env, "c", "FROM bb\nRUN echo from-run\nCMD [\"sh\"]\n", &[]);
    let out = env
        .cmd(["build", "--progress", "plain", "-t", "out", &ctx])
        .ok();
    let lines = out.lines();
    assert_eq!(lines[0], "Step 1/3 : FROM bb");
    assert!(
        lines[1].starts_with(" ---> ") && lines[1].len() == 18,
        "{lines:?}"
    );
    assert_eq!(lines[2], "Step 2/3 : RUN echo from-run");
    assert!(lines[3].starts_with(" ---> Running in "), "{lines:?}");
    assert_eq!(lines[4], "from-run");
    assert!(
        lines.iter().any(|l| l.starts_with("Successfully built ")),
        "{lines:?}"
    );
    assert_eq!(*lines.last().unwrap(), "Successfully tagged out:latest");
    let built = lines
        .iter()
        .find_map(|l| l.strip_prefix("Successfully built "))
        .unwrap();
    let id = env.inspect("out")["Id"].as_str().unwrap().to_string();
    assert_eq!(short_id(&id), built);

    let iid = env.work().join("iid");
    let quiet = env
        .cmd(["build", "-q", "--iidfile"])
        .arg(&iid)
        .arg(&ctx)
        .ok();
    assert_eq!(quiet.stdout, format!("{id}\n"), "-q prints only the ID");
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id);
}

#[test]
fn the_cache_survives_invocations_and_follows_content_not_times() {
    let env = world();
    let df = "FROM bb\nCOPY f.txt /f.txt\nRUN cat /f.txt > /g.txt\n";
    let ctx = context(&env, "c", df, &[("f.txt", "one\n")]);
    let first = build_id(&env, &ctx, &[]);
    let again = env.cmd(["build", &ctx]).ok();
    assert_eq!(
        again.stdout.matches(" ---> Using cache").count(),
        2,
        "{}",
        again.stdout
    );
    assert!(again
        .stdout
        .contains(&format!("Successfully built {}", short_id(&first))));

    // A new time is a hit, new content a miss.
    let f = env.work().join("c/f.txt");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_modified(later)
        .unwrap();
    assert_eq!(
        build_id(&env, &ctx, &[]),
        first,
        "touching a file keeps the cache"
    );
    std::fs::write(&f, "two\n").unwrap();
    let out = env.cmd(["build", &ctx]).ok();
    assert!(!out.stdout.contains("Using cache"), "{}", out.stdout);
    let id2 = build_id(&env, &ctx, &[]);
    assert_ne!(id2, first);
    assert_eq!(run_in(&env, &id2, "cat /g.txt"), "two\n");

    // --no-cache runs every step again.
    let out = env.cmd(["build", "--no-cache", &ctx]).ok();
    assert!(!out.stdout.contains("Using cache"), "{}", out.stdout);

    // Removing the images removes what the cache may use: the next build runs again.
    env.cmd(["tag", &id2, "keep"]).ok();
    env.cmd(["rmi", "keep"]).ok();
    env.cmd(["image", "prune", "-f"]).ok();
    let out = env.cmd(["build", &ctx]).ok();
    assert!(out.stdout.contains("Successfully built"), "{}", out.stdout);
    let id3 = out
        .lines()
        .iter()
        .find_map(|l| l.strip_prefix("Successfully built "))
        .unwrap()
        .to_string();
    assert_eq!(run_in(&env, &id3, "cat /g.txt"), "two\n");
}

#[test]
fn multi_stage_builds_copy_from_stages_and_skip_what_the_target_does_not_need() {
    let env = world();
    let df = r#"FROM bb AS builder
RUN mkdir /out && echo compiled > /out/bin.txt && chown 65534:65534 /out/bin.txt
FROM bb AS broken
RUN exit 1
FROM bb AS final
COPY --from=builder /out/ /app/
RUN cat /app/bin.txt
FROM final AS test
RUN echo testing > /t
"#;
    let ctx = context(&env, "c", df, &[]);
    let out = env
        .cmd(["build", "--target", "final", "-t", "ms", &ctx])
        .ok();
    assert!(
        !out.stdout.contains("exit 1"),
        "the broken stage is not built:\n{}",
        out.stdout
    );
    assert!(!out.stdout.contains("echo testing"), "{}", out.stdout);
    assert_eq!(
        run_in(&env, "ms", "cat /app/bin.txt; stat -c %u /app/bin.txt"),
        "compiled\n65534\n"
    );
    // Without --target the last stage is built, which does not need the broken one.
    let out = env.cmd(["build", "-t", "all", &ctx]).ok();
    assert!(!out.stdout.contains("exit 1"), "{}", out.stdout);
    assert_eq!(
        run_in(&env, "all", "cat /t /app/bin.txt"),
        "testing\ncompiled\n"
    );
}

#[test]
fn a_failing_run_leaves_no_image_container_or_mount() {
    let env = world();
    let mounts = host_mounts(env.path());
    let ctx = context(
        &env,
        "c",
        "FROM bb\nRUN echo partial > /p\nRUN exit 3\n",
        &[],
    );
    let before = env.image_ids();
    let out = env.cmd(["build", "-t", "never", &ctx]).code(1);
    assert_eq!(
        out.single_error(),
        "Error: The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    );
    assert!(
        out.stdout.contains("Step 3/3 : RUN exit 3"),
        "{}",
        out.stdout
    );
    // As docker's classic builder: the step that failed made no image, and the steps
    // before it stay as untagged intermediate images (the cache of the next build).
    assert!(!env.repo_tags().contains(&"never:latest".to_string()));
    assert_eq!(env.image_ids().len(), before.len() + 1);
    let again = env.cmd(["build", "-t", "never", &ctx]).code(1);
    assert!(
        again.stdout.contains(" ---> Using cache"),
        "{}",
        again.stdout
    );
    assert_eq!(env.cmd(["ps", "-a", "-q"]).ok().stdout, "");
    assert_eq!(host_mounts(env.path()), mounts);
}

#[test]
fn the_context_is_never_read_outside_its_root() {
    let env = world();
    env.write("secret.txt", b"host secret\n");
    let ctx = context(
        &env,
        "c",
        "FROM bb\nCOPY . /ctx/\n",
        &[("ok.txt", "fine\n")],
    );
    let dir = env.work().join("c");
    std::os::unix::fs::symlink(env.work().join("secret.txt"), dir.join("abs")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", dir.join("rel")).unwrap();
    let id = build_id(&env, &ctx, &[]);
    let out = run_in(
        &env,
        &id,
        "readlink /ctx/rel; cat /ctx/ok.txt; cat /ctx/rel /ctx/abs 2>/dev/null; echo end",
    );
    assert_eq!(
        out, "../secret.txt\nfine\nend\n",
        "links are copied as links"
    );

    for src in ["rel", "abs"] {
        env.write(
            "c/Dockerfile",
            format!("FROM bb\nCOPY {src} /x\n").as_bytes(),
        );
        let out = env.cmd(["build", &ctx]).code(1);
        assert!(
            out.stderr.contains("file not found in build context"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn dockerignore_patterns_and_exceptions() {
    let env = world();
    let files = [
        (".dockerignore", "*.log\n!keep.log\n**/tmp\nsecret/\n"),
        ("a.log", "x"),
        ("keep.log", "k"),
        ("src/tmp/junk", "j"),
        ("src/main.txt", "m"),
        ("secret/key", "s"),
    ];
    let ctx = context(&env, "c", "FROM bb\nCOPY . /c/\n", &files);
    let id = build_id(&env, &ctx, &[]);
    let out = run_in(&env, &id, "cd /c && find . -type f | sort");
    assert_eq!(
        out,
        "./.dockerignore\n./Dockerfile\n./keep.log\n./src/main.txt\n"
    );
    env.write("c/Dockerfile", b"FROM bb\nCOPY a.log /\n");
    env.cmd(["build", &ctx]).code(1);
}

#[test]
fn same_dockerfile_and_context_give_the_same_id_with_source_date_epoch() {
    let df = "FROM scratch\nADD rootfs.tar /\nENV A=1\nRUN mkdir /d && echo hi > /d/x && rm /etc/group\nCOPY Dockerfile /d/\nCMD [\"sh\"]\n";
    let ids: Vec<String> = (0..2)
        .map(|_| {
            let env = Env::new();
            env.write("c/rootfs.tar", busybox_rootfs_tar(false));
            let ctx = context(&env, "c", df, &[]);
            let out = env
                .cmd(["build", "-q", &ctx])
                .env("SOURCE_DATE_EPOCH", "1700000000")
                .ok();
            out.stdout.trim().to_string()
        })
        .collect();
    assert!(is_sha256_id(&ids[0]), "{ids:?}");
    assert_eq!(ids[0], ids[1], "two stores, one image ID");
}

#[test]
fn heredocs_onbuild_and_a_context_on_standard_input() {
    let env = world();
    let df = "FROM bb\nONBUILD RUN echo triggered > /onbuild\nRUN <<EOF\necho one > /h1\necho two >> /h1\nEOF\nCOPY <<EOT /greeting\nhello $HOSTNAME_UNSET-x\nEOT\n";
    let ctx = context(&env, "c", df, &[]);
    let base = build_id(&env, &ctx, &["-t", "base"]);
    assert_eq!(
        run_in(&env, &base, "cat /h1 /greeting"),
        "one\ntwo\nhello -x\n"
    );
    assert_eq!(
        env.inspect("base")["Config"]["OnBuild"],
        serde_json::json!(["RUN echo triggered > /onbuild"])
    );

    let mut t = RootfsBuilder::new();
    t.file("Dockerfile", 0o644, b"FROM base\nCOPY f /f\n");
    t.file("f", 0o644, b"from stdin\n");
    let out = env
        .cmd(["build", "-t", "child", "-"])
        .stdin(t.finish())
        .ok();
    assert!(
        out.stdout.contains("# Executing 1 build trigger"),
        "{}",
        out.stdout
    );
    assert_eq!(
        run_in(&env, "child", "cat /onbuild /f"),
        "triggered\nfrom stdin\n"
    );
    assert!(env.inspect("child")["Config"]["OnBuild"].is_null());
}

#[test]
fn a_build_killed_with_sigkill_is_cleaned_up_by_the_next_one() {
    let env = world();
    let mounts = host_mounts(env.path());
    let ctx = context(&env, "c", "FROM bb\nRUN echo started && sleep 30\n", &[]);
    let mut child = env
        .cmd(["build", &ctx])
        .command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0 && !line.contains("started")
    {
        line.clear();
    }
    assert!(line.contains("started"), "the RUN step started");
    child.kill().unwrap();
    child.wait().unwrap();
    // The next build removes the container the killed one left, and nothing stays mounted.
    env.write("c/Dockerfile", b"FROM bb\nRUN echo again\n");
    env.cmd(["build", &ctx]).ok();
    assert_eq!(env.cmd(["ps", "-a", "-q"]).ok().stdout, "");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while host_mounts(env.path()) != mounts && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(host_mounts(env.path()), mounts);
}

#[test]
fn run_mounts_cache_between_builds_secrets_never_reach_a_layer() {
    let env = world();
    env.write("secret.txt", b"s3cr3t-value\n");
    let df = r#"FROM bb
RUN --mount=type=cache,target=/cache sh -c 'echo run >> /cache/log; wc -l < /cache/log > /count'
RUN --mount=type=secret,id=tok sh -c 'test "$(cat /run/secrets/tok)" = s3cr3t-value && echo secret-seen'
RUN --mount=type=bind,source=in.txt,target=/in cat /in > /copied
RUN --mount=type=tmpfs,target=/scratch sh -c 'echo x > /scratch/y'
"#;
    let ctx = context(&env, "c", df, &[("in.txt", "from the context\n")]);
    let secret = env.work().join("secret.txt");
    let secret_arg = format!("id=tok,src={}", secret.display());
    let out = env
        .cmd(["build", "-t", "m1", "--secret", &secret_arg, &ctx])
        .ok();
    assert!(out.stdout.contains("secret-seen"), "{}", out.stdout);
    let script = "cat /count /copied; ls /run/secrets /scratch /cache /in 2>&1 | wc -l";
    assert_eq!(run_in(&env, "m1", script), "1\nfrom the context\n4\n");
    env.cmd([
        "build",
        "-q",
        "--no-cache",
        "-t",
        "m2",
        "--secret",
        &secret_arg,
        &ctx,
    ])
    .ok();
    assert_eq!(
        run_in(&env, "m2", "cat /count"),
        "2\n",
        "the cache mount kept its content"
    );
    for f in walk(&env.store().join("blobs"))
        .into_iter()
        .chain(walk(&env.store().join("layers")))
    {
        if let Ok(data) = std::fs::read(&f) {
            assert!(
                !data.windows(12).any(|w| w == b"s3cr3t-value"),
                "the secret is in {}",
                f.display()
            );
        }
    }
    let required = b"FROM bb\nRUN --mount=type=secret,id=tok,required=true true\n";
    env.write("c/Dockerfile", required);
    let out = env.cmd(["build", &ctx]).code(1);
    assert!(
        out.stderr.contains("secret tok not found"),
        "{}",
        out.stderr
    );
}

/// A RUN of stage `me` that says it has started (in the cache mount `sync`) and waits up
/// to 20 s for stage `other` to have started too.
fn wait(me: &str, other: &str) -> String {
    format!(
        "RUN --mount=type=cache,id=sync,target=/sync sh -c 'touch /sync/{me}; {}'",
        wait_for(&format!("/sync/{other}"))
    )
}

/// Shell that waits up to 20 s for `path` to exist (exit 9 if it does not).
pub(crate) fn wait_for(path: &str) -> String {
    format!("i=0; while [ ! -e {path} ]; do i=$((i+1)); [ $i -lt 40 ] || exit 9; sleep 0.5; done")
}

#[test]
fn independent_stages_are_built_at_the_same_time() {
    let env = world();
    // Each stage waits (up to 20 s) for the other to have started: built one after the
    // other, the first would give up.
    let df = format!(
        "FROM bb AS one\n{}\nRUN echo one > /one\nFROM bb AS two\n{}\nRUN echo two > /two\n\
         FROM bb\nCOPY --from=one /one /one\nCOPY --from=two /two /two\n",
        wait("a", "b"),
        wait("b", "a")
    );
    let ctx = context(&env, "c", &df, &[]);
    let id = build_id(&env, &ctx, &[]);
    assert_eq!(run_in(&env, &id, "cat /one /two"), "one\ntwo\n");
}

#[test]
fn builder_prune_removes_the_cache_and_system_df_counts_it() {
    let env = world();
    let df = "FROM bb\nRUN --mount=type=cache,target=/c sh -c 'echo data > /c/f'\nENV A=1\n";
    let ctx = context(&env, "c", df, &[]);
    build_id(&env, &ctx, &[]);
    let format = ["system", "df", "--format", "{{.Type}} {{.TotalCount}}"];
    let df_out = env.cmd(format).ok();
    assert!(df_out.stdout.contains("Build Cache 3"), "{}", df_out.stdout);
    let out = env.cmd(["builder", "prune", "-a", "-f"]).ok();
    assert_eq!(out.lines()[0], "Deleted build cache objects:");
    assert_eq!(out.lines().len(), 3 + 3, "{}", out.stdout);
    assert!(env.cmd(format).ok().stdout.contains("Build Cache 0"));
    let again = env.cmd(["build", &ctx]).ok();
    assert!(!again.stdout.contains("Using cache"), "{}", again.stdout);
}

#[test]
fn copy_exclude_and_unused_build_args() {
    let env = world();
    let files = [("d/a.txt", "a"), ("d/b.log", "b"), ("d/sub/c.log", "c")];
    let df = "FROM bb\nARG USED\nCOPY --exclude=*.log --exclude=**/*.log d /d/\n";
    let ctx = context(&env, "c", df, &files);
    let out = env
        .cmd([
            "build",
            "--build-arg",
            "USED=1",
            "--build-arg",
            "NOPE=2",
            "-t",
            "ex",
            &ctx,
        ])
        .ok();
    assert!(
        out.stdout
            .contains("[Warning] One or more build-args [NOPE] were not consumed"),
        "{}",
        out.stdout
    );
    assert_eq!(run_in(&env, "ex", "cd /d && find . -type f"), "./a.txt\n");
    env.write(
        "c/Dockerfile",
        b"FROM bb\nCOPY --parents d/sub/c.log d/a.txt /p/\n",
    );
    let id = build_id(&env, &ctx, &[]);
    let out = run_in(&env, &id, "cd /p && find . -type f | sort");
    assert_eq!(out, "./d/a.txt\n./d/sub/c.log\n");
}

#[test]
fn add_from_a_url_checks_its_checksum() {
    let env = world();
    let body: &[u8] = b"remote content\n";
    let url = crate::import::serve(body.to_vec(), 8);
    let sum = format!("sha256:{}", sha256_hex(body));
    let df = format!("FROM bb\nADD --checksum={sum} {url} /srv/\n");
    let ctx = context(&env, "c", &df, &[]);
    let id = build_id(&env, &ctx, &[]);
    let out = run_in(
        &env,
        &id,
        "cat /srv/rootfs.tar.gz; stat -c '%a %u' /srv/rootfs.tar.gz",
    );
    assert_eq!(out, "remote content\n600 0\n");
    let bad = format!(
        "FROM bb\nADD --checksum=sha256:{} {url} /srv/\n",
        "0".repeat(64)
    );
    env.write("c/Dockerfile", bad.as_bytes());
    let out = env.cmd(["build", &ctx]).code(1);
    assert!(out.stderr.contains("checksum mismatch"), "{}", out.stderr);
}

#[test]
fn from_platform_must_be_this_machines() {
    let env = world();
    let other = if go_arch() == "arm64" {
        "linux/amd64"
    } else {
        "linux/arm64"
    };
    let ctx = context(&env, "c", &format!("FROM --platform={other} bb\n"), &[]);
    let out = env.cmd(["build", "-q", &ctx]).code(1);
    assert!(
        out.single_error().contains("platform only"),
        "{}",
        out.stderr
    );
    env.write(
        "c/Dockerfile",
        b"FROM --platform=$BUILDPLATFORM bb\nRUN true\n",
    );
    build_id(&env, &ctx, &[]);
}
