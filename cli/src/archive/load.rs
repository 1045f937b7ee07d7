//! Loading an archive into the store: read it once ([`super::reader`]), learn which
//! members make which image ([`super::contents`]), check every config and member
//! against the digests that name them, plan each new image's layers by chain ID, claim
//! the missing ones (waiting for another process making any of them, and reusing what it
//! made), unpack the new layers nobody unpacked while reading (in parallel), check every DiffID, make
//! each layer member its blob by a rename, and write the images and tags in one
//! transaction ([`ImageWriter`]): on any error nothing is visible, and the work done
//! ahead is thrown away with the transaction.

use super::contents::{archived_images, ArchivedImage};
use super::reader::{read_archive, unpack_files, Extracted, MemberFile};
use super::ArchiveError;
use crate::image::plan::{claim_missing, LayerPlan, LayerState, Reuse};
use crate::image::writer::{
    stage_layer, Assembly, ImageLayers, ImageWriter, NewImage, UnpackedLayer,
};
use crate::image::ImageConfig;
use crate::ingest::Unpacked;
use crate::reference::familiar;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use store_layout::{BlobRef, Db, Digest, Store, Txn};

/// What loading did, one entry per name (or per unnamed image), in the archive's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Loaded {
    /// An image now has this full reference.
    Tagged(String),
    /// An image without a name was loaded.
    Untagged(Digest),
    /// A name the archive gives was another image's, which keeps no name from it
    /// (docker says it was renamed "to empty string").
    Renamed {
        /// The full reference.
        name: String,
        /// The image it named before.
        old: Digest,
    },
}

/// A new image whose config and members are checked.
struct Checked {
    id: Digest,
    name: String,
    config_bytes: Vec<u8>,
    config: ImageConfig,
    plan: LayerPlan,
    members: Vec<(String, MemberFile)>,
}

/// A layer the store lacks, to unpack in this transaction (one per chain ID).
struct Task<'a> {
    /// 1-based position in the first image that has it.
    n: usize,
    /// That image's name, for messages.
    image: &'a str,
    /// The member, as the archive names it.
    member: &'a str,
    file: &'a MemberFile,
    diff_id: &'a Digest,
    chain: &'a Digest,
    parent: Option<&'a Digest>,
}

/// Loads the archive (plain, or gzip, zstd, xz or bzip2 compressed) read from `input`
/// into `store`.
pub fn load(store: &Store, input: impl Read + Send) -> Result<Vec<Loaded>, ArchiveError> {
    let mut input = BufReader::with_capacity(1 << 20, input);
    let head = input
        .fill_buf()
        .map_err(ArchiveError::io("cannot read the archive"))?;
    if head.is_empty() {
        return Err(ArchiveError::invalid("empty input"));
    }
    let (_, plain) = crate::layer::decompress::decompress(input)
        .map_err(ArchiveError::io("invalid archive: cannot decompress"))?;

    let txn = store.begin()?;
    let db = store.db()?;
    let root = txn.scratch().join("archive");
    std::fs::create_dir(&root).map_err(ArchiveError::io(format!(
        "cannot create {}",
        root.display()
    )))?;
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let mut ar = read_archive(&txn, &db, plain, root, workers)?;
    let archived = archived_images(&ar)?;

    let mut new_images = Vec::new();
    let mut names: Vec<(Digest, Vec<String>)> = Vec::new();
    for image in &archived {
        let (id, checked) = check_image(&ar, &db, image, &names)?;
        names.push((id, image.tags.clone()));
        new_images.extend(checked);
    }
    // Held until the commit: another process loading or pulling these layers waits for
    // this one, and this one reuses what the one it waited for made.
    let _claims = {
        let mut plans: Vec<&mut LayerPlan> = new_images.iter_mut().map(|i| &mut i.plan).collect();
        claim_missing(store, &mut plans, Reuse::Blob, &mut |_| {})?
    };
    let tasks = tasks(&new_images);
    let unpacked = unpack_tasks(&txn, &mut ar, &tasks, workers)?;

    let mut writer = ImageWriter::new(Assembly::Load);
    for img in &new_images {
        let mut layers = ImageLayers::new();
        for l in img.plan.layers() {
            match &l.state {
                LayerState::Stored(record) => layers.push_stored(l.chain.clone(), record),
                LayerState::Missing => {
                    let (blob, size) = unpacked[&l.chain].clone();
                    layers.push(l.chain.clone(), blob, size);
                }
            }
        }
        let staged = NewImage {
            config: &img.config,
            config_bytes: Some(&img.config_bytes),
            manifest: None,
            layers,
            parent: None,
        }
        .stage(&txn)?;
        debug_assert_eq!(staged.id, img.id);
        writer.add(staged);
    }
    let mut loaded = Vec::new();
    for (id, tags) in names {
        if tags.is_empty() {
            loaded.push(Loaded::Untagged(id.clone()));
        }
        for t in &tags {
            if let Some(old) = db.tags().get(t).filter(|old| **old != id) {
                loaded.push(Loaded::Renamed {
                    name: t.clone(),
                    old: old.clone(),
                });
            }
        }
        loaded.extend(tags.iter().cloned().map(Loaded::Tagged));
        writer.name(&id, tags, None);
    }
    writer.commit(store, txn)?;
    Ok(loaded)
}

