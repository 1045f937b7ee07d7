//! Image references: parsing must not panic, and a parsed reference printed again (in
//! full or familiar form, with or without its tag or digest) must parse to the same one.
//!
//! One exception, docker's own: a Docker Hub repository whose first component looks like
//! a registry (`docker.io/a.b/c`) has the familiar form `a.b/c`, which names registry
//! `a.b` (Docker Hub namespaces cannot have dots, so no such image exists); and
//! `library/HEX64` has the familiar form `HEX64`, which docker refuses as an image ID.
//! The familiar form is checked only where it is unambiguous.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::reference::{familiar, is_full_id, Reference};

fn reparses(r: &Reference, printed: &str) {
    let again = Reference::parse(printed)
        .unwrap_or_else(|e| panic!("{r:?} printed as {printed:?} does not parse: {e}"));
    assert_eq!(&again, r, "{printed:?} parses to another reference");
}

/// A Docker Hub reference whose familiar form docker reads as something else.
fn hub_path_looks_like_domain(r: &Reference) -> bool {
    let first = r.path().split('/').next().unwrap_or_default();
    r.domain() == "docker.io"
        && (first.contains(['.', ':']) || first == "localhost" || is_full_id(&r.familiar_name()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(r) = Reference::parse(s) else {
        return;
    };
    reparses(&r, &r.full_string());
    assert_eq!(familiar(&r.full_string()), r.familiar_string());
    let bare = r.without_tag_or_digest();
    reparses(&bare, &bare.name());
    if !hub_path_looks_like_domain(&r) {
        reparses(&r, &r.familiar_string());
        reparses(&bare, &bare.familiar_name());
    }
    let tagged = r.with_default_tag();
    reparses(&tagged, &tagged.full_string());
    if let Ok(t) = bare.with_tag("v1.0_rc-2") {
        reparses(&t, &t.full_string());
    }
    let _ = (r.domain(), r.path(), r.tag(), r.digest());
});
