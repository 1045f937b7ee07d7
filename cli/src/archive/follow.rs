//! Reading a member while it is still being written: the reading thread reports how far
//! the file has grown, and a [`FollowReader`] on another thread reads up to there, so a
//! layer can be unpacked while the archive is still streaming in.

use std::fs::File;
use std::io::{self, Read};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Locks `m`, whether or not a thread panicked holding it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How far the reading thread has written a member, for a worker that unpacks it at the
/// same time.
#[derive(Default)]
pub struct Growth {
    state: Mutex<(u64, Option<bool>)>,
    cond: Condvar,
}

impl Growth {
    /// `n` more bytes were written.
    pub fn grew(&self, n: u64) {
        lock(&self.state).0 += n;
        self.cond.notify_all();
    }

    /// The member is whole (`true`), or will never be (`false`).
    pub fn end(&self, whole: bool) {
        let mut st = lock(&self.state);
        if st.1.is_none() {
            st.1 = Some(whole);
        }
        drop(st);
        self.cond.notify_all();
    }
}

/// Reads a member file while the reading thread is still writing it.
pub struct FollowReader {
    file: File,
    pos: u64,
    growth: Arc<Growth>,
}

impl FollowReader {
    /// Reads `file` from its start, as far as `growth` says it is written.
    pub fn new(file: File, growth: Arc<Growth>) -> FollowReader {
        FollowReader {
            file,
            pos: 0,
            growth,
        }
    }
}

impl Read for FollowReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let avail = {
            let mut st = lock(&self.growth.state);
            loop {
                if st.0 > self.pos {
                    break st.0 - self.pos;
                }
                match st.1 {
                    Some(true) => return Ok(0),
                    Some(false) => {
                        return Err(io::Error::other("the archive ended inside this member"))
                    }
                    None => st = self.growth.cond.wait(st).unwrap_or_else(|e| e.into_inner()),
                }
            }
        };
        let want = buf.len().min(usize::try_from(avail).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// Marks a member as never to be whole if reading it stops early.
pub struct EndGuard(pub Arc<Growth>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.end(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_follow_reader_reads_what_is_written_and_fails_when_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        let mut w = File::create(&path).unwrap();
        for whole in [true, false] {
            let growth = Arc::new(Growth::default());
            let mut r = FollowReader::new(File::open(&path).unwrap(), growth.clone());
            let reader = std::thread::spawn(move || {
                let mut out = Vec::new();
                r.read_to_end(&mut out).map(|_| out)
            });
            w.write_all(b"hello ").unwrap();
            growth.grew(6);
            w.write_all(b"world").unwrap();
            growth.grew(5);
            growth.end(whole);
            let got = reader.join().unwrap();
            if whole {
                assert_eq!(got.unwrap(), b"hello world");
            } else {
                assert!(got.is_err());
            }
            w.set_len(0).unwrap();
            w = File::create(&path).unwrap();
        }
    }
}
