//! The layer pipeline shared by import, commit, pull and load (and build): one stream
//! from source to disk.
//!
//! The calling thread reads the source and writes it, as it comes, to a new blob; a
//! second thread decompresses the same bytes, hashes the tar (the DiffID) and unpacks it
//! into the transaction's staging directory under Landlock. Nothing is visible in the
//! store until the transaction commits.

use crate::image::media_type::{LAYER_GZIP, LAYER_TAR, LAYER_ZSTD};
use crate::image::writer::UnpackedLayer;
use crate::layer::decompress::{decompress, detect, Compression};
use crate::layer::readahead;
use crate::layer::unpack::{unpack, UnpackError, UnpackOptions, UnpackStats};
use std::io::{self, BufReader, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use store_layout::{BlobRef, Digest, LayerSlot, Sha256Writer, StoreError, Txn};

/// Bytes read from the source at a time.
const CHUNK: usize = 1 << 20;
/// Chunks read ahead of the unpacking thread: enough to keep both busy, few enough that
/// a pull of many layers at once stays small.
const QUEUE: usize = 6;

/// Why a layer could not be taken in; `Display` is the one line the user sees, its
/// source the cause.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The source could not be read.
    #[error("cannot read the archive")]
    Read(#[source] io::Error),
    /// The source was empty.
    #[error("the archive is empty")]
    Empty,
    /// A registry's layer in a compression OCI has no media type for.
    #[error("unsupported layer compression (only tar, gzip and zstd layers are pulled)")]
    UnsupportedCompression,
    /// The compressed stream (of the `archive` or `layer`) is not valid.
    #[error("cannot decompress the {0}")]
    Decompress(&'static str, #[source] io::Error),
    /// The rest of the stream after the tar's end could not be read.
    #[error("cannot read the {0} to its end")]
    ReadToEnd(&'static str, #[source] io::Error),
    /// The blob could not be written.
    #[error("cannot store the layer")]
    StoreLayer(#[source] io::Error),
    /// Unpacking failed.
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The unpacking thread panicked.
    #[error("the unpacking thread panicked")]
    Panicked,
}

/// An image with more layers than `max-layers` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the image has {layers} layers, more than the {max} {why}: \
     squash it into fewer layers (rebuild it with fewer RUN, COPY and ADD steps, or \
     export a container of it and import that)",
    why = if *.max >= crate::config::MAX_LAYERS {
        "an overlay mount can stack, so it could never run"
    } else {
        "max-layers allows"
    }
)]
pub struct TooManyLayers {
    /// The image's layers.
    pub layers: usize,
    /// The most allowed.
    pub max: u64,
}

/// Refuses an image of `layers` layers when it has more than `max-layers` (at most 500,
/// the most an overlay mount can stack): such an image could be stored but never run.
pub fn check_layer_count(layers: usize) -> Result<(), TooManyLayers> {
    let max = crate::config::current().limits().max_layers;
    if layers as u64 > max {
        return Err(TooManyLayers { layers, max });
    }
    Ok(())
}

/// Decompressed bytes a layer may reach before `max-expansion-ratio` is checked: small
/// layers of zeros legitimately compress a thousandfold.
const RATIO_GRACE: u64 = 256 << 20;

/// A layer larger than the limits a user set, found while it is decompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LayerLimit {
    /// More bytes than `max-layer-size`.
    #[error("the layer is larger than {max} bytes once decompressed (max-layer-size)")]
    Size {
        /// The limit.
        max: u64,
    },
    /// It grew more than `max-expansion-ratio` times.
    #[error("the layer decompresses to more than {ratio} times its compressed size ({plain} bytes from {compressed}; max-expansion-ratio): a decompression bomb?")]
    Ratio {
        /// The limit.
        ratio: u64,
        /// Decompressed bytes so far.
        plain: u64,
        /// Compressed bytes so far.
        compressed: u64,
    },
}

/// Counts the bytes read through it into a shared counter.
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A decompressed layer stream that stops with a [`LayerLimit`] error once it passes
/// `max-layer-size`, or `max-expansion-ratio` times the compressed bytes read so far.
struct Bounded<R> {
    inner: R,
    plain: u64,
    compressed: Arc<AtomicU64>,
    limits: crate::config::Limits,
}

impl<R> Bounded<R> {
    fn new(inner: R, compressed: Arc<AtomicU64>) -> Self {
        Bounded {
            inner,
            plain: 0,
            compressed,
            limits: crate::config::current().limits(),
        }
    }

    fn check(&self) -> Result<(), LayerLimit> {
        if self.plain > self.limits.max_layer_size {
            return Err(LayerLimit::Size {
                max: self.limits.max_layer_size,
            });
        }
        let compressed = self.compressed.load(Ordering::Relaxed).max(1);
        let ratio = self.limits.max_expansion_ratio;
        if ratio > 0 && self.plain > RATIO_GRACE && self.plain / compressed > ratio {
            return Err(LayerLimit::Ratio {
                ratio,
                plain: self.plain,
                compressed,
            });
        }
        Ok(())
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.plain += n as u64;
        self.check().map_err(io::Error::other)?;
        Ok(n)
    }
}

/// A layer unpacked into a transaction, not yet committed.
pub struct Ingested {
    /// The layer directory in the transaction.
    pub slot: LayerSlot,
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// The blob kept for the layer.
    pub blob: BlobRef,
    /// What unpacking found.
    pub stats: UnpackStats,
}

impl Ingested {
    /// The layer, to record in the transaction.
    pub fn into_layer(self) -> UnpackedLayer {
        UnpackedLayer {
            slot: self.slot,
            diff_id: self.diff_id,
            blob: self.blob,
            size: self.stats.size,
        }
    }
}

/// Unpacks a layer archive (plain tar, or gzip, zstd, xz or bzip2, found by content)
/// from `input` into a new layer directory of `txn`, and keeps its bytes as a blob:
/// as they came for tar, gzip and zstd, and decompressed for xz and bzip2, which OCI
/// has no media type for. `on_bytes` is told how many source bytes were read so far.
pub fn ingest_layer<R: Read + Send>(
    txn: &Txn,
    input: R,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<Ingested, IngestError> {
    ingest_layer_verified(txn, input, None, on_bytes)
}

/// As [`ingest_layer`], for a blob that `expected` names (a registry's layer): the
/// bytes must hash to it, and must be a tar, gzip or zstd stream, kept as they came.
pub fn ingest_layer_verified<R: Read + Send>(
    txn: &Txn,
    input: R,
    expected: Option<&Digest>,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<Ingested, IngestError> {
    let mut input = input;
    let mut head = [0u8; 6];
    let got = read_full(&mut input, &mut head).map_err(IngestError::Read)?;
    let magic = &head[..got];
    let mut src = io::Cursor::new(magic.to_vec()).chain(input);
    if magic.is_empty() {
        return Err(IngestError::Empty);
    }
    let compression = detect(magic);
    let keep_raw = matches!(
        compression,
        Compression::None | Compression::Gzip | Compression::Zstd
    );
    if expected.is_some() && !keep_raw {
        return Err(IngestError::UnsupportedCompression);
    }
    let media_type = match compression {
        Compression::Gzip => LAYER_GZIP,
        Compression::Zstd => LAYER_ZSTD,
        _ => LAYER_TAR,
    };
    let (slot, dir) = txn.layer_dir()?;
    let mut raw_blob = if keep_raw {
        Some(txn.blob_writer()?)
    } else {
        None
    };
    let mut tar_blob = if keep_raw {
        None
    } else {
        Some(txn.blob_writer()?)
    };
    let opts = UnpackOptions {
        landlock: true,
        preserve_ownership: true,
        ..Default::default()
    };

    let (feeder, raw) = readahead::stage(QUEUE, CHUNK);
    let (diff_id, stats) = std::thread::scope(|s| -> Result<(Digest, UnpackStats), IngestError> {
        let tar_blob = &mut tar_blob;
        let dir = &dir;
        let worker = s.spawn(move || -> Result<(Digest, UnpackStats), IngestError> {
            let count = Arc::new(AtomicU64::new(0));
            let raw = BufReader::with_capacity(
                64 << 10,
                Counted {
                    inner: raw,
                    count: count.clone(),
                },
            );
            let (_, plain) = decompress(raw).map_err(|e| IngestError::Decompress("archive", e))?;
            let mut hashed = Sha256Writer::new(Tee {
                inner: Bounded::new(plain, count),
                copy: tar_blob.as_mut(),
            });
            let stats = unpack(&mut hashed, dir, &opts)?;
            io::copy(&mut hashed, &mut io::sink())
                .map_err(|e| IngestError::ReadToEnd("archive", e))?;
            let (_, diff_id, _) = hashed.finish();
            Ok((diff_id, stats))
        });
        let mut total = 0u64;
        let mut stored = true;
        let pumped = feeder.pump_with(&mut src, |chunk| {
            if let Some(b) = raw_blob.as_mut() {
                b.write_all(chunk).inspect_err(|_| stored = false)?;
            }
            total += chunk.len() as u64;
            on_bytes(total);
            Ok(())
        });
        let unpacked = worker.join().map_err(|_| IngestError::Panicked)?;
        pumped.map_err(if stored {
            IngestError::Read
        } else {
            IngestError::StoreLayer
        })?;
        unpacked
    })?;

    let (digest, size) = match (raw_blob, tar_blob) {
        (Some(b), _) => txn.finish_blob(b, expected)?,
        (None, Some(b)) => txn.finish_blob(b, Some(&diff_id))?,
        (None, None) => unreachable!("one blob writer is always made"),
    };
    Ok(Ingested {
        slot,
        diff_id,
        blob: BlobRef {
            digest,
            media_type: media_type.to_string(),
            size,
        },
        stats,
    })
}

/// Reads until `buf` is full or the input ends; returns how much was read.
pub fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A reader that copies what it reads into a writer.
struct Tee<'a, R, W> {
    inner: R,
    copy: Option<&'a mut W>,
}

impl<R: Read, W: Write> Read for Tee<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(w) = self.copy.as_mut() {
            w.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}

/// A layer unpacked by [`unpack_layer`] from bytes the caller keeps itself.
#[derive(Debug)]
pub struct Unpacked {
    /// The layer directory in the transaction.
    pub slot: LayerSlot,
    /// How the input was compressed.
    pub compression: Compression,
    /// sha256 of the uncompressed tar; `None` for a plain tar, whose DiffID is the digest
    /// of the input itself (which the caller computes as it keeps the input).
    pub diff_id: Option<Digest>,
    /// For xz and bzip2 input (which OCI has no media type for), the decompressed tar,
    /// kept as a blob; otherwise the caller keeps the input as the layer's blob.
    pub tar_blob: Option<BlobRef>,
    /// What unpacking found.
    pub stats: UnpackStats,
}

impl Unpacked {
    /// The media type of the input when it is kept as the blob.
    pub fn media_type(&self) -> &'static str {
        match self.compression {
            Compression::Gzip => LAYER_GZIP,
            Compression::Zstd => LAYER_ZSTD,
            _ => LAYER_TAR,
        }
    }
}

/// Unpacks a layer archive (plain tar, or gzip, zstd, xz or bzip2, found by content) from
/// `input` into a new layer directory of `txn`, without keeping `input` as a blob: for
/// `load`, whose layer bytes are already a file in the transaction (see
/// [`Txn::adopt_blob`]). A plain tar is not hashed here (its DiffID is the digest of
/// `input`); a compressed one is hashed after decompression.
pub fn unpack_layer<R: Read + Send>(txn: &Txn, input: R) -> Result<Unpacked, IngestError> {
    let (slot, dir) = txn.layer_dir()?;
    let count = Arc::new(AtomicU64::new(0));
    let input = Counted {
        inner: input,
        count: count.clone(),
    };
    let (compression, plain) = decompress(BufReader::with_capacity(CHUNK, input))
        .map_err(|e| IngestError::Decompress("layer", e))?;
    let mut plain = Bounded::new(plain, count);
    let mut opts = UnpackOptions {
        landlock: true,
        preserve_ownership: true,
        ..Default::default()
    };
    let (diff_id, tar_blob, stats) = match compression {
        Compression::None => {
            // The writing thread reads the input itself: nothing to do on this one.
            opts.single_thread = true;
            (None, None, unpack(&mut plain, &dir, &opts)?)
        }
        Compression::Gzip | Compression::Zstd => {
            let mut hashed = Sha256Writer::new(plain);
            let stats = unpack(&mut hashed, &dir, &opts)?;
            io::copy(&mut hashed, &mut io::sink())
                .map_err(|e| IngestError::ReadToEnd("layer", e))?;
            (Some(hashed.finish().1), None, stats)
        }
        Compression::Xz | Compression::Bzip2 => {
            let mut w = txn.blob_writer()?;
            let mut hashed = Sha256Writer::new(Tee {
                inner: plain,
                copy: Some(&mut w),
            });
            let stats = unpack(&mut hashed, &dir, &opts)?;
            io::copy(&mut hashed, &mut io::sink())
                .map_err(|e| IngestError::ReadToEnd("layer", e))?;
            let (_, diff_id, _) = hashed.finish();
            let (digest, size) = txn.finish_blob(w, Some(&diff_id))?;
            let blob = BlobRef {
                digest,
                media_type: LAYER_TAR.to_string(),
                size,
            };
            (Some(diff_id), Some(blob), stats)
        }
    };
    Ok(Unpacked {
        slot,
        compression,
        diff_id,
        tar_blob,
        stats,
    })
}
