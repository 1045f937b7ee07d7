//! Which fields of which instructions docker expands: ENV and LABEL keys and values, ARG
//! names and defaults, COPY and ADD sources, destination, `--chown`, `--chmod` (and ADD's
//! `--checksum`) and heredoc bodies whose delimiter is unquoted, EXPOSE (split into words),
//! WORKDIR, USER, VOLUME, STOPSIGNAL, and the values of RUN's `--mount` specs. RUN, CMD,
//! ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER and ONBUILD are left as written (the shell
//! expands them when they run).

use super::args::BuildArgs;
use super::error::{ErrorKind, ExpandError};
use super::expand::{Lexer, Vars};
use super::heredoc::Heredoc;
use super::instruction::{Arg, Instruction, KeyValue};
use super::mount::{self, Expansion};

struct Expander<'a> {
    lexer: &'a Lexer,
    vars: &'a dyn Vars,
}

impl Expander<'_> {
    fn word(&self, w: &str) -> Result<String, ExpandError> {
        self.lexer.process_word(w, self.vars)
    }

    fn opt(&self, w: &Option<String>) -> Result<Option<String>, ExpandError> {
        w.as_deref().map(|w| self.word(w)).transpose()
    }

    fn all(&self, words: &[String]) -> Result<Vec<String>, ExpandError> {
        words.iter().map(|w| self.word(w)).collect()
    }

    fn pairs(&self, pairs: &[KeyValue]) -> Result<Vec<KeyValue>, ExpandError> {
        pairs
            .iter()
            .map(|kv| {
                Ok(KeyValue {
                    key: self.word(&kv.key)?,
                    value: self.word(&kv.value)?,
                })
            })
            .collect()
    }

    /// Heredoc bodies with unquoted delimiters, expanded without quote processing.
    fn heredocs(&self, docs: &[Heredoc]) -> Result<Vec<Heredoc>, ExpandError> {
        let raw = Lexer {
            skip_quotes: true,
            ..Lexer::new('\\')
        };
        docs.iter()
            .map(|d| {
                let mut d = d.clone();
                if d.expand {
                    d.content = raw.process_word(&d.body(), self.vars)?;
                    d.chomp = false;
                }
                Ok(d)
            })
            .collect()
    }
}

/// `instruction` with its variables expanded from `vars`.
pub(crate) fn expand_instruction(
    instruction: &Instruction,
    vars: &dyn Vars,
    lexer: &Lexer,
    build_args: &BuildArgs,
) -> Result<Instruction, ErrorKind> {
    let x = Expander { lexer, vars };
    Ok(match instruction {
        Instruction::Env(p) => Instruction::Env(x.pairs(p)?),
        Instruction::Label(p) => Instruction::Label(x.pairs(p)?),
        Instruction::Arg(args) => Instruction::Arg(
            args.iter()
                .map(|a| {
                    let name = x.word(&a.name)?;
                    let default = match build_args.get(&name) {
                        Some(_) => a.default.clone(),
                        None => x.opt(&a.default)?,
                    };
                    Ok(Arg { name, default })
                })
                .collect::<Result<_, ExpandError>>()?,
        ),
        Instruction::Copy(c) => {
            let mut c = c.clone();
            c.sources = x.all(&c.sources)?;
            c.dest = x.word(&c.dest)?;
            c.chown = x.opt(&c.chown)?;
            c.chmod = x.opt(&c.chmod)?;
            c.heredocs = x.heredocs(&c.heredocs)?;
            Instruction::Copy(c)
        }
        Instruction::Add(a) => {
            let mut a = a.clone();
            a.sources = x.all(&a.sources)?;
            a.dest = x.word(&a.dest)?;
            a.chown = x.opt(&a.chown)?;
            a.chmod = x.opt(&a.chmod)?;
            a.checksum = x.opt(&a.checksum)?;
            a.heredocs = x.heredocs(&a.heredocs)?;
            Instruction::Add(a)
        }
        Instruction::Expose(ports) => {
            let mut out = Vec::new();
            for p in ports {
                out.extend(lexer.process_words(p, vars)?);
            }
            Instruction::Expose(out)
        }
        Instruction::Workdir(w) => Instruction::Workdir(x.word(w)?),
        Instruction::User(u) => Instruction::User(x.word(u)?),
        Instruction::Stopsignal(s) => Instruction::Stopsignal(x.word(s)?),
        Instruction::Volume(v) => Instruction::Volume(x.all(v)?),
        Instruction::Run(r) => {
            let mut r = r.clone();
            let expand = |w: &str| x.word(w);
            r.mounts = r
                .mounts
                .iter()
                .map(|m| mount::parse(&m.spec, Expansion::Now(&expand)))
                .collect::<Result<_, _>>()?;
            Instruction::Run(r)
        }
        other => other.clone(),
    })
}
