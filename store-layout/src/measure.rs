//! The size of an unpacked layer's directory, as `system check` compares it with the
//! size recorded when the layer was committed.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Bytes of the regular files (each inode once) and symbolic links under `dir`; `None`
/// when some part of it cannot be read, so that a measure is always of the whole tree.
pub(crate) fn tree_bytes(dir: &Path) -> Option<u64> {
    let mut seen = HashSet::new();
    let mut total = 0u64;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in fs::read_dir(&d).ok()? {
            let e = e.ok()?;
            let m = fs::symlink_metadata(e.path()).ok()?;
            if m.is_dir() {
                pending.push(e.path());
            } else if m.is_file() || m.file_type().is_symlink() {
                if m.nlink() > 1 && !seen.insert((m.dev(), m.ino())) {
                    continue;
                }
                total += m.len();
            }
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_and_links_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        fs::create_dir(p.join("d")).unwrap();
        fs::write(p.join("d/a"), b"12345").unwrap();
        fs::hard_link(p.join("d/a"), p.join("b")).unwrap();
        std::os::unix::fs::symlink("d/a", p.join("l")).unwrap();
        assert_eq!(tree_bytes(p), Some(5 + 3));
        fs::write(p.join("d/a"), b"1234567").unwrap();
        assert_eq!(tree_bytes(p), Some(7 + 3));
        assert_eq!(tree_bytes(&p.join("missing")), None);
    }
}