/// Checks the config of `image` and, unless the store (or an earlier image of the
/// archive, in `seen`) has it, every layer member against the digests that name it;
/// returns the image ID and, for a new image, its plan.
fn check_image(
    ar: &Extracted,
    db: &Db,
    image: &ArchivedImage,
    seen: &[(Digest, Vec<String>)],
) -> Result<(Digest, Option<Checked>), ArchiveError> {
    let config_bytes = ar.json(&image.config)?;
    let id = Digest::of(&config_bytes);
    if let Some(want) = &image.config_digest {
        if *want != id {
            return Err(ArchiveError::DigestMismatch {
                want: want.clone(),
                got: id,
            });
        }
    }
    let name = image
        .tags
        .first()
        .map(|t| familiar(t))
        .unwrap_or_else(|| id.to_string());
    let config = ImageConfig::from_slice(&config_bytes)
        .map_err(|e| ArchiveError::invalid(format!("config of {name} is not valid: {e}")))?;
    if config.rootfs.diff_ids.len() != image.layers.len() {
        return Err(ArchiveError::invalid(format!(
            "{name} lists {} layers but its config has {} DiffIDs",
            image.layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    crate::ingest::check_layer_count(image.layers.len())
        .map_err(|e| ArchiveError::invalid(format!("{name}: {e}")))?;
    if db.images().contains_key(&id) || seen.iter().any(|(s, _)| *s == id) {
        return Ok((id, None));
    }
    let mut diff_ids = Vec::new();
    let mut members = Vec::new();
    for (i, (member, want_blob)) in image.layers.iter().enumerate() {
        let diff_id =
            Digest::parse(&config.rootfs.diff_ids[i]).map_err(|e| ArchiveError::BadDiffId {
                n: i + 1,
                image: name.clone(),
                message: e.to_string(),
            })?;
        let file = ar.file(member)?;
        if let Some(want) = want_blob.as_ref().filter(|w| **w != file.digest) {
            return Err(ArchiveError::DigestMismatch {
                want: want.clone(),
                got: file.digest,
            });
        }
        diff_ids.push(diff_id);
        members.push((member.clone(), file));
    }
    let plan = LayerPlan::new(db, diff_ids, Reuse::Blob);
    let checked = Checked {
        id: id.clone(),
        name,
        config_bytes,
        config,
        plan,
        members,
    };
    Ok((id, Some(checked)))
}

/// The layers to unpack: every missing layer of the new images, once per chain ID.
fn tasks(images: &[Checked]) -> Vec<Task<'_>> {
    let mut seen = HashSet::new();
    let mut tasks = Vec::new();
    for img in images {
        for (i, l) in img.plan.missing() {
            if seen.insert(&l.chain) {
                let (member, file) = &img.members[i];
                tasks.push(Task {
                    n: i + 1,
                    image: &img.name,
                    member,
                    file,
                    diff_id: &l.diff_id,
                    chain: &l.chain,
                    parent: l.parent.as_ref(),
                });
            }
        }
    }
    tasks
}

/// Unpacks what was not unpacked while reading, in parallel; checks every DiffID, makes
/// each layer member its blob and records the layers in `txn`. Returns each new layer's
/// blob and unpacked size by chain ID.
fn unpack_tasks(
    txn: &Txn,
    ar: &mut Extracted,
    tasks: &[Task],
    workers: usize,
) -> Result<HashMap<Digest, (BlobRef, u64)>, ArchiveError> {
    let mut results: Vec<Option<Result<Unpacked, ArchiveError>>> =
        tasks.iter().map(|t| ar.take_early(t.file)).collect();
    let pending: Vec<usize> = (0..tasks.len()).filter(|&i| results[i].is_none()).collect();
    let members: Vec<(&str, &MemberFile)> = pending
        .iter()
        .map(|&i| (tasks[i].member, tasks[i].file))
        .collect();
    for (i, r) in pending.iter().zip(unpack_files(txn, &members, workers)) {
        results[*i] = Some(r);
    }
    let mut adopted: HashSet<Digest> = HashSet::new();
    let mut layers = HashMap::new();
    for (t, r) in tasks.iter().zip(results) {
        let u = r
            .expect("every layer was unpacked")
            .map_err(|e| ArchiveError::Layer {
                n: t.n,
                image: t.image.to_string(),
                source: Box::new(e),
            })?;
        let got = u.diff_id.clone().unwrap_or_else(|| t.file.digest.clone());
        if got != *t.diff_id {
            return Err(ArchiveError::DiffIdMismatch {
                n: t.n,
                image: t.image.to_string(),
                want: t.diff_id.clone(),
                got,
            });
        }
        let blob = match &u.tar_blob {
            Some(b) => b.clone(),
            None => {
                if adopted.insert(t.file.digest.clone()) {
                    txn.adopt_blob(&t.file.path, &t.file.digest)?;
                }
                BlobRef {
                    digest: t.file.digest.clone(),
                    media_type: u.media_type().to_string(),
                    size: t.file.size,
                }
            }
        };
        let size = u.stats.size;
        let layer = UnpackedLayer {
            slot: u.slot,
            diff_id: got,
            blob: blob.clone(),
            size,
        };
        stage_layer(txn, layer, t.chain.clone(), t.parent.cloned());
        layers.insert(t.chain.clone(), (blob, size));
    }
    Ok(layers)
}
