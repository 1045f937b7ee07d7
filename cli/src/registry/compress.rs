//! Parallel gzip for push: the layer is cut into 1 MiB blocks, each compressed on its
//! own thread into a gzip member, and the members written in order. A sequence of gzip
//! members is one valid gzip stream (RFC 1952 §2.2) that Go's `compress/gzip` (docker,
//! containerd, the registry tools), zlib's `gunzip` and strata's own reader decompress
//! whole. A block whose first 16 KiB do not shrink is stored (deflate level 0) instead
//! of compressed: random or already compressed data is not worth the CPU. Block and
//! output buffers go round a pool rather than being allocated (and page-faulted) anew.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel};
use std::sync::Mutex;

use super::slots::{Slot, Slots};

const BLOCK: usize = 1 << 20;
const SAMPLE: usize = 16 << 10;

/// Compresses `data` as one gzip member into `out` (emptied first).
fn gzip_block(data: &[u8], out: Vec<u8>) -> io::Result<Vec<u8>> {
    use flate2::write::GzEncoder;
    use flate2::Compression;
    let sample = &data[..data.len().min(SAMPLE)];
    let mut level = Compression::fast();
    if sample.len() >= 4096 {
        let mut probe = GzEncoder::new(Vec::with_capacity(sample.len() + 64), Compression::fast());
        probe.write_all(sample)?;
        let probed = probe.finish()?;
        if probed.len() * 100 >= sample.len() * 97 {
            level = Compression::none();
        }
    }
    let mut out = out;
    out.clear();
    // Room for a stored block's framing too (5 bytes per 64 KiB, and the gzip header and
    // trailer), so that the buffer never grows by copying.
    out.reserve(data.len() + data.len() / 8192 + 64);
    let mut enc = GzEncoder::new(out, level);
    enc.write_all(data)?;
    enc.finish()
}

/// Spent buffers, to be filled again.
type Pool = Mutex<Vec<Vec<u8>>>;

fn take(pool: &Pool) -> Vec<u8> {
    pool.lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_default()
}

fn give(pool: &Pool, buf: Vec<u8>) {
    pool.lock().unwrap_or_else(|e| e.into_inner()).push(buf);
}

fn read_block(r: &mut impl Read, mut buf: Vec<u8>) -> io::Result<Vec<u8>> {
    // A recycled buffer keeps its length, so it is not zeroed again.
    buf.resize(BLOCK, 0);
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
/// At most `2 × threads + 2` blocks are in flight (read, being compressed, or waiting
/// their turn to be written), so memory stays bounded however slowly `out` takes them.
pub fn gzip_parallel(
    src: &mut (impl Read + Send),
    out: &mut impl Write,
    threads: usize,
) -> io::Result<u64> {
    let threads = threads.max(1);
    let slots = Slots::new(2 * threads + 2);
    let stop = AtomicBool::new(false);
    let (job_tx, job_rx) = sync_channel::<(usize, Vec<u8>, Slot<'_>)>(threads);
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = channel::<(usize, io::Result<Vec<u8>>, Slot<'_>)>();
    let (blocks, outs): (Pool, Pool) = Default::default();
    std::thread::scope(|s| -> io::Result<u64> {
        for _ in 0..threads {
            let (tx, job_rx, blocks, outs) = (done_tx.clone(), &job_rx, &blocks, &outs);
            s.spawn(move || loop {
                let job = job_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok((i, data, slot)) = job else { break };
                let res = gzip_block(&data, take(outs));
                give(blocks, data);
                if tx.send((i, res, slot)).is_err() {
                    break;
                }
            });
        }
        drop(done_tx);
        let (blocks_ref, slots, stop_ref) = (&blocks, &slots, &stop);
        let reader = s.spawn(move || -> io::Result<(usize, u64)> {
            let mut i = 0;
            let mut total = 0u64;
            loop {
                let slot = slots.take();
                if stop_ref.load(Ordering::Relaxed) {
                    break;
                }
                let block = read_block(src, take(blocks_ref))?;
                if block.is_empty() && i > 0 {
                    break;
                }
                total += block.len() as u64;
                let last = block.len() < BLOCK;
                if job_tx.send((i, block, slot)).is_err() {
                    break;
                }
                i += 1;
                if last {
                    break;
                }
            }
            Ok((i, total))
        });
        // Write the members in order as they come back; each block's slot is given
        // back once it is written (or has failed).
        let mut pending = BTreeMap::new();
        let mut next = 0;
        let mut err = None;
        for (i, res, slot) in done_rx.iter() {
            pending.insert(i, (res, slot));
            while let Some((res, slot)) = pending.remove(&next) {
                match res {
                    Ok(v) => {
                        if err.is_none() {
                            if let Err(e) = out.write_all(&v) {
                                err = Some(e);
                            }
                        }
                        give(&outs, v);
                    }
                    Err(e) => {
                        err.get_or_insert(e);
                    }
                }
                if err.is_some() {
                    stop.store(true, Ordering::Relaxed);
                }
                drop(slot);
                next += 1;
            }
        }
        let (sent, total) = reader
            .join()
            .map_err(|_| io::Error::other("the reading thread panicked"))??;
        if let Some(e) = err {
            return Err(e);
        }
        if next != sent {
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

    #[test]
    fn a_slow_writer_bounds_what_is_read_ahead() {
        use std::sync::atomic::AtomicU64;
        struct Counting<'a>(&'a AtomicU64, u64);
        impl Read for Counting<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.1 as usize);
                buf[..n].fill(7);
                self.1 -= n as u64;
                self.0.fetch_add(n as u64, Ordering::SeqCst);
                Ok(n)
            }
        }
        struct Slow<'a>(&'a AtomicU64, Option<u64>);
        impl Write for Slow<'_> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.1.is_none() {
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    self.1 = Some(self.0.load(Ordering::SeqCst));
                }
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let read = AtomicU64::new(0);
        let mut out = Slow(&read, None);
        let total = 64 * BLOCK as u64;
        let n = gzip_parallel(&mut Counting(&read, total), &mut out, 2).unwrap();
        assert_eq!(n, total);
        let ahead = out.1.unwrap();
        assert!(
            ahead <= 7 * BLOCK as u64,
            "{ahead} bytes read while the first block waited to be written"
        );
    }
}
