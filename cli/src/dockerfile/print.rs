//! The parse as S-expressions, one line per instruction, exactly as BuildKit's parser tests
//! write them: `(copy ["--from=a"] "src" "dst")`, `(env "k" "v" "=")`,
//! `(onbuild (run "echo" "x"))`.

use super::ast::{Args, Ast, Node};
use std::fmt::Write as _;

/// Whether Go's `strconv.IsPrint` holds for `c` (letters, marks, numbers, punctuation,
/// symbols and the ASCII space).
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F
        | 0x2028..=0x202E | 0x2060..=0x206F | 0xD800..=0xDFFF | 0xE000..=0xF8FF
        | 0xFEFF | 0xFFF9..=0xFFFB | 0xFFFE | 0xFFFF | 0xF0000..=0x10FFFF)
}

/// `s` as Go's `strconv.Quote` writes it: in double quotes, with `\"`, `\\`, `\n`, `\t`,
/// `\x00`, `\u2028` escapes, and printable non-ASCII characters kept as they are.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_go_printable(c) => out.push(c),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// One instruction as an S-expression (without the outer parentheses' line break).
pub fn node_sexp(node: &Node) -> String {
    let mut out = node.keyword();
    if !node.flags.is_empty() {
        let flags: Vec<String> = node.flags.iter().map(|f| go_quote(f)).collect();
        let _ = write!(out, " [{}]", flags.join(" "));
    }
    match &node.args {
        Args::Words(words) => {
            for w in words {
                out.push(' ');
                out.push_str(&go_quote(w));
            }
        }
        Args::Pairs(pairs) => {
            for p in pairs {
                let sep = if p.equals { "=" } else { "" };
                let _ = write!(
                    out,
                    " {} {} {}",
                    go_quote(&p.key),
                    go_quote(&p.value),
                    go_quote(sep)
                );
            }
        }
        Args::Trigger(child) => {
            let _ = write!(out, " {}", node_sexp(child));
        }
    }
    format!("({out})")
}

/// The whole parse, one line per instruction, each line ending in a newline.
pub fn ast_sexp(ast: &Ast) -> String {
    ast.nodes.iter().map(|n| node_sexp(n) + "\n").collect()
}
