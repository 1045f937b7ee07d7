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

mod exec;
mod funcs;
mod parse;

pub use funcs::go_string;

use exec::Exec;
use parse::Parser;
use serde_json::Value;
use std::fmt;

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

impl Template {
    /// Parse a template. The text is taken literally: docker's `\t`/`\n`
    /// expansion for list commands is [`expand_escapes`](super::expand_escapes).
    pub fn parse(s: &str) -> Result<Template, TemplateError> {
        let mut p = Parser {
            src: s,
            pos: 0,
            depth: 0,
        };
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

    /// Found while writing the `template` fuzz target: a long printf width overflowed (a panic) or
    /// allocated gigabytes, and so did a large `pad`.
    #[test]
    fn huge_widths_are_bounded() {
        let ctx = inspect();
        assert_eq!(
            render("{{printf \"%99999999999999999999999d\" 1}}", &ctx),
            "%!(NOVERB)"
        );
        assert_eq!(render("{{printf \"a%12345678s|\" 1}}", &ctx), "a%!(NOVERB)");
        assert_eq!(render("{{printf \"%1000000d\" 1}}", &ctx).len(), 1_000_000);
        let err = Template::parse("{{pad .Os 9999999999999 1}}")
            .unwrap()
            .render(&ctx)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("padding of 9999999999999 spaces is too large"),
            "{err}"
        );
        assert_eq!(render("{{pad .Os 2 -5}}", &ctx), "  linux");
    }

    /// Found while writing the `template` fuzz target: deeply nested parentheses or blocks
    /// overflowed the stack (an abort).
    #[test]
    fn nesting_is_bounded() {
        let ctx = inspect();
        let depth_err = |t: &str| Template::parse(t).unwrap_err().to_string();
        let parens = |n| format!("{{{{{}1{}}}}}", "(".repeat(n), ")".repeat(n));
        let ifs = |n| format!("{}x{}", "{{if 1}}".repeat(n), "{{end}}".repeat(n));
        let else_ifs = |n| format!("{{{{if 0}}}}{}x{{{{end}}}}", "{{else if 0}}".repeat(n));
        for deep in [parens(20_000), ifs(20_000), else_ifs(20_000)] {
            assert!(depth_err(&deep).contains("max expression depth exceeded"));
        }
        assert_eq!(render(&parens(parse::MAX_DEPTH), &ctx), "1");
        assert_eq!(render(&ifs(parse::MAX_DEPTH), &ctx), "x");
        assert_eq!(render(&else_ifs(parse::MAX_DEPTH - 1), &ctx), "");
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
