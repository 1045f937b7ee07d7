//! Content-addressed blobs under `blobs/sha256/`.

use crate::atomic::{fsync_dir, unique_name};
use crate::digest::Sha256Writer;
use crate::error::IoContext;
use crate::{Digest, Result, StoreError};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Writes a new blob to a temporary file while hashing it; `commit` verifies the
/// digest and renames it into place. Dropped without commit, it leaves nothing.
pub struct BlobWriter {
    tmp: PathBuf,
    dir: PathBuf,
    out: Option<Sha256Writer<BufWriter<File>>>,
}

impl BlobWriter {
    pub(crate) fn create(tmp_dir: &Path, blob_dir: &Path) -> Result<Self> {
        let tmp = tmp_dir.join(unique_name("blob"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .at(&tmp)?;
        Ok(BlobWriter {
            tmp,
            dir: blob_dir.to_path_buf(),
            out: Some(Sha256Writer::new(BufWriter::with_capacity(1 << 20, file))),
        })
    }

    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.out.as_ref().map_or(0, |o| o.count())
    }

    /// Flushes, fsyncs and checks the digest (if one is expected), then moves the blob
    /// into place. Returns its digest and size.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let out = self.out.take().expect("blob writer used after commit");
        let (buf, digest, size) = out.finish();
        let file = buf.into_inner().map_err(|e| e.into_error()).at(&self.tmp)?;
        if let Some(exp) = expected {
            if *exp != digest {
                return Err(StoreError::DigestMismatch {
                    what: "blob".into(),
                    expected: exp.to_string(),
                    actual: digest.to_string(),
                });
            }
        }
        file.sync_all().at(&self.tmp)?;
        let dest = self.dir.join(digest.hex());
        fs::rename(&self.tmp, &dest).at(&dest)?;
        fsync_dir(&self.dir)?;
        Ok((digest, size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out
            .as_mut()
            .expect("blob writer used after commit")
            .write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out
            .as_mut()
            .expect("blob writer used after commit")
            .flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}
