//! Checking a whole store, and repairing what the check finds.
//!
//! [`Store::check`] looks at everything under the root while holding the store lock:
//! every blob against its digest and every layer directory against the size recorded
//! for it (unless the check is quick), every layer record against its directory and its
//! chain, every image's layers and blobs, every tag, every
//! container record and its directories, and what interrupted operations leave behind
//! (a journal, staging directories whose owner is gone, trash, temporary files).
//! [`Store::repair`] does the same check and then, in one metadata change under the same
//! lock, removes what is broken (images, tags and containers that name something missing
//! or corrupt) and what nothing uses.

use crate::containers::valid_container_id;
use crate::digest::Sha256Writer;
use crate::error::IoContext;
use crate::lock::StoreLock;
use crate::staging::{owner_alive, remove_tree};
use crate::{chain_id, ContainerRecord, Db, Digest, LayerRecord, Result, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// How thoroughly to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckDepth {
    /// Everything but the blobs' content.
    Quick,
    /// Everything, hashing every blob.
    Full,
}

/// What a leftover of an interrupted operation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeftoverKind {
    /// `journal.json`: a change that did not finish.
    Journal,
    /// A staging directory or lock file whose owner is gone.
    Staging,
    /// A directory moved aside to be deleted.
    Trash,
    /// A temporary file of an atomic replacement.
    TempFile,
    /// Anything else under `tmp/`, or a container directory without a record.
    Unknown,
}

/// One thing wrong with a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A blob something needs is not there.
    BlobMissing {
        /// The blob.
        digest: Digest,
        /// What needs it.
        used_by: String,
    },
    /// A blob whose content does not hash to its name.
    BlobCorrupt {
        /// The blob.
        digest: Digest,
        /// What its content hashes to.
        actual: Digest,
    },
    /// A file under `blobs/sha256/` that nothing uses, or that is not a blob.
    BlobUnused {
        /// The file.
        path: PathBuf,
    },
    /// A layer record whose directory is missing or not a directory.
    LayerDirMissing {
        /// The layer's chain ID.
        chain_id: Digest,
    },
    /// A layer record whose chain ID does not follow from its parent and DiffID, or
    /// whose parent is not recorded.
    LayerChainBroken {
        /// The layer's chain ID.
        chain_id: Digest,
    },
    /// A layer directory whose size is not the one recorded when it was committed: its
    /// files were changed, added or removed since.
    LayerSizeChanged {
        /// The layer's chain ID.
        chain_id: Digest,
        /// The size recorded, in bytes.
        recorded: u64,
        /// The size now.
        actual: u64,
    },
    /// A directory under `layers/` that no layer record names.
    LayerUnused {
        /// The directory.
        path: PathBuf,
    },
    /// An image that names a layer that is not recorded, or whose layers are not one chain.
    ImageChainBroken {
        /// The image.
        image: Digest,
        /// Why.
        reason: String,
    },
    /// A tag that points at an image that is not in the store.
    TagDangling {
        /// The full reference.
        tag: String,
        /// The image it names.
        image: Digest,
    },
    /// A container whose record is unreadable, whose directories are missing, or that
    /// uses a layer that is not recorded.
    ContainerBroken {
        /// The container's ID.
        id: String,
        /// Why.
        reason: String,
    },
    /// What an interrupted operation left behind.
    Leftover {
        /// What it is.
        kind: LeftoverKind,
        /// Where.
        path: PathBuf,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::BlobMissing { digest, used_by } => {
                write!(f, "blob {digest} is missing (used by {used_by})")
            }
            Problem::BlobCorrupt { digest, actual } => {
                write!(
                    f,
                    "blob {digest} is corrupt: its content hashes to {actual}"
                )
            }
            Problem::BlobUnused { path } => write!(f, "unused blob file {}", path.display()),
            Problem::LayerDirMissing { chain_id } => {
                write!(f, "layer {chain_id} has no directory")
            }
            Problem::LayerChainBroken { chain_id } => write!(
                f,
                "layer {chain_id} does not follow from its parent and DiffID"
            ),
            Problem::LayerSizeChanged {
                chain_id,
                recorded,
                actual,
            } => write!(
                f,
                "layer {chain_id} has changed: it holds {actual} bytes, {recorded} when it was stored"
            ),
            Problem::LayerUnused { path } => {
                write!(f, "unused layer directory {}", path.display())
            }
            Problem::ImageChainBroken { image, reason } => write!(f, "image {image}: {reason}"),
            Problem::TagDangling { tag, image } => {
                write!(
                    f,
                    "tag {tag} points at image {image}, which is not in the store"
                )
            }
            Problem::ContainerBroken { id, reason } => write!(f, "container {id}: {reason}"),
            Problem::Leftover { kind, path } => {
                let what = match kind {
                    LeftoverKind::Journal => "journal of an interrupted change",
                    LeftoverKind::Staging => "staging area of an interrupted operation",
                    LeftoverKind::Trash => "trash of an interrupted removal",
                    LeftoverKind::TempFile => "temporary file of an interrupted write",
                    LeftoverKind::Unknown => "unknown leftover",
                };
                write!(f, "{what}: {}", path.display())
            }
        }
    }
}

