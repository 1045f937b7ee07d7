//! The Go-template engine of `--format`: any template must parse or fail without a panic,
//! and a parsed one must execute (as a row and as a table header) against a fixed object
//! shaped like what `images`, `ps` and `inspect` give it, again without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use std::sync::OnceLock;
use strata::output::Template;

fn context() -> &'static Value {
    static CTX: OnceLock<Value> = OnceLock::new();
    CTX.get_or_init(|| {
        json!({
            "ID": "sha256:0123456789abcdef",
            "Repository": "busybox",
            "Tag": "latest",
            "Size": 4_261_550,
            "Created": 1_700_000_000,
            "Dangling": false,
            "Ratio": 0.25,
            "Labels": {"a": "1", "b.c": "two words", "": "empty"},
            "Names": ["/one", "/two"],
            "Ports": [{"PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}],
            "Config": {"Env": ["PATH=/bin", "A="], "Cmd": null, "Entrypoint": ["/bin/sh", "-c"]},
            "State": {"Running": true, "ExitCode": 0, "Pid": 42},
            "Nested": [[1, 2], [], [{"x": null}]],
            "Unicode": "ünïcödé 🦀",
        })
    })
}

fn header() -> &'static Value {
    static HDR: OnceLock<Value> = OnceLock::new();
    HDR.get_or_init(|| json!({"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG"}))
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = strata::output::expand_escapes(s);
    let Ok(t) = Template::parse(s) else {
        return;
    };
    let _ = t.render(context());
    let _ = t.render_header(header());
    let _ = t.render(&Value::Null);
});
