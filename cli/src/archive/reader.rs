//! Reading an archive in one pass: each regular member is written to the transaction's
//! scratch directory and hashed as it goes by (names that leave the archive, links that
//! point outside it, a name twice and `*.json` members too large to parse are refused,
//! the last on their header); links become aliases between members. A member large
//! enough to be a layer the store lacks is unpacked while it is still being written, on
//! a pool of worker threads (see [`super::follow`]).

use super::follow::{lock, EndGuard, FollowReader, Growth};
use super::names::{clean_name, link_target};
use super::{ArchiveError, MAX_JSON};
use crate::ingest::{unpack_layer, Unpacked};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use store_layout::{Db, Digest, Sha256Writer, Txn};

/// Members at least this large that may be layers are unpacked while they are read.
const EARLY_MIN: u64 = 1 << 20;
/// Bytes read from a member at a time.
const CHUNK: usize = 1 << 20;

/// A regular member, as read: the file it was written to, its sha256 and size.
#[derive(Clone, Debug)]
pub struct MemberFile {
    /// The member's clean name (the key of [`Extracted`]'s files).
    pub clean: String,
    /// Where it was written.
    pub path: PathBuf,
    /// sha256 of its bytes.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// An archive read into a directory: its regular files by (clean) name, its symbolic and
/// hard links as aliases (member name → target member name, never created on disk),
/// and the layers unpacked while it was read, by member name.
pub struct Extracted {
    root: PathBuf,
    files: HashMap<String, MemberFile>,
    links: HashMap<String, String>,
    early: HashMap<String, Result<Unpacked, ArchiveError>>,
}

impl Extracted {
    /// The clean name of member `name`, following links inside the archive.
    fn resolve(&self, name: &str) -> Result<String, ArchiveError> {
        let mut cur = clean_name(name)?.join("/");
        let mut hops = 0;
        while let Some(t) = self.links.get(&cur) {
            hops += 1;
            if hops > 16 {
                return Err(ArchiveError::invalid(format!(
                    "member {name:?}: too many levels of links"
                )));
            }
            cur = t.clone();
        }
        Ok(cur)
    }

    /// Whether the archive has a regular file `name` (following links).
    pub fn has_file(&self, name: &str) -> Result<bool, ArchiveError> {
        Ok(self.root.join(self.resolve(name)?).is_file())
    }

    /// The regular file member `name` is (following links).
    pub fn file(&self, name: &str) -> Result<MemberFile, ArchiveError> {
        let clean = self.resolve(name)?;
        if let Some(f) = self.files.get(&clean) {
            return Ok(f.clone());
        }
        if self.root.join(&clean).exists() {
            return Err(ArchiveError::invalid(format!(
                "member {name:?} is not a regular file"
            )));
        }
        Err(ArchiveError::invalid(format!("member {name:?} is missing")))
    }

    /// Reads a JSON member of at most [`MAX_JSON`] bytes.
    pub fn json(&self, name: &str) -> Result<Vec<u8>, ArchiveError> {
        let f = self.file(name)?;
        if f.size > MAX_JSON {
            return Err(too_large(name));
        }
        std::fs::read(&f.path).map_err(ArchiveError::io(format!("cannot read member {name:?}")))
    }

    /// Takes the result of unpacking `member` while it was read, if that was done.
    pub fn take_early(&mut self, member: &MemberFile) -> Option<Result<Unpacked, ArchiveError>> {
        self.early.remove(&member.clean)
    }
}

/// The refusal of a JSON member larger than [`MAX_JSON`].
fn too_large(name: &str) -> ArchiveError {
    ArchiveError::invalid(format!("member {name:?} is larger than {MAX_JSON} bytes"))
}

/// A member whose unpacking was started while it is read.
struct EarlyJob {
    name: String,
    path: PathBuf,
    growth: Arc<Growth>,
}

/// What the store already holds, to leave alone layers it may have: every layer blob's
/// digest and size, and every DiffID.
struct Known {
    hexes: HashSet<String>,
    sizes: HashSet<u64>,
}

impl Known {
    fn of(db: &Db) -> Known {
        let mut hexes = HashSet::new();
        let mut sizes = HashSet::new();
        for l in db.layers().values() {
            hexes.insert(l.diff_id.hex().to_string());
            if let Some(b) = &l.blob {
                hexes.insert(b.digest.hex().to_string());
                sizes.insert(b.size);
            }
        }
        Known { hexes, sizes }
    }

