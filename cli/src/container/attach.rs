//! What `attach` needs of a detached container besides its log: its standard input, a
//! named pipe (`containers/ID/stdin`, 0600) that the watcher opens for reading and
//! writing and hands to the container as descriptor 0 when it was started with `-i`
//! (so the container never sees end of input when an `attach` goes away, as docker
//! keeps a container's stdin open), and docker's detach keys (`ctrl-p,ctrl-q`), which
//! end an `attach` to a container with a terminal and leave the container running.

use rustix::fd::OwnedFd;
use rustix::fs::{FileType, Mode, OFlags, CWD};
use std::path::{Path, PathBuf};

/// The pipe's file name in the container's directory.
pub const STDIN_PIPE: &str = "stdin";

/// Why the container's input could not be made or reached.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The pipe could not be made or opened.
    #[error("{path}: {source}")]
    Pipe {
        /// The pipe.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The container was not started with `-i`, or its watcher no longer reads.
    #[error("the container's standard input is not open (start it with -i)")]
    NoStdin,
    /// A `--detach-keys` value docker would refuse.
    #[error("invalid detach keys ({0}) provided")]
    BadKeys(String),
}

fn pipe_err(path: &Path) -> impl FnOnce(rustix::io::Errno) -> AttachError + '_ {
    move |e| AttachError::Pipe {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

/// In the watcher: makes the container's input pipe in `dir` afresh and opens it for
/// reading and writing.
pub fn open_stdin_pipe(dir: &Path) -> Result<OwnedFd, AttachError> {
    let path = dir.join(STDIN_PIPE);
    let _ = std::fs::remove_file(&path);
    rustix::fs::mknodat(CWD, &path, FileType::Fifo, Mode::from_raw_mode(0o600), 0)
        .map_err(pipe_err(&path))?;
    rustix::fs::open(&path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).map_err(pipe_err(&path))
}

/// In `attach`: the container's input pipe, opened for writing; `NoStdin` when nothing
/// reads it (a container started without `-i`).
pub fn connect_stdin(dir: &Path) -> Result<OwnedFd, AttachError> {
    let path = dir.join(STDIN_PIPE);
    let fd = rustix::fs::open(
        &path,
        OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::NOENT | rustix::io::Errno::NXIO => AttachError::NoStdin,
        e => pipe_err(&path)(e),
    })?;
    let flags = rustix::fs::fcntl_getfl(&fd).map_err(pipe_err(&path))?;
    rustix::fs::fcntl_setfl(&fd, flags - OFlags::NONBLOCK).map_err(pipe_err(&path))?;
    Ok(fd)
}

/// docker's `--detach-keys`: comma-separated keys, each `ctrl-X` (X a letter or one of
/// `@[\]^_`) or a single character.
pub fn parse_detach_keys(text: &str) -> Result<Vec<u8>, AttachError> {
    let bad = || AttachError::BadKeys(text.to_string());
    text.split(',')
        .map(|key| match key.strip_prefix("ctrl-") {
            Some(c) if c.len() == 1 => {
                let c = c.as_bytes()[0].to_ascii_uppercase();
                match c {
                    b'@'..=b'_' => Ok(c - b'@'),
                    _ => Err(bad()),
                }
            }
            None if key.len() == 1 => Ok(key.as_bytes()[0]),
            _ => Err(bad()),
        })
        .collect()
}

/// Watches typed input for the detach keys: bytes that begin the sequence are held back
/// until it is either complete (detach) or broken (then they are passed on).
pub struct EscapeScanner {
    keys: Vec<u8>,
    matched: usize,
}

impl EscapeScanner {
    /// A scanner for `keys` (none: never detaches).
    pub fn new(keys: Vec<u8>) -> EscapeScanner {
        EscapeScanner { keys, matched: 0 }
    }

    /// Appends to `out` what of `input` goes on to the container; true when the whole
    /// sequence was typed (what follows it is dropped).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        for &b in input {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return true;
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
            } else {
                out.push(b);
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_as_docker_spells_them() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [16, 17]);
        assert_eq!(parse_detach_keys("ctrl-@,a,ctrl-[").unwrap(), [0, b'a', 27]);
        for bad in ["ctrl-", "ctrl-pp", "", "ab", "ctrl-1"] {
            assert!(
                matches!(parse_detach_keys(bad), Err(AttachError::BadKeys(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_sequence_is_held_back_until_complete_or_broken() {
        let mut s = EscapeScanner::new(vec![16, 17]);
        let mut out = Vec::new();
        assert!(!s.feed(b"ab\x10", &mut out));
        assert_eq!(out, b"ab", "the first key waits");
        assert!(!s.feed(b"c\x10\x10", &mut out));
        assert_eq!(out, b"ab\x10c\x10", "a broken sequence is passed on");
        assert!(s.feed(b"\x11rest", &mut out));
        assert_eq!(out, b"ab\x10c\x10");
        let mut none = EscapeScanner::new(Vec::new());
        let mut out = Vec::new();
        assert!(!none.feed(b"\x10\x11", &mut out));
        assert_eq!(out, b"\x10\x11");
    }

    #[test]
    fn a_pipe_nobody_reads_is_no_stdin() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            connect_stdin(dir.path()),
            Err(AttachError::NoStdin)
        ));
        let reader = open_stdin_pipe(dir.path()).unwrap();
        let w = connect_stdin(dir.path()).unwrap();
        rustix::io::write(&w, b"x").unwrap();
        let mut b = [0u8; 1];
        rustix::io::read(&reader, &mut b).unwrap();
        assert_eq!(&b, b"x");
        drop(reader);
        assert!(matches!(
            connect_stdin(dir.path()),
            Err(AttachError::NoStdin)
        ));
    }
}
