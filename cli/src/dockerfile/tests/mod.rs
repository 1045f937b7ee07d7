//! Unit tests of the front end: the shell expansion vectors of the conformance corpus,
//! ARG/ENV scoping, heredocs, errors, and typed instructions.

mod conformance;
mod errors;
mod heredocs;
mod scoping;
mod typed;

use super::{Dockerfile, Instruction, ParseError};

/// Parses `text` into stages, panicking with the error if it fails.
fn df(text: &str) -> Dockerfile {
    Dockerfile::parse(text, "Dockerfile").unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// The error parsing `text` into stages gives.
fn df_err(text: &str) -> ParseError {
    match Dockerfile::parse(text, "Dockerfile") {
        Ok(d) => panic!("{text:?} parsed: {d:?}"),
        Err(e) => e,
    }
}

/// The instructions of the last stage of `text`.
fn steps(text: &str) -> Vec<Instruction> {
    let d = df(text);
    let stage = d.stages.last().unwrap();
    stage.steps.iter().map(|s| s.instruction.clone()).collect()
}