    /// Whether member `clean` of `size` bytes is worth unpacking before the archive's
    /// index says what it is: it is large, is not named as a JSON document, and cannot be
    /// a layer the store already has (no stored layer blob has its size, no stored blob
    /// or DiffID has the digest in its name).
    fn unpack_early(&self, clean: &str, size: u64) -> bool {
        if size < EARLY_MIN {
            return false;
        }
        let base = clean.rsplit('/').next().unwrap_or(clean);
        if base.ends_with(".json")
            || matches!(base, "json" | "repositories" | "oci-layout" | "VERSION")
        {
            return false;
        }
        let hex = base.strip_suffix(".tar").unwrap_or(base);
        !self.hexes.contains(hex) && !self.sizes.contains(&size)
    }
}

/// Reads the archive `plain`: writes its regular files under `root` (hashing each),
/// keeps its links as aliases, and unpacks large members that may be new layers on
/// `workers` threads while they are written.
pub fn read_archive(
    txn: &Txn,
    db: &Db,
    plain: impl Read,
    root: PathBuf,
    workers: usize,
) -> Result<Extracted, ArchiveError> {
    let known = Known::of(db);
    let (jobs_tx, jobs_rx) = channel::<EarlyJob>();
    let jobs_rx = Mutex::new(jobs_rx);
    let early: Mutex<HashMap<String, Result<Unpacked, ArchiveError>>> = Mutex::new(HashMap::new());
    let (files, links) = std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let job = lock(&jobs_rx).recv();
                let Ok(job) = job else { break };
                let r = File::open(&job.path)
                    .map_err(ArchiveError::io(format!(
                        "cannot read member {:?}",
                        job.name
                    )))
                    .and_then(|file| {
                        Ok(unpack_layer(
                            txn,
                            FollowReader::new(file, job.growth.clone()),
                        )?)
                    });
                lock(&early).insert(job.name, r);
            });
        }
        let r = extract(plain, &root, &known, &jobs_tx);
        drop(jobs_tx);
        r
    })?;
    Ok(Extracted {
        root,
        files,
        links,
        early: early.into_inner().unwrap_or_else(|e| e.into_inner()),
    })
}

type Members = (HashMap<String, MemberFile>, HashMap<String, String>);

/// The reading loop of [`read_archive`].
fn extract(
    plain: impl Read,
    root: &Path,
    known: &Known,
    jobs: &Sender<EarlyJob>,
) -> Result<Members, ArchiveError> {
    let mut files = HashMap::new();
    let mut links = HashMap::new();
    let mut archive = tar::Archive::new(plain);
    let not_tar = |e| ArchiveError::invalid(format!("not a tar archive: {e}"));
    let entries = archive.entries().map_err(not_tar)?;
    let mut first = true;
    let mut buf = vec![0u8; CHUNK];
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) if first => return Err(not_tar(e)),
            Err(e) => return Err(ArchiveError::invalid(e.to_string())),
        };
        first = false;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        use tar::EntryType as E;
        match kind {
            E::Regular | E::Continuous => {}
            E::Directory | E::XGlobalHeader => continue,
            E::Symlink | E::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                let resolved = link_target(&name, &target, kind == E::Symlink)?;
                links.insert(clean_name(&name)?.join("/"), resolved);
                continue;
            }
            _ => {
                return Err(ArchiveError::invalid(format!(
                    "member {name:?} is not a regular file or directory"
                )))
            }
        }
        let clean = clean_name(&name)?.join("/");
        if files.contains_key(&clean) {
            return Err(ArchiveError::invalid(format!(
                "member {name:?} appears twice"
            )));
        }
        let file = write_member(&mut entry, &name, clean, root, known, jobs, &mut buf)?;
        files.insert(file.clean.clone(), file);
    }
    if first {
        return Err(ArchiveError::invalid("no manifest.json or index.json"));
    }
    Ok((files, links))
}

