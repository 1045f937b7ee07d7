//! Issue 13: a full disk names what strata was doing, not a temporary file, and leaves
//! the store sound. The store is put on a 4 MiB tmpfs mounted in a new user and mount
//! namespace (`unshare -Urm`), which root and ordinary users alike may do.

use strata_tests::*;

const SCRIPT: &str = r#"
set -e
mkdir -p m
mount -t tmpfs -o size=4m tmpfs m
export STRATA_ROOT="$PWD/m/store"
"$STRATA" import small.tar demo/x:1 >/dev/null
dd if=/dev/zero of=m/fill bs=4k 2>/dev/null || true
set +e
"$STRATA" tag demo/x:1 demo/x:2 2>tag.err; echo "tag=$?"
"$STRATA" import other.tar demo/y:1 2>import.err >/dev/null; echo "import=$?"
"$STRATA" images --format '{{.Repository}}:{{.Tag}}'
rm m/fill
"$STRATA" system check >check.out; echo "check=$?"
"$STRATA" tag demo/x:1 demo/x:2; echo "retag=$?"
"#;

#[test]
fn a_full_disk_names_the_operation_and_leaves_the_store_sound() {
    let env = Env::new();
    env.write("small.tar", &small_rootfs_tar(&[("etc/x", b"x")]));
    let mut noise = Vec::new();
    std::io::Read::read_to_end(&mut NoiseReader::new(5, 2 << 20), &mut noise).unwrap();
    env.write("other.tar", &small_rootfs_tar(&[("big", &noise)]));
    env.write("full.sh", SCRIPT.as_bytes());
    let out = env.sh("exec unshare -Urm sh ./full.sh").ok();
    let read = |f: &str| std::fs::read_to_string(env.work().join(f)).unwrap_or_default();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "tag=1", "{}", out.stdout);
    let tag_err = read("tag.err");
    assert_eq!(
        tag_err.trim_end(),
        format!(
            "Error: no space left on device to save the image database in {}: nothing was changed",
            env.work().join("m/store").display()
        )
    );
    assert_eq!(lines[1], "import=1", "{}", out.stdout);
    let import_err = read("import.err");
    assert!(!import_err.contains(".tmp-"), "{import_err}");
    assert!(
        import_err.contains("No space left on device")
            || import_err.contains("no space left on device"),
        "{import_err}"
    );
    assert_eq!(
        lines[2], "demo/x:1",
        "the store is as it was: {}",
        out.stdout
    );
    assert_eq!(lines[3], "check=0", "{}\n{}", out.stdout, read("check.out"));
    assert_eq!(lines[4], "retag=0", "{}", out.stdout);
}
