//! A subset of Go's `text/template`, enough for docker's `--format` flags.
//!
//! Supported: literal text; actions `{{.}}`, `{{.Field.Sub}}`, `{{$}}`,
//! `{{$var.Field}}`; pipelines `{{.X | json}}`; parentheses; string (`"…"`,
//! `` `…` ``), number, `true`/`false` literals; `{{if}}`/`{{else if}}`/`{{else}}`,
//! `{{range}}` (with `$i, $e :=`), `{{with}}`, `{{end}}`; variables `{{$x := …}}`;
//! trim markers `{{- ` and ` -}}`; comments `{{/* … */}}`.
//!
//! Functions: docker's `json`, `join`, `split`, `upper`, `lower`, `title`,
//! `pad`, `truncate`, `println`, and Go's `index`, `len`, `not`, `and`, `or`,
//! `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `print`, `printf` (verbs `%v %s %d %q %t %%`
//! with an optional `-` and width).
//!
//! Values come from `serde_json::Value` and print as Go prints them: strings
//! plain, integers as integers, `true`/`false`, `[a b c]`, `map[k:v]`, and a
//! top-level `null` as `<no value>`.

use std::fmt;

use serde_json::{Map, Number, Value};

/// A template that failed to parse or to execute. `Display` gives docker's
/// line, `template parsing error: template: :1:2: executing "" at <.Foo>: …`
/// (docker says "parsing" for both).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template is not valid: Go's `template: :LINE: …`.
    #[error("template parsing error: {0}")]
    Parse(String),
    /// Executing it failed: Go's `template: :LINE:COL: executing "" at <…>: …`.
    #[error("template parsing error: {0}")]
    Exec(String),
}

impl TemplateError {
    fn parse(src: &str, pos: usize, what: impl fmt::Display) -> TemplateError {
        TemplateError::Parse(format!("template: :{}: {what}", line_col(src, pos).0))
    }

    fn exec(src: &str, pos: usize, context: &str, what: impl fmt::Display) -> TemplateError {
        let (line, col) = line_col(src, pos);
        TemplateError::Exec(format!(
            "template: :{line}:{col}: executing \"\" at <{context}>: {what}"
        ))
    }

    /// The Go error text without docker's `template parsing error: ` prefix.
    pub fn message(&self) -> &str {
        match self {
            TemplateError::Parse(m) | TemplateError::Exec(m) => m,
        }
    }
}

fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(src.len());
    let before = &src[..pos];
    let line = 1 + before.matches('\n').count();
    let col = match before.rfind('\n') {
        Some(i) => pos - i - 1,
        None => pos,
    };
    (line, col)
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    src: String,
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
}

#[derive(Debug, Clone)]
struct Pipe {
    decl: Vec<String>,
    cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
struct Cmd {
    args: Vec<Arg>,
    pos: usize,
    text: String,
}

#[derive(Debug, Clone)]
enum Arg {
    Dot,
    Field {
        chain: Vec<String>,
        pos: usize,
        text: String,
    },
    Var {
        name: String,
        chain: Vec<String>,
        pos: usize,
        text: String,
    },
    Func(String),
    Lit(Value),
    Sub(Pipe),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>),
    Dot,
    Var(String, Vec<String>),
    Ident(String),
    Lit(Value),
    Pipe,
    LParen,
    RParen,
    Comma,
    Declare,
    Assign,
}

/// An action's tokens with positions, whether ` -}}` closed it, and where the
/// closing delimiter starts.
type LexedAction = (Vec<(Tok, usize)>, bool, usize);

/// Parsed nodes and what ended them (with its position), `None` at end of input.
type NodesAndTerm = (Vec<Node>, Option<(Term, usize)>);

enum Term {
    End,
    Else,
    ElseIf(Pipe),
}

const FUNCS: &[&str] = &[
    "json", "join", "split", "upper", "lower", "title", "pad", "truncate", "println", "print",
    "printf", "index", "len", "not", "and", "or", "eq", "ne", "lt", "le", "gt", "ge",
];

/// Functions whose header-row form returns their argument unchanged (docker's
/// `templates.HeaderFunctions`).
const HEADER_PASSTHROUGH: &[&str] = &[
    "json", "split", "join", "title", "lower", "upper", "truncate",
];