/// Writes the regular member `entry` (named `name`, `clean` once cleaned) under `root`,
/// hashing it, and hands it to an early unpacking job when it may be a new layer.
fn write_member<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    name: &str,
    clean: String,
    root: &Path,
    known: &Known,
    jobs: &Sender<EarlyJob>,
    buf: &mut [u8],
) -> Result<MemberFile, ArchiveError> {
    let size = entry.size();
    // A JSON document too large to parse is refused on its header, before its bytes
    // are read or written.
    if size > MAX_JSON && clean.ends_with(".json") {
        return Err(too_large(name));
    }
    let cannot_extract =
        |e: io::Error| ArchiveError::invalid(format!("cannot extract member {name:?}: {e}"));
    let path = root.join(&clean);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(cannot_extract)?;
    }
    let mut f = File::create(&path).map_err(cannot_extract)?;
    let growth = if known.unpack_early(&clean, size) {
        let g = Arc::new(Growth::default());
        // The workers outlive the reading loop, so the job can always be sent.
        let _ = jobs.send(EarlyJob {
            name: clean.clone(),
            path: path.clone(),
            growth: g.clone(),
        });
        Some(EndGuard(g))
    } else {
        None
    };
    let mut hashed = Sha256Writer::new(&mut f);
    let mut n = 0u64;
    while n < size {
        let want = buf
            .len()
            .min(usize::try_from(size - n).unwrap_or(usize::MAX));
        let got = match entry.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(ArchiveError::invalid(format!(
                    "cannot read member {name:?}: {e}"
                )))
            }
        };
        hashed
            .write_all(&buf[..got])
            .map_err(ArchiveError::io(format!("cannot extract member {name:?}")))?;
        n += got as u64;
        if let Some(g) = &growth {
            g.0.grew(got as u64);
        }
    }
    if n != size {
        return Err(ArchiveError::invalid(format!(
            "member {name:?} is truncated ({n} of {size} bytes)"
        )));
    }
    let (_, digest, _) = hashed.finish();
    if let Some(g) = growth {
        g.0.end(true);
    }
    Ok(MemberFile {
        clean,
        path,
        digest,
        size,
    })
}

/// Unpacks the layer members `members` from their (complete) files, `workers` at a
/// time; the results are in the order of `members`.
pub fn unpack_files(
    txn: &Txn,
    members: &[(&str, &MemberFile)],
    workers: usize,
) -> Vec<Result<Unpacked, ArchiveError>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Unpacked, ArchiveError>>>> =
        Mutex::new((0..members.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers.min(members.len()) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some((name, file)) = members.get(k) else {
                    break;
                };
                let r = File::open(&file.path)
                    .map_err(ArchiveError::io(format!("cannot read member {name:?}")))
                    .and_then(|f| Ok(unpack_layer(txn, f)?));
                lock(&results)[k] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or(Err(ArchiveError::Stopped("the unpacking thread panicked"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_members_are_unpacked_early() {
        let hex = "a".repeat(64);
        let known = Known {
            hexes: HashSet::from([hex.clone()]),
            sizes: HashSet::from([5 << 20]),
        };
        let big = 3 << 20;
        assert!(known.unpack_early("abc/layer.tar", big));
        assert!(known.unpack_early(&format!("blobs/sha256/{}", "b".repeat(64)), big));
        assert!(!known.unpack_early("abc/layer.tar", EARLY_MIN - 1), "small");
        assert!(
            !known.unpack_early("abc/layer.tar", 5 << 20),
            "a stored blob's size"
        );
        assert!(
            !known.unpack_early(&format!("blobs/sha256/{hex}"), big),
            "stored"
        );
        assert!(
            !known.unpack_early(&format!("{hex}.tar"), big),
            "stored DiffID"
        );
        for name in [
            "manifest.json",
            "index.json",
            "x.json",
            "abc/json",
            "repositories",
        ] {
            assert!(!known.unpack_early(name, big), "{name}");
        }
    }
}
