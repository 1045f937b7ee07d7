//! The parser: physical lines to instructions, as BuildKit's parser reads a Dockerfile
//! (directives, continuations with the escape character, comments inside continuations,
//! empty continuation lines, heredoc bodies).

use super::ast::{Args, Ast, Node, Warning};
use super::directives::DirectiveParser;
use super::error::{ErrorKind, ParseError};
use super::forms::{form_of, parse_args, Form, INSTRUCTIONS};
use super::heredoc;
use super::suggest::suggest;
use super::words::split_command;

/// Parses the Dockerfile text `text`; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Ast, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser {
        lines: text.split_inclusive('\n').collect(),
        next: 0,
        directives: DirectiveParser::default(),
        file,
    };
    p.run()
}

struct Parser<'a> {
    lines: Vec<&'a str>,
    /// Index of the next physical line; also the number of lines read so far.
    next: usize,
    directives: DirectiveParser,
    file: &'a str,
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Whether `node` may carry heredocs: RUN, COPY and ADD in shell form, also under ONBUILD.
fn can_contain_heredoc(node: &Node) -> bool {
    let node = match &node.args {
        Args::Trigger(child) if node.keyword() == "onbuild" => child,
        _ => node,
    };
    matches!(node.keyword().as_str(), "add" | "copy" | "run") && !node.json
}

impl<'a> Parser<'a> {
    fn err(&self, line: usize, kind: ErrorKind) -> ParseError {
        ParseError {
            file: self.file.to_string(),
            line: Some(line),
            kind: Box::new(kind),
        }
    }

    fn next_line(&mut self) -> Option<&'a str> {
        let l = self.lines.get(self.next).copied();
        if l.is_some() {
            self.next += 1;
        }
        l
    }

    /// A physical line without its newline (and, for a first line, its leading space),
    /// checked for a directive, and emptied if it is a comment.
    fn process_line(&mut self, raw: &'a str, strip_left: bool) -> Result<&'a str, ParseError> {
        let mut token = trim_newline(raw);
        if strip_left {
            token = token.trim_start();
        }
        let line = self.next;
        self.directives.line(token).map_err(|k| self.err(line, k))?;
        Ok(if is_comment(token) { "" } else { token })
    }

    /// The line without a trailing continuation escape, and whether the instruction ends
    /// with it.
    fn trim_continuation(&self, line: &'a str) -> (&'a str, bool) {
        let escape = self.directives.found.escape;
        let t = line.trim_end_matches([' ', '\t']);
        let Some(body) = t.strip_suffix(escape) else {
            return (line, true);
        };
        if body.is_empty() {
            return ("", false);
        }
        if body.ends_with(escape) {
            return (line, true);
        }
        (body, false)
    }

    fn run(&mut self) -> Result<Ast, ParseError> {
        let mut nodes = Vec::new();
        let mut warnings = Vec::new();
        while let Some(raw) = self.next_line() {
            let first = self.process_line(raw, true)?;
            let start = self.next;
            let (first, mut ended) = self.trim_continuation(first);
            if ended && first.is_empty() {
                continue;
            }
            let mut buf = first.to_string();
            let mut empty_continuation = false;
            while !ended {
                let Some(raw) = self.next_line() else { break };
                let processed = self.process_line(raw, false)?;
                if is_comment(raw) {
                    continue;
                }
                if processed.trim_start().is_empty() {
                    empty_continuation = true;
                    continue;
                }
                let (part, end) = self.trim_continuation(processed);
                buf.push_str(part);
                ended = end;
            }
            if empty_continuation {
                warnings.push(Warning {
                    line: self.next,
                    message: format!("Empty continuation line found in: {buf}"),
                });
            }
            let escape = self.directives.found.escape;
            let mut node = new_node(&buf, escape).map_err(|k| self.err(start, k))?;
            if can_contain_heredoc(&node) && buf.contains("<<") {
                self.read_heredocs(&mut node, &buf, start)?;
            }
            node.start_line = start;
            node.end_line = self.next;
            if let Args::Trigger(child) = &mut node.args {
                child.start_line = start;
                child.end_line = self.next;
            }
            nodes.push(node);
        }
        if nodes.is_empty() {
            return Err(ParseError {
                file: self.file.to_string(),
                line: None,
                kind: Box::new(ErrorKind::NoInstructions),
            });
        }
        Ok(Ast {
            nodes,
            directives: self.directives.found.clone(),
            warnings,
        })
    }

    /// Reads the bodies of the heredocs `line` opens from the lines after it.
    fn read_heredocs(
        &mut self,
        node: &mut Node,
        line: &str,
        start: usize,
    ) -> Result<(), ParseError> {
        let docs =
            heredoc::from_line(line).map_err(|e| self.err(start, ErrorKind::HeredocWord(e)))?;
        for mut doc in docs {
            let mut terminated = false;
            while let Some(raw) = self.next_line() {
                let mut candidate = trim_newline(raw);
                if doc.chomp {
                    candidate = candidate.trim_start_matches('\t');
                }
                if candidate == doc.name {
                    terminated = true;
                    break;
                }
                doc.content.push_str(raw);
            }
            if !terminated {
                return Err(self.err(start, ErrorKind::UnterminatedHeredoc));
            }
            node.heredocs.push(doc);
        }
        Ok(())
    }
}

/// The instruction names in upper case, for suggestions.
fn upper_names() -> Vec<String> {
    INSTRUCTIONS.iter().map(|(k, _)| k.to_uppercase()).collect()
}

/// Parses one logical line into a node (lines are set by the caller).
fn new_node(line: &str, escape: char) -> Result<Node, ErrorKind> {
    let cmd = split_command(line, escape);
    let keyword = cmd.name.to_ascii_lowercase();
    let Some(form) = form_of(&keyword) else {
        return Err(ErrorKind::UnknownInstruction {
            suggestion: suggest(&cmd.name, &upper_names(), false),
            name: cmd.name,
        });
    };
    let (args, json) = match form {
        Form::Trigger if !cmd.rest.is_empty() => {
            (Args::Trigger(Box::new(new_node(&cmd.rest, escape)?)), false)
        }
        _ => parse_args(form, &cmd.rest, escape)?,
    };
    Ok(Node {
        name: cmd.name,
        flags: cmd.flags,
        args,
        json,
        heredocs: Vec::new(),
        original: line.to_string(),
        start_line: 0,
        end_line: 0,
    })
}
