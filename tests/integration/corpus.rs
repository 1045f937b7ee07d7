//! The hostile-archive corpus (`strata_tests::corpus`) through every entry point that
//! unpacks: `import` (single-layer cases), `load` (a docker archive) and `pull` (pushed by
//! hand to a test registry; not for xz, which has no registry media type). For every case:
//! one clear error line and the store byte for byte as it was (or, for the cases marked
//! safe, a documented acceptance), nothing written outside the store (a canary directory
//! and `outside/`), and `strata system check` passing afterwards.
//!
//! `commit`'s re-read does not apply: it reads an upper directory the kernel wrote, not
//! an archive anyone crafted.

use std::time::Duration;
use strata_tests::corpus::{case, needs_limits, Expect, LIMITS};
use strata_tests::hardening::*;
use strata_tests::registry::Registry;
use strata_tests::*;

fn through(entry: &str, name: &str) {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let canary_dir = canary(&env);
    let (layers, expect) = case(name, &canary_dir);
    if needs_limits(name) {
        let dir = env.home().join(".config/strata");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), LIMITS).unwrap();
        // The limits are accepted: a refusal must be the archive's doing.
        env.cmd(["images"]).ok();
    }
    let reg = (entry == "pull").then(Registry::start);
    if let Some(r) = &reg {
        push_image(&r.addr, "hostile/img", "1", &layers);
    }
    let before = store_fingerprint(&env);
    let cmd = match entry {
        "import" => {
            assert_eq!(layers.len(), 1, "import takes one layer");
            let file = env.write("layer", &layers[0].blob);
            env.cmd(["import", file.to_str().unwrap(), "demo/hostile:1"])
        }
        "load" => {
            let file = env.write("image.tar", &docker_archive_of(&layers, "demo/hostile:1"));
            env.cmd(["load", "-i", file.to_str().unwrap()])
        }
        "pull" => env.cmd(["pull", &reg.as_ref().unwrap().image("hostile/img:1")]),
        other => panic!("no entry point {other}"),
    };
    let out = cmd.timeout(Duration::from_secs(120)).run();
    stat("cases", 1);
    assert_canary_intact(&env);
    if expect == Expect::Refuse || out.code != 0 {
        assert_clear_refusal(&out);
        assert_same_store(&before, &store_fingerprint(&env));
    }
    assert_sound(&env);
}

macro_rules! corpus {
    ($($case:ident: $($entry:ident)+;)+) => {
        $(
            mod $case {
                $(
                    #[test]
                    fn $entry() {
                        super::through(stringify!($entry), stringify!($case));
                    }
                )+
            }
        )+
    };
}

corpus! {
    dotdot: import load pull;
    dotdot_in_the_middle: import load pull;
    absolute_symlink_then_write_through: import load pull;
    relative_symlink_then_write_through: import load pull;
    chained_symlinks_then_write_through: import load pull;
    symlink_through_dot_then_write_through: import load pull;
    symlink_named_dot: import load pull;
    absolute_symlink_alone: import load pull;
    symlink_in_one_layer_file_through_it_in_the_next: load pull;
    hardlink_out_by_dotdot: import load pull;
    hardlink_to_absolute_path: import load pull;
    hardlink_to_symlink_then_write_through: import load pull;
    hardlink_to_symlink_alone: import load pull;
    whiteout_named_dot: import load pull;
    whiteout_named_dotdot: import load pull;
    whiteout_of_the_root: import load pull;
    whiteout_through_a_symlink: import load pull;
    character_device: import load pull;
    block_device: import load pull;
    setuid_file: import load pull;
    huge_pax_size: import load pull;
    pax_size_larger_than_the_data: import load pull;
    megabyte_gnu_long_name: import load pull;
    tar_that_ends_early: import load pull;
    gzip_bomb: import load pull;
    zstd_bomb: import load pull;
    xz_bomb: import load;
    gzip_bomb_over_the_size_limit: import load pull;
    zstd_bomb_over_the_size_limit: import load pull;
    xz_bomb_over_the_size_limit: import load;
    zstd_window_over_the_limit: import load pull;
    diff_id_that_lies: load pull;
    escape_sequences_in_a_refused_name: import load pull;
}

/// A PAX `size` record that does not fit in 64 bits is refused (the tar crate would fall
/// back to the header's size), as Go's archive/tar (docker) refuses it.
mod pax_size_that_overflows {
    #[test]
    fn import() {
        super::through("import", "pax_size_that_overflows");
    }

    #[test]
    fn load() {
        super::through("load", "pax_size_that_overflows");
    }

    #[test]
    fn pull() {
        super::through("pull", "pax_size_that_overflows");
    }
}

/// A tag in `manifest.json` carrying terminal escape sequences: the refusal quotes it with
/// its control characters escaped.
#[test]
fn escape_sequences_in_a_tag_of_the_archive() {
    let env = Env::new();
    env.import_busybox("demo/busybox:1.0");
    let layers = [strata_tests::hardening::Layer::plain(
        TarBuilder::new().file("etc/a", b"a\n").finish(),
    )];
    let file = env.write(
        "image.tar",
        &docker_archive_of(&layers, "demo/x\x1b[2J\x1b[31m:1"),
    );
    let before = store_fingerprint(&env);
    let out = env.cmd(["load", "-i", file.to_str().unwrap()]).run();
    stat("cases", 1);
    assert_clear_refusal(&out);
    assert_same_store(&before, &store_fingerprint(&env));
    assert_sound(&env);
}
