//! Every vector of `shell/envVarTest` and `shell/wordsTest` from the conformance corpus.

use crate::dockerfile::expand::{Lexer, VarList};
use std::path::{Path, PathBuf};

/// A file of the shell corpus; its absence fails the test.
fn corpus_file(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance");
    assert!(
        root.is_dir(),
        "the conformance corpus is missing: expected {} (../shared/conformance beside the repository)",
        root.display()
    );
    root.join("shell").join(name)
}

#[test]
fn env_var_vectors() {
    let text = std::fs::read_to_string(corpus_file("envVarTest")).unwrap();
    let mut vars = VarList::new();
    for (k, v) in [
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
    ] {
        vars.set(k, v);
    }
    let lexer = Lexer::new('\\');
    let mut checked = 0;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split('|').collect();
        assert_eq!(parts.len(), 3, "line {}: {line:?}", n + 1);
        let (platform, input, want) = (parts[0].trim(), parts[1].trim(), parts[2].trim());
        assert!(
            matches!(platform, "A" | "U" | "W"),
            "line {}: {platform}",
            n + 1
        );
        if platform == "W" {
            continue;
        }
        let got = lexer.process_word(input, &vars);
        if want == "error" {
            assert!(got.is_err(), "line {}: {input:?} gave {got:?}", n + 1);
        } else {
            assert_eq!(got.as_deref(), Ok(want), "line {}: {input:?}", n + 1);
        }
        checked += 1;
    }
    assert!(checked > 200, "only {checked} vectors");
}

#[test]
fn words_vectors() {
    let text = std::fs::read_to_string(corpus_file("wordsTest")).unwrap();
    let mut vars = VarList::new();
    let lexer = Lexer::new('\\');
    let mut checked = 0;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(env) = line.strip_prefix("ENV ") {
            let env = env.trim_start_matches(' ');
            let (k, v) = env.split_once('=').unwrap_or((env, ""));
            vars.set(k, v);
            continue;
        }
        let parts: Vec<&str> = line.split('|').collect();
        assert_eq!(parts.len(), 2, "line {}: {line:?}", n + 1);
        let input = parts[0].trim();
        let want: Vec<&str> = parts[1].trim_start_matches(' ').split(',').collect();
        let got = match lexer.process_words(input, &vars) {
            Ok(w) => w,
            Err(_) => vec!["error".to_string()],
        };
        assert_eq!(got, want, "line {}: {input:?}", n + 1);
        checked += 1;
    }
    assert!(checked > 20, "only {checked} vectors");
}

#[test]
fn pattern_modifiers_and_skip_unset() {
    let mut vars = VarList::new();
    vars.set("F", "archive.tar.gz");
    let lexer = Lexer::new('\\');
    let w = |s: &str| lexer.process_word(s, &vars).unwrap();
    assert_eq!(w("${F%.*}"), "archive.tar");
    assert_eq!(w("${F%%.*}"), "archive");
    assert_eq!(w("${F#*.}"), "tar.gz");
    assert_eq!(w("${F##*.}"), "gz");
    assert_eq!(w("${F/a/A}"), "Archive.tar.gz");
    assert_eq!(w("${F//a/A}"), "Archive.tAr.gz");
    assert!(lexer.process_word("${F:#x}", &vars).is_err());
    let keep = Lexer {
        skip_unset: true,
        ..Lexer::new('\\')
    };
    assert_eq!(
        keep.process_word("$X ${Y} ${Z:-d} $F", &vars).unwrap(),
        "$X ${Y} ${Z:-d} archive.tar.gz"
    );
    let tick = Lexer::new('`');
    assert_eq!(tick.process_word("a`$F\\b", &vars).unwrap(), "a$F\\b");
}

/// Found while writing the `dockerfile` fuzz target: deeply nested substitutions overflowed the
/// stack (an abort); past `MAX_NESTING` they are a syntax error.
#[test]
fn nesting_is_bounded() {
    use crate::dockerfile::expand::MAX_NESTING;
    use crate::dockerfile::ExpandErrorKind;
    let vars = VarList::new();
    let lexer = Lexer::new('\\');
    let nested = |n: usize| format!("{}x{}", "${a:-".repeat(n), "}".repeat(n));
    assert_eq!(
        lexer.process_word(&nested(MAX_NESTING - 1), &vars).unwrap(),
        "x"
    );
    for deep in [
        nested(MAX_NESTING),
        nested(50_000),
        "${a:-\"".repeat(50_000),
    ] {
        let e = lexer.process_word(&deep, &vars).unwrap_err();
        assert_eq!(e.kind, ExpandErrorKind::TooDeep, "{e}");
    }
}
