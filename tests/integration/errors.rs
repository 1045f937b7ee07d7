//! Errors in general: one `Error: ` line on stderr, exit status 1, store unchanged.

use strata_tests::*;

#[test]
fn no_such_image_messages() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let before = env.snapshot();
    for args in [
        vec!["inspect", "-f", "{{.Id}}", "nosuch:latest"],
        vec!["rmi", "nosuch:latest"],
        vec!["tag", "nosuch:latest", "demo/x:1"],
        vec!["history", "nosuch:latest"],
    ] {
        let out = env.cmd(&args).code(1);
        let line = out.single_error();
        assert!(line.contains("No such"), "{args:?}: {line}");
        assert!(line.contains("nosuch"), "{args:?}: {line}");
    }
    assert_eq!(env.snapshot(), before);
}

#[test]
fn invalid_reference_messages() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let before = env.snapshot();
    for args in [
        vec!["rmi", "upper/CASE"],
        vec!["rmi", "a:b:c"],
        vec!["tag", "demo/busybox:1.0", "demo//x"],
        vec!["tag", "demo/busybox:1.0", "demo/x:"],
    ] {
        let out = env.cmd(&args).code(1);
        let line = out.single_error();
        assert!(
            line.contains("invalid reference format"),
            "{args:?}: {line}"
        );
    }
    assert_eq!(env.snapshot(), before);
}

#[test]
fn errors_do_not_write_to_stdout() {
    let env = Env::new();
    let out = env.cmd(["rmi", "nosuch"]).code(1);
    assert_eq!(out.stdout, "");
}
