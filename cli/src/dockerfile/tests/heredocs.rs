//! Heredocs as BuildKit's parser reads them.

use super::steps;
use crate::dockerfile::{parse, CommandLine, Heredoc, Instruction};

fn doc(name: &str, content: &str, expand: bool, chomp: bool, fd: u32) -> Heredoc {
    Heredoc {
        name: name.into(),
        fd,
        expand,
        chomp,
        content: content.into(),
    }
}

#[test]
fn heredoc_forms() {
    let text = "FROM alpine\n\
RUN <<EMPTY\nEMPTY\n\
RUN 3<<EMPTY2\nEMPTY2\n\
RUN \"<<NOHEREDOC\"\n\
RUN <<-UNINDENT\n\tbaz\n\tquux\n\tUNINDENT\n\
RUN <<-'NOEXPAND'\n\tdon't expand $NAME\nNOEXPAND\n\
COPY <<FILE1 <<FILE2 /dest\ncontent 1\nFILE1\ncontent 2\nFILE2\n\
COPY <<X <<Y /dest\nY\nX\nX\nY\n\
RUN <<eo'f'\necho foo\neof\n\
RUN <<eo\\'f\necho foo\neo'f\n\
RUN <<'one two'\necho bar\none two\n\
RUN <<  EOF  > foo\nEOF\n\
RUN [\"<<EOF\"]\n";
    let ast = parse(text, "Dockerfile").unwrap();
    let got: Vec<Vec<Heredoc>> = ast.nodes[1..].iter().map(|n| n.heredocs.clone()).collect();
    let want = vec![
        vec![doc("EMPTY", "", true, false, 0)],
        vec![doc("EMPTY2", "", true, false, 3)],
        vec![],
        vec![doc("UNINDENT", "\tbaz\n\tquux\n", true, true, 0)],
        vec![doc("NOEXPAND", "\tdon't expand $NAME\n", false, true, 0)],
        vec![
            doc("FILE1", "content 1\n", true, false, 0),
            doc("FILE2", "content 2\n", true, false, 0),
        ],
        vec![
            doc("X", "Y\n", true, false, 0),
            doc("Y", "X\n", true, false, 0),
        ],
        vec![doc("eof", "echo foo\n", false, false, 0)],
        vec![doc("eo'f", "echo foo\n", true, false, 0)],
        vec![doc("one two", "echo bar\n", false, false, 0)],
        vec![doc("EOF", "", true, false, 0)],
        vec![],
    ];
    assert_eq!(got, want);
    assert_eq!(got[3][0].body(), "baz\nquux\n");
}

#[test]
fn heredocs_reach_typed_instructions() {
    let s = steps("FROM a\nRUN <<EOF\necho $A\nEOF\nCOPY --chmod=755 <<run.sh a.txt /app/\n#!/bin/sh\nrun.sh\n");
    let Instruction::Run(run) = &s[0] else {
        panic!("{s:?}")
    };
    assert_eq!(run.cmd, CommandLine::Shell("<<EOF".into()));
    assert_eq!(run.heredocs[0].content, "echo $A\n");
    let Instruction::Copy(copy) = &s[1] else {
        panic!("{s:?}")
    };
    assert_eq!(copy.sources, vec!["a.txt"]);
    assert_eq!(copy.heredocs[0].name, "run.sh");
    assert_eq!(copy.heredocs[0].content, "#!/bin/sh\n");
    assert_eq!(copy.dest, "/app/");
    assert_eq!(copy.chmod.as_deref(), Some("755"));
}

#[test]
fn onbuild_keeps_heredocs_in_its_expression() {
    let s = steps("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\n");
    assert_eq!(s[0], Instruction::Onbuild("RUN <<EOF\necho hi\nEOF".into()));
}
