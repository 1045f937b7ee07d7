//! `strata build`'s front end through the real binary: `--print-ast` over BuildKit's parser
//! corpus (`../shared/conformance`), and the checks a build makes before any step runs.

use std::path::{Path, PathBuf};
use strata_tests::*;

/// The conformance corpus beside the repository; its absence fails the test.
fn corpus(sub: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance");
    assert!(
        root.is_dir(),
        "the conformance corpus is missing: expected {} (../shared/conformance beside the repository)",
        root.display()
    );
    root.join(sub)
}

/// The case directories of one part of the corpus, sorted.
fn cases(sub: &str) -> Vec<PathBuf> {
    let dir = corpus(sub);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no cases in {}", dir.display());
    v
}

#[test]
fn print_ast_matches_every_parser_case() {
    let env = Env::new();
    let all = cases("dockerfile-parser");
    let mut failed = Vec::new();
    for case in &all {
        let want = std::fs::read_to_string(case.join("result")).unwrap();
        let out = env
            .cmd(["build", "--print-ast", "-f"])
            .arg(case.join("Dockerfile"))
            .run();
        if out.code != 0 || out.stdout != want {
            failed.push(format!(
                "{}: exit {}\n--- got\n{}--- want\n{}--- stderr\n{}",
                case.display(),
                out.code,
                out.stdout,
                want,
                out.stderr
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} parser cases differ:\n{}",
        failed.len(),
        all.len(),
        failed.join("\n")
    );
}

#[test]
fn every_negative_case_is_rejected() {
    let env = Env::new();
    for case in cases("dockerfile-parser-negative") {
        let out = env
            .cmd(["build", "--print-ast", "-f"])
            .arg(case.join("Dockerfile"))
            .code(1);
        let line = out.single_error();
        assert!(
            line.starts_with("Error: Dockerfile"),
            "{}: {line}",
            case.display()
        );
        assert_eq!(out.stdout, "", "{}", case.display());
    }
}

#[test]
fn print_ast_reads_the_context_dockerfile_and_stdin() {
    let env = Env::new();
    env.write(
        "ctx/Dockerfile",
        b"from alpine AS base\nRUN --mount=type=cache,target=/c echo hi\n",
    );
    let out = env.cmd(["build", "--print-ast", "ctx"]).ok();
    assert_eq!(
        out.stdout,
        "(from \"alpine\" \"AS\" \"base\")\n(run [\"--mount=type=cache,target=/c\"] \"echo hi\")\n"
    );
    let out = env
        .cmd(["build", "--print-ast", "-f", "-", "."])
        .stdin("FROM scratch\nCOPY <<EOF /x\nhello\nEOF\n")
        .ok();
    assert_eq!(out.stdout, "(from \"scratch\")\n(copy \"<<EOF\" \"/x\")\n");
    let context = TarBuilder::new()
        .file("app.txt", b"x")
        .file("Dockerfile.dev", b"FROM busybox\nCMD [\"true\"]\n")
        .finish();
    let out = env
        .cmd(["build", "--print-ast", "-f", "Dockerfile.dev", "-"])
        .stdin(gzip(&context))
        .ok();
    assert_eq!(out.stdout, "(from \"busybox\")\n(cmd \"true\")\n");
}

/// Runs `strata build` (no `--print-ast`) on `text` and returns the error line.
fn build_error(env: &Env, text: &str, extra: &[&str]) -> String {
    env.write("ctx/Dockerfile", text.as_bytes());
    let out = env.cmd(["build"]).args(extra).arg("ctx").code(1);
    assert_eq!(out.stdout, "");
    out.single_error().to_string()
}

#[test]
fn errors_name_the_file_line_and_problem() {
    let env = Env::new();
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "FROM busybox\n\n# comment\nRUN true\n\n\nRUNN echo\n",
            &[],
            "Error: Dockerfile:7: unknown instruction: RUNN (did you mean RUN?)",
        ),
        ("", &[], "Error: Dockerfile: file with no instructions"),
        (
            "# only\n# comments\n\n",
            &[],
            "Error: Dockerfile: file with no instructions",
        ),
        (
            "RUN true\n",
            &[],
            "Error: Dockerfile:1: no build stage in current context",
        ),
        (
            "ARG A=1\n",
            &[],
            "Error: Dockerfile: dockerfile contains no stages to build",
        ),
        (
            "FROM busybox\nCOPY --chmode=644 a /b\n",
            &[],
            "Error: Dockerfile:2: unknown flag: --chmode (did you mean --chmod?)",
        ),
        (
            "FROM busybox\nRUN --mount=type=cahce,target=/x true\n",
            &[],
            "Error: Dockerfile:2: unsupported mount type \"cahce\" (did you mean cache?)",
        ),
        (
            "FROM busybox AS a\nFROM busybox AS build\n",
            &["--target", "buidl"],
            "Error: Dockerfile: target stage \"buidl\" could not be found (did you mean build?)",
        ),
        (
            "FROM ${IMG:?no-image}\n",
            &[],
            "Error: Dockerfile:1: failed to process \"${IMG:?no-image}\": IMG: no-image",
        ),
        (
            "FROM busybox\nENV A=${B\n",
            &[],
            "Error: Dockerfile:2: failed to process \"${B\": syntax error: missing '}'",
        ),
    ];
    for (text, extra, want) in cases {
        assert_eq!(build_error(&env, text, extra), *want, "{text:?}");
    }
}

#[test]
fn a_valid_dockerfile_is_checked_then_built() {
    let env = Env::new();
    let text = "ARG IMG=busybox\nFROM ${IMG} AS base\nENV A=1\nFROM base\nCOPY --from=base /a /b\n";
    env.write("ctx/Dockerfile", text.as_bytes());
    let out = env
        .cmd(["build", "--build-arg", "IMG=scratch", "-t", "x:1", "ctx"])
        .code(1);
    let line = out.single_error();
    assert!(line.contains("COPY failed: file not found"), "{line}");
    assert!(!env.repo_tags().contains(&"x:1".to_string()));
}