/// What a check looked at and what it found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Blobs checked.
    pub blobs: usize,
    /// Layers checked.
    pub layers: usize,
    /// Images checked.
    pub images: usize,
    /// Tags checked.
    pub tags: usize,
    /// Containers checked.
    pub containers: usize,
    /// Every problem, in the order found.
    pub problems: Vec<Problem>,
}

impl CheckReport {
    /// Whether the store is sound.
    pub fn is_sound(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What a repair removed, one line each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Repairs {
    /// What was removed, as the user reads it.
    pub removed: Vec<String>,
}

impl Store {
    /// What interrupted operations left behind (a journal, temporary files, staging
    /// directories without a live owner, trash), found under the store lock.
    pub fn leftovers(&self) -> Result<Vec<Problem>> {
        let _lock = self.lock()?;
        let mut problems = Vec::new();
        self.find_leftovers(&mut problems)?;
        Ok(problems)
    }

    /// Checks the whole store under the store lock.
    pub fn check(&self, depth: CheckDepth) -> Result<CheckReport> {
        let _lock = self.lock()?;
        let db = self.db()?;
        self.inspect(&db, depth)
    }

    /// Checks the whole store and removes what is broken or unused, under the store lock
    /// and as one metadata change. Returns what the check found and what was removed.
    pub fn repair(&self, depth: CheckDepth) -> Result<(CheckReport, Repairs)> {
        let journal = self.root().join("journal.json");
        let mut repairs = Repairs::default();
        if journal.exists() {
            self.roll_back_journal()?;
            repairs.removed.push(format!(
                "rolled back the interrupted change of {}",
                journal.display()
            ));
        }
        let ((mut report, fixed), removed) = self.update(|db| {
            let report = self.inspect(db, depth)?;
            let fixed = self.fix(db, &report)?;
            Ok((report, fixed))
        })?;
        if !repairs.removed.is_empty() {
            report.problems.insert(
                0,
                Problem::Leftover {
                    kind: LeftoverKind::Journal,
                    path: journal,
                },
            );
        }
        repairs.removed.extend(fixed);
        for l in removed.layers {
            repairs.removed.push(format!("removed unused layer {l}"));
        }
        Ok((report, repairs))
    }

    /// Checks everything against `db`; the caller holds the store lock.
    fn inspect(&self, db: &Db, depth: CheckDepth) -> Result<CheckReport> {
        let mut r = CheckReport {
            layers: db.layers().len(),
            images: db.images().len(),
            tags: db.tags().len(),
            ..CheckReport::default()
        };
        self.find_leftovers(&mut r.problems)?;
        self.check_blobs(db, depth, &mut r)?;
        self.check_layers(db, depth, &mut r.problems)?;
        check_images(db, &mut r.problems);
        for (tag, image) in db.tags() {
            if !db.images().contains_key(image) {
                r.problems.push(Problem::TagDangling {
                    tag: tag.clone(),
                    image: image.clone(),
                });
            }
        }
        r.containers = self.check_containers(db, &mut r.problems)?;
        Ok(r)
    }

    /// Blobs that images and layers use, with what uses them.
    fn blob_users(db: &Db) -> BTreeMap<Digest, String> {
        let mut users = BTreeMap::new();
        for (id, img) in db.images() {
            users.insert(id.clone(), format!("the config of image {id}"));
            users.insert(img.manifest.clone(), format!("the manifest of image {id}"));
        }
        for (chain, layer) in db.layers() {
            if let Some(b) = &layer.blob {
                users.insert(b.digest.clone(), format!("the archive of layer {chain}"));
                for c in db.compressed().get(&b.digest).into_iter().flatten() {
                    users.insert(
                        c.digest.clone(),
                        format!("a compressed copy of {}", b.digest),
                    );
                }
            }
        }
        users
    }

    fn check_blobs(&self, db: &Db, depth: CheckDepth, r: &mut CheckReport) -> Result<()> {
        let users = Self::blob_users(db);
        for (digest, used_by) in &users {
            let path = self.blob_path(digest);
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => {}
                Ok(_) => {
                    r.problems.push(Problem::BlobMissing {
                        digest: digest.clone(),
                        used_by: used_by.clone(),
                    });
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    r.problems.push(Problem::BlobMissing {
                        digest: digest.clone(),
                        used_by: used_by.clone(),
                    });
                    continue;
                }
                Err(e) => return Err(e).at(path),
            }
            r.blobs += 1;
            if depth == CheckDepth::Full {
                let actual = hash_file(&path)?;
                if actual != *digest {
                    r.problems.push(Problem::BlobCorrupt {
                        digest: digest.clone(),
                        actual,
                    });
                }
            }
        }
        for name in list(&self.blob_dir_path())? {
            let known = Digest::parse(&format!("sha256:{name}"))
                .map(|d| users.contains_key(&d))
                .unwrap_or(false);
            if !known {
                r.problems.push(Problem::BlobUnused {
                    path: self.blob_dir_path().join(name),
                });
            }
        }
        Ok(())
    }

    /// Checks each layer record's chain and directory, and (in a full check) the
    /// directory's size against the one recorded.
    fn check_layers(&self, db: &Db, depth: CheckDepth, problems: &mut Vec<Problem>) -> Result<()> {
        for (chain, layer) in db.layers() {
            let parent_ok = layer
                .parent
                .as_ref()
                .is_none_or(|p| db.layers().contains_key(p));
            if !parent_ok || chain_id(layer.parent.as_ref(), &layer.diff_id) != *chain {
                problems.push(Problem::LayerChainBroken {
                    chain_id: chain.clone(),
                });
            }
            let diff = self.layer_dir(chain);
            match fs::symlink_metadata(&diff) {
                Ok(m) if m.is_dir() => {
                    if depth == CheckDepth::Full {
                        problems.extend(size_change(chain, layer, &diff));
                    }
                }
                Ok(_) => problems.push(Problem::LayerDirMissing {
                    chain_id: chain.clone(),
                }),
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    problems.push(Problem::LayerDirMissing {
                        chain_id: chain.clone(),
                    })
                }
                Err(e) => return Err(e).at(diff),
            }
        }
        let layers = self.root().join("layers");
        for name in list(&layers)? {
            let known = Digest::parse(&format!("sha256:{name}"))
                .map(|d| db.layers().contains_key(&d))
                .unwrap_or(false);
            if !known {
                problems.push(Problem::LayerUnused {
                    path: layers.join(name),
                });
            }
        }
        Ok(())
    }

