//! Integration tests: they drive the real `strata` binary (`$STRATA_BIN`, else
//! `target/debug/strata`) in a private store per test; see the `strata_tests` library for
//! the harness and the fixture builders.

mod build_parse;
mod containers;
mod crash;
mod errors;
mod helper;
mod history;
mod hostile;
mod images;
mod import;
mod inspect;
mod network;
mod prune;
mod registry;
mod rmi;
mod run_options;
mod save_load;
mod system;
mod tag;
