//! Parallel gzip for push: the layer is cut into 1 MiB blocks, each compressed on its
//! own thread into a gzip member, and the members written in order. A sequence of gzip
//! members is one valid gzip stream (RFC 1952 §2.2) that Go's `compress/gzip` (docker,
//! containerd, the registry tools), zlib's `gunzip` and strata's own reader decompress
//! whole. A block whose first 64 KiB do not shrink is stored (deflate level 0) instead
//! of compressed: random or already compressed data is not worth the CPU.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::mpsc::{channel, sync_channel};
use std::sync::{Arc, Mutex};

const BLOCK: usize = 1 << 20;
const SAMPLE: usize = 64 << 10;

fn gzip_block(data: &[u8]) -> io::Result<Vec<u8>> {
    use flate2::write::GzEncoder;
    use flate2::Compression;
    let sample = &data[..data.len().min(SAMPLE)];
    let mut level = Compression::fast();
    if sample.len() >= 4096 {
        let mut probe = GzEncoder::new(Vec::with_capacity(sample.len()), Compression::fast());
        probe.write_all(sample)?;
        let probed = probe.finish()?;
        if probed.len() * 100 >= sample.len() * 97 {
            level = Compression::none();
        }
    }
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 2 + 64), level);
    enc.write_all(data)?;
    enc.finish()
}

fn read_block(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; BLOCK];
    let mut n = 0;
    while n < BLOCK {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(buf)
}

/// Compresses `src` into `out` as gzip with `threads` workers; returns the bytes read.
pub fn gzip_parallel(
    src: &mut (impl Read + Send),
    out: &mut impl Write,
    threads: usize,
) -> io::Result<u64> {
    let threads = threads.max(1);
    let (job_tx, job_rx) = sync_channel::<(usize, Vec<u8>)>(threads);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = channel::<(usize, io::Result<Vec<u8>>)>();
    std::thread::scope(|s| -> io::Result<u64> {
        for _ in 0..threads {
            let (rx, tx) = (job_rx.clone(), done_tx.clone());
            s.spawn(move || loop {
                let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok((i, data)) = job else { break };
                if tx.send((i, gzip_block(&data))).is_err() {
                    break;
                }
            });
        }
        drop(done_tx);
        let reader = s.spawn(move || -> io::Result<(usize, u64)> {
            let mut i = 0;
            let mut total = 0u64;
            loop {
                let block = read_block(src)?;
                if block.is_empty() && i > 0 {
                    break;
                }
                total += block.len() as u64;
                let last = block.len() < BLOCK;
                if job_tx.send((i, block)).is_err() {
                    break;
                }
                i += 1;
                if last {
                    break;
                }
            }
            Ok((i, total))
        });
        // Write the members in order as they come back.
        let mut pending: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
        let mut next = 0;
        let mut err = None;
        for (i, res) in done_rx.iter() {
            match res {
                Ok(v) => {
                    pending.insert(i, v);
                }
                Err(e) => {
                    err.get_or_insert(e);
                }
            }
            while let Some(v) = pending.remove(&next) {
                if err.is_none() {
                    if let Err(e) = out.write_all(&v) {
                        err = Some(e);
                    }
                }
                next += 1;
            }
        }
        let (blocks, total) = reader
            .join()
            .map_err(|_| io::Error::other("the reading thread panicked"))??;
        if let Some(e) = err {
            return Err(e);
        }
        if next != blocks {
            return Err(io::Error::other("a compression thread stopped early"));
        }
        Ok(total)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut data = Vec::new();
        for i in 0..(3 * BLOCK + 12345) {
            data.push((i % 251) as u8);
        }
        // Some incompressible bytes too.
        let mut x = 1u64;
        for _ in 0..BLOCK {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.push(x as u8);
        }
        for input in [Vec::new(), b"abc".to_vec(), data] {
            let mut out = Vec::new();
            let n = gzip_parallel(&mut &input[..], &mut out, 3).unwrap();
            assert_eq!(n, input.len() as u64);
            let mut back = Vec::new();
            flate2::read::MultiGzDecoder::new(&out[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, input);
        }
    }
}
