//! The layer unpacker on an arbitrary tar stream: it may refuse the archive, but it must
//! not panic, and nothing may appear outside the target directory (the target sits in a
//! scratch directory next to a sentinel file; afterwards the scratch directory must hold
//! exactly the two, and the sentinel its contents).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use strata::layer::unpack::{unpack, UnpackOptions};

const SENTINEL: &[u8] = b"sentinel";

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read the scratch directory")
        .map(|e| {
            e.expect("a scratch entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let target = scratch.path().join("target");
    let sentinel = scratch.path().join("sentinel");
    std::fs::create_dir(&target).expect("the target directory");
    std::fs::write(&sentinel, SENTINEL).expect("the sentinel");
    let opts = UnpackOptions {
        single_thread: true,
        ..UnpackOptions::default()
    };
    let _ = unpack(&mut &data[..], &target, &opts);
    assert_eq!(
        names(scratch.path()),
        ["sentinel", "target"],
        "an entry escaped the target"
    );
    let meta = std::fs::symlink_metadata(&sentinel).expect("the sentinel is still there");
    assert!(meta.is_file(), "the sentinel was replaced");
    assert_eq!(
        std::fs::read(&sentinel).unwrap(),
        SENTINEL,
        "the sentinel was written"
    );
    let target_meta = std::fs::symlink_metadata(&target).expect("the target is still there");
    assert!(target_meta.is_dir(), "the target was replaced");
});
