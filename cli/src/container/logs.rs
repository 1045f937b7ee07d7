//! A detached container's output, kept as docker's json-file log driver keeps it: one
//! JSON object per line (`{"log":"…\n","stream":"stdout","time":"…"}`) in
//! `containers/ID/container-json.log`, rotated to `container-json.log.1` past a size cap.
//! The watcher writes it (one thread per stream), for attached runs too (as docker
//! does; not with `--rm`, whose log would go with the container); `logs` reads and
//! follows it.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The log's file name in the container's directory.
pub const LOG_FILE: &str = "container-json.log";
/// The size past which the log is rotated (one older file is kept).
pub const MAX_SIZE: u64 = 10 << 20;
/// The longest line kept as one entry (docker splits at 16 KiB too).
const MAX_LINE: usize = 16 << 10;

/// One line of output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The text, with its newline.
    pub log: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// RFC 3339 time, with nanoseconds.
    pub time: String,
}

/// The log file being written, shared by the streams' threads.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max: u64,
}

impl LogWriter {
    /// Opens (appending to) the log in `dir`, rotated past `max` bytes.
    pub fn open(dir: &Path, max: u64) -> std::io::Result<LogWriter> {
        let path = dir.join(LOG_FILE);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path,
            file,
            size,
            max,
        })
    }

    /// Appends one entry, rotating first when it would pass the cap.
    pub fn write(&mut self, stream: &str, text: &[u8]) -> std::io::Result<()> {
        let entry = Entry {
            log: String::from_utf8_lossy(text).into_owned(),
            stream: stream.to_string(),
            time: crate::clock::now_rfc3339(),
        };
        let mut line = serde_json::to_vec(&entry).expect("entry serialises");
        line.push(b'\n');
        if self.size > 0 && self.size + line.len() as u64 > self.max {
            let old = self.path.with_extension("log.1");
            std::fs::rename(&self.path, old)?;
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            self.size = 0;
        }
        self.file.write_all(&line)?;
        self.size += line.len() as u64;
        Ok(())
    }
}

/// A stream's output cut into the log's entries: whole lines, or pieces of
/// `MAX_LINE` bytes, and what is left when the stream ends.
pub struct Lines {
    stream: &'static str,
    log: Arc<Mutex<LogWriter>>,
    pending: Vec<u8>,
}

impl Lines {
    /// The entries of `stream` (`stdout` or `stderr`) in `log`.
    pub fn new(stream: &'static str, log: Arc<Mutex<LogWriter>>) -> Lines {
        Lines {
            stream,
            log,
            pending: Vec::new(),
        }
    }

