//! ARG and ENV scoping and which fields are expanded.

use super::df;
use crate::dockerfile::{
    args::predefined_args, BuildArgs, GlobalScope, Instruction, Platform, Scope, StageRef,
};
use crate::dockerfile::{BaseRef, CommandLine, KeyValue};

fn platform() -> Platform {
    Platform {
        os: "linux".into(),
        arch: "arm64".into(),
        variant: "v8".into(),
    }
}

/// Expands every step of stage `index` of `text` in order, returning the expanded steps.
fn run_stage(
    text: &str,
    build_args: &[&str],
    index: usize,
    image_env: &[&str],
) -> Vec<Instruction> {
    let d = df(text);
    let ba = BuildArgs::parse(build_args);
    let global = GlobalScope::new(&d, &ba, &platform(), &platform()).unwrap();
    let mut scope = Scope::new(&global, &ba, image_env);
    let mut out = Vec::new();
    for step in &d.stages[index].steps {
        let x = scope.expand(step).unwrap();
        scope.apply(&x);
        out.push(x);
    }
    out
}

fn env(pairs: &[(&str, &str)]) -> Instruction {
    Instruction::Env(
        pairs
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect(),
    )
}

#[test]
fn global_args_reach_from_lines_only() {
    let text = "ARG IMG=busybox\nARG TAG\nFROM ${IMG}:${TAG:-latest} AS one\nENV X=$IMG\nARG IMG\nENV Y=$IMG\n";
    let d = df(text);
    let none = BuildArgs::default();
    let global = GlobalScope::new(&d, &none, &platform(), &platform()).unwrap();
    assert_eq!(
        d.base(0, &global).unwrap(),
        BaseRef::Image("busybox:latest".into())
    );
    let with = BuildArgs::parse(&["TAG=1.36"]);
    let global = GlobalScope::new(&d, &with, &platform(), &platform()).unwrap();
    assert_eq!(
        d.base(0, &global).unwrap(),
        BaseRef::Image("busybox:1.36".into())
    );
    let s = run_stage(text, &[], 0, &[]);
    assert_eq!(
        s[0],
        env(&[("X", "")]),
        "a global ARG is not visible in the stage"
    );
    assert_eq!(
        s[2],
        env(&[("Y", "busybox")]),
        "redeclared, it takes the global value"
    );
}

#[test]
fn env_wins_over_arg_and_build_args_over_defaults() {
    let text = "FROM a\nENV V=env\nARG V=arg\nARG W=default\nRUN true\nENV R=$V-$W\n";
    let s = run_stage(text, &["W=given"], 0, &[]);
    assert_eq!(s[4], env(&[("R", "env-given")]));
}

#[test]
fn one_value_per_instruction() {
    let text = "FROM a\nENV A=1\nENV A=2 B=$A\nARG C=x D=$C\nENV E=$D\n";
    let s = run_stage(text, &[], 0, &[]);
    assert_eq!(s[1], env(&[("A", "2"), ("B", "1")]));
    assert_eq!(s[3], env(&[("E", "")]));
}

#[test]
fn image_env_and_quotes() {
    let text = "FROM a\nENV PATH=/x:$PATH MSG=\"a b\" SQ='$PATH'\nLABEL \"k ${N}\"=\"v\\\"q\"\n";
    let s = run_stage(text, &[], 0, &["PATH=/bin", "N=1"]);
    assert_eq!(
        s[0],
        env(&[("PATH", "/x:/bin"), ("MSG", "a b"), ("SQ", "$PATH")])
    );
    assert_eq!(
        s[1],
        Instruction::Label(vec![KeyValue {
            key: "k 1".into(),
            value: "v\"q".into()
        }])
    );
}

