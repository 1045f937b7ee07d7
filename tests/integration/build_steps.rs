//! `strata build`, the BuildKit features beyond the classic builder: `RUN --mount` binds
//! of another stage's or image's filesystem, cache mounts' sharing modes and seeds,
//! `COPY --link` layers that do not depend on their base, WORKDIR making its directory,
//! `--ssh` agent sockets. Run as root and, through the helper, as an ordinary user.

use crate::build::{build_id, context, run_in, wait_for, world};
use strata_tests::*;

#[test]
fn run_binds_another_stages_files_read_only_and_discards_rw_writes() {
    let env = world();
    let df = r#"FROM bb AS tools
ARG V=v1
RUN mkdir -p /opt/tool && echo tool-$V > /opt/tool/version && ln -s / /opt/escape && echo in-stage > /marker
FROM bb
RUN --mount=type=bind,from=tools,source=/opt/tool,target=/t cat /t/version > /seen
RUN --mount=type=bind,from=tools,target=/t sh -c 'touch /t/x 2>/dev/null && echo writable || echo read-only' > /ro
RUN --mount=type=bind,from=tools,source=/opt/tool,target=/t,rw sh -c 'echo changed > /t/version; cat /t/version' > /rw
RUN --mount=type=bind,from=tools,source=opt/tool,target=t cat /t/version > /after
RUN --mount=type=bind,from=tools,source=/opt/escape,target=/e cat /e/marker > /escape
RUN --mount=type=bind,from=bb,source=/bin,target=/b sh -c 'test -x /b/busybox && echo image-bind' > /img
RUN --mount=type=bind,source=data,target=/d,rw sh -c 'echo changed > /d/f; cat /d/f /d/g' > /ctx
RUN --mount=type=bind,from=tools,source=/opt/tool/version,target=/v.txt cat /v.txt > /file
"#;
    let ctx = context(&env, "c", df, &[("data/f", "orig\n"), ("data/g", "g\n")]);
    let id = build_id(&env, &ctx, &[]);
    let script =
        "cat /seen /ro /rw /after /escape /img /ctx /file; ls -d /t /e /b /d /v.txt 2>&1 | wc -l";
    assert_eq!(
        run_in(&env, &id, script),
        "tool-v1\nread-only\nchanged\ntool-v1\nin-stage\nimage-bind\nchanged\ng\ntool-v1\n5\n"
    );
    let kept = std::fs::read_to_string(env.work().join("c/data/f")).unwrap();
    assert_eq!(
        kept, "orig\n",
        "a rw bind of the context never writes to it"
    );
    // The stage the mount reads is part of the step's cache key.
    let id2 = build_id(&env, &ctx, &["--build-arg", "V=v2"]);
    assert_ne!(id, id2);
    assert_eq!(run_in(&env, &id2, "cat /seen /after"), "tool-v2\ntool-v2\n");
    let df = "FROM bb\nRUN --mount=type=bind,from=7,target=/x true\n";
    env.write("c/Dockerfile", df.as_bytes());
    env.cmd(["build", &ctx]).fails();
}

#[test]
fn stages_a_mount_reads_are_built_first_and_others_as_soon_as_they_can() {
    let env = world();
    // `slow` waits for `c`, which starts from `fast`: `c` must start as soon as `fast` is
    // built, while `slow` still runs. The last stage mounts `slow`, which must be
    // complete before it starts.
    let df = format!(
        "FROM bb AS slow\nRUN --mount=type=cache,id=sync,target=/sync sh -c '{}; echo done > /slow'\n\
         FROM bb AS fast\nRUN echo fast > /fast\n\
         FROM fast AS c\nRUN --mount=type=cache,id=sync,target=/sync touch /sync/c\n\
         FROM bb\nRUN --mount=type=bind,from=slow,target=/s cat /s/slow > /got\n\
         COPY --from=c /fast /fast\n",
        wait_for("/sync/c")
    );
    let ctx = context(&env, "c", &df, &[]);
    let id = build_id(&env, &ctx, &[]);
    assert_eq!(run_in(&env, &id, "cat /got /fast"), "done\nfast\n");
}

