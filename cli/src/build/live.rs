//! The live view of a build on a terminal (`--progress=tty`, or `auto` when standard
//! output and error are terminals), as BuildKit shows one: a header with the elapsed
//! time and the steps done, the step each stage is running with its time, and the last
//! lines its commands wrote, redrawn in place ten times a second. While it runs, the
//! process's standard output and error (which the build containers write to) go into a
//! pipe it reads; when the build ends they are restored and the view is replaced by
//! its summary: every step with its time (`CACHED` for cache hits, `ERROR` for the one
//! that failed, followed by its last output lines), then the final lines.

use rustix::fd::OwnedFd;
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

/// How many output lines the view shows, and keeps for a failed step.
const TAIL: usize = 6;
const KEPT: usize = 20;

/// One step as the view shows it.
struct StepLine {
    text: String,
    started: Instant,
    ended: Option<Instant>,
    cached: bool,
}

/// What the view knows, shared by the stages, the reader and the drawer.
#[derive(Default)]
struct State {
    steps: Vec<StepLine>,
    /// The step each stage's thread is at.
    current: HashMap<ThreadId, usize>,
    /// The last lines the commands wrote.
    log: VecDeque<String>,
    /// A line being written (no newline yet).
    partial: String,
    /// Lines printed after the view (`Successfully built …`).
    tail: Vec<String>,
    /// The total number of steps.
    total: usize,
    /// How many lines the last drawing took.
    drawn: usize,
}

/// A live view, from [`Live::start`] until [`Live::finish`].
pub struct Live {
    state: Arc<Mutex<State>>,
    began: Instant,
    term: std::fs::File,
    saved: Vec<(i32, OwnedFd)>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// The terminal's width in columns (80 when unknown).
fn width(term: &std::fs::File) -> usize {
    rustix::termios::tcgetwinsize(term)
        .map(|w| usize::from(w.ws_col))
        .ok()
        .filter(|w| *w > 10)
        .unwrap_or(80)
}

/// `text` cut to `n` characters.
fn cut(text: &str, n: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(n).collect()
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

impl State {
    /// A step line with its time, `width` columns wide.
    fn step_line(&self, s: &StepLine, now: Instant, width: usize, failed: bool) -> String {
        let time = secs(s.ended.unwrap_or(now) - s.started);
        let mark = match (s.cached, failed) {
            (true, _) => "CACHED ",
            (false, true) => "ERROR ",
            (false, false) => "",
        };
        let room = width.saturating_sub(time.len() + 6 + mark.len());
        format!(
            " => {mark}{:<room$} {time}",
            cut(&s.text, room),
            room = room
        )
    }

    /// The view's lines now.
    fn view(&self, began: Instant, width: usize) -> Vec<String> {
        let now = Instant::now();
        let done = self.steps.iter().filter(|s| s.ended.is_some()).count();
        let mut lines = vec![format!(
            "[+] Building {} ({done}/{})",
            secs(now - began),
            self.total
        )];
        let mut running: Vec<usize> = self.current.values().copied().collect();
        running.sort_unstable();
        for i in running {
            let s = &self.steps[i];
            if s.ended.is_none() {
                lines.push(self.step_line(s, now, width, false));
            }
        }
        for l in self.log.iter().rev().take(TAIL).rev() {
            lines.push(format!(" => > {}", cut(l, width.saturating_sub(7))));
        }
        lines
    }

    fn push_output(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' => {
                    let line = std::mem::take(&mut self.partial);
                    self.log.push_back(line);
                    if self.log.len() > KEPT {
                        self.log.pop_front();
                    }
                }
                b'\r' => self.partial.clear(),
                _ => self.partial.push(char::from(b)),
            }
        }
    }
}

