//! Fetching the missing layers of a pull, all at once (at most
//! [`MAX_LAYERS_AT_ONCE`] running): each thread reads its blob (resuming with `Range`
//! after breaks) into the layer pipeline, which checks it against the manifest's digest
//! and its DiffID against the config, and records it in the shared transaction. Once a
//! layer fails, the others stop at their next read.

use super::error::{parse_digest, Cancelled, PullError};
use crate::image::document::Descriptor;
use crate::image::plan::{LayerPlan, LayerState, PlannedLayer};
use crate::image::writer::{stage_layer, ImageLayers, UnpackedLayer};
use crate::ingest::ingest_layer_verified;
use crate::registry::client::Client;
use crate::registry::progress::Reporter;
use crate::registry::slots::Slots;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use store_layout::{BlobRef, Digest, Txn};

/// How many layers are fetched and unpacked at once. Each pipeline holds about 10 MiB
/// of buffers and four threads, so this bounds a pull's memory and threads whatever the
/// number of layers; images with up to this many missing layers get them all at once.
const MAX_LAYERS_AT_ONCE: usize = 8;

/// Reads that stop once another layer of the same pull has failed.
struct Cancellable<'a, R> {
    inner: R,
    failed: &'a AtomicBool,
}

impl<R: Read> Read for Cancellable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed.load(Ordering::Relaxed) {
            return Err(io::Error::other(Cancelled));
        }
        self.inner.read(buf)
    }
}

/// One layer to fetch.
struct LayerJob<'a> {
    n: usize,
    digest: Digest,
    desc: &'a Descriptor,
    planned: &'a PlannedLayer,
}

/// What the threads of one pull share.
struct Shared<'a> {
    txn: &'a Txn,
    client: &'a Client,
    rep: &'a Reporter,
    failed: &'a AtomicBool,
    slots: &'a Slots,
}

/// Fetches, verifies and unpacks one layer and records it in the transaction; returns
/// its blob and unpacked size.
fn fetch_layer(sh: &Shared, job: &LayerJob) -> Result<(BlobRef, u64), PullError> {
    let _slot = sh.slots.take();
    if sh.failed.load(Ordering::Relaxed) {
        return Err(PullError::Cancelled(Cancelled));
    }
    let short = job.digest.short();
    // A blob that two positions of the image share is fetched by both.
    sh.rep.start(short, "Downloading", job.desc.size);
    let on_bytes = |n: u64| sh.rep.bytes(short, n);
    let reader = Cancellable {
        inner: sh.client.blob_reader(&job.digest, job.desc.size, &on_bytes),
        failed: sh.failed,
    };
    let layer =
        ingest_layer_verified(sh.txn, reader, Some(&job.digest), &|_| {}).map_err(|source| {
            PullError::Layer {
                n: job.n,
                digest: job.digest.clone(),
                source,
            }
        })?;
    if layer.diff_id != job.planned.diff_id {
        return Err(PullError::DiffIdMismatch {
            n: job.n,
            digest: job.digest.clone(),
            want: job.planned.diff_id.clone(),
            got: layer.diff_id,
        });
    }
    let blob = BlobRef {
        digest: job.digest.clone(),
        media_type: if job.desc.media_type.is_empty() {
            layer.blob.media_type.clone()
        } else {
            job.desc.media_type.clone()
        },
        size: layer.blob.size,
    };
    let size = layer.stats.size;
    let unpacked = UnpackedLayer {
        blob: blob.clone(),
        ..layer.into_layer()
    };
    stage_layer(
        sh.txn,
        unpacked,
        job.planned.chain.clone(),
        job.planned.parent.clone(),
    );
    sh.rep.done(short, "Download complete");
    Ok((blob, size))
}

/// Fetches every missing layer of `plan` (whose descriptors are `descs`) at once, at
/// most [`MAX_LAYERS_AT_ONCE`] running, into `txn`; returns the image's layers. The
/// first real failure is the error (not a layer cancelled because of it).
pub(super) fn fetch_layers(
    txn: &Txn,
    client: &Client,
    rep: &Reporter,
    plan: &LayerPlan,
    descs: &[Descriptor],
) -> Result<ImageLayers, PullError> {
    let (failed, slots) = (AtomicBool::new(false), Slots::new(MAX_LAYERS_AT_ONCE));
    let sh = &Shared {
        txn,
        client,
        rep,
        failed: &failed,
        slots: &slots,
    };
    let jobs = plan
        .missing()
        .map(|(i, planned)| {
            Ok(LayerJob {
                n: i + 1,
                digest: parse_digest(&descs[i].digest, "layer")?,
                desc: &descs[i],
                planned,
            })
        })
        .collect::<Result<Vec<_>, PullError>>()?;
    let results: Vec<Result<(BlobRef, u64), PullError>> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|job| {
                s.spawn(move || {
                    let r = fetch_layer(sh, job);
                    if r.as_ref().is_err_and(|e| !e.is_cancelled()) {
                        sh.failed.store(true, Ordering::Relaxed);
                    }
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(PullError::Panicked)))
            .collect()
    });
    let mut first_err: Option<PullError> = None;
    let mut fetched = Vec::new();
    for r in results {
        match r {
            Ok(v) => fetched.push(v),
            Err(e) => {
                if first_err
                    .as_ref()
                    .is_none_or(|f| f.is_cancelled() && !e.is_cancelled())
                {
                    first_err = Some(e);
                }
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    let mut fetched = fetched.into_iter();
    let mut layers = ImageLayers::new();
    for l in plan.layers() {
        match &l.state {
            LayerState::Stored(record) => layers.push_stored(l.chain.clone(), record),
            LayerState::Missing => {
                let (blob, size) = fetched.next().expect("one result per missing layer");
                layers.push(l.chain.clone(), blob, size);
            }
        }
    }
    Ok(layers)
}
