//! Image references: parsing must not panic, and a parsed reference printed again (in
//! full or familiar form, with or without its tag or digest) must parse to the same one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::reference::{familiar, Reference};

fn reparses(r: &Reference, printed: &str) {
    let again = Reference::parse(printed)
        .unwrap_or_else(|e| panic!("{r:?} printed as {printed:?} does not parse: {e}"));
    assert_eq!(&again, r, "{printed:?} parses to another reference");
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(r) = Reference::parse(s) else {
        return;
    };
    reparses(&r, &r.full_string());
    reparses(&r, &r.familiar_string());
    assert_eq!(familiar(&r.full_string()), r.familiar_string());
    let bare = r.without_tag_or_digest();
    reparses(&bare, &bare.name());
    reparses(&bare, &bare.familiar_name());
    let tagged = r.with_default_tag();
    reparses(&tagged, &tagged.full_string());
    if let Ok(t) = bare.with_tag("v1.0_rc-2") {
        reparses(&t, &t.full_string());
    }
    let _ = (r.domain(), r.path(), r.tag(), r.digest());
});