#[test]
fn cache_mount_sharing_locked_private_shared_and_seeds() {
    let env = world();
    // locked: the second user waits; both would fail if they overlapped.
    let locked = |me: &str| {
        format!(
            "FROM bb AS {me}\nRUN --mount=type=cache,id=lk,target=/c,sharing=locked sh -c \
             'test ! -e /c/busy || exit 7; touch /c/busy; sleep 1; rm /c/busy; echo {me} >> /c/log'\n\
             RUN echo {me} > /{me}\n"
        )
    };
    let df = format!(
        "{}{}FROM bb\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n\
         RUN --mount=type=cache,id=lk,target=/c,sharing=locked sort /c/log > /log\n",
        locked("a"),
        locked("b")
    );
    let ctx = context(&env, "c", &df, &[]);
    let id = build_id(&env, &ctx, &[]);
    assert_eq!(run_in(&env, &id, "cat /log"), "a\nb\n");

    // Two parallel RUNs locking the same two caches, written in opposite orders: the
    // caches are taken in one order (by name), so neither holds one while waiting for
    // the other's.
    let crossed = |me: &str, first: &str, second: &str| {
        format!(
            "FROM bb AS {me}\nRUN --mount=type=cache,id={first},target=/{first},sharing=locked \
             --mount=type=cache,id={second},target=/{second},sharing=locked \
             sh -c 'sleep 1; echo {me} >> /x/log; echo {me} >> /y/log'\nRUN echo {me} > /{me}\n"
        )
    };
    let df = format!(
        "{}{}FROM bb
COPY --from=a /a /a
COPY --from=b /b /b
         RUN --mount=type=cache,id=x,target=/x cat /x/log > /log
",
        crossed("a", "x", "y"),
        crossed("b", "y", "x")
    );
    let ctx = context(&env, "crossed", &df, &[]);
    let id = build_id(&env, &ctx, &[]);
    let log = run_in(&env, &id, "sort /log");
    assert_eq!(log, "a\nb\n");

    // Two RUNs using one cache at the same time: private gives the second an instance
    // of its own, shared lets both see one.
    let together = |me: &str, other: &str, sharing: &str| {
        format!(
            "FROM bb AS {me}\nRUN --mount=type=cache,id={sharing},target=/c,sharing={sharing} \
             --mount=type=cache,id=sync-{sharing},target=/sync sh -c 'touch /c/{me} /sync/{me}; \
             {}; ls /c > /seen'\n",
            wait_for(&format!("/sync/{other}"))
        )
    };
    for (sharing, a_sees, b_sees) in [("private", "a\n", "b\n"), ("shared", "a\nb\n", "a\nb\n")] {
        let df = format!(
            "{}{}FROM bb\nCOPY --from=a /seen /a\nCOPY --from=b /seen /b\n",
            together("a", "b", sharing),
            together("b", "a", sharing)
        );
        let ctx = context(&env, sharing, &df, &[]);
        let id = build_id(&env, &ctx, &[]);
        assert_eq!(
            run_in(&env, &id, "cat /a; echo --; cat /b"),
            format!("{a_sees}--\n{b_sees}"),
            "sharing={sharing}"
        );
    }

    // A new cache starts with `source` of `from`, with the owner and mode asked for.
    let df = r#"FROM bb AS seed
RUN mkdir -p /s/sub && echo seeded > /s/sub/f
FROM bb
RUN --mount=type=cache,id=seeded,target=/c,from=seed,source=/s/sub cat /c/f > /got
RUN --mount=type=cache,id=owned,target=/o,uid=1000,gid=1001,mode=0750 stat -c '%u:%g %a' /o > /own
"#;
    let ctx = context(&env, "seed", df, &[]);
    let id = build_id(&env, &ctx, &[]);
    assert_eq!(
        run_in(&env, &id, "cat /got /own"),
        "seeded\n1000:1001 750\n"
    );
}

