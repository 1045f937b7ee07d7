//! The template parser: the text and its actions (`{{…}}`) into nodes, with Go's
//! lexing of fields, variables, strings and numbers.

use super::funcs::FUNCS;
use super::{Arg, Cmd, LexedAction, Node, NodesAndTerm, Pipe, TemplateError, Term, Tok};
use serde_json::{Number, Value};
use std::fmt;

/// The deepest nesting of `{{if}}`/`{{range}}`/`{{with}}` blocks (an `{{else if}}`
/// counts as one more) and of parentheses. Go allows 10000 ("max expression depth
/// exceeded"); parsing and executing recurse once a level, and 100 is far beyond any
/// `--format` while well inside a thread's stack.
pub(super) const MAX_DEPTH: usize = 100;

/// A template being parsed: the source, how far the parser has got and how deep in
/// blocks it is.
pub(super) struct Parser<'a> {
    pub(super) src: &'a str,
    pub(super) pos: usize,
    pub(super) depth: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, pos: usize, what: impl fmt::Display) -> TemplateError {
        TemplateError::parse(self.src, pos, what)
    }

    /// Parse nodes until `{{end}}`, `{{else}}` or the end of the input.
    pub(super) fn parse_nodes(&mut self) -> Result<NodesAndTerm, TemplateError> {
        let mut nodes = Vec::new();
        let mut trim_next = false;
        loop {
            let rest = &self.src[self.pos..];
            let open = rest.find("{{");
            let mut text = match open {
                Some(i) => &rest[..i],
                None => rest,
            };
            if trim_next {
                text = text.trim_start_matches([' ', '\t', '\r', '\n']);
            }
            let Some(i) = open else {
                if !text.is_empty() {
                    nodes.push(Node::Text(text.to_string()));
                }
                self.pos = self.src.len();
                return Ok((nodes, None));
            };
            let action_start = self.pos + i;
            let mut inner = action_start + 2;
            let after = &self.src[inner..];
            if after.starts_with('-') && after[1..].starts_with([' ', '\t', '\r', '\n']) {
                text = text.trim_end_matches([' ', '\t', '\r', '\n']);
                inner += 2;
            }
            if !text.is_empty() {
                nodes.push(Node::Text(text.to_string()));
            }
            self.pos = inner;
            // comment
            let trimmed_start = self.src[self.pos..].trim_start();
            if trimmed_start.starts_with("/*") {
                let cstart = self.src.len() - trimmed_start.len();
                let Some(end) = self.src[cstart..].find("*/") else {
                    return Err(self.err(action_start, "unclosed comment"));
                };
                self.pos = cstart + end + 2;
                let rest = &self.src[self.pos..];
                let ws = rest.len() - rest.trim_start().len();
                let rest2 = rest.trim_start();
                if rest2.starts_with("-}}") && ws > 0 {
                    self.pos += ws + 3;
                    trim_next = true;
                } else if rest.starts_with("}}") {
                    self.pos += 2;
                    trim_next = false;
                } else {
                    return Err(self.err(action_start, "comment ends before closing delimiter"));
                }
                continue;
            }
            let (toks, trim, close) = self.lex_action(action_start)?;
            trim_next = trim;
            if toks.is_empty() {
                return Err(self.err(action_start, "missing value for command"));
            }
            match &toks[0].0 {
                Tok::Ident(k) if k == "end" => {
                    if toks.len() > 1 {
                        return Err(self.err(toks[1].1, "unexpected token in end"));
                    }
                    return Ok((nodes, Some((Term::End, action_start))));
                }
                Tok::Ident(k) if k == "else" => {
                    if toks.len() > 1 {
                        if toks[1].0 == Tok::Ident("if".into()) {
                            let pipe = self.parse_pipe(&toks[2..], action_start, true, close)?;
                            return Ok((nodes, Some((Term::ElseIf(pipe), action_start))));
                        }
                        return Err(self.err(toks[1].1, "unexpected token in else"));
                    }
                    return Ok((nodes, Some((Term::Else, action_start))));
                }
                Tok::Ident(k) if k == "if" || k == "range" || k == "with" => {
                    let kind = k.clone();
                    let pipe = self.parse_pipe(&toks[1..], action_start, kind == "range", close)?;
                    let (body, else_body) = self.parse_branches(&kind, action_start)?;
                    nodes.push(match kind.as_str() {
                        "if" => Node::If(pipe, body, else_body),
                        "range" => Node::Range(pipe, body, else_body),
                        _ => Node::With(pipe, body, else_body),
                    });
                }
                Tok::Ident(k)
                    if matches!(
                        k.as_str(),
                        "define" | "template" | "block" | "break" | "continue"
                    ) =>
                {
                    return Err(self.err(action_start, format!("{{{{{k}}}}} is not supported")));
                }
                _ => {
                    let pipe = self.parse_pipe(&toks, action_start, true, close)?;
                    nodes.push(Node::Action(pipe));
                }
            }
        }
    }

    fn parse_branches(
        &mut self,
        kind: &str,
        start: usize,
    ) -> Result<(Vec<Node>, Vec<Node>), TemplateError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(start, "max expression depth exceeded"));
        }
        self.depth += 1;
        let branches = self.parse_branches_inner(kind, start);
        self.depth -= 1;
        branches
    }

    fn parse_branches_inner(
        &mut self,
        kind: &str,
        start: usize,
    ) -> Result<(Vec<Node>, Vec<Node>), TemplateError> {
        let (body, term) = self.parse_nodes()?;
        match term {
            Some((Term::End, _)) => Ok((body, Vec::new())),
            Some((Term::Else, pos)) => {
                let (else_body, t2) = self.parse_nodes()?;
                match t2 {
                    Some((Term::End, _)) => Ok((body, else_body)),
                    Some((_, p2)) => Err(self.err(p2, "expected end; found {{else}}")),
                    None => Err(self.err(pos, format!("unexpected EOF in {kind}"))),
                }
            }
            Some((Term::ElseIf(pipe), pos)) => {
                if kind != "if" {
                    return Err(self.err(pos, "else if is only allowed after if"));
                }
                let (b2, e2) = self.parse_branches(kind, pos)?;
                Ok((body, vec![Node::If(pipe, b2, e2)]))
            }
            None => Err(self.err(start, format!("unexpected EOF in {kind}"))),
        }
    }

    /// Lex one action's tokens; `self.pos` is just inside `{{`. Returns the
    /// tokens with their positions and whether a ` -}}` trim marker closed it.
    fn lex_action(&mut self, start: usize) -> Result<LexedAction, TemplateError> {
        let src = self.src;
        let bytes = src.as_bytes();
        let mut toks = Vec::new();
        let mut i = self.pos;
        loop {
            let ws_start = i;
            while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n') {
                i += 1;
            }
            if i >= bytes.len() {
                return Err(self.err(start, "unclosed action"));
            }
            let rest = &src[i..];
            if rest.starts_with("-}}") && i > ws_start {
                self.pos = i + 3;
                return Ok((toks, true, i));
            }
            if rest.starts_with("}}") {
                self.pos = i + 2;
                return Ok((toks, false, i));
            }
            let (tok, len) = self.lex_token(i)?;
            toks.push((tok, i));
            i += len;
        }
    }

    /// Lex the token at byte `i` of the source: the token and its length.
    fn lex_token(&self, i: usize) -> Result<(Tok, usize), TemplateError> {
        let rest = &self.src[i..];
        let bytes = rest.as_bytes();
        let tok = match bytes[0] {
            b'|' => (Tok::Pipe, 1),
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b',' => (Tok::Comma, 1),
            b':' if rest.starts_with(":=") => (Tok::Declare, 2),
            b'=' => (Tok::Assign, 1),
            b'"' => {
                let (s, len) =
                    lex_quoted(rest).ok_or_else(|| self.err(i, "unterminated quoted string"))?;
                (Tok::Lit(Value::String(s)), len)
            }
            b'`' => {
                let Some(end) = rest[1..].find('`') else {
                    return Err(self.err(i, "unterminated raw quoted string"));
                };
                (
                    Tok::Lit(Value::String(rest[1..end + 1].to_string())),
                    end + 2,
                )
            }
            b'.' if rest.len() > 1 && is_ident_start(bytes[1]) => {
                let (chain, len) = lex_chain(rest);
                (Tok::Field(chain), len)
            }
            b'.' => (Tok::Dot, 1),
            b'$' => lex_var(rest),
            b'0'..=b'9' | b'-' | b'+' => {
                let (v, len) = lex_number(rest)
                    .map_err(|text| self.err(i, format!("bad number syntax: {text:?}")))?;
                (Tok::Lit(v), len)
            }
            c if is_ident_start(c) => {
                let len = rest.bytes().take_while(|&b| is_ident_char(b)).count();
                let tok = match &rest[..len] {
                    "true" => Tok::Lit(Value::Bool(true)),
                    "false" => Tok::Lit(Value::Bool(false)),
                    "nil" => Tok::Lit(Value::Null),
                    word => Tok::Ident(word.to_string()),
                };
                (tok, len)
            }
            _ => {
                let ch = rest.chars().next().unwrap_or('?');
                return Err(self.err(i, format!("unexpected {ch:?} in command")));
            }
        };
        Ok(tok)
    }

    /// Parse a pipeline from tokens; `allow_decl` permits `$x :=` / `$i, $e :=`.
    fn parse_pipe(
        &self,
        toks: &[(Tok, usize)],
        start: usize,
        allow_decl: bool,
        end: usize,
    ) -> Result<Pipe, TemplateError> {
        let mut rest = toks;
        let mut decl = Vec::new();
        // declarations: $x := …  or  $i, $e := …
        if allow_decl {
            let mut k = 0;
            let mut names = Vec::new();
            while let Some((Tok::Var(name, chain), _)) = rest.get(k) {
                if !chain.is_empty() {
                    break;
                }
                names.push(name.clone());
                k += 1;
                match rest.get(k) {
                    Some((Tok::Comma, _)) => k += 1,
                    Some((Tok::Declare, _)) | Some((Tok::Assign, _)) => {
                        decl = names.clone();
                        rest = &rest[k + 1..];
                        break;
                    }
                    _ => break,
                }
            }
        }
        if rest.is_empty() {
            return Err(self.err(start, "missing value for command"));
        }
        let mut cmds = Vec::new();
        let mut idx = 0;
        loop {
            let (cmd, next) = self.parse_cmd(rest, idx, end)?;
            cmds.push(cmd);
            idx = next;
            if idx >= rest.len() {
                break;
            }
            match &rest[idx].0 {
                Tok::Pipe => {
                    idx += 1;
                    if idx >= rest.len() {
                        return Err(self.err(rest[idx - 1].1, "missing command after |"));
                    }
                }
                Tok::RParen => return Err(self.err(rest[idx].1, "unexpected right paren")),
                _ => return Err(self.err(rest[idx].1, "unexpected token in pipeline")),
            }
        }
        for c in cmds.iter().skip(1) {
            if let Some(Arg::Lit(_)) = c.args.first() {
                return Err(self.err(c.pos, "non executable command in pipeline stage 2"));
            }
        }
        Ok(Pipe { decl, cmds })
    }

    /// Parse one command (operands until `|`, `)` or the end); returns the
    /// index just after it.
    fn parse_cmd(
        &self,
        toks: &[(Tok, usize)],
        mut idx: usize,
        end: usize,
    ) -> Result<(Cmd, usize), TemplateError> {
        let pos = toks[idx].1;
        let mut args = Vec::new();
        while idx < toks.len() {
            let (tok, tpos) = &toks[idx];
            let arg = match tok {
                Tok::Pipe | Tok::RParen => break,
                Tok::Dot => Arg::Dot,
                Tok::Field(chain) => Arg::Field {
                    chain: chain.clone(),
                    pos: *tpos,
                    text: format!(".{}", chain.join(".")),
                },
                Tok::Var(name, chain) => {
                    let mut text = name.clone();
                    for c in chain {
                        text.push('.');
                        text.push_str(c);
                    }
                    Arg::Var {
                        name: name.clone(),
                        chain: chain.clone(),
                        pos: *tpos,
                        text,
                    }
                }
                Tok::Ident(name) => {
                    if !FUNCS.contains(&name.as_str()) {
                        return Err(self.err(*tpos, format!("function {name:?} not defined")));
                    }
                    Arg::Func(name.clone())
                }
                Tok::Lit(v) => Arg::Lit(v.clone()),
                Tok::LParen => {
                    // find the matching paren
                    let mut depth = 0;
                    let mut j = idx;
                    loop {
                        match toks.get(j) {
                            Some((Tok::LParen, _)) if depth >= MAX_DEPTH => {
                                return Err(self.err(*tpos, "max expression depth exceeded"));
                            }
                            Some((Tok::LParen, _)) => depth += 1,
                            Some((Tok::RParen, _)) => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            Some(_) => {}
                            None => return Err(self.err(*tpos, "unclosed left paren")),
                        }
                        j += 1;
                    }
                    let close = toks[j].1;
                    let inner = self.parse_pipe(&toks[idx + 1..j], *tpos, false, close)?;
                    idx = j;
                    Arg::Sub(inner)
                }
                Tok::Comma | Tok::Declare | Tok::Assign => {
                    return Err(self.err(*tpos, "unexpected token in operand"));
                }
            };
            if let (false, Arg::Func(n)) = (args.is_empty(), &arg) {
                return Err(self.err(*tpos, format!("function {n:?} used as an operand")));
            }
            args.push(arg);
            idx += 1;
        }
        let end_pos = toks.get(idx).map(|t| t.1).unwrap_or(end);
        if args.is_empty() {
            return Err(self.err(pos, "missing value for command"));
        }
        let text = self.src[pos..end_pos.max(pos)]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Ok((Cmd { args, pos, text }, idx))
    }
}

