//! `strata build` compared with docker's classic builder (`DOCKER_BUILDKIT=0`): the same
//! Dockerfiles and contexts, on the same busybox base (one tar imported into both), built
//! by both; then the images' configs, histories and file trees must agree, layer by layer.
//!
//! dockerd is the private one `scripts/test.sh` starts as root for its root pass and names
//! in `STRATA_TEST_DOCKER_HOST`. Without it these tests fail (they never skip): run them
//! through `scripts/test.sh` as root. The unprivileged pass leaves them out explicitly
//! (`--skip build_docker::`), as strata-test cannot reach root's dockerd.
//!
//! What is compared, and what is normalized (everything else must be equal):
//! - config: Env, Cmd, Entrypoint, WorkingDir, User, Labels, ExposedPorts, Volumes,
//!   Healthcheck, StopSignal, Shell, OnBuild, and the image's author, architecture and
//!   os. A field docker writes as `null`, `""`, `{}` or `[]` equals a field strata leaves
//!   out: docker's Go structs write every unset field that way, and no reader of an image
//!   config tells them apart. Docker's `Hostname`, `Image` (the parent's ID), `container`,
//!   `container_config` and `docker_version` are left out: they name docker's own build
//!   containers and intermediate images, which strata does not make.
//! - history: after the base image's entries, the same entries in the same order, each
//!   with the same `created_by`, `empty_layer`, `author` and `comment`; `created` times
//!   differ by nature. In `created_by`, COPY and ADD name their sources as docker's
//!   `file:HASH`, `dir:HASH` or `multi:HASH`: HASH is a checksum docker computes over the
//!   context files as its daemon extracted them (tarsum-style headers with the daemon
//!   host's user names), an internal cache key and not a property of the image, so only
//!   the kind before the colon is compared.
//! - files: each layer's entries (path, type, permission bits with setuid/setgid/sticky,
//!   uid, gid, size, the sha256 of a file's content, link target). Not compared:
//!   modification times (those of a build differ by nature), the type bits docker's Go
//!   tar writer repeats in the mode field (the type is the entry's typeflag), user and
//!   group names in the headers (both extract by number), and the mode and owner of
//!   whiteout markers (`.wh.NAME`, `.wh..wh..opq`: only their names mean anything; docker
//!   writes 0600 or the directory's mode, strata 0644).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;
use strata_tests::*;

/// The private dockerd's address, or a failure saying how to get one.
fn docker_host() -> String {
    match std::env::var("STRATA_TEST_DOCKER_HOST") {
        Ok(h) if !h.is_empty() => h,
        _ => panic!(
            "STRATA_TEST_DOCKER_HOST is not set: the build_docker tests compare strata's \
             builder with dockerd's; run them through scripts/test.sh as root, which starts \
             a private dockerd for them"
        ),
    }
}

/// `docker ARGS` (a shell command line) against the private dockerd, classic builder.
fn docker<'a>(env: &'a Env, args: &str) -> Cmd<'a> {
    env.sh(&format!("docker {args}"))
        .env("DOCKER_HOST", docker_host())
        .env("DOCKER_BUILDKIT", "0")
}

/// The busybox base's name in dockerd (imported once per test process) and in each
/// test's strata store.
const BASE: &str = "strata-cmp/busybox:base";

/// An environment whose store has the busybox base as `BASE`; dockerd has it too.
fn world() -> Env {
    let env = Env::new();
    static IMPORTED: OnceLock<()> = OnceLock::new();
    IMPORTED.get_or_init(|| {
        let tar = env.write("busybox.tar", busybox_rootfs_tar(false));
        docker(&env, &format!("import {} {BASE}", tar.display())).ok();
    });
    env.import_busybox(BASE);
    env
}

/// One image as `save` writes it: the config and the layers' entries, in order.
struct Saved {
    config: serde_json::Value,
    layers: Vec<BTreeMap<String, String>>,
}

