//! Executing a parsed template against a JSON value, as Go's `text/template` does.

use super::funcs::{call, go_string, go_type, truth};
use super::{Arg, Cmd, Node, Pipe, TemplateError};
use serde_json::Value;

/// One execution of a template: its source (for error positions), the variables in
/// scope, and whether it renders a table header row.
pub(super) struct Exec<'a> {
    pub(super) src: &'a str,
    pub(super) vars: Vec<(String, Value)>,
    pub(super) header: bool,
}

impl Exec<'_> {
    pub(super) fn walk(
        &mut self,
        nodes: &[Node],
        dot: &Value,
        out: &mut String,
    ) -> Result<(), TemplateError> {
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
            return call(name, args, self.header).map_err(|e| {
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
            Arg::Func(name) => call(name, Vec::new(), self.header).map_err(|e| {
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
}
