//! A full disk (issue 13), for every writer (tag, import, load, pull; `full_disk` covers tag
//! and import in a user namespace): the store on a 24 MiB tmpfs, filled to the last byte. tag,
//! import, load and pull each fail with one clear line that names the operation, not a
//! temporary file; the store stays as it was and sound; once space is freed they work.
//! Mounting needs root: the unprivileged pass says so on stderr and checks nothing.

use std::time::Duration;
use strata_tests::hardening::*;
use strata_tests::registry::Registry;
use strata_tests::*;

/// Mounts, unmounted (lazily, in reverse order) when dropped.
struct Mounts(Vec<std::path::PathBuf>);

impl Mounts {
    fn mount(&mut self, args: &[&str], dir: &std::path::Path) {
        std::fs::create_dir_all(dir).unwrap();
        let st = std::process::Command::new("mount")
            .args(args)
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(st.success(), "mount {args:?} {} failed", dir.display());
        self.0.push(dir.to_path_buf());
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        for d in self.0.iter().rev() {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(d)
                .status();
        }
    }
}

/// Fills the file system holding `dir` with a file there, to the last byte.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let p = dir.join("filler");
    let mut f = std::fs::File::create(&p).unwrap();
    let block = vec![0x5au8; 64 << 10];
    while f.write_all(&block).is_ok() {}
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    while f.write_all(&small[..1]).is_ok() {}
    p
}

#[test]
fn full_disk_fails_cleanly_naming_the_operation() {
    if !is_root() {
        eprintln!("full_disk: mounting a tmpfs needs root; the root pass checks this");
        return;
    }
    let env = Env::new();
    // A tmpfs with the store on it (bound to the store's path) and room for a filler.
    let disk = env.path().join("disk");
    let mut mounts = Mounts(Vec::new());
    mounts.mount(&["-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs"], &disk);
    std::fs::create_dir(disk.join("store")).unwrap();
    mounts.mount(
        &["--bind", disk.join("store").to_str().unwrap()],
        &env.store(),
    );
    env.import_busybox("bb");
    let reg = Registry::start();
    let layers = vec![Layer::gzip(
        &TarBuilder::new()
            .file("data/x", &vec![7u8; 1 << 20])
            .finish(),
    )];
    push_image(&reg.addr, "disk/img", "1", &layers);
    let archive = env.write("image.tar", &docker_archive_of(&layers, "demo/load:1"));
    let layer = env.write("layer.tar", &TarBuilder::new().file("a", b"a\n").finish());
    let filler = fill(&disk);
    let before = store_fingerprint(&env);
    let image = reg.image("disk/img:1");
    let ops: Vec<Vec<&str>> = vec![
        vec!["tag", "bb", "demo/other:1"],
        vec!["import", layer.to_str().unwrap(), "demo/imp:1"],
        vec!["load", "-i", archive.to_str().unwrap()],
        vec!["pull", &image],
    ];
    for args in &ops {
        let out = env.cmd(args).timeout(Duration::from_secs(120)).run();
        stat("cases", 1);
        let line = assert_clear_refusal(&out);
        assert!(
            !line.contains(".tmp-") && !line.contains("/tmp/stage"),
            "{args:?}: the error names a temporary file: {line}"
        );
        assert_same_store(&before, &store_fingerprint(&env));
    }
    assert_sound(&env);
    std::fs::remove_file(filler).unwrap();
    for args in &ops {
        env.cmd(args).ok();
    }
    assert_sound(&env);
}