/// The digest of the top layer of `image`.
fn top_layer(env: &Env, image: &str) -> String {
    let img = env.inspect(image);
    let layers = img["RootFS"]["Layers"].as_array().expect("layers");
    layers
        .last()
        .expect("a layer")
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn copy_link_layers_do_not_depend_on_the_base() {
    let env = world();
    let files = [("app/run.sh", "echo hi\n"), ("app/conf", "x=1\n")];
    let one = "FROM bb\nCOPY --link app /srv/app/\n";
    // Here /srv/app exists with another mode: a plain COPY's layer would carry it.
    let two = "FROM bb\nRUN mkdir -p /srv/app && chmod 700 /srv/app && echo base2 > /b\n\
               COPY --link app /srv/app/\n";
    let c1 = context(&env, "one", one, &files);
    let c2 = context(&env, "two", two, &files);
    let epoch = ["--no-cache"];
    let build = |ctx: &str, args: &[&str]| {
        let out = env
            .cmd(["build", "-q"])
            .args(args)
            .arg(ctx)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .ok();
        out.stdout.trim().to_string()
    };
    let a = build(&c1, &epoch);
    let b = build(&c2, &epoch);
    assert_eq!(
        top_layer(&env, &a),
        top_layer(&env, &b),
        "--no-cache builds"
    );
    // Without SOURCE_DATE_EPOCH the layer's directories carry this build's time; the
    // second base takes the first build's layer from the cache.
    let c = build_id(&env, &c1, &["--no-cache"]);
    let out = env.cmd(["build", &c2]).ok();
    assert_eq!(
        out.stdout.matches(" ---> Using cache").count(),
        1,
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(" ---> Using cache"), "{}", out.stdout);
    let d = out
        .stdout
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("Successfully built "))
        .expect("an image")
        .to_string();
    assert_eq!(top_layer(&env, &c), top_layer(&env, &d));
    assert_eq!(run_in(&env, &d, "cat /b /srv/app/conf"), "base2\nx=1\n");
}

