//! The hostile-archive corpus of issue 13: each case is an image (one or more layers) built
//! here, deterministically, and what strata must do with it. The cases aim at a canary
//! directory outside the store (see [`crate::hardening::canary`]); the integration tests
//! (`tests/integration/corpus.rs`) feed each one to every entry point that unpacks.

use crate::hardening::{Layer, Packing};
use crate::{kind, pax_records, RawHeader, TarBuilder};
use std::io::Write;
use std::path::Path;

/// What strata must do with a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Refuse it: one clear error line, exit status 1, the store unchanged.
    Refuse,
    /// Either refuse it so, or accept it (the documented safe handling: devices skipped
    /// for an ordinary user, setuid bits kept on files the user owns, a symlink stored as
    /// a symlink); either way nothing is written outside the store and the store is sound.
    Safe,
}

/// `../` repeated far past the root, then `target` (absolute) without its leading slash.
pub fn climb_to(target: &Path) -> String {
    format!(
        "{}{}",
        "../".repeat(32),
        target.to_str().unwrap().trim_start_matches('/')
    )
}

fn one(tar: Vec<u8>) -> Vec<Layer> {
    vec![Layer::plain(tar)]
}

/// A tar with one regular file of `size` zero bytes.
fn zeros_tar(size: u64) -> Vec<u8> {
    TarBuilder::new()
        .declared("bomb", kind::FILE, size, &[])
        .unterminated()
}

/// A complete tar of one file of `size` zero bytes.
fn complete_zeros_tar(size: usize) -> Vec<u8> {
    TarBuilder::new().file("bomb", &vec![0u8; size]).finish()
}

/// The limits (in the user's configuration file) the `*_over_the_size_limit` cases run
/// under: layers of at most 16 MiB, grown at most 100 times by decompression.
pub const LIMITS: &str = "max-layer-size = 16777216\nmax-expansion-ratio = 100\n";

/// Whether case `name` runs under [`LIMITS`].
pub fn needs_limits(name: &str) -> bool {
    name.ends_with("_over_the_size_limit")
}

/// A stream whose tar header claims 1 TiB, then 64 MiB of zeros and the end: a few
/// hundred KiB compressed that would unpack to a terabyte.
fn bomb_tar() -> Vec<u8> {
    let mut tar = zeros_tar(1 << 40);
    tar.resize(tar.len() + (64 << 20), 0);
    tar
}

/// A zstd frame that declares a 2 GiB window (over decoders' default limit) and holds
/// `data` in raw blocks.
pub fn zstd_big_window(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd];
    // Frame header descriptor: no single segment, no checksum, no content size.
    out.push(0x00);
    // Window descriptor: exponent 31 - 10, mantissa 0: 2 GiB.
    out.push((31 - 10) << 3);
    let chunks: Vec<&[u8]> = data.chunks(100_000).collect();
    for (i, c) in chunks.iter().enumerate() {
        let last = u32::from(i + 1 == chunks.len());
        let h = ((c.len() as u32) << 3) | last; // block type 0: raw
        out.extend_from_slice(&h.to_le_bytes()[..3]);
        out.extend_from_slice(c);
    }
    out
}