/// A variable with its field chain (`$`, `$x`, `$x.A.B`) at the start of `s`, and
/// its length.
fn lex_var(s: &str) -> (Tok, usize) {
    let bytes = s.as_bytes();
    let mut j = 1;
    while j < s.len() && is_ident_char(bytes[j]) {
        j += 1;
    }
    let name = s[..j].to_string();
    let (chain, len) = if s[j..].starts_with('.') && s.len() > j + 1 && is_ident_start(bytes[j + 1])
    {
        lex_chain(&s[j..])
    } else {
        (Vec::new(), 0)
    };
    (Tok::Var(name, chain), j + len)
}

/// A number at the start of `s` (an integer when it is one, else a float), and its
/// length; the text when it is not a number.
fn lex_number(s: &str) -> Result<(Value, usize), &str> {
    let bytes = s.as_bytes();
    let len = bytes
        .iter()
        .enumerate()
        .take_while(|&(k, &b)| {
            b.is_ascii_digit()
                || b == b'.'
                || b == b'e'
                || b == b'E'
                || ((b == b'-' || b == b'+') && (k == 0 || matches!(bytes[k - 1], b'e' | b'E')))
        })
        .count();
    let text = &s[..len];
    if let Ok(n) = text.parse::<i64>() {
        Ok((Value::Number(n.into()), len))
    } else if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
        Ok((Value::Number(n), len))
    } else {
        Err(text)
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `.A.B.C` → (["A","B","C"], bytes consumed)
fn lex_chain(s: &str) -> (Vec<String>, usize) {
    let b = s.as_bytes();
    let mut chain = Vec::new();
    let mut i = 0;
    while i < b.len() && b[i] == b'.' && i + 1 < b.len() && is_ident_start(b[i + 1]) {
        let start = i + 1;
        i = start;
        while i < b.len() && is_ident_char(b[i]) {
            i += 1;
        }
        chain.push(s[start..i].to_string());
    }
    (chain, i)
}

/// Lex a Go interpreted string literal at the start of `s`.
fn lex_quoted(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\n' => return None,
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut hex = String::new();
                        for _ in 0..n {
                            hex.push(chars.next()?.1);
                        }
                        let code = u32::from_str_radix(&hex, 16).ok()?;
                        out.push(char::from_u32(code)?);
                    }
                    _ => return None,
                }
            }
            c => out.push(c),
        }
    }
    None
}