#[test]
fn workdir_makes_its_directory_owned_by_the_user_in_a_layer() {
    let env = world();
    let df = "FROM bb\nWORKDIR /srv\nUSER nobody\nWORKDIR app/data\nWORKDIR /tmp\n\
              RUN pwd > /tmp/pwd\n";
    let ctx = context(&env, "c", df, &[]);
    let id = build_id(&env, &ctx, &[]);
    let script = "stat -c '%n %U %a' /srv /srv/app /srv/app/data; cat /tmp/pwd";
    assert_eq!(
        run_in(&env, &id, script),
        "/srv root 755\n/srv/app nobody 755\n/srv/app/data nobody 755\n/tmp\n"
    );
    let hist = env
        .cmd([
            "history",
            "--no-trunc",
            "--format",
            "{{.Size}} {{.CreatedBy}}",
            &id,
        ])
        .ok();
    let workdirs: Vec<&str> = hist
        .lines()
        .into_iter()
        .filter(|l| l.contains("WORKDIR"))
        .collect();
    assert_eq!(workdirs.len(), 3, "{workdirs:?}");
    // /tmp was there: no layer; /srv and app/data were made: a layer each.
    assert!(workdirs[0].starts_with("0B "), "{workdirs:?}");
    let img = env.inspect(&id);
    let layers = img["RootFS"]["Layers"].as_array().unwrap().len();
    let base = env.inspect("bb")["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(layers, base + 3, "two WORKDIR layers and the RUN's");
}

/// An `ssh-agent` of this test's own, stopped when dropped.
struct Agent {
    pid: String,
    sock: std::path::PathBuf,
}

impl Agent {
    fn start(env: &Env) -> Agent {
        let sock = env.work().join("agent.sock");
        let out = std::process::Command::new("ssh-agent")
            .args(["-s", "-a"])
            .arg(&sock)
            .output()
            .expect("ssh-agent (openssh-client) runs");
        assert!(out.status.success(), "ssh-agent failed: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        let pid = text
            .split(';')
            .find_map(|p| p.trim().strip_prefix("SSH_AGENT_PID="))
            .expect("ssh-agent prints its pid")
            .to_string();
        let listed = std::process::Command::new("ssh-add")
            .arg("-l")
            .env("SSH_AUTH_SOCK", &sock)
            .output()
            .expect("ssh-add runs");
        // 1: the agent answered and holds no identities.
        assert_eq!(listed.status.code(), Some(1), "{listed:?}");
        Agent { pid, sock }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").arg(&self.pid).status();
    }
}

#[test]
fn ssh_agent_sockets_reach_run_and_no_layer() {
    let env = world();
    let agent = Agent::start(&env);
    let df = r#"FROM bb
RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo "agent at $SSH_AUTH_SOCK"
RUN --mount=type=ssh,id=other,target=/agent.sock,required sh -c 'test -S /agent.sock && echo other-agent'
RUN --mount=type=ssh,id=absent sh -c 'test -e /run/buildkit/ssh_agent.0 || echo not-given'
"#;
    let ctx = context(&env, "c", df, &[]);
    let default = format!("default={}", agent.sock.display());
    let other = format!("other={}", agent.sock.display());
    let out = env
        .cmd(["build", "-t", "s", "--ssh", &default, "--ssh", &other, &ctx])
        .ok();
    for want in [
        "agent at /run/buildkit/ssh_agent.0",
        "other-agent",
        "not-given",
    ] {
        assert!(out.stdout.contains(want), "{want}: {}", out.stdout);
    }
    let script = "ls -d /run/buildkit /agent.sock 2>&1 | grep -c 'No such'";
    assert_eq!(run_in(&env, "s", script), "2\n");
    // `--ssh default` takes SSH_AUTH_SOCK.
    let df = "FROM bb\nRUN --mount=type=ssh,required=true test -S /run/buildkit/ssh_agent.0\n";
    env.write("c/Dockerfile", df.as_bytes());
    env.cmd(["build", "--ssh", "default", &ctx])
        .env("SSH_AUTH_SOCK", &agent.sock)
        .ok();
    let out = env.cmd(["build", "--no-cache", &ctx]).code(1);
    assert!(
        out.stderr.contains("no SSH agent \"default\" forwarded"),
        "{}",
        out.stderr
    );
    let out = env
        .cmd(["build", "--ssh", "default=/nonexistent.sock", &ctx])
        .code(1);
    assert!(
        out.stderr.contains("is not an SSH agent socket"),
        "{}",
        out.stderr
    );
}

#[test]
fn progress_tty_draws_a_live_view_on_a_terminal_and_ends_with_its_summary() {
    assert!(
        has_script(),
        "`script` (util-linux) is needed to give strata a terminal"
    );
    let env = world();
    let df = "FROM bb AS a\nRUN for i in 1 2 3; do echo a-says-$i; sleep 0.3; done\n\
              FROM bb\nCOPY --from=a /bin/busybox /x\nENV A=1\n";
    let ctx = context(&env, "c", df, &[]);
    let on_terminal = |args: &str| {
        env.sh(&format!(
            "TERM=xterm script -qec '\"$STRATA\" build {args}' /dev/null </dev/null"
        ))
        .timeout(std::time::Duration::from_secs(60))
    };
    let out = on_terminal(&format!("--progress=tty -t live:1 {ctx}")).ok();
    for want in [
        "\x1b[",
        "[+] Building",
        "FINISHED",
        " => [2/5] RUN for i in 1 2 3",
        "a-says-3",
        "Successfully built ",
        "Successfully tagged live:1",
    ] {
        assert!(out.stdout.contains(want), "{want:?} in {:?}", out.stdout);
    }
    assert!(!out.stdout.contains("Step 1/5"), "{:?}", out.stdout);
    // auto on a terminal is the live view; plain is docker classic's lines there too.
    let out = on_terminal(&ctx).ok();
    assert!(out.stdout.contains(" => CACHED [2/5]"), "{:?}", out.stdout);
    let out = on_terminal(&format!("--progress=plain {ctx}")).ok();
    assert!(
        out.stdout.contains("Step 2/5 : RUN") && !out.stdout.contains("[+] Building"),
        "{:?}",
        out.stdout
    );
    // A failing step is marked, with its last output lines.
    env.write("c/Dockerfile", b"FROM bb\nRUN echo about-to-fail; exit 3\n");
    let out = on_terminal(&format!("--progress=tty {ctx}")).code(1);
    for want in [
        " => ERROR [2/2] RUN echo about-to-fail",
        " => > about-to-fail",
        "returned a non-zero code: 3",
    ] {
        assert!(out.stdout.contains(want), "{want:?} in {:?}", out.stdout);
    }
}
