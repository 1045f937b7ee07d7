//! Errors name the file and the line; unknown names get suggestions; empty, comment-only
//! and FROM-less Dockerfiles are refused.

use super::df_err;
use crate::dockerfile::{parse, ErrorKind};

#[test]
fn unknown_instruction_with_line_and_suggestion() {
    let e = df_err("FROM busybox\n\n# c\nRUN a \\\n  b\n\n\nRUNN echo\n");
    assert_eq!(e.line, Some(8));
    assert!(
        matches!(&*e.kind, ErrorKind::UnknownInstruction { name, suggestion: Some(s) } if name == "RUNN" && s == "RUN")
    );
    assert_eq!(
        e.to_string(),
        "Dockerfile:8: unknown instruction: RUNN (did you mean RUN?)"
    );
    let e = df_err("FROM busybox\ncopyy a b\n");
    assert!(
        matches!(&*e.kind, ErrorKind::UnknownInstruction { suggestion: Some(s), .. } if s == "copy")
    );
    let e = df_err("FROM busybox\nFOOBAR a b\n");
    assert!(matches!(
        &*e.kind,
        ErrorKind::UnknownInstruction {
            suggestion: None,
            ..
        }
    ));
}

#[test]
fn empty_comment_only_and_fromless_files_are_refused() {
    for text in ["", "\n\n   \n", "# just\n# comments\n", "# escape=`\n\n"] {
        let e = parse(text, "Dockerfile").unwrap_err();
        assert!(
            matches!(*e.kind, ErrorKind::NoInstructions),
            "{text:?}: {e}"
        );
        assert_eq!(e.line, None);
    }
    let e = df_err("# c\nRUN true\nFROM x\n");
    assert!(matches!(*e.kind, ErrorKind::NoStage));
    assert_eq!(e.line, Some(2));
    let e = df_err("ARG A\nARG B=1\n");
    assert!(matches!(*e.kind, ErrorKind::NoStages));
}

#[test]
fn flag_errors() {
    let e = df_err("FROM a\n\nCOPY --chmode=7 a b\n");
    assert_eq!(e.line, Some(3));
    assert!(
        matches!(&*e.kind, ErrorKind::UnknownFlag { flag, suggestion: Some(s) } if flag == "chmode" && s == "--chmod")
    );
    let e = df_err("FROM a\nCOPY --from=a --from=b x y\n");
    assert!(matches!(&*e.kind, ErrorKind::DuplicateFlag(f) if f == "from"));
    let e = df_err("FROM a\nCOPY --link=maybe x y\n");
    assert!(matches!(*e.kind, ErrorKind::FlagNotBool { .. }));
    let e = df_err("FROM a\nCOPY --chown x y\n");
    assert!(matches!(*e.kind, ErrorKind::FlagNeedsValue(_)));
    let e = df_err("FROM a\nENV --x=1 A=b\n");
    assert!(matches!(*e.kind, ErrorKind::UnknownFlag { .. }));
    let e = df_err("FROM a\nRUN --network=bridge true\n");
    assert!(matches!(*e.kind, ErrorKind::Network(_)));
}

/// A test of an error's kind.
type Check = fn(&ErrorKind) -> bool;