/// Reads a docker-archive (`manifest.json` naming the config and the layers), as both
/// `docker save` and `strata save` write it.
fn read_saved(path: &Path) -> Saved {
    let data = std::fs::read(path).unwrap();
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut ar = tar::Archive::new(&data[..]);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut v = Vec::new();
        e.read_to_end(&mut v).unwrap();
        files.insert(name, v);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let m = &manifest[0];
    let config = serde_json::from_slice(&files[m["Config"].as_str().unwrap()]).unwrap();
    let layers = m["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| layer_entries(&files[l.as_str().unwrap()]))
        .collect();
    Saved { config, layers }
}

/// A layer's entries: path → "type mode uid:gid size sha256/link".
fn layer_entries(blob: &[u8]) -> BTreeMap<String, String> {
    let mut plain = Vec::new();
    let data: &[u8] = if blob.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(blob)
            .read_to_end(&mut plain)
            .unwrap();
        &plain
    } else {
        blob
    };
    let mut out = BTreeMap::new();
    let mut ar = tar::Archive::new(data);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let path = path
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        if path.is_empty() || path == "." {
            continue;
        }
        let h = e.header().clone();
        let link = e
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned());
        let kind = match h.entry_type() {
            tar::EntryType::Regular => "file",
            tar::EntryType::Directory => "dir",
            tar::EntryType::Symlink => "symlink",
            tar::EntryType::Link => "hardlink",
            other => panic!("{path}: unexpected entry type {other:?}"),
        };
        if path.rsplit('/').next().unwrap_or("").starts_with(".wh.") {
            out.insert(path, "whiteout".into());
            continue;
        }
        let mut body = Vec::new();
        e.read_to_end(&mut body).unwrap();
        let what = match (kind, link) {
            ("file", _) => sha256_hex(&body),
            (_, Some(l)) => format!("-> {l}"),
            _ => String::new(),
        };
        out.insert(
            path,
            format!(
                "{kind} {:o} {}:{} {} {what}",
                h.mode().unwrap() & 0o7777,
                h.uid().unwrap(),
                h.gid().unwrap(),
                body.len()
            ),
        );
    }
    out
}

/// The config fields compared, normalized as the module's comment says.
fn config_fields(c: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    const FIELDS: &[&str] = &[
        "Env",
        "Cmd",
        "Entrypoint",
        "WorkingDir",
        "User",
        "Labels",
        "ExposedPorts",
        "Volumes",
        "Healthcheck",
        "StopSignal",
        "Shell",
        "OnBuild",
    ];
    let mut out = BTreeMap::new();
    let mut put = |k: String, v: &serde_json::Value| {
        let unset = match v {
            serde_json::Value::Null => true,
            serde_json::Value::String(s) => s.is_empty(),
            serde_json::Value::Array(a) => a.is_empty(),
            serde_json::Value::Object(o) => o.is_empty(),
            _ => false,
        };
        if !unset {
            out.insert(k, v.clone());
        }
    };
    for f in FIELDS {
        put(format!("config.{f}"), &c["config"][f]);
    }
    for f in ["author", "architecture", "os"] {
        put(f.to_string(), &c[f]);
    }
    out
}