impl Live {
    /// Starts the view on the terminal of standard error: standard output and error go
    /// into the view's pipe from now on. None when that cannot be set up.
    pub fn start() -> Option<Live> {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ok()?;
        let mut saved = Vec::new();
        for fd in [1, 2] {
            // SAFETY: 1 and 2 are this process's standard streams, open for its life.
            let cur = unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) };
            saved.push((fd, rustix::io::fcntl_dupfd_cloexec(cur, 3).ok()?));
        }
        let term = std::fs::File::from(saved[1].1.try_clone().ok()?);
        for (fd, _) in &saved {
            nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(&w), *fd).ok()?;
        }
        drop(w);
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let state = state.clone();
            let mut r = std::fs::File::from(r);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = r.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    state.lock().expect("view").push_output(&buf[..n]);
                }
            })
        };
        let mut live = Live {
            state,
            began: Instant::now(),
            term,
            saved,
            stop,
            threads: vec![reader],
        };
        live.threads.push(live.drawer());
        Some(live)
    }

    /// The thread that redraws the view.
    fn drawer(&self) -> JoinHandle<()> {
        let state = self.state.clone();
        let stop = self.stop.clone();
        let began = self.began;
        let mut term = self.term.try_clone().expect("a terminal descriptor");
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let mut s = state.lock().expect("view");
                let lines = s.view(began, width(&term));
                let mut text = clear(s.drawn);
                for l in &lines {
                    text.push_str(l);
                    text.push('\n');
                }
                s.drawn = lines.len();
                drop(s);
                let _ = term.write_all(text.as_bytes());
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    }

    /// Takes one of the builder's plain lines into the view.
    pub fn line(&self, text: &str) {
        let mut s = self.state.lock().expect("view");
        let me = std::thread::current().id();
        if let Some(rest) = text.strip_prefix("Step ") {
            let (n, what) = rest.split_once(" : ").unwrap_or(("", rest));
            if let Some((_, total)) = n.split_once('/') {
                s.total = total.parse().unwrap_or(s.total);
            }
            s.steps.push(StepLine {
                text: format!("[{n}] {what}"),
                started: Instant::now(),
                ended: None,
                cached: false,
            });
            let i = s.steps.len() - 1;
            s.current.insert(me, i);
            s.log.clear();
            s.partial.clear();
        } else if let Some(rest) = text.strip_prefix(" ---> ") {
            let Some(&i) = s.current.get(&me) else {
                return;
            };
            if rest == "Using cache" {
                s.steps[i].cached = true;
            } else if !rest.starts_with("Running in ") {
                s.steps[i].ended = Some(Instant::now());
                let running = s.current.values().any(|&j| s.steps[j].ended.is_none());
                if !running {
                    s.log.clear();
                }
            }
        } else if text.starts_with("Successfully ") || text.starts_with("[Warning]") {
            s.tail.push(text.to_string());
        }
    }

    /// Ends the view: standard output and error back, the view replaced by the
    /// summary. `failed`: the build failed (the unfinished steps are its errors).
    pub fn finish(mut self, failed: bool) {
        self.stop.store(true, Ordering::Relaxed);
        let drawer = self.threads.pop();
        if let Some(t) = drawer {
            let _ = t.join();
        }
        for (fd, copy) in &self.saved {
            let _ = nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(copy), *fd);
        }
        // The reader ends when the last writer goes; a process that kept the pipe open
        // (it cannot outlive its container, but still) does not hold the build up.
        let waited = Instant::now();
        while self.threads.iter().any(|t| !t.is_finished())
            && waited.elapsed() < Duration::from_millis(500)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let s = self.state.lock().expect("view");
        let width = width(&self.term);
        let now = Instant::now();
        let mut text = clear(s.drawn);
        let done = s.steps.iter().filter(|st| st.ended.is_some()).count();
        let end = if failed { "ERROR" } else { "FINISHED" };
        text.push_str(&format!(
            "[+] Building {} ({done}/{}) {end}\n",
            secs(now - self.began),
            s.total
        ));
        for st in &s.steps {
            let error = failed && st.ended.is_none();
            text.push_str(&s.step_line(st, now, width, error));
            text.push('\n');
            if error {
                for l in &s.log {
                    text.push_str(&format!(" => > {}\n", cut(l, width.saturating_sub(7))));
                }
            }
        }
        drop(s);
        let _ = self.term.write_all(text.as_bytes());
        let tail = self.state.lock().expect("view").tail.join("\n");
        if !tail.is_empty() {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{tail}");
            let _ = out.flush();
        }
    }
}

/// The escapes that move up over the `n` lines drawn last and clear them.
fn clear(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("\x1b[{n}A\x1b[J")
    }
}