    /// Checks the container records; returns how many there are.
    fn check_containers(&self, db: &Db, problems: &mut Vec<Problem>) -> Result<usize> {
        let root = self.root().join("containers");
        let mut count = 0;
        for name in list(&root)? {
            let dir = root.join(&name);
            if !valid_container_id(&name) || !dir.is_dir() {
                // Only what the store itself makes there: other names are left alone.
                if leftover_kind(&name) != LeftoverKind::Unknown && !owner_alive(&name) {
                    problems.push(Problem::Leftover {
                        kind: leftover_kind(&name),
                        path: dir,
                    });
                }
                continue;
            }
            count += 1;
            let stale = |n: &String| n.starts_with(".tmp-") && !owner_alive(n);
            for tmp in list(&dir)?.into_iter().filter(stale) {
                problems.push(Problem::Leftover {
                    kind: LeftoverKind::TempFile,
                    path: dir.join(tmp),
                });
            }
            if let Some(reason) = container_fault(&dir, db) {
                problems.push(Problem::ContainerBroken { id: name, reason });
            }
        }
        Ok(count)
    }

    /// Finds the journal, temporary files in the root, and what is in `tmp/` without a
    /// live owner.
    fn find_leftovers(&self, problems: &mut Vec<Problem>) -> Result<()> {
        let journal = self.root().join("journal.json");
        if journal.exists() {
            problems.push(Problem::Leftover {
                kind: LeftoverKind::Journal,
                path: journal,
            });
        }
        for name in list(self.root())? {
            if name.starts_with(".tmp-") {
                problems.push(Problem::Leftover {
                    kind: LeftoverKind::TempFile,
                    path: self.root().join(name),
                });
            }
        }
        let tmp = self.root().join("tmp");
        let names = list(&tmp)?;
        for name in &names {
            if crate::staging::is_live(&tmp, name, &names)? {
                continue;
            }
            problems.push(Problem::Leftover {
                kind: leftover_kind(name),
                path: tmp.join(name),
            });
        }
        Ok(())
    }