    /// Adds the bytes read; writes each line they complete.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() {
            let room = MAX_LINE - self.pending.len();
            let end = match chunk.iter().take(room).position(|&b| b == b'\n') {
                Some(i) => i + 1,
                None if chunk.len() >= room => room,
                None => {
                    self.pending.extend_from_slice(chunk);
                    return;
                }
            };
            self.pending.extend_from_slice(&chunk[..end]);
            self.flush();
            chunk = &chunk[end..];
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        if let Ok(mut l) = self.log.lock() {
            let _ = l.write(self.stream, &self.pending);
        }
        self.pending.clear();
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Copies a stream into the log until it ends, and (for an attached container) on to
/// `echo` as it comes, so that a prompt without a newline shows at once.
pub fn pump(mut from: impl Read, mut lines: Lines, mut echo: Option<File>) {
    let mut buf = vec![0u8; MAX_LINE];
    loop {
        match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if let Some(e) = &mut echo {
                    if e.write_all(&buf[..n]).is_err() {
                        echo = None;
                    }
                }
                lines.feed(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Which entries `logs` shows.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only entries at or after this time (seconds, nanoseconds).
    pub since: Option<(i64, u32)>,
    /// Only the last so many entries.
    pub tail: Option<usize>,
}

fn keep(e: &Entry, f: &Filter) -> bool {
    match (f.since, crate::output::parse_rfc3339_nanos(&e.time)) {
        (Some(since), Some(t)) => t >= since,
        _ => true,
    }
}

fn parse_lines(text: &str, out: &mut Vec<Entry>) {
    out.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
}

/// The entries kept so far, filtered, and where the current file was read to (for
/// following).
pub fn read(dir: &Path, f: &Filter) -> std::io::Result<(Vec<Entry>, u64)> {
    let mut all = Vec::new();
    let path = dir.join(LOG_FILE);
    if let Ok(text) = std::fs::read_to_string(path.with_extension("log.1")) {
        parse_lines(&text, &mut all);
    }
    let mut end = 0;
    match File::open(&path) {
        Ok(mut file) => {
            let mut text = String::new();
            file.read_to_string(&mut text)?;
            // A line still being written waits for the next read.
            let whole = text.rfind('\n').map_or(0, |i| i + 1);
            parse_lines(&text[..whole], &mut all);
            end = whole as u64;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    all.retain(|e| keep(e, f));
    if let Some(n) = f.tail {
        let skip = all.len().saturating_sub(n);
        all.drain(..skip);
    }
    Ok((all, end))
}

/// The entries written to the current file after `offset`; returns the new offset. A
/// rotation (the file shorter than the offset) starts over at its beginning.
pub fn read_from(dir: &Path, offset: u64) -> std::io::Result<(Vec<Entry>, u64)> {
    let mut file = match File::open(dir.join(LOG_FILE)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let start = if len < offset { 0 } else { offset };
    file.seek(SeekFrom::Start(start))?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    let whole = text.rfind('\n').map_or(0, |i| i + 1);
    let mut out = Vec::new();
    parse_lines(&text[..whole], &mut out);
    Ok((out, start + whole as u64))
}

/// docker's `--since`: an RFC 3339 time, Unix seconds (`1700000000[.5]`), or a duration
/// before now (`10m`, `1h30m`, `45s`).
pub fn parse_since(text: &str, now: i64) -> Option<(i64, u32)> {
    if let Some(t) = crate::output::parse_rfc3339_nanos(text) {
        return Some(t);
    }
    if let Ok(secs) = text.parse::<f64>() {
        return Some((secs.trunc() as i64, (secs.fract() * 1e9) as u32));
    }
    let mut total = 0i64;
    let mut num = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().ok()?;
        num.clear();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
    }
    num.is_empty().then_some((now - total, 0))
}

/// `-t`'s time: RFC 3339 with all nine digits of nanoseconds, as docker prints it.
pub fn fixed_time(time: &str) -> String {
    match crate::output::parse_rfc3339_nanos(time) {
        Some((s, n)) => {
            let t = crate::output::rfc3339(s, 0);
            format!("{}.{n:09}Z", t.trim_end_matches('Z'))
        }
        None => time.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_rotate_and_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = LogWriter::open(dir.path(), 200).unwrap();
        for i in 0..6 {
            w.write("stdout", format!("line {i}\n").as_bytes()).unwrap();
        }
        w.write("stderr", b"oops\n").unwrap();
        assert!(dir.path().join("container-json.log.1").exists());
        let (all, end) = read(dir.path(), &Filter::default()).unwrap();
        let texts: Vec<_> = all.iter().map(|e| e.log.as_str()).collect();
        // One rotated file is kept: the oldest lines are gone, the rest in order.
        assert_eq!(texts.last(), Some(&"oops\n"));
        assert!(texts.windows(2).all(|w| w[0] < w[1] || w[1] == "oops\n"));
        assert_eq!(all.last().unwrap().stream, "stderr");
        let tail = Filter {
            tail: Some(2),
            ..Default::default()
        };
        assert_eq!(read(dir.path(), &tail).unwrap().0.len(), 2);
        w.write("stdout", b"late\n").unwrap();
        let (more, _) = read_from(dir.path(), end).unwrap();
        assert_eq!(more.len(), 1);
        assert_eq!(more[0].log, "late\n");
    }

    #[test]
    fn output_is_cut_into_lines_and_long_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(Mutex::new(LogWriter::open(dir.path(), MAX_SIZE).unwrap()));
        let mut lines = Lines::new("stdout", log);
        lines.feed(b"a");
        lines.feed(b"b\nc\nd");
        lines.feed(&vec![b'x'; MAX_LINE + 1]);
        lines.feed(b"\nprompt> ");
        drop(lines);
        let (all, _) = read(dir.path(), &Filter::default()).unwrap();
        let texts: Vec<_> = all.iter().map(|e| e.log.len()).collect();
        assert_eq!(all[0].log, "ab\n");
        assert_eq!(all[1].log, "c\n");
        assert_eq!(texts[2..], [MAX_LINE, 3, 8]);
        assert_eq!(all[3].log, "xx\n");
        assert_eq!(all[4].log, "prompt> ", "the rest when the stream ends");
    }

    #[test]
    fn since_takes_times_seconds_and_durations() {
        assert_eq!(parse_since("10m", 1000), Some((400, 0)));
        assert_eq!(parse_since("1h1s", 4000), Some((399, 0)));
        assert_eq!(parse_since("1700000000", 0), Some((1_700_000_000, 0)));
        assert_eq!(
            parse_since("2024-01-02T03:04:05Z", 0),
            Some((1_704_164_645, 0))
        );
        assert_eq!(parse_since("soon", 0), None);
        assert_eq!(
            fixed_time("2024-01-02T03:04:05.5Z"),
            "2024-01-02T03:04:05.500000000Z"
        );
    }
}
