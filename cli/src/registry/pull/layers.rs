//! Fetching the missing layers of a pull: [`MAX_LAYERS_AT_ONCE`] worker threads (fewer
//! for fewer layers) take the layers in turn, so that threads and memory do not grow
//! with the number of layers; each worker reads its blob (resuming with `Range`
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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
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

/// Fetches every missing layer of `plan` (whose descriptors are `descs`), at most
/// [`MAX_LAYERS_AT_ONCE`] at a time, into `txn`; returns the image's layers. The
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
    let results = run_workers(sh, &jobs)?;
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

/// What fetching one layer came to: its blob and unpacked size.
type LayerResult = Result<(BlobRef, u64), PullError>;

/// Runs `jobs` on at most [`MAX_LAYERS_AT_ONCE`] worker threads, each taking the next
/// job until none is left; returns one result per job, in order. A worker that cannot
/// be started is done without (the pull goes on with those that could, however few),
/// unless none could.
fn run_workers(sh: &Shared, jobs: &[LayerJob]) -> Result<Vec<LayerResult>, PullError> {
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<LayerResult>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(job) = jobs.get(i) else { break };
        let r = fetch_layer(sh, job);
        if r.as_ref().is_err_and(|e| !e.is_cancelled()) {
            sh.failed.store(true, Ordering::Relaxed);
        }
        *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    };
    let spawned = std::thread::scope(|s| {
        let mut handles = Vec::new();
        let mut spawn_error = None;
        for _ in 0..MAX_LAYERS_AT_ONCE.min(jobs.len()) {
            match std::thread::Builder::new()
                .name("layer".into())
                .spawn_scoped(s, work)
            {
                Ok(h) => handles.push(h),
                Err(e) => {
                    spawn_error = Some(e);
                    break;
                }
            }
        }
        let none = handles.is_empty();
        // A worker that panicked leaves its job without a result: told below.
        for h in handles {
            let _ = h.join();
        }
        match spawn_error {
            Some(e) if none => Err(e),
            _ => Ok(()),
        }
    });
    if let Err(e) = spawned {
        return Err(PullError::Invalid(format!(
            "cannot start a thread to fetch layers: {e}"
        )));
    }
    Ok(results
        .into_iter()
        .map(|r| {
            r.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or(Err(PullError::Panicked))
        })
        .collect())
}
