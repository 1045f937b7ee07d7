//! A read-ahead stage between two threads: one side reads a stream in chunks
//! ([`Feeder::pump`]), the other reads them back in order as a stream ([`Chunks`]).
//! The channel holds a fixed number of chunks, so a fast producer waits for a slow
//! consumer and memory stays bounded; spent buffers go back to the producer to be
//! filled again rather than allocated anew.
//!
//! The layer pipeline is built of such stages (socket → decompression → DiffID hash →
//! file writes), so that each step of one layer can run on its own core.

use std::io::{self, BufRead, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// The producing end of a stage.
pub struct Feeder {
    tx: SyncSender<io::Result<Filled>>,
    back: Receiver<Vec<u8>>,
    chunk: usize,
}

/// The consuming end of a stage: the chunks, in order, as one stream. An error the
/// producer met is returned once, in its place in the stream.
pub struct Chunks {
    rx: Receiver<io::Result<Filled>>,
    back: SyncSender<Vec<u8>>,
    cur: Filled,
    pos: usize,
    done: bool,
}

/// A buffer and how much of it holds data. Buffers keep their full length as they go
/// round, so that a recycled one is not zeroed again before it is filled.
#[derive(Default)]
struct Filled {
    buf: Vec<u8>,
    len: usize,
}

/// A stage of `depth` chunks of up to `chunk` bytes each.
pub fn stage(depth: usize, chunk: usize) -> (Feeder, Chunks) {
    let (tx, rx) = sync_channel(depth);
    let (back_tx, back_rx) = sync_channel(depth + 2);
    (
        Feeder {
            tx,
            back: back_rx,
            chunk,
        },
        Chunks {
            rx,
            back: back_tx,
            cur: Filled::default(),
            pos: 0,
            done: false,
        },
    )
}

impl Feeder {
    /// Reads `src` to its end and sends it on in chunks; returns the bytes read.
    pub fn pump<R: Read>(self, src: &mut R) -> io::Result<u64> {
        self.pump_with(src, |_| Ok(()))
    }

    /// As [`Feeder::pump`], calling `each` with every chunk before it is sent (to keep a
    /// copy, or count progress). A read error, or an error from `each`, is sent on as
    /// the end of the stream and returned. Stops early, without error, when the
    /// consumer has gone.
    pub fn pump_with<R: Read>(
        self,
        src: &mut R,
        mut each: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<u64> {
        let mut total = 0u64;
        loop {
            let mut buf = self.back.try_recv().unwrap_or_default();
            buf.resize(self.chunk, 0);
            let (len, eof) = match fill(src, &mut buf) {
                Ok(r) => r,
                Err(e) => return Err(self.fail(e)),
            };
            if len > 0 {
                if let Err(e) = each(&buf[..len]) {
                    return Err(self.fail(e));
                }
                total += len as u64;
                if self.tx.send(Ok(Filled { buf, len })).is_err() {
                    return Ok(total);
                }
            }
            if eof {
                // An empty chunk marks the end (a dropped sender could also mean a panic).
                let _ = self.tx.send(Ok(Filled::default()));
                return Ok(total);
            }
        }
    }

    /// Sends a copy of `data` on, in a recycled buffer: the producer writes rather than
    /// the stage reading. Returns false when the consumer has gone.
    pub fn send_copy(&self, data: &[u8]) -> bool {
        if data.is_empty() {
            // An empty chunk would mark the end.
            return true;
        }
        let mut buf = self.back.try_recv().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(data);
        let len = buf.len();
        self.tx.send(Ok(Filled { buf, len })).is_ok()
    }

    /// Marks the end of what [`Feeder::send_copy`] sent. A feeder dropped without it
    /// ends the stream with an error.
    pub fn finish(self) {
        let _ = self.tx.send(Ok(Filled::default()));
    }

    /// Sends a copy of `e` to the consumer and gives `e` back.
    fn fail(&self, e: io::Error) -> io::Error {
        let _ = self.tx.send(Err(io::Error::new(e.kind(), e.to_string())));
        e
    }
}

/// Reads into `buf` until it is at least half full or the input ends; returns the bytes
/// read and whether the input ended.
fn fill<R: Read>(src: &mut R, buf: &mut [u8]) -> io::Result<(usize, bool)> {
    let mut filled = 0;
    while filled < buf.len() / 2 {
        match src.read(&mut buf[filled..]) {
            Ok(0) => return Ok((filled, true)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((filled, false))
}

impl BufRead for Chunks {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.cur.len && !self.done {
            let old = std::mem::take(&mut self.cur);
            if old.buf.capacity() > 0 {
                let _ = self.back.try_send(old.buf);
            }
            self.pos = 0;
            match self.rx.recv() {
                Ok(Ok(chunk)) if chunk.len == 0 => self.done = true,
                Ok(Ok(chunk)) => self.cur = chunk,
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other("the stream's reading thread stopped"));
                }
            }
        }
        Ok(&self.cur.buf[self.pos..self.cur.len])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.cur.len);
    }
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let avail = self.fill_buf()?;
        let n = out.len().min(avail.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_everything_in_order() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let (feeder, mut chunks) = stage(2, 1000);
        let got = std::thread::scope(|s| {
            let src = &data;
            let h = s.spawn(move || feeder.pump(&mut &src[..]));
            let mut got = Vec::new();
            chunks.read_to_end(&mut got).unwrap();
            assert_eq!(h.join().unwrap().unwrap(), data.len() as u64);
            got
        });
        assert_eq!(got, data);
    }

    #[test]
    fn a_read_error_reaches_the_consumer_and_the_producer() {
        struct Broken(usize);
        impl Read for Broken {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
                }
                let n = buf.len().min(self.0);
                self.0 -= n;
                Ok(n)
            }
        }
        let (feeder, mut chunks) = stage(2, 64);
        std::thread::scope(|s| {
            let h = s.spawn(move || feeder.pump(&mut Broken(300)));
            let mut got = Vec::new();
            let e = chunks.read_to_end(&mut got).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
            assert_eq!(got.len(), 300);
            assert_eq!(
                h.join().unwrap().unwrap_err().kind(),
                io::ErrorKind::ConnectionReset
            );
        });
    }

    #[test]
    fn copies_sent_arrive_in_order_and_end_only_when_finished() {
        let (feeder, mut chunks) = stage(2, 16);
        std::thread::scope(|s| {
            s.spawn(move || {
                for part in [&b"abc"[..], b"", b"defgh"] {
                    assert!(feeder.send_copy(part));
                }
                feeder.finish();
            });
            let mut got = Vec::new();
            chunks.read_to_end(&mut got).unwrap();
            assert_eq!(got, b"abcdefgh");
        });
        let (feeder, mut chunks) = stage(2, 16);
        assert!(feeder.send_copy(b"abc"));
        drop(feeder);
        let mut got = Vec::new();
        assert!(chunks.read_to_end(&mut got).is_err());
        assert_eq!(got, b"abc");
    }

    #[test]
    fn the_producer_stops_when_the_consumer_goes() {
        let (feeder, chunks) = stage(1, 16);
        drop(chunks);
        let n = feeder.pump(&mut io::repeat(7).take(1 << 20)).unwrap();
        assert!(n <= 16, "read {n} bytes for nobody");
    }
}
