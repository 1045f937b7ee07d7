//! Typed instruction parsing: forms, flags, mount specs, healthchecks.

use super::{df_err, steps};
use crate::dockerfile::{
    mount, CommandLine, ErrorKind, Instruction, MountError, MountKind, Network, Sharing,
};
use std::time::Duration;

#[test]
fn shell_and_exec_forms() {
    let s = steps("FROM a\nrun echo  hi\nRUN [\"echo\", \"hi\"]\nENTRYPOINT [\"x\"]\nCMD [\"a\" 'b']\nSHELL [\"/bin/bash\", \"-c\"]\n");
    assert_eq!(
        s[0],
        Instruction::Run(crate::dockerfile::Run {
            cmd: CommandLine::Shell("echo  hi".into()),
            heredocs: vec![],
            mounts: vec![],
            network: Network::Default,
            security: Default::default(),
            devices: vec![],
        })
    );
    let Instruction::Run(r) = &s[1] else { panic!() };
    assert_eq!(r.cmd, CommandLine::Exec(vec!["echo".into(), "hi".into()]));
    assert_eq!(
        s[2],
        Instruction::Entrypoint(CommandLine::Exec(vec!["x".into()]))
    );
    assert_eq!(
        s[3],
        Instruction::Cmd(CommandLine::Shell("[\"a\" 'b']".into())),
        "invalid JSON is shell form"
    );
    assert_eq!(
        s[4],
        Instruction::Shell(vec!["/bin/bash".into(), "-c".into()])
    );
}

#[test]
fn from_copy_add_flags() {
    let d = super::df(
        "FROM --platform=linux/amd64 Alpine:3 AS Build\nFROM scratch\n\
COPY --from=build --chown=1:2 --chmod=0644 --link --exclude=*.md --exclude=*.txt a b /d/\n\
ADD --checksum=sha256:abc --keep-git-dir=false --unpack https://x/y.tar /d\n",
    );
    assert_eq!(d.stages[0].name.as_deref(), Some("build"));
    assert_eq!(d.stages[0].from.image, "Alpine:3");
    assert_eq!(d.stages[0].from.platform.as_deref(), Some("linux/amd64"));
    let Instruction::Copy(c) = &d.stages[1].steps[0].instruction else {
        panic!()
    };
    assert_eq!(c.from, Some(crate::dockerfile::StageRef::Stage(0)));
    assert_eq!(
        (c.chown.as_deref(), c.chmod.as_deref(), c.link),
        (Some("1:2"), Some("0644"), true)
    );
    assert_eq!(c.excludes, vec!["*.md", "*.txt"]);
    assert_eq!(c.sources, vec!["a", "b"]);
    let Instruction::Add(a) = &d.stages[1].steps[1].instruction else {
        panic!()
    };
    assert_eq!(a.checksum.as_deref(), Some("sha256:abc"));
    assert_eq!(
        (a.keep_git_dir, a.unpack, a.link),
        (Some(false), Some(true), false)
    );
    let e = df_err("FROM a\nCOPY --checksum=x a b\n");
    assert!(matches!(&*e.kind, ErrorKind::UnknownFlag { flag, .. } if flag == "checksum"));
}

/// A test of a mount error's kind.
type MountCheck = fn(&MountError) -> bool;

#[test]
fn mount_specs() {
    let s = steps(
        "FROM a\nRUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0755,uid=1 \
--mount=type=bind,from=src,source=/s,target=/t,rw \
--mount=type=tmpfs,target=/tmp,size=64m \
--mount=type=secret,id=tok,env=TOKEN,required \
--network=none make\n",
    );
    let Instruction::Run(r) = &s[0] else { panic!() };
    assert_eq!(r.network, Network::None);
    let [cache, bind, tmpfs, secret] = &r.mounts[..] else {
        panic!("{:?}", r.mounts)
    };
    assert_eq!(
        (cache.kind, cache.target.as_str(), cache.id.as_deref()),
        (MountKind::Cache, "/root/.cache", Some("pip"))
    );
    assert_eq!(
        (cache.sharing, cache.mode, cache.uid, cache.readonly),
        (Sharing::Locked, Some(0o755), Some(1), false)
    );
    assert_eq!(
        (
            bind.kind,
            bind.from.as_deref(),
            bind.source.as_deref(),
            bind.readonly
        ),
        (MountKind::Bind, Some("src"), Some("/s"), false)
    );
    assert_eq!((tmpfs.kind, tmpfs.size), (MountKind::Tmpfs, Some(64 << 20)));
    assert_eq!(
        (
            secret.kind,
            secret.id.as_deref(),
            secret.env.as_deref(),
            secret.required,
            secret.readonly
        ),
        (MountKind::Secret, Some("tok"), Some("TOKEN"), true, true)
    );
    let bad: &[(&str, MountCheck)] = &[
        ("type=nfs,target=/x", |e| {
            matches!(e, MountError::Type { .. })
        }),
        ("type=cache,target=/x,sharing=all", |e| {
            matches!(e, MountError::Sharing { .. })
        }),
        ("type=bind,target=/x,mode=0700", |e| {
            matches!(e, MountError::FileInfo { key: "mode", .. })
        }),
        ("type=secret", |e| matches!(e, MountError::SecretTarget)),
        ("type=secret,id=a,src=b", |e| {
            matches!(e, MountError::SecretSourceAndId)
        }),
        ("type=tmpfs,target=/x,sharing=locked", |e| {
            matches!(e, MountError::SharingNotCache(_))
        }),
        ("type=bind,target=/x,size=1m", |e| {
            matches!(e, MountError::KeyForType { .. })
        }),
        (
            "type=cache,targte=/x",
            |e| matches!(e, MountError::UnknownKey { suggestion: Some(s), .. } if s == "target"),
        ),
        ("type=cache,target", |e| {
            matches!(e, MountError::NeedsValue(_))
        }),
        ("type=bind,from=$X,target=/x", |e| {
            matches!(e, MountError::FromVariable)
        }),
    ];
    for (spec, check) in bad {
        let e = mount::parse(spec, mount::Expansion::Deferred).unwrap_err();
        assert!(check(&e), "{spec}: {e}");
    }
    assert!(
        mount::parse("type=$T,target=/x", mount::Expansion::Deferred).is_ok(),
        "checked once expanded"
    );
}

