//! The `strata` binary: everything lives in the library.

fn main() {
    std::process::exit(strata::cli::main());
}
