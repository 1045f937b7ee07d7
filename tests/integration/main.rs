//! Integration tests: they drive the real `strata` binary (`$STRATA_BIN`, else
//! `target/debug/strata`) in a private store per test; see the `strata_tests` library for
//! the harness and the fixture builders.

mod build;
mod build_docker;
mod build_parse;
mod build_steps;
mod check;
mod concurrency;
mod containers;
mod corpus;
mod crash;
mod crash_suite;
mod differences;
mod errors;
mod first_errors;
mod full_disk;
mod full_disk_ops;
mod helper;
mod history;
mod hostile;
mod hostile_registry;
mod images;
mod import;
mod inspect;
mod lifecycle;
mod limits;
mod network;
mod prune;
mod registry;
mod rmi;
mod run_options;
mod save_load;
mod setuid;
mod system;
mod tag;
mod untrusted;