fn compress_xz(data: &[u8]) -> Vec<u8> {
    let mut w = xz2::write::XzEncoder::new(Vec::new(), 1);
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

fn compress_zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

/// The case named `name`, aimed at `canary` (an absolute path outside the store, holding
/// the file `victim`): its layers and what strata must do.
pub fn case(name: &str, canary: &Path) -> (Vec<Layer>, Expect) {
    use Expect::*;
    let abs = canary.to_str().unwrap();
    let climb = climb_to(canary);
    match name {
        "dotdot" => (
            one(TarBuilder::new()
                .file("etc/ok", b"fine\n")
                .file(format!("{climb}/pwned"), b"pwned\n")
                .finish()),
            Refuse,
        ),
        "dotdot_in_the_middle" => (
            one(TarBuilder::new()
                .dir("etc/")
                .file("etc/../../../../../../../../pwned", b"pwned\n")
                .finish()),
            Refuse,
        ),
        "absolute_symlink_then_write_through" => (
            one(TarBuilder::new()
                .symlink("evil", abs)
                .file("evil/pwned", b"pwned\n")
                .finish()),
            Refuse,
        ),
        "relative_symlink_then_write_through" => (
            one(TarBuilder::new()
                .dir("a/")
                .symlink("a/evil", &climb)
                .file("a/evil/pwned", b"pwned\n")
                .finish()),
            Refuse,
        ),
        "chained_symlinks_then_write_through" => (
            one(TarBuilder::new()
                .dir("a/")
                .symlink("a/one", "../two")
                .symlink("two", "three")
                .symlink("three", &climb)
                .file("a/one/pwned", b"pwned\n")
                .finish()),
            Refuse,
        ),
        "symlink_through_dot_then_write_through" => (
            one(TarBuilder::new()
                .symlink("evil", abs)
                .file("./evil/./pwned", b"pwned\n")
                .finish()),
            Refuse,
        ),
        "symlink_named_dot" => (
            one(TarBuilder::new()
                .symlink(".", abs)
                .file("pwned", b"pwned\n")
                .finish()),
            Refuse,
        ),
        "absolute_symlink_alone" => (one(TarBuilder::new().symlink("evil", abs).finish()), Safe),
        "symlink_in_one_layer_file_through_it_in_the_next" => (
            vec![
                Layer::plain(TarBuilder::new().symlink("evil", abs).finish()),
                Layer::plain(TarBuilder::new().file("evil/pwned", b"pwned\n").finish()),
            ],
            Safe,
        ),
        "hardlink_out_by_dotdot" => (
            one(TarBuilder::new()
                .hardlink("link", format!("{climb}/victim"))
                .file("link", b"pwned\n")
                .finish()),
            Refuse,
        ),
        "hardlink_to_absolute_path" => (
            one(TarBuilder::new()
                .hardlink("link", format!("{abs}/victim"))
                .finish()),
            Refuse,
        ),
        "hardlink_to_symlink_then_write_through" => (
            one(TarBuilder::new()
                .symlink("s", abs)
                .hardlink("h", "s")
                .file("h/pwned", b"pwned\n")
                .finish()),
            Refuse,
        ),
        "hardlink_to_symlink_alone" => (
            one(TarBuilder::new()
                .symlink("s", format!("{abs}/victim"))
                .hardlink("h", "s")
                .finish()),
            Safe,
        ),
        "whiteout_named_dot" => (
            one(TarBuilder::new()
                .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
                .file(".wh..", b"")
                .finish()),
            Refuse,
        ),
        "whiteout_named_dotdot" => (
            one(TarBuilder::new()
                .dir("etc/")
                .file("etc/.wh...", b"")
                .finish()),
            Refuse,
        ),
        "whiteout_of_the_root" => (one(TarBuilder::new().file(".wh.", b"").finish()), Refuse),
        "whiteout_through_a_symlink" => (
            one(TarBuilder::new()
                .symlink("evil", abs)
                .file("evil/.wh.victim", b"")
                .finish()),
            Refuse,
        ),
        "character_device" => (
            one(TarBuilder::new().char_device("dev/mem", 1, 1).finish()),
            Safe,
        ),
        "block_device" => {
            let mut h = RawHeader::new("dev/sda", kind::BLOCK);
            h.devmajor = 8;
            h.devminor = 0;
            (one(TarBuilder::new().entry(&h, &[]).finish()), Safe)
        }
        "setuid_file" => {
            let h = RawHeader::new("bin/suid", kind::FILE).mode(0o4755).size(3);
            (one(TarBuilder::new().entry(&h, b"#!\n").finish()), Safe)
        }
        "huge_pax_size" => {
            let mut records = pax_records(&[("path", b"etc/huge")]);
            records.resize(4096, b'\n');
            (
                one(TarBuilder::new()
                    .declared("PaxHeaders/huge", kind::PAX, 2 << 30, &records)
                    .file("etc/huge", b"x")
                    .unterminated()),
                Refuse,
            )
        }
        "pax_size_larger_than_the_data" => (
            one(TarBuilder::new()
                .pax(&[("size", b"1048576")])
                .file("etc/short", b"only this\n")
                .finish()),
            Refuse,
        ),
        "pax_size_that_overflows" => (
            one(TarBuilder::new()
                .pax(&[("size", b"99999999999999999999999999")])
                .file("etc/over", b"x\n")
                .finish()),
            Refuse,
        ),
        "megabyte_gnu_long_name" => {
            let mut name = b"d/".repeat(1 << 19);
            name.extend_from_slice(b"f");
            let h = RawHeader::new("././@LongLink", kind::GNU_LONGNAME).size(name.len() as u64 + 1);
            let mut body = name;
            body.push(0);
            (
                one(TarBuilder::new()
                    .entry(&h, &body)
                    .file("placeholder", b"x\n")
                    .finish()),
                Refuse,
            )
        }
        "tar_that_ends_early" => {
            let full = crate::busybox_rootfs_tar(false);
            (one(full[..full.len() / 2].to_vec()), Refuse)
        }
        "gzip_bomb" => (
            vec![Layer::packed(crate::gzip(&bomb_tar()), Packing::Gzip)],
            Refuse,
        ),
        "zstd_bomb" => (
            vec![Layer::packed(compress_zstd(&bomb_tar()), Packing::Zstd)],
            Refuse,
        ),
        "xz_bomb" => (
            vec![Layer::packed(compress_xz(&bomb_tar()), Packing::Xz)],
            Refuse,
        ),
        "gzip_bomb_over_the_size_limit" => {
            (vec![Layer::gzip(&complete_zeros_tar(64 << 20))], Refuse)
        }
        "zstd_bomb_over_the_size_limit" => {
            let tar = complete_zeros_tar(64 << 20);
            let mut l = Layer::packed(compress_zstd(&tar), Packing::Zstd);
            l.diff_id = format!("sha256:{}", crate::sha256_hex(&tar));
            (vec![l], Refuse)
        }
        "xz_bomb_over_the_size_limit" => {
            let tar = complete_zeros_tar(64 << 20);
            let mut l = Layer::packed(compress_xz(&tar), Packing::Xz);
            l.diff_id = format!("sha256:{}", crate::sha256_hex(&tar));
            (vec![l], Refuse)
        }
        "zstd_window_over_the_limit" => {
            let tar = TarBuilder::new().file("etc/w", b"window\n").finish();
            (
                vec![Layer::packed(zstd_big_window(&tar), Packing::Zstd)],
                Refuse,
            )
        }
        "diff_id_that_lies" => {
            let mut l = Layer::plain(TarBuilder::new().file("etc/a", b"a\n").finish());
            l.diff_id = format!("sha256:{}", crate::sha256_hex(b"something else"));
            (vec![l], Refuse)
        }
        "escape_sequences_in_a_refused_name" => (
            one(TarBuilder::new()
                .file(format!("\x1b[2J\x1b[31m{climb}/pwned\x07"), b"pwned\n")
                .finish()),
            Refuse,
        ),
        other => panic!("no corpus case {other}"),
    }
}

/// Every case's name.
pub const NAMES: &[&str] = &[
    "dotdot",
    "dotdot_in_the_middle",
    "absolute_symlink_then_write_through",
    "relative_symlink_then_write_through",
    "chained_symlinks_then_write_through",
    "symlink_through_dot_then_write_through",
    "symlink_named_dot",
    "absolute_symlink_alone",
    "symlink_in_one_layer_file_through_it_in_the_next",
    "hardlink_out_by_dotdot",
    "hardlink_to_absolute_path",
    "hardlink_to_symlink_then_write_through",
    "hardlink_to_symlink_alone",
    "whiteout_named_dot",
    "whiteout_named_dotdot",
    "whiteout_of_the_root",
    "whiteout_through_a_symlink",
    "character_device",
    "block_device",
    "setuid_file",
    "huge_pax_size",
    "pax_size_larger_than_the_data",
    "pax_size_that_overflows",
    "megabyte_gnu_long_name",
    "tar_that_ends_early",
    "gzip_bomb",
    "zstd_bomb",
    "xz_bomb",
    "gzip_bomb_over_the_size_limit",
    "zstd_bomb_over_the_size_limit",
    "xz_bomb_over_the_size_limit",
    "zstd_window_over_the_limit",
    "diff_id_that_lies",
    "escape_sequences_in_a_refused_name",
];