#[test]
fn healthchecks() {
    let s = steps(
        "FROM a\nHEALTHCHECK --interval=5s --timeout=1m30s --retries=3 CMD curl -f http://x/\n\
HEALTHCHECK CMD [\"/bin/check\", \"-q\"]\nHEALTHCHECK NONE\n",
    );
    let Instruction::Healthcheck(h) = &s[0] else {
        panic!()
    };
    assert_eq!(h.test, vec!["CMD-SHELL", "curl -f http://x/"]);
    assert_eq!(
        (h.interval, h.timeout, h.retries),
        (Duration::from_secs(5), Duration::from_secs(90), 3)
    );
    let Instruction::Healthcheck(h) = &s[1] else {
        panic!()
    };
    assert_eq!(h.test, vec!["CMD", "/bin/check", "-q"]);
    let Instruction::Healthcheck(h) = &s[2] else {
        panic!()
    };
    assert_eq!(h.test, vec!["NONE"]);
}

#[test]
fn key_values_args_and_misc() {
    let s = steps("FROM a\nENV A 1 2\nLABEL a=b \"c d\"=e\nARG X Y=1 Z=\nEXPOSE 443 80/tcp\nMAINTAINER me\nONBUILD COPY . /app\n");
    let Instruction::Env(e) = &s[0] else { panic!() };
    assert_eq!((e[0].key.as_str(), e[0].value.as_str()), ("A", "1 2"));
    let Instruction::Label(l) = &s[1] else {
        panic!()
    };
    assert_eq!(l.len(), 2);
    let Instruction::Arg(a) = &s[2] else { panic!() };
    let got: Vec<(&str, Option<&str>)> = a
        .iter()
        .map(|a| (a.name.as_str(), a.default.as_deref()))
        .collect();
    assert_eq!(got, vec![("X", None), ("Y", Some("1")), ("Z", Some(""))]);
    assert_eq!(
        s[3],
        Instruction::Expose(vec!["443".into(), "80/tcp".into()])
    );
    assert_eq!(s[4], Instruction::Maintainer("me".into()));
    assert_eq!(s[5], Instruction::Onbuild("COPY . /app".into()));
}

#[test]
fn escape_directive_and_case() {
    let s = steps("# escape=`\nfrom a\nRun echo a `\n  b\ncopy c:\\x d\n");
    assert_eq!(s[0].name(), "RUN");
    let Instruction::Run(r) = &s[0] else { panic!() };
    assert_eq!(r.cmd, CommandLine::Shell("echo a   b".into()));
    let Instruction::Copy(c) = &s[1] else {
        panic!()
    };
    assert_eq!(c.sources, vec!["c:\\x"]);
}

#[test]
fn onbuild_triggers_and_declared_args() {
    let s = steps(
        "FROM a\nONBUILD RUN --mount=type=cache,target=/c make\nONBUILD COPY <<EOF /x\nhi\nEOF\n",
    );
    let triggers: Vec<String> = s
        .iter()
        .map(|i| match i {
            Instruction::Onbuild(t) => t.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    let steps = crate::dockerfile::parse_triggers(&triggers, "ONBUILD").unwrap();
    let Instruction::Run(r) = &steps[0].instruction else {
        panic!()
    };
    assert_eq!(r.mounts[0].kind, MountKind::Cache);
    let Instruction::Copy(c) = &steps[1].instruction else {
        panic!()
    };
    assert_eq!(c.heredocs[0].content, "hi\n");
    assert!(crate::dockerfile::parse_triggers(&["FROM x".into()], "ONBUILD").is_err());
    let d = super::df("ARG A\nFROM a\nARG B=1 C\n");
    let names: Vec<String> = d.declared_args().into_iter().collect();
    assert_eq!(names, vec!["A", "B", "C"]);
}