    /// Removes what `report` names as broken or unused; the caller holds the lock and
    /// writes `db` afterwards (which also removes the layers and blobs nothing uses).
    fn fix(&self, db: &mut Db, report: &CheckReport) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        let mut broken_layers = BTreeSet::new();
        let mut broken_blobs = BTreeSet::new();
        let mut broken_images = BTreeSet::new();
        for p in &report.problems {
            match p {
                Problem::BlobMissing { digest, .. } | Problem::BlobCorrupt { digest, .. } => {
                    broken_blobs.insert(digest.clone());
                }
                Problem::LayerDirMissing { chain_id }
                | Problem::LayerChainBroken { chain_id }
                | Problem::LayerSizeChanged { chain_id, .. } => {
                    broken_layers.insert(chain_id.clone());
                }
                Problem::ImageChainBroken { image, .. } => {
                    broken_images.insert(image.clone());
                }
                Problem::TagDangling { tag, .. } => {
                    db.untag(tag);
                    removed.push(format!("removed dangling tag {tag}"));
                }
                Problem::BlobUnused { path }
                | Problem::LayerUnused { path }
                | Problem::Leftover { path, .. } => {
                    if !path.ends_with("journal.json") {
                        remove_tree(path).at(path)?;
                        removed.push(format!("removed {}", path.display()));
                    }
                }
                Problem::ContainerBroken { id, .. } => {
                    let dir = self.container_dir(id)?;
                    remove_tree(&dir).at(&dir)?;
                    removed.push(format!("removed broken container {id}"));
                }
            }
        }
        for (chain, layer) in db.layers() {
            if layer
                .blob
                .as_ref()
                .is_some_and(|b| broken_blobs.contains(&b.digest))
            {
                broken_layers.insert(chain.clone());
            }
        }
        for (id, img) in db.images() {
            if broken_blobs.contains(id)
                || broken_blobs.contains(&img.manifest)
                || img.layers.iter().any(|l| broken_layers.contains(l))
            {
                broken_images.insert(id.clone());
            }
        }
        for c in self.containers()? {
            if c.layers.iter().any(|l| broken_layers.contains(l)) {
                let dir = self.container_dir(&c.id)?;
                remove_tree(&dir).at(&dir)?;
                removed.push(format!(
                    "removed container {} (its layers are broken)",
                    c.id
                ));
            }
        }
        for id in &broken_images {
            for tag in db
                .tags_of(id)
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
            {
                removed.push(format!("untagged {tag}"));
            }
            db.remove_image(id);
            removed.push(format!("removed broken image {id}"));
        }
        for chain in &broken_layers {
            db.remove_layer(chain);
            let dir = self.root().join("layers").join(chain.hex());
            remove_tree(&dir).at(&dir)?;
        }
        for b in &broken_blobs {
            let path = self.blob_path(b);
            if path.exists() {
                fs::remove_file(&path).at(&path)?;
                removed.push(format!("removed corrupt blob {b}"));
            }
        }
        Ok(removed)
    }

    fn blob_dir_path(&self) -> PathBuf {
        self.root().join("blobs/sha256")
    }

    /// Takes the lock and rolls back an interrupted change, as opening the store does.
    fn roll_back_journal(&self) -> Result<()> {
        let _lock: StoreLock = self.lock()?;
        self.roll_back_locked()
    }
}