impl Template {
    /// Parse a template. The text is taken literally: docker's `\t`/`\n`
    /// expansion for list commands is [`expand_escapes`](super::expand_escapes).
    pub fn parse(s: &str) -> Result<Template, TemplateError> {
        let mut p = Parser { src: s, pos: 0 };
        let (nodes, term) = p.parse_nodes()?;
        match term {
            None => Ok(Template {
                src: s.to_string(),
                nodes,
            }),
            Some((Term::End, pos)) => Err(TemplateError::parse(s, pos, "unexpected {{end}}")),
            Some((_, pos)) => Err(TemplateError::parse(s, pos, "unexpected {{else}}")),
        }
    }

    /// Execute against `ctx` (the template's `.`).
    pub fn render(&self, ctx: &Value) -> Result<String, TemplateError> {
        self.execute(ctx, false)
    }

    /// Execute for a table header row: `ctx` maps field names to header texts,
    /// missing fields print `<no value>` (Go's map semantics) and
    /// `json`/`upper`/`lower`/`title`/`join`/`split`/`truncate` pass their
    /// argument through, as docker does.
    pub fn render_header(&self, ctx: &Value) -> Result<String, TemplateError> {
        self.execute(ctx, true)
    }

    fn execute(&self, ctx: &Value, header: bool) -> Result<String, TemplateError> {
        let mut ex = Exec {
            src: &self.src,
            vars: vec![("$".to_string(), ctx.clone())],
            header,
        };
        let mut out = String::new();
        ex.walk(&self.nodes, ctx, &mut out)?;
        Ok(out)
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, pos: usize, what: impl fmt::Display) -> TemplateError {
        TemplateError::parse(self.src, pos, what)
    }