#[test]
fn argument_errors() {
    let cases: &[(&str, Check)] = &[
        ("FROM a b\n", |k| matches!(k, ErrorKind::FromArguments)),
        ("FROM a AS 1x\n", |k| {
            matches!(k, ErrorKind::InvalidStageName(_))
        }),
        ("FROM a AS x\nFROM b AS X\n", |k| {
            matches!(k, ErrorKind::DuplicateStageName(_))
        }),
        ("FROM a\nCOPY x\n", |k| {
            matches!(k, ErrorKind::NoDestination("COPY"))
        }),
        ("FROM a\nENV A\n", |k| {
            matches!(k, ErrorKind::NeedsTwoArguments("ENV"))
        }),
        ("FROM a\nENV A=1 B\n", |k| {
            matches!(k, ErrorKind::MissingEquals(_))
        }),
        ("FROM a\nSHELL /bin/sh -c\n", |k| {
            matches!(k, ErrorKind::ShellNotJson)
        }),
        ("FROM a\nCMD [\"a\", 1]\n", |k| {
            matches!(k, ErrorKind::NotStringArray)
        }),
        ("FROM a\nONBUILD ONBUILD RUN x\n", |k| {
            matches!(k, ErrorKind::OnbuildChain)
        }),
        ("FROM a\nONBUILD FROM x\n", |k| {
            matches!(k, ErrorKind::OnbuildTrigger(_))
        }),
        ("FROM a\nHEALTHCHECK CONNECT x\n", |k| {
            matches!(k, ErrorKind::HealthcheckType(_))
        }),
        ("FROM a\nHEALTHCHECK CMD\n", |k| {
            matches!(k, ErrorKind::HealthcheckMissingCommand)
        }),
        ("FROM a\nHEALTHCHECK --interval=1us CMD x\n", |k| {
            matches!(k, ErrorKind::DurationTooShort(_))
        }),
        ("FROM a\nHEALTHCHECK --retries=-1 CMD x\n", |k| {
            matches!(k, ErrorKind::Retries(_))
        }),
        ("FROM a\nWORKDIR\n", |k| {
            matches!(k, ErrorKind::ExactlyOneArgument("WORKDIR"))
        }),
        ("FROM a\nEXPOSE\n", |k| {
            matches!(k, ErrorKind::AtLeastOneArgument("EXPOSE"))
        }),
        ("FROM a\nVOLUME [\"\"]\n", |k| {
            matches!(k, ErrorKind::EmptyVolume)
        }),
        ("FROM a\nCOPY --from=$X a b\n", |k| {
            matches!(k, ErrorKind::FromVariable)
        }),
        ("FROM a\nCOPY --from=3 a b\n", |k| {
            matches!(k, ErrorKind::StageIndex(3))
        }),
        ("FROM a\nCOPY <<EOF <<X\nx\nEOF\ny\nX\n", |k| {
            matches!(k, ErrorKind::HeredocDestination("COPY"))
        }),
        ("# escape=x\nFROM a\n", |k| {
            matches!(k, ErrorKind::InvalidEscape(_))
        }),
        ("# escape=`\n# escape=`\nFROM a\n", |k| {
            matches!(k, ErrorKind::DuplicateDirective(_))
        }),
        ("FROM a\nRUN <<EOF\nnever ends\n", |k| {
            matches!(k, ErrorKind::UnterminatedHeredoc)
        }),
    ];
    for (text, check) in cases {
        let e = df_err(text);
        assert!(check(&e.kind), "{text:?}: {e}");
        assert!(e.line.is_some(), "{text:?}: {e}");
    }
}

#[test]
fn lines_count_continuations_comments_and_heredocs() {
    let text = "FROM a\nRUN <<EOF\nx\nEOF\nRUN a \\\n# c\n\n  b\nRUNX\n";
    let e = df_err(text);
    assert_eq!(e.line, Some(9));
    let ast = parse(
        "FROM a\nRUN <<EOF\nx\nEOF\nRUN a \\\n# c\n\n  b\n",
        "Dockerfile",
    )
    .unwrap();
    let lines: Vec<(usize, usize)> = ast
        .nodes
        .iter()
        .map(|n| (n.start_line, n.end_line))
        .collect();
    assert_eq!(lines, vec![(1, 1), (2, 4), (5, 8)]);
    assert_eq!(
        ast.warnings.len(),
        1,
        "an empty continuation line is warned about"
    );
}

#[test]
fn line_ranges_and_empty_continuation_warnings() {
    let text = "# ESCAPE=\\\n\n\n\nFROM brimstone/ubuntu:14.04\n\n\n# TORUN -v /var/run/docker.sock:/var/run/docker.sock\n\n\nENV GOPATH \\\n/go\n\n\n\n# Install the packages we need, clean up after them and us\nRUN apt-get update \\\n\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.clean \\\n\n\n    && apt-get --no-install-recommends install -y git golang ca-certificates \\\n    && apt-get clean \\\n    && rm -rf /var/lib/apt/lists \\\n\n\t&& go get -v github.com/brimstone/consuldock \\\n    && mv $GOPATH/bin/consuldock /usr/local/bin/consuldock \\\n\n\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.dirty \\\n\t&& apt-get remove --purge -y $(diff /tmp/dpkg.clean /tmp/dpkg.dirty | awk '/^>/ {print $2}') \\\n\t&& rm /tmp/dpkg.* \\\n\t&& rm -rf $GOPATH\n\n\n\n\n";
    let ast = parse(text, "Dockerfile").unwrap();
    let lines: Vec<(usize, usize)> = ast
        .nodes
        .iter()
        .map(|n| (n.start_line, n.end_line))
        .collect();
    assert_eq!(lines, vec![(5, 5), (11, 12), (17, 31)]);
    let text = "\nFROM alpine:3.6\n\nRUN valid \\\n    continuation\n\nRUN something \\\n\n    following \\\n\n    more\n\n\
RUN another \\\n\n    thing\n\nRUN non-indented \\\n# this is a comment\n   after-comment\n\n\
RUN indented \\\n    # this is an indented comment\n    comment\n\t";
    let ast = parse(text, "Dockerfile").unwrap();
    let warned: Vec<&str> = ast.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        warned,
        vec![
            "Empty continuation line found in: RUN something     following     more",
            "Empty continuation line found in: RUN another     thing"
        ]
    );
}
