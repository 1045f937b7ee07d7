//! The parse tree: one [`Node`] per instruction, its arguments as they stand after line
//! continuations and comments are removed and before any expansion or quote removal.

use super::directives::Directives;
use super::heredoc::Heredoc;

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ast {
    /// The instructions in order.
    pub nodes: Vec<Node>,
    /// The parser directives.
    pub directives: Directives,
    /// Things docker warns about (empty continuation lines).
    pub warnings: Vec<Warning>,
}

/// A warning about a Dockerfile that still parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The line it is about.
    pub line: usize,
    /// What it says.
    pub message: String,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The instruction name as written (`run`, `RUN`, `Run`).
    pub name: String,
    /// The leading `--flags`, quotes and escapes removed.
    pub flags: Vec<String>,
    /// The arguments.
    pub args: Args,
    /// Whether the arguments were a JSON array (exec form).
    pub json: bool,
    /// The heredocs the line opens, with their bodies.
    pub heredocs: Vec<Heredoc>,
    /// The logical line as read (continuations joined, comments removed).
    pub original: String,
    /// The first line of the instruction (1-based).
    pub start_line: usize,
    /// The last line of the instruction, heredoc bodies included.
    pub end_line: usize,
}

/// An instruction's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    /// A list of strings.
    Words(Vec<String>),
    /// ENV and LABEL: key/value pairs.
    Pairs(Vec<Pair>),
    /// ONBUILD: the instruction it holds.
    Trigger(Box<Node>),
}

/// One `key=value` (or old-style `key value`) of ENV or LABEL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The key as written.
    pub key: String,
    /// The value as written, quotes kept.
    pub value: String,
    /// `key=value` (true) or `ENV key value` (false).
    pub equals: bool,
}

impl Node {
    /// The instruction name in lower case.
    pub fn keyword(&self) -> String {
        self.name.to_ascii_lowercase()
    }

    /// The arguments as a flat list of strings (ENV/LABEL pairs as key, value; ONBUILD as
    /// the trigger's name followed by its arguments).
    pub fn words(&self) -> Vec<String> {
        match &self.args {
            Args::Words(w) => w.clone(),
            Args::Pairs(p) => p
                .iter()
                .flat_map(|p| [p.key.clone(), p.value.clone()])
                .collect(),
            Args::Trigger(n) => std::iter::once(n.name.clone()).chain(n.words()).collect(),
        }
    }
}