    /// Parse nodes until `{{end}}`, `{{else}}` or the end of the input.
    fn parse_nodes(&mut self) -> Result<NodesAndTerm, TemplateError> {
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

struct Exec<'a> {
    src: &'a str,
    vars: Vec<(String, Value)>,
    header: bool,
}

impl Exec<'_> {
    fn walk(&mut self, nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), TemplateError> {
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Action(pipe) => {
                    let v = self.eval_pipe(pipe, dot)?;
                    if pipe.decl.is_empty() {
                        out.push_str(&go_string(&v));
                    }
                }
                Node::If(pipe, body, else_body) => {
                    let mark = self.vars.len();
                    let v = self.eval_pipe(pipe, dot)?;
                    if truth(&v) {
                        self.walk(body, dot, out)?;
                    } else {
                        self.walk(else_body, dot, out)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::With(pipe, body, else_body) => {
                    let mark = self.vars.len();
                    let v = self.eval_pipe(pipe, dot)?;
                    if truth(&v) {
                        self.walk(body, &v, out)?;
                    } else {
                        self.walk(else_body, dot, out)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range(pipe, body, else_body) => {
                    let mark = self.vars.len();
                    let decl = pipe.decl.clone();
                    let plain = Pipe {
                        decl: Vec::new(),
                        cmds: pipe.cmds.clone(),
                    };
                    let v = self.eval_pipe(&plain, dot)?;
                    let items: Vec<(Value, Value)> = match &v {
                        Value::Array(a) => a
                            .iter()
                            .enumerate()
                            .map(|(i, e)| (Value::Number(i.into()), e.clone()))
                            .collect(),
                        Value::Object(m) => {
                            let mut keys: Vec<&String> = m.keys().collect();
                            keys.sort();
                            keys.into_iter()
                                .map(|k| (Value::String(k.clone()), m[k].clone()))
                                .collect()
                        }
                        Value::Null => Vec::new(),
                        other => {
                            let pos = pipe.cmds.first().map(|c| c.pos).unwrap_or(0);
                            return Err(TemplateError::exec(
                                self.src,
                                pos,
                                &pipe
                                    .cmds
                                    .first()
                                    .map(|c| c.text.clone())
                                    .unwrap_or_default(),
                                format!("range can't iterate over {}", go_string(other)),
                            ));
                        }
                    };
                    if items.is_empty() {
                        self.walk(else_body, dot, out)?;
                    }
                    for (k, e) in items {
                        let inner = self.vars.len();
                        match decl.len() {
                            0 => {}
                            1 => self.vars.push((decl[0].clone(), e.clone())),
                            _ => {
                                self.vars.push((decl[0].clone(), k));
                                self.vars.push((decl[1].clone(), e.clone()));
                            }
                        }
                        self.walk(body, &e, out)?;
                        self.vars.truncate(inner);
                    }
                    self.vars.truncate(mark);
                }
            }
        }
        Ok(())
    }

    fn eval_pipe(&mut self, pipe: &Pipe, dot: &Value) -> Result<Value, TemplateError> {
        let mut val: Option<Value> = None;
        for cmd in &pipe.cmds {
            val = Some(self.eval_cmd(cmd, dot, val)?);
        }
        let v = val.unwrap_or(Value::Null);
        for name in &pipe.decl {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = v.clone();
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn eval_cmd(
        &mut self,
        cmd: &Cmd,
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Value, TemplateError> {
        if let Arg::Func(name) = &cmd.args[0] {
            let mut args = Vec::new();
            for a in &cmd.args[1..] {
                args.push(self.eval_arg(a, dot)?);
            }
            if let Some(p) = piped {
                args.push(p);
            }
            return self.call(name, args).map_err(|e| {
                TemplateError::exec(
                    self.src,
                    cmd.pos,
                    &cmd.text,
                    format!("error calling {name}: {e}"),
                )
            });
        }
        if cmd.args.len() > 1 || piped.is_some() {
            let what = match &cmd.args[0] {
                Arg::Field { text, .. } | Arg::Var { text, .. } => text.clone(),
                _ => cmd.text.clone(),
            };
            return Err(TemplateError::exec(
                self.src,
                cmd.pos,
                &cmd.text,
                format!("can't give argument to non-function {what}"),
            ));
        }
        self.eval_arg(&cmd.args[0], dot)
    }

    fn eval_arg(&mut self, arg: &Arg, dot: &Value) -> Result<Value, TemplateError> {
        match arg {
            Arg::Dot => Ok(dot.clone()),
            Arg::Lit(v) => Ok(v.clone()),
            Arg::Sub(p) => self.eval_pipe(p, dot),
            Arg::Func(name) => self.call(name, Vec::new()).map_err(|e| {
                TemplateError::exec(self.src, 0, name, format!("error calling {name}: {e}"))
            }),
            Arg::Field { chain, pos, text } => self.walk_fields(dot, chain, *pos, text),
            Arg::Var {
                name,
                chain,
                pos,
                text,
            } => {
                let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| n == name) else {
                    return Err(TemplateError::parse(
                        self.src,
                        *pos,
                        format!("undefined variable: {name}"),
                    ));
                };
                let v = v.clone();
                self.walk_fields(&v, chain, *pos, text)
            }
        }
    }

    fn walk_fields(
        &self,
        start: &Value,
        chain: &[String],
        pos: usize,
        text: &str,
    ) -> Result<Value, TemplateError> {
        let mut cur = start.clone();
        for name in chain {
            cur = match cur {
                Value::Object(mut m) => match m.remove(name) {
                    Some(v) => v,
                    None if self.header => Value::Null,
                    None => {
                        return Err(TemplateError::exec(
                            self.src,
                            pos,
                            text,
                            format!("can't evaluate field {name}"),
                        ))
                    }
                },
                Value::Null => {
                    if self.header {
                        return Ok(Value::Null);
                    }
                    return Err(TemplateError::exec(
                        self.src,
                        pos,
                        text,
                        format!("nil pointer evaluating interface {{}}.{name}"),
                    ));
                }
                other => {
                    return Err(TemplateError::exec(
                        self.src,
                        pos,
                        text,
                        format!("can't evaluate field {name} in type {}", go_type(&other)),
                    ))
                }
            };
        }
        Ok(cur)
    }

    fn call(&self, name: &str, args: Vec<Value>) -> Result<Value, String> {
        if self.header && HEADER_PASSTHROUGH.contains(&name) {
            return Ok(Value::String(
                args.first().map(go_string).unwrap_or_default(),
            ));
        }
        docker_function(name, &args)
            .or_else(|| print_function(name, &args))
            .or_else(|| logic_function(name, &args))
            .unwrap_or_else(|| match name {
                "index" => index(&args),
                "len" => {
                    want(name, &args, 1)?;
                    go_len(&args[0])
                }
                _ => Err(format!("function {name:?} not defined")),
            })
    }
}

/// Fails unless `name` was given exactly `n` arguments.
fn want(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

/// Fails unless `name` was given at least one argument.
fn want_some(name: &str, args: &[Value]) -> Result<(), String> {
    if args.is_empty() {
        Err(format!(
            "wrong number of args for {name}: want at least 1 got 0"
        ))
    } else {
        Ok(())
    }
}

/// An integer argument (a float without a fraction counts).
fn int(v: &Value) -> Result<i64, String> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        .ok_or_else(|| format!("expected integer; found {}", go_string(v)))
}

/// docker's template functions (`json`, `join`, `split`, `upper`, `lower`, `title`,
/// `pad`, `truncate`); `None` for another name.
fn docker_function(name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    let arity = match name {
        "json" | "upper" | "lower" | "title" => 1,
        "join" | "split" | "truncate" => 2,
        "pad" => 3,
        _ => return None,
    };
    Some(want(name, args, arity).and_then(|()| {
        let s = go_string(&args[0]);
        Ok(Value::String(match name {
            "json" => serde_json::to_string(&args[0]).map_err(|e| e.to_string())?,
            "join" => join(&args[0], &go_string(&args[1]))?,
            "split" => return Ok(split(&s, &go_string(&args[1]))),
            "upper" => s.to_uppercase(),
            "lower" => s.to_lowercase(),
            "title" => title(&s),
            "pad" if s.is_empty() => s,
            "pad" => {
                let pre = int(&args[1])?.max(0) as usize;
                let suf = int(&args[2])?.max(0) as usize;
                format!("{}{s}{}", " ".repeat(pre), " ".repeat(suf))
            }
            _ => truncate(s, int(&args[1])?.max(0) as usize),
        }))
    }))
}

/// docker's `join`: the elements of a list printed and joined with `sep`.
fn join(list: &Value, sep: &str) -> Result<String, String> {
    match list {
        Value::Array(a) => Ok(a.iter().map(go_string).collect::<Vec<_>>().join(sep)),
        Value::Null => Ok(String::new()),
        other => Err(format!(
            "wrong type for value; expected []string; got {}",
            go_type(other)
        )),
    }
}

/// docker's `split`: a list of the parts (of the characters, for an empty `sep`).
fn split(src: &str, sep: &str) -> Value {
    let parts: Vec<Value> = if sep.is_empty() {
        src.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        src.split(sep)
            .map(|p| Value::String(p.to_string()))
            .collect()
    };
    Value::Array(parts)
}

/// docker's `truncate`: at most `n` bytes, cut back to a character boundary.
fn truncate(src: String, n: usize) -> String {
    if src.len() < n {
        return src;
    }
    let mut end = n;
    while !src.is_char_boundary(end) {
        end -= 1;
    }
    src[..end].to_string()
}

/// Go's `print`, `println` and `printf`; `None` for another name.
fn print_function(name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    let text = match name {
        "println" => {
            let parts: Vec<String> = args.iter().map(go_string).collect();
            format!("{}\n", parts.join(" "))
        }
        "print" => {
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                if i > 0 && !a.is_string() && !args[i - 1].is_string() {
                    out.push(' ');
                }
                out.push_str(&go_string(a));
            }
            out
        }
        "printf" => match want_some(name, args) {
            Ok(()) => printf(&go_string(&args[0]), &args[1..]),
            Err(e) => return Some(Err(e)),
        },
        _ => return None,
    };
    Some(Ok(Value::String(text)))
}

/// Go's `not`, `and`, `or` and comparisons; `None` for another name.
fn logic_function(name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    let result = match name {
        "not" => want(name, args, 1).map(|()| Value::Bool(!truth(&args[0]))),
        // The first argument that decides, else the last.
        "and" | "or" => want_some(name, args).map(|()| {
            let decides = |a: &&Value| truth(a) == (name == "or");
            args.iter()
                .find(decides)
                .unwrap_or(&args[args.len() - 1])
                .clone()
        }),
        "eq" if args.len() < 2 => Err("missing argument for comparison".into()),
        "eq" => Ok(Value::Bool(
            args[1..].iter().any(|b| values_equal(&args[0], b)),
        )),
        "ne" => want(name, args, 2).map(|()| Value::Bool(!values_equal(&args[0], &args[1]))),
        "lt" | "le" | "gt" | "ge" => want(name, args, 2)
            .and_then(|()| compare(&args[0], &args[1]))
            .map(|ord| {
                Value::Bool(match name {
                    "lt" => ord.is_lt(),
                    "le" => ord.is_le(),
                    "gt" => ord.is_gt(),
                    _ => ord.is_ge(),
                })
            }),
        _ => return None,
    };
    Some(result)
}

/// Go's `index`: `args[0]` indexed by each further argument in turn.
fn index(args: &[Value]) -> Result<Value, String> {
    want_some("index", args)?;
    let mut cur = args[0].clone();
    for key in &args[1..] {
        cur = match cur {
            Value::Object(m) => match m.get(&go_string(key)) {
                Some(v) => v.clone(),
                // Go returns the map's zero value: "" for string maps
                None if m.values().all(Value::is_string) => Value::String(String::new()),
                None => Value::Null,
            },
            Value::Array(a) => {
                let i = int(key)?;
                if i < 0 || i as usize >= a.len() {
                    return Err(format!("index out of range: {i}"));
                }
                a[i as usize].clone()
            }
            Value::String(st) => {
                let i = int(key)?;
                if i < 0 || i as usize >= st.len() {
                    return Err(format!("index out of range: {i}"));
                }
                Value::Number(st.as_bytes()[i as usize].into())
            }
            Value::Null => return Err("index of untyped nil".into()),
            other => return Err(format!("can't index item of type {}", go_type(&other))),
        };
    }
    Ok(cur)
}

/// Go's `len` of a string (in bytes), list or map.
fn go_len(v: &Value) -> Result<Value, String> {
    let n = match v {
        Value::String(st) => st.len(),
        Value::Array(a) => a.len(),
        Value::Object(m) => m.len(),
        other => return Err(format!("len of type {}", go_type(other))),
    };
    Ok(Value::Number(n.into()))
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
                return Ok(i.cmp(&j));
            }
            let (fx, fy) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            fx.partial_cmp(&fy)
                .ok_or_else(|| "invalid type for comparison".to_string())
        }
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => Err("incompatible types for comparison".into()),
    }
}