/// The layer directory `diff`'s size, if it is not the one recorded (a layer recorded
/// without one, or whose directory cannot be read whole, is not compared).
fn size_change(chain: &Digest, layer: &LayerRecord, diff: &Path) -> Option<Problem> {
    let recorded = layer.tree_size?;
    let actual = crate::measure::tree_bytes(diff)?;
    (actual != recorded).then(|| Problem::LayerSizeChanged {
        chain_id: chain.clone(),
        recorded,
        actual,
    })
}

/// Checks that each image's layers are recorded and form one chain.
fn check_images(db: &Db, problems: &mut Vec<Problem>) {
    for (id, img) in db.images() {
        let mut below: Option<&Digest> = None;
        for (i, chain) in img.layers.iter().enumerate() {
            let reason = match db.layers().get(chain) {
                None => Some(format!("layer {chain} is not in the store")),
                Some(l) if l.parent.as_ref() != below => {
                    Some(format!("layer {} does not sit on layer {}", i + 1, i))
                }
                Some(_) => None,
            };
            if let Some(reason) = reason {
                problems.push(Problem::ImageChainBroken {
                    image: id.clone(),
                    reason,
                });
                break;
            }
            below = Some(chain);
        }
    }
}

/// Why a container's directory is not a usable container, if it is not.
fn container_fault(dir: &Path, db: &Db) -> Option<String> {
    let record = match fs::read(dir.join("container.json")) {
        Ok(data) => data,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Some("no container.json (a creation that did not finish)".into())
        }
        Err(e) => return Some(format!("cannot read container.json: {e}")),
    };
    let record: ContainerRecord = match serde_json::from_slice(&record) {
        Ok(r) => r,
        Err(e) => return Some(format!("corrupt container.json: {e}")),
    };
    for d in ["upper", "work"] {
        if !dir.join(d).is_dir() {
            return Some(format!("its {d} directory is missing"));
        }
    }
    record
        .layers
        .iter()
        .find(|l| !db.layers().contains_key(*l))
        .map(|l| format!("it uses layer {l}, which is not in the store"))
}

fn leftover_kind(name: &str) -> LeftoverKind {
    if name.starts_with("stage-") || crate::claim::is_claim(name) {
        LeftoverKind::Staging
    } else if name.starts_with("trash-") {
        LeftoverKind::Trash
    } else if name.starts_with(".tmp-") {
        LeftoverKind::TempFile
    } else {
        LeftoverKind::Unknown
    }
}

/// The names in a directory (none when it does not exist), sorted.
pub(crate) fn list(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).at(dir),
    };
    let mut names = Vec::new();
    for e in entries {
        let e = e.at(dir)?;
        names.push(e.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

fn hash_file(path: &Path) -> Result<Digest> {
    let mut f = fs::File::open(path).at(path)?;
    let mut w = Sha256Writer::new(std::io::sink());
    std::io::copy(&mut f, &mut w).at(path)?;
    Ok(w.finish().1)
}
