//! The Dockerfile front end: everything `strata build` knows before it runs a step.
//!
//! - [`parse`] reads the text into an [`Ast`] as BuildKit's parser does (directives,
//!   continuations, comments, heredocs, JSON or shell form, flags); [`print`] writes that
//!   parse as the conformance corpus's S-expressions (`strata build --print-ast`).
//! - [`Dockerfile::from_ast`] turns the nodes into typed [`Instruction`]s grouped into
//!   [`Stage`]s, checking every instruction's arguments and flags.
//! - [`expand`] is docker's shell lexer (quotes, escapes, `$VAR`, `${VAR:-x}`, …);
//!   [`args`] holds ARG and ENV scoping and the predefined ARGs; [`Scope::expand`] applies
//!   expansion to exactly the fields docker expands.
//!
//! Errors are [`ParseError`]s naming the file, the line and the problem.
//!
//! How a builder consumes it:
//!
//! ```
//! use strata::dockerfile::{BaseRef, BuildArgs, Dockerfile, GlobalScope, Instruction, Platform, Scope};
//! let text = "ARG V=1\nFROM alpine:$V AS base\nENV A=$PATH:/x\nRUN echo $A\n";
//! let df = Dockerfile::parse(text, "Dockerfile")?;
//! let build_args = BuildArgs::parse(&["V=3.20"]);
//! let host = Platform::host();
//! let global = GlobalScope::new(&df, &build_args, &host, &host)?;
//! let order = df.check(&global, &build_args, None)?; // the stages to build, in order
//! for &i in &order {
//!     assert_eq!(df.base(i, &global)?, BaseRef::Image("alpine:3.20".into()));
//!     let mut scope = Scope::new(&global, &build_args, &["PATH=/bin"]); // the base's Env
//!     for step in &df.stages[i].steps {
//!         let instruction = scope.expand(step)?; // variables substituted where docker does
//!         scope.apply(&instruction); // ENV and ARG take effect for the next step
//!         if let Instruction::Run(run) = &instruction {
//!             let _env = scope.run_env(); // the RUN's environment
//!             let _ = &run.cmd;
//!         }
//!     }
//!     assert_eq!(scope.env().to_env_strings(), ["PATH=/bin", "A=/bin:/x"]);
//! }
//! # Ok::<(), strata::dockerfile::ParseError>(())
//! ```

pub mod args;
pub mod ast;
mod check;
pub mod directives;
mod duration;
pub mod error;
pub mod expand;
pub mod expand_instruction;
mod flags;
mod forms;
pub mod heredoc;
pub mod instruction;
mod instruction_parse;
pub mod mount;
mod parser;
mod pattern;
pub mod print;
pub mod stage;
mod suggest;
mod words;

pub use args::{BuildArgs, GlobalScope, Platform, Scope};
pub use ast::{Args, Ast, Node, Pair};
pub use directives::Directives;
pub use error::{ErrorKind, ExpandError, ExpandErrorKind, MountError, ParseError};
pub use heredoc::Heredoc;
pub use instruction::{
    Add, Arg, CommandLine, Copy, Healthcheck, Instruction, KeyValue, Network, Run, Security, Step,
};
pub use mount::{Mount, MountKind, Sharing};
pub use parser::parse;
pub use stage::{parse_triggers, BaseRef, Dockerfile, Stage, StageRef};

/// Reads and parses the Dockerfile at `path`; `name` is how errors name it.
pub fn parse_file(path: &std::path::Path, name: &str) -> Result<Ast, ParseError> {
    let bytes = std::fs::read(path).map_err(|e| ParseError {
        file: name.to_string(),
        line: None,
        kind: Box::new(ErrorKind::Read(e)),
    })?;
    parse(&String::from_utf8_lossy(&bytes), name)
}

#[cfg(test)]
mod tests;
