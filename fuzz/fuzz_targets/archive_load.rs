//! `load` on arbitrary bytes into a fresh store: it may refuse the archive, but it must not
//! panic, and whatever happened the store must stay sound (`system check --quick`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use store_layout::{CheckDepth, Store};

fuzz_target!(|data: &[u8]| {
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let store = Store::open(&scratch.path().join("store")).expect("a store");
    let _ = strata::archive::load::load(&store, data);
    let report = store.check(CheckDepth::Quick).expect("the check runs");
    assert!(report.is_sound(), "load left an unsound store: {report:?}");
});
