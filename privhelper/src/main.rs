//! strata-helper: the privileged overlay mount helper.
//!
//! The mount service itself arrives with the helper issue; until then this binary only
//! reports its version so that packaging and the workspace build are complete.

fn main() {
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        Some("--version") | Some("version") => {
            println!("strata-helper {}", env!("CARGO_PKG_VERSION"));
        }
        _ => {
            eprintln!("strata-helper: the mount service is not built yet");
            std::process::exit(2);
        }
    }
}