/// `file:`, `dir:` and `multi:` followed by 64 hex digits, with the digits replaced.
fn without_source_hashes(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(':') {
        let (head, tail) = rest.split_at(i);
        let hex: String = tail[1..].chars().take(64).collect();
        let kind = ["file", "dir", "multi"].iter().any(|k| head.ends_with(k));
        if kind && hex.len() == 64 && is_hex(&hex, 64) {
            out.push_str(head);
            out.push_str(":HASH");
            rest = &tail[65..];
        } else {
            out.push_str(head);
            out.push(':');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The history entries after the base image's (one, from the import), normalized.
fn history(c: &serde_json::Value) -> Vec<String> {
    c["history"].as_array().unwrap()[1..]
        .iter()
        .map(|h| {
            format!(
                "{:?} empty_layer={} author={} comment={}",
                without_source_hashes(h["created_by"].as_str().unwrap_or("")),
                h["empty_layer"].as_bool().unwrap_or(false),
                h["author"].as_str().unwrap_or(""),
                h["comment"].as_str().unwrap_or(""),
            )
        })
        .collect()
}

/// The differences between docker's image and strata's, one line each.
fn differences(docker: &Saved, strata: &Saved) -> Vec<String> {
    let mut diffs = Vec::new();
    let (dc, sc) = (config_fields(&docker.config), config_fields(&strata.config));
    for k in dc.keys().chain(sc.keys().filter(|k| !dc.contains_key(*k))) {
        if dc.get(k) != sc.get(k) {
            diffs.push(format!(
                "{k}: docker {}, strata {}",
                dc.get(k).map_or("unset".into(), |v| v.to_string()),
                sc.get(k).map_or("unset".into(), |v| v.to_string())
            ));
        }
    }
    let (dh, sh) = (history(&docker.config), history(&strata.config));
    for i in 0..dh.len().max(sh.len()) {
        if dh.get(i) != sh.get(i) {
            diffs.push(format!(
                "history[{}]: docker {}, strata {}",
                i + 1,
                dh.get(i).map_or("none", String::as_str),
                sh.get(i).map_or("none", String::as_str)
            ));
        }
    }
    if docker.layers.len() != strata.layers.len() {
        diffs.push(format!(
            "layers: docker {}, strata {}",
            docker.layers.len(),
            strata.layers.len()
        ));
    }
    for (i, (d, s)) in docker.layers.iter().zip(&strata.layers).enumerate() {
        for p in d.keys().chain(s.keys().filter(|p| !d.contains_key(*p))) {
            if d.get(p) != s.get(p) {
                diffs.push(format!(
                    "layer {i} /{p}: docker {}, strata {}",
                    d.get(p).map_or("absent", String::as_str),
                    s.get(p).map_or("absent", String::as_str)
                ));
            }
        }
    }
    diffs
}

/// A context `work/NAME` with a Dockerfile and `files` (path, content, mode).
fn context(env: &Env, name: &str, dockerfile: &str, files: &[(&str, &str, u32)]) -> String {
    use std::os::unix::fs::PermissionsExt;
    env.write(&format!("{name}/Dockerfile"), dockerfile.as_bytes());
    for (p, data, mode) in files {
        let f = env.write(&format!("{name}/{p}"), data.as_bytes());
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(*mode)).unwrap();
    }
    name.to_string()
}

/// Builds `ctx` as `tag` in dockerd and in strata (with `args`), saves both images and
/// returns them (docker's, strata's).
fn build_both(env: &Env, ctx: &str, tag: &str, args: &str) -> (Saved, Saved) {
    docker(env, &format!("build -q -t {tag} {args} {ctx}")).ok();
    docker(env, &format!("save -o docker-{ctx}.tar {tag}")).ok();
    let mut cmd = env.cmd(["build", "-q", "-t", tag]);
    for a in args.split_whitespace() {
        cmd = cmd.arg(a);
    }
    cmd.arg(ctx).ok();
    env.cmd(["save", "-o", &format!("strata-{ctx}.tar"), tag])
        .ok();
    (
        read_saved(&env.work().join(format!("docker-{ctx}.tar"))),
        read_saved(&env.work().join(format!("strata-{ctx}.tar"))),
    )
}

/// Builds `dockerfile` with `files` in both and fails with every difference.
fn same_as_docker(name: &str, dockerfile: &str, files: &[(&str, &str, u32)], args: &str) {
    let env = world();
    let df = dockerfile.replace("BASE", BASE);
    let ctx = context(&env, name, &df, files);
    let tag = format!("strata-cmp/{name}:1");
    let (d, s) = build_both(&env, &ctx, &tag, args);
    let diffs = differences(&d, &s);
    assert!(
        diffs.is_empty(),
        "strata's image differs from docker's classic builder for\n{df}\n{}",
        diffs.join("\n")
    );
}

#[test]
fn env_forms_and_arg_scoping() {
    let df = r#"ARG OUTER=outside
ARG SHARED=from-global
FROM BASE
ARG SHARED
ARG INNER=default
ARG GIVEN
ENV A=1 B="two words" C=${INNER}-x
ENV D three more words
ENV E=$A$B F='single $A' G="${UNSET:-fallback}" H=${A:+set}
RUN echo "outer=[$OUTER] shared=[$SHARED] inner=[$INNER] given=[$GIVEN]" > /args.txt
RUN echo "A=$A B=$B C=$C D=$D E=$E F=$F G=$G H=$H PATH=$PATH" > /env.txt
ENV INNER=env-wins
RUN echo "$INNER" > /inner.txt
"#;
    same_as_docker("envarg", df, &[], "--build-arg GIVEN=yes");
}

#[test]
fn metadata_instructions() {
    let df = r#"FROM BASE
MAINTAINER someone <a@b.c>
ARG PORT=8080
LABEL org.example.name="demo app" version=1 "quoted key"=v
LABEL multi.line="a \
b"
EXPOSE ${PORT} 53/udp 7000-7002/tcp
VOLUME /data /logs
VOLUME ["/cache"]
STOPSIGNAL SIGUSR1
USER nobody
USER 65534:65534
"#;
    same_as_docker("meta", df, &[], "");
}

#[test]
fn cmd_entrypoint_and_shell_forms() {
    let df = r#"FROM BASE
CMD echo "shell form" $HOME
ENTRYPOINT ["/bin/echo", "exec"]
CMD ["a", "b c"]
SHELL ["/bin/sh", "-ec"]
RUN echo "with the new shell" > /shell.txt
ENTRYPOINT echo entry
CMD echo after
"#;
    same_as_docker("cmdent", df, &[], "");
}

#[test]
fn entrypoint_clears_an_inherited_cmd() {
    let env = world();
    let parent = "FROM BASE\nCMD [\"echo\", \"parent\"]\n".replace("BASE", BASE);
    let pctx = context(&env, "parent", &parent, &[]);
    build_both(&env, &pctx, "strata-cmp/parent:1", "");
    let df = "FROM strata-cmp/parent:1\nENTRYPOINT [\"/bin/echo\"]\n";
    let ctx = context(&env, "child", df, &[]);
    let (d, s) = build_both(&env, &ctx, "strata-cmp/child:1", "");
    let diffs = differences(&d, &s);
    assert!(diffs.is_empty(), "{df}\n{}", diffs.join("\n"));
}

/// One HEALTHCHECK per image: docker 20.10's classic builder carries the options of a
/// stage's earlier HEALTHCHECK over to a later one that does not give them (its flag
/// values outlive the instruction), which neither BuildKit nor strata does.
#[test]
fn healthchecks() {
    let df = "FROM BASE\nHEALTHCHECK --interval=5s --timeout=3s --start-period=2s --retries=4 CMD [\"true\"]\n";
    same_as_docker("health", df, &[], "");
    let df = "FROM BASE\nHEALTHCHECK --interval=1m30s CMD wget -q localhost || exit 1\n";
    same_as_docker("healthshell", df, &[], "");
    let df = "FROM BASE\nHEALTHCHECK CMD true\nHEALTHCHECK NONE\n";
    same_as_docker("healthnone", df, &[], "");
}

#[test]
fn workdir_absolute_and_relative() {
    let df = r#"FROM BASE
WORKDIR /srv
WORKDIR app
WORKDIR ../lib/./x
RUN pwd > here.txt
ENV DIR=/opt
WORKDIR $DIR/tool
"#;
    same_as_docker("workdir", df, &[], "");
}

const FILES: &[(&str, &str, u32)] = &[
    ("a.txt", "a\n", 0o644),
    ("b.txt", "bb\n", 0o600),
    ("run.sh", "#!/bin/sh\necho run\n", 0o755),
    ("dir/one", "1\n", 0o644),
    ("dir/sub/two", "2\n", 0o640),
    ("other.md", "not a txt\n", 0o644),
];

#[test]
fn copy_and_add_sources_and_destinations() {
    let df = r#"FROM BASE
COPY a.txt /file-no-slash
COPY a.txt /newdir/
COPY *.txt /globbed/
COPY a.txt b.txt run.sh /several/
COPY dir /contents/
COPY dir/ /contents-slash
COPY dir /tmp/nested/deeper/
ADD a.txt /added.txt
ADD dir /added-dir/
WORKDIR /rel
COPY run.sh .
COPY b.txt sub/
"#;
    same_as_docker("copy", df, FILES, "");
}

#[test]
fn copy_chown_by_name_and_number() {
    let df = r#"FROM BASE
COPY --chown=nobody:nobody a.txt /owned/by-name
COPY --chown=65534 b.txt /owned/by-uid
COPY --chown=nobody dir /owned/dir/
COPY --chown=1234:5678 run.sh /owned/numbers
ADD --chown=nobody:root a.txt /owned/added
"#;
    same_as_docker("chown", df, FILES, "");
}

#[test]
fn run_forms_and_the_files_they_change() {
    let df = r#"FROM BASE
ARG MODE=dev
RUN ["/bin/sh", "-c", "echo exec form > /exec.txt"]
RUN echo "$MODE" > /mode.txt && mkdir -p /a/b/c && echo deep > /a/b/c/d
RUN rm /bin/wc && rm -r /a/b && ln -s /mode.txt /link && ln /exec.txt /hard
RUN touch /tmp/t && chmod 4755 /exec.txt && chown 65534:65534 /mode.txt && chmod 700 /a
RUN mkdir /empty && rm -rf /root && mkdir /root && echo new > /root/file
"#;
    same_as_docker("runforms", df, &[], "--build-arg MODE=prod");
}

#[test]
fn multi_stage_copy_from() {
    let df = r#"FROM BASE AS builder
RUN mkdir -p /out/bin && echo built > /out/bin/tool && chmod 755 /out/bin/tool
WORKDIR /out
RUN echo two > second.txt

FROM BASE AS unused
RUN echo never > /never

FROM builder AS derived
RUN echo derived > /derived.txt

FROM BASE
COPY --from=builder /out /opt/
COPY --from=0 /out/second.txt /second.txt
COPY --from=derived /derived.txt /out/bin/tool /from-derived/
COPY --from=strata-cmp/busybox:base /etc/passwd /base-passwd
CMD ["/opt/bin/tool"]
"#;
    same_as_docker("multistage", df, FILES, "");
}

#[test]
fn onbuild_triggers_run_in_the_child() {
    let env = world();
    let parent = r#"FROM BASE
ONBUILD RUN echo triggered > /trigger.txt
ONBUILD COPY a.txt /from-child-context.txt
ONBUILD ENV TRIGGERED=yes
"#
    .replace("BASE", BASE);
    let pctx = context(&env, "onparent", &parent, FILES);
    let (d, s) = build_both(&env, &pctx, "strata-cmp/onparent:1", "");
    let diffs = differences(&d, &s);
    assert!(diffs.is_empty(), "{parent}\n{}", diffs.join("\n"));
    let child = "FROM strata-cmp/onparent:1\nRUN cat /trigger.txt > /seen.txt\n";
    let ctx = context(&env, "onchild", child, FILES);
    let (d, s) = build_both(&env, &ctx, "strata-cmp/onchild:1", "");
    let diffs = differences(&d, &s);
    assert!(diffs.is_empty(), "{child}\n{}", diffs.join("\n"));
}

/// docker's classic builder refuses `COPY --chmod` (BuildKit only), so strata's
/// `--chmod` is compared with docker's `COPY` of the same sources: the same layers but for
/// the files' mode, which is the one `--chmod` names (BuildKit's rule).
#[test]
fn copy_chmod_is_copy_with_that_mode() {
    let env = world();
    let with = "FROM BASE\nCOPY --chmod=640 a.txt /a.txt\nCOPY --chmod=755 dir /d/\n"
        .replace("BASE", BASE);
    let ctx = context(&env, "chmod", &with, FILES);
    let out = docker(&env, "build -q -t strata-cmp/chmod:1 chmod").fails();
    assert!(out.stderr.contains("--chmod"), "{}", out.stderr);
    env.cmd(["build", "-q", "-t", "strata-cmp/chmod:1", &ctx])
        .ok();
    env.cmd(["save", "-o", "strata-chmod.tar", "strata-cmp/chmod:1"])
        .ok();
    let s = read_saved(&env.work().join("strata-chmod.tar"));
    let without = "FROM BASE\nCOPY a.txt /a.txt\nCOPY dir /d/\n".replace("BASE", BASE);
    let ctx = context(&env, "nochmod", &without, FILES);
    docker(&env, &format!("build -q -t strata-cmp/nochmod:1 {ctx}")).ok();
    docker(&env, "save -o docker-nochmod.tar strata-cmp/nochmod:1").ok();
    let mut d = read_saved(&env.work().join("docker-nochmod.tar"));
    let n = d.layers.len();
    for (i, mode) in [(n - 2, "640"), (n - 1, "755")] {
        for e in d.layers[i].values_mut().filter(|e| e.starts_with("file ")) {
            let mut f: Vec<&str> = e.splitn(3, ' ').collect();
            f[1] = mode;
            *e = f.join(" ");
        }
    }
    assert_eq!(d.layers, s.layers, "layers of\n{with}");
}