/// Go's template truth: false, 0, nil, and empty strings, slices and maps are false.
fn truth(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().map(|f| f != 0.0).unwrap_or(true),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// Go's `strings.Title`: upper-case the first letter of each word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        };
    }
    out
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// How a template action prints a value (`<no value>` for a top-level null).
pub fn go_string(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".to_string(),
        other => go_value(other),
    }
}

/// Go's `%v` of a value nested in a slice or map.
fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_value).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => go_map(m),
    }
}

fn go_map(m: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    let parts: Vec<String> = keys
        .iter()
        .map(|k| format!("{k}:{}", go_value(&m[*k])))
        .collect();
    format!("map[{}]", parts.join(" "))
}

fn go_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return format!("{}", f as i64);
    }
    super::go_format_g(f, None)
}

/// A small `fmt.Sprintf`: verbs `v s d q t %`, flag `-`, width.
fn printf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut it = format.chars().peekable();
    let mut argi = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut width = 0usize;
        while let Some(&f) = it.peek() {
            if f == '-' {
                left = true;
                it.next();
            } else if let Some(d) = f.to_digit(10) {
                width = width * 10 + d as usize;
                it.next();
            } else {
                break;
            }
        }
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        let text = match verb {
            'q' => serde_json::to_string(&go_value(arg)).unwrap_or_default(),
            'd' if !arg.is_number() => format!("%!d({})", go_value(arg)),
            _ => go_value(arg),
        };
        let pad = width.saturating_sub(text.chars().count());
        if left {
            out.push_str(&text);
            out.push_str(&" ".repeat(pad));
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(t: &str, ctx: &Value) -> String {
        Template::parse(t)
            .unwrap_or_else(|e| panic!("{t:?}: {e}"))
            .render(ctx)
            .unwrap_or_else(|e| panic!("{t:?}: {e}"))
    }

    fn inspect() -> Value {
        json!({
            "Id": "sha256:abc",
            "RepoTags": ["busybox:latest", "busybox:1.36"],
            "Size": 4261550,
            "Ratio": 1.5,
            "Big": 1e21,
            "Os": "linux",
            "Empty": "",
            "Nothing": null,
            "Flag": true,
            "Config": {
                "Cmd": ["sh", "-c", "echo hi"],
                "Entrypoint": null,
                "Env": ["PATH=/bin"],
                "Labels": {"b": "2", "a": "1"},
                "ExposedPorts": {"80/tcp": {}},
            },
        })
    }

    #[test]
    fn fields_and_values_print_like_go() {
        let ctx = inspect();
        let cases = [
            ("{{.Id}}", "sha256:abc"),
            ("id={{.Id}} os={{.Os}}", "id=sha256:abc os=linux"),
            ("{{.Size}}", "4261550"),
            ("{{.Ratio}}", "1.5"),
            ("{{.Big}}", "1e+21"),
            ("{{.Flag}}", "true"),
            ("{{.Nothing}}", "<no value>"),
            ("{{.Config.Cmd}}", "[sh -c echo hi]"),
            ("{{.Config.Entrypoint}}", "<no value>"),
            ("{{.Config.Labels}}", "map[a:1 b:2]"),
            ("{{.Config.ExposedPorts}}", "map[80/tcp:map[]]"),
            ("{{json .Config.Cmd}}", r#"["sh","-c","echo hi"]"#),
            ("{{json .Config.Labels}}", r#"{"a":"1","b":"2"}"#),
            ("{{.Config.Cmd | json}}", r#"["sh","-c","echo hi"]"#),
            ("{{json .Os}}", r#""linux""#),
            ("{{json .Nothing}}", "null"),
            ("{{index .Config.Labels \"a\"}}", "1"),
            ("{{index .Config.Labels \"zz\"}}", ""),
            ("{{index .RepoTags 1}}", "busybox:1.36"),
            ("{{index .Config.Cmd 2}}", "echo hi"),
            ("{{join .RepoTags \", \"}}", "busybox:latest, busybox:1.36"),
            ("{{join .Config.Entrypoint \",\"}}", ""),
            ("{{upper .Os}}", "LINUX"),
            ("{{.Os | upper}}", "LINUX"),
            ("{{lower \"ABC\"}}", "abc"),
            ("{{title \"hello wide-world\"}}", "Hello Wide-World"),
            ("{{len .RepoTags}}", "2"),
            ("{{split \"a:b:c\" \":\"}}", "[a b c]"),
            ("{{pad .Os 2 1}}|", "  linux |"),
            ("{{pad .Empty 2 1}}|", "|"),
            ("{{truncate .Id 6}}", "sha256"),
            ("{{println .Os}}", "linux\n"),
            ("{{print \"a\" 1 2 \"b\"}}", "a1 2b"),
            (
                "{{printf \"%s-%d|%-6s|%5v\" .Os .Size \"ab\" true}}",
                "linux-4261550|ab    | true",
            ),
            ("{{printf \"%q\" .Os}}", "\"linux\""),
            ("{{(index .RepoTags 0) | upper}}", "BUSYBOX:LATEST"),
            ("{{.}}", ""),
        ];
        for (t, want) in cases.iter().take(cases.len() - 1) {
            assert_eq!(render(t, &ctx), *want, "template {t}");
        }
        assert_eq!(
            render("{{.}}", &json!(["a", 1, null, {"k": [true]}])),
            "[a 1 <nil> map[k:[true]]]"
        );
        assert_eq!(render("{{.}}", &json!("plain")), "plain");
        assert_eq!(render("{{json .}}", &json!({"a": "<&>"})), r#"{"a":"<&>"}"#);
    }

    #[test]
    fn control_structures() {
        let ctx = inspect();
        let cases = [
            ("{{if .Flag}}yes{{end}}", "yes"),
            ("{{if .Empty}}yes{{else}}no{{end}}", "no"),
            ("{{if .Nothing}}a{{else if .Os}}b{{else}}c{{end}}", "b"),
            ("{{if not .Flag}}a{{else if .Empty}}b{{else}}c{{end}}", "c"),
            ("{{if eq .Os \"linux\" \"darwin\"}}unix{{end}}", "unix"),
            ("{{if ne .Size 0}}nz{{end}}", "nz"),
            ("{{if gt .Size 1000}}big{{end}}", "big"),
            ("{{if and .Flag .Os}}both{{end}}", "both"),
            ("{{or .Empty .Os}}", "linux"),
            (
                "{{range .RepoTags}}[{{.}}]{{end}}",
                "[busybox:latest][busybox:1.36]",
            ),
            (
                "{{range $i, $t := .RepoTags}}{{$i}}={{$t}} {{end}}",
                "0=busybox:latest 1=busybox:1.36 ",
            ),
            (
                "{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}};{{end}}",
                "a:1;b:2;",
            ),
            ("{{range .Config.Entrypoint}}x{{else}}none{{end}}", "none"),
            ("{{with .Config}}{{.Env}}{{end}}", "[PATH=/bin]"),
            ("{{with .Empty}}x{{else}}empty{{end}}", "empty"),
            ("{{range .RepoTags}}{{$.Os}} {{end}}", "linux linux "),
            ("{{$x := .Os}}{{$x}}", "linux"),
            ("a {{- \" b \" -}} c", "a b c"),
            ("a  {{- /* note */ -}}  b", "ab"),
            ("{{/* only a comment */}}", ""),
            ("x{{\"\\t\"}}y", "x\ty"),
            ("{{`raw\\t`}}", "raw\\t"),
        ];
        for (t, want) in cases {
            assert_eq!(render(t, &ctx), want, "template {t}");
        }
    }

    #[test]
    fn errors_read_like_go() {
        let ctx = inspect();
        let exec_err = |t: &str| {
            Template::parse(t)
                .unwrap()
                .render(&ctx)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            exec_err("{{.Foo}}"),
            "template parsing error: template: :1:2: executing \"\" at <.Foo>: can't evaluate field Foo"
        );
        assert_eq!(
            exec_err("x {{.Config.Nope}}"),
            "template parsing error: template: :1:4: executing \"\" at <.Config.Nope>: can't evaluate field Nope"
        );
        assert_eq!(
            exec_err("{{.Os.Bad}}"),
            "template parsing error: template: :1:2: executing \"\" at <.Os.Bad>: can't evaluate field Bad in type string"
        );
        assert_eq!(
            exec_err("{{index .RepoTags 5}}"),
            "template parsing error: template: :1:2: executing \"\" at <index .RepoTags 5>: error calling index: index out of range: 5"
        );
        let parse_err = |t: &str| Template::parse(t).unwrap_err().to_string();
        assert_eq!(
            parse_err("{{.Foo"),
            "template parsing error: template: :1: unclosed action"
        );
        assert_eq!(
            parse_err("{{nope .}}"),
            "template parsing error: template: :1: function \"nope\" not defined"
        );
        assert_eq!(
            parse_err("{{if .X}}"),
            "template parsing error: template: :1: unexpected EOF in if"
        );
        assert_eq!(
            parse_err("{{end}}"),
            "template parsing error: template: :1: unexpected {{end}}"
        );
        assert!(Template::parse("{{.A}}")
            .unwrap()
            .render(&ctx)
            .unwrap_err()
            .message()
            .starts_with("template: :1:2"));
    }

    #[test]
    fn odd_input_never_panics() {
        let ctx = inspect();
        for t in [
            "{{",
            "}}",
            "{{-}}",
            "{{ -}}",
            "{{(}}",
            "{{)}}",
            "{{|}}",
            "{{.Os|}}",
            "{{\"abc}}",
            "{{`x}}",
            "{{$}}",
            "{{$x}}",
            "{{range}}{{end}}",
            "{{else}}",
            "{{if}}{{end}}",
            "日本{{.Os}}語",
            "{{.Os 1}}",
            "{{1 | 2}}",
            "{{index}}",
            "{{/*",
            "{{- 3 -}}",
            "{{-3}}",
            "{{range .Os}}{{end}}",
            "{{len 3}}",
            "{{printf}}",
            "{{eq 1}}",
            "{{lt 1 \"a\"}}",
        ] {
            if let Ok(tp) = Template::parse(t) {
                let _ = tp.render(&ctx);
                let _ = tp.render_header(&ctx);
            }
        }
        assert_eq!(render("{{-3}}", &ctx), "-3");
        assert_eq!(render("{{ .Os }}", &ctx), "linux");
        assert!(Template::parse("{{.Os 1}}").unwrap().render(&ctx).is_err());
    }

    #[test]
    fn header_rendering() {
        let t =
            Template::parse("{{.Repository}}\t{{json .Tag}}\t{{.Other}}\t{{upper .Size}}").unwrap();
        let headers = json!({"Repository": "REPOSITORY", "Tag": "TAG", "Size": "SIZE"});
        assert_eq!(
            t.render_header(&headers).unwrap(),
            "REPOSITORY\tTAG\t<no value>\tSIZE"
        );
    }
}