#[test]
fn expanded_and_unexpanded_fields() {
    let text = "FROM a\nARG D=/dst U=app P=80 N\nCOPY --chown=$U:$U --chmod=6${N:-44} src/$U $D/\n\
WORKDIR $D\nUSER $U\nEXPOSE $P ${P}/udp\nVOLUME $D/v\nSTOPSIGNAL SIG$U\n\
RUN echo $U\nCMD echo $U\nRUN --mount=type=cache,target=$D/cache,id=$U true\n\
COPY <<EOF <<'RAW' $D\n$U \"q\"\nEOF\n$U\nRAW\n";
    let s = run_stage(text, &[], 0, &[]);
    let Instruction::Copy(c) = &s[1] else {
        panic!()
    };
    assert_eq!(
        (
            c.chown.as_deref(),
            c.chmod.as_deref(),
            c.sources.clone(),
            c.dest.as_str()
        ),
        (
            Some("app:app"),
            Some("644"),
            vec!["src/app".to_string()],
            "/dst/"
        )
    );
    assert_eq!(s[2], Instruction::Workdir("/dst".into()));
    assert_eq!(s[3], Instruction::User("app".into()));
    assert_eq!(
        s[4],
        Instruction::Expose(vec!["80".into(), "80/udp".into()])
    );
    assert_eq!(s[5], Instruction::Volume(vec!["/dst/v".into()]));
    assert_eq!(s[6], Instruction::Stopsignal("SIGapp".into()));
    let Instruction::Run(r) = &s[7] else { panic!() };
    assert_eq!(
        r.cmd,
        CommandLine::Shell("echo $U".into()),
        "RUN is left to the shell"
    );
    assert_eq!(s[8], Instruction::Cmd(CommandLine::Shell("echo $U".into())));
    let Instruction::Run(r) = &s[9] else { panic!() };
    assert_eq!(
        (r.mounts[0].target.as_str(), r.mounts[0].id.as_deref()),
        ("/dst/cache", Some("app"))
    );
    let Instruction::Copy(c) = &s[10] else {
        panic!()
    };
    assert_eq!(c.heredocs[0].content, "app \"q\"\n");
    assert_eq!(c.heredocs[1].content, "$U\n");
}

#[test]
fn predefined_args_and_proxies() {
    let v = predefined_args(&platform(), &platform());
    use crate::dockerfile::expand::Vars;
    assert_eq!(v.var("TARGETPLATFORM"), Some("linux/arm64/v8"));
    assert_eq!(v.var("BUILDARCH"), Some("arm64"));
    assert_eq!(v.var("TARGETVARIANT"), Some("v8"));
    let text = "FROM --platform=$BUILDPLATFORM a\nENV A=$TARGETARCH\nARG TARGETARCH\nENV B=$TARGETARCH C=$HTTP_PROXY\n";
    let s = run_stage(text, &["HTTP_PROXY=http://p:3128"], 0, &[]);
    assert_eq!(s[0], env(&[("A", "")]));
    assert_eq!(s[2], env(&[("B", "arm64"), ("C", "http://p:3128")]));
    let d = df(text);
    let ba = BuildArgs::default();
    let g = GlobalScope::new(&d, &ba, &platform(), &platform()).unwrap();
    assert_eq!(
        g.expand_platform(&d.stages[0]).unwrap().as_deref(),
        Some("linux/arm64/v8")
    );
}

#[test]
fn stages_targets_and_dependencies() {
    let text = "FROM a AS base\nFROM b AS unused\nFROM base AS build\nRUN --mount=from=tools,target=/t true\n\
FROM c AS tools\nFROM scratch\nCOPY --from=build /x /x\nCOPY --from=0 /y /y\nCOPY --from=alpine /z /z\n";
    let d = df(text);
    let ba = BuildArgs::default();
    let g = GlobalScope::new(&d, &ba, &platform(), &platform()).unwrap();
    assert_eq!(d.target(None).unwrap(), 4);
    assert_eq!(d.target(Some("BUILD")).unwrap(), 2);
    assert_eq!(d.base(2, &g).unwrap(), BaseRef::Stage(0));
    assert_eq!(d.base(4, &g).unwrap(), BaseRef::Scratch);
    let Instruction::Copy(c) = &d.stages[4].steps[2].instruction else {
        panic!()
    };
    assert_eq!(c.from, Some(StageRef::Image("alpine".into())));
    assert_eq!(d.stages_for(4, &g).unwrap(), vec![0, 3, 2, 4]);
    assert_eq!(d.check(&g, &ba, None).unwrap(), vec![0, 3, 2, 4]);
    let cyclic = df("FROM a AS x\nCOPY --from=y / /\nFROM b AS y\nCOPY --from=x / /\n");
    let g = GlobalScope::new(&cyclic, &ba, &platform(), &platform()).unwrap();
    assert!(cyclic.stages_for(1, &g).is_err());
}
