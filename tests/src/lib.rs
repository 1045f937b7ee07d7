//! Helpers for the integration tests.
//!
//! In the style of ripgrep's test harness: every test makes its own [`Env`] (a private
//! temporary directory holding the store, `HOME` and the `XDG_*` directories), runs the
//! real `strata` binary through [`Cmd`], and gets an [`Output`] back. When anything goes
//! wrong the harness prints the command line, its exit status, its stdout and stderr and
//! the temporary directory (kept when `STRATA_KEEP_TMP` is set).
//!
//! The binary is `$STRATA_BIN` when set, else `<workspace>/target/debug/strata`.
//!
//! Fixture builders make the archives the tests feed to `strata import`: a busybox root
//! filesystem ([`busybox_rootfs_tar`]), small hand-made trees ([`small_rootfs_tar`]), and
//! arbitrary or hostile archives written header by header ([`TarBuilder`], [`RawHeader`]),
//! plus the four compressors strata must detect ([`gzip`], [`zstd_compress`],
//! [`xz_compress`], [`bzip2_compress`]).

pub mod corpus;
pub mod hardening;
pub mod helper;
pub mod hostile_registry;
pub mod registry;

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long one command may run before the harness kills it and fails the test.
/// `STRATA_TEST_TIMEOUT` (seconds) overrides it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The most of each stream shown in a failure report.
const REPORT_LIMIT: usize = 16 * 1024;

/// True when the tests run as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The `strata` binary the tests drive: `$STRATA_BIN`, else the debug build of this
/// workspace (`$CARGO_TARGET_DIR` at compile time, else `<workspace>/target`).
pub fn strata_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("STRATA_BIN") {
        return PathBuf::from(p);
    }
    let target = match option_env!("CARGO_TARGET_DIR") {
        Some(t) => PathBuf::from(t),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
    };
    target.join("debug/strata")
}

/// The CPU architecture in the OCI/Go spelling (`amd64`, `arm64`, ...).
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// A name no other test or run uses: `prefix` plus pid, time and a counter.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Lower-case hex sha256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// True if `s` is `sha256:` followed by 64 lower-case hex digits.
pub fn is_sha256_id(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| is_hex(h, 64))
}

/// True if `s` is exactly `len` lower-case hex digits.
pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The 12-digit short form of an image ID (`sha256:` prefix optional).
pub fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

// ---------------------------------------------------------------------------------------
// The environment of one test
// ---------------------------------------------------------------------------------------

/// One test's private world: a temporary directory with the store (`<dir>/store`, given
/// to strata as `STRATA_ROOT`), a home directory and the `XDG_*` directories inside it,
/// and a `work` directory that is the current directory of every command.
pub struct Env {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    log: Mutex<Vec<String>>,
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl Env {
    /// Makes a fresh environment under `$TMPDIR`.
    pub fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("strata-test.")
            .tempdir()
            .expect("cannot make a temporary directory (is TMPDIR writable?)");
        let path = dir.path().to_path_buf();
        for d in [
            "home",
            "home/.config",
            "home/.cache",
            "home/.local/share",
            "home/.local/state",
            "run",
            "work",
            "outside",
        ] {
            std::fs::create_dir_all(path.join(d)).unwrap();
        }
        std::fs::set_permissions(path.join("run"), std::fs::Permissions::from_mode(0o700)).unwrap();
        Env {
            dir: Some(dir),
            path,
            log: Mutex::new(Vec::new()),
        }
    }

    /// The temporary directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store root (`STRATA_ROOT`); strata creates it on first use.
    pub fn store(&self) -> PathBuf {
        self.path.join("store")
    }

    /// The `HOME` of every command.
    pub fn home(&self) -> PathBuf {
        self.path.join("home")
    }

    /// The current directory of every command.
    pub fn work(&self) -> PathBuf {
        self.path.join("work")
    }

    /// A directory outside the store that hostile archives aim at; it starts empty.
    pub fn outside(&self) -> PathBuf {
        self.path.join("outside")
    }

    /// Writes `data` to `work/<name>` and returns its path.
    pub fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.work().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, data).unwrap();
        p
    }

    /// A command running the strata binary with `args` in this environment.
    pub fn cmd<I, S>(&self, args: I) -> Cmd<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Cmd {
            env: self,
            program: strata_bin(),
            args: args
                .into_iter()
                .map(|a| a.as_ref().to_os_string())
                .collect(),
            envs: Vec::new(),
            stdin: None,
            timeout: default_timeout(),
        }
    }

    /// A command running `sh -c script` in this environment, with `$STRATA` (and
    /// `STRATA_BIN`) naming the strata binary.
    pub fn sh(&self, script: &str) -> Cmd<'_> {
        Cmd {
            env: self,
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script.into()],
            envs: vec![
                ("STRATA".into(), Some(strata_bin().into())),
                ("STRATA_BIN".into(), Some(strata_bin().into())),
            ],
            stdin: None,
            timeout: default_timeout(),
        }
    }

    /// The variables every command gets (on top of the inherited ones, from which the
    /// `XDG_*`, `DOCKER_*` and `STRATA_*` variables are removed).
    pub fn vars(&self) -> Vec<(&'static str, PathBuf)> {
        let h = self.home();
        let mut v = vec![
            ("STRATA_ROOT", self.store()),
            ("HOME", h.clone()),
            ("XDG_CONFIG_HOME", h.join(".config")),
            ("XDG_CACHE_HOME", h.join(".cache")),
            ("XDG_DATA_HOME", h.join(".local/share")),
            ("XDG_STATE_HOME", h.join(".local/state")),
            ("XDG_RUNTIME_DIR", self.path.join("run")),
        ];
        // The helper's socket (the unprivileged pass) reaches strata too.
        if let Some(s) = std::env::var_os("STRATA_HELPER_SOCKET") {
            v.push(("STRATA_HELPER_SOCKET", PathBuf::from(s)));
        }
        v
    }

    /// Imports `tar` (any compression) as `reference` (or untagged when `None`) and
    /// returns the image ID, checking that it is strata's only line of output.
    pub fn import(&self, tar: &[u8], reference: Option<&str>) -> String {
        let file = self.write(&unique_name("import-"), tar);
        let mut args: Vec<OsString> = vec!["import".into(), file.into_os_string()];
        if let Some(r) = reference {
            args.push(r.into());
        }
        let cmd = self.cmd(args);
        let cmdline = cmd.cmdline();
        let out = cmd.ok();
        let id = out.stdout.trim_end_matches('\n');
        if !is_sha256_id(id) {
            Cmd::report_with(
                self,
                &cmdline,
                &out,
                "`strata import` did not print exactly one sha256:<64 hex> line",
            );
        }
        id.to_string()
    }

    /// Imports the busybox root filesystem (plain tar) as `reference`.
    pub fn import_busybox(&self, reference: &str) -> String {
        self.import(busybox_rootfs_tar(false), Some(reference))
    }

    /// `strata inspect IMAGE`, parsed, and its one element.
    pub fn inspect(&self, image: &str) -> serde_json::Value {
        let out = self.cmd(["inspect", image]).ok();
        let v: serde_json::Value = match serde_json::from_str(&out.stdout) {
            Ok(v) => v,
            Err(e) => panic!(
                "`strata inspect {image}` printed invalid JSON ({e}):\n{}",
                out.stdout
            ),
        };
        let arr = v.as_array().expect("inspect prints a JSON array");
        assert_eq!(arr.len(), 1, "inspect of one image gives one element");
        arr[0].clone()
    }

    /// The lines of `strata images -a -q` (what the hostile tests compare).
    pub fn image_ids(&self) -> Vec<String> {
        self.cmd(["images", "-a", "-q"])
            .ok()
            .stdout
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The rows of `strata images --format '{{.Repository}}:{{.Tag}}'`, sorted.
    pub fn repo_tags(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .cmd(["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .ok()
            .stdout
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    /// The names in a directory of the store (empty when it does not exist), sorted.
    pub fn store_entries(&self, sub: &str) -> Vec<String> {
        list_dir(&self.store().join(sub))
    }

    /// What the hostile-input tests check is left untouched.
    pub fn snapshot(&self) -> StoreSnapshot {
        StoreSnapshot {
            images: self.image_ids(),
            layers: self.store_entries("layers"),
            blobs: self.store_entries("blobs/sha256"),
            tmp: self.store_entries("tmp"),
        }
    }

    fn record(&self, line: String) {
        if let Ok(mut log) = self.log.lock() {
            log.push(line);
        }
    }

    /// Prints the failure context (commands run so far, the temp dir) to stderr.
    fn fail_report(&self, what: &str, detail: Option<&str>) {
        let mut s = String::new();
        let _ = writeln!(s, "\n==== strata test failure: {what}");
        if let Some(d) = detail {
            s.push_str(d);
        }
        let _ = writeln!(s, "temp dir: {}", self.path.display());
        eprint!("{s}");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let keep = std::env::var_os("STRATA_KEEP_TMP").is_some();
        if std::thread::panicking() {
            let mut s = String::from("\n==== strata test panicked; commands run in this test:\n");
            if let Ok(log) = self.log.lock() {
                for l in log.iter() {
                    let _ = writeln!(s, "  {l}");
                }
            }
            let _ = writeln!(
                s,
                "temp dir: {}{}",
                self.path.display(),
                if keep {
                    " (kept)"
                } else {
                    " (removed; set STRATA_KEEP_TMP=1 to keep it)"
                }
            );
            eprint!("{s}");
        }
        if let Some(dir) = self.dir.take() {
            if keep {
                let _ = dir.keep();
            } else {
                make_writable(dir.path());
                let _ = dir.close();
            }
        }
    }
}

/// What [`Env::snapshot`] records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSnapshot {
    /// `strata images -a -q`.
    pub images: Vec<String>,
    /// The entries of the store's `layers/`.
    pub layers: Vec<String>,
    /// The entries of the store's `blobs/sha256/`.
    pub blobs: Vec<String>,
    /// The entries of the store's `tmp/`.
    pub tmp: Vec<String>,
}

fn default_timeout() -> Duration {
    std::env::var("STRATA_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// The sorted names in `dir` (empty if it does not exist).
pub fn list_dir(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Every path under `dir` (not following symlinks), relative to it.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    fn go(base: &Path, d: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                out.push(p.strip_prefix(base).unwrap_or(&p).to_path_buf());
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    go(base, &p, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    go(dir, dir, &mut out);
    out.sort();
    out
}

/// Gives the owner write and search permission on every directory under `p`, so that
/// read-only directories extracted from images can be removed.
fn make_writable(p: &Path) {
    if let Ok(m) = std::fs::symlink_metadata(p) {
        if m.is_dir() {
            let mode = m.permissions().mode();
            if mode & 0o700 != 0o700 {
                let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode | 0o700));
            }
            if let Ok(rd) = std::fs::read_dir(p) {
                for e in rd.flatten() {
                    make_writable(&e.path());
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Its standard output (lossy UTF-8).
    pub stdout: String,
    /// Its standard error (lossy UTF-8).
    pub stderr: String,
    /// Its exit code; `128 + N` when killed by signal N.
    pub code: i32,
}

impl Output {
    /// The lines of stdout.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// The lines of stderr.
    pub fn err_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    /// Asserts that stderr is exactly one line starting with `Error: ` and returns it.
    pub fn single_error(&self) -> &str {
        let lines = self.err_lines();
        assert_eq!(
            lines.len(),
            1,
            "expected exactly one line on stderr, got {}:\n{}",
            lines.len(),
            self.stderr
        );
        assert!(
            lines[0].starts_with("Error: "),
            "stderr does not start with `Error: `: {:?}",
            lines[0]
        );
        assert!(
            self.stderr.ends_with('\n'),
            "the error line does not end with a newline: {:?}",
            self.stderr
        );
        lines[0]
    }
}

/// A strata (or shell) command to run in an [`Env`].
pub struct Cmd<'a> {
    env: &'a Env,
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, Option<OsString>)>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

impl<'a> Cmd<'a> {
    /// Adds an argument.
    pub fn arg<S: AsRef<OsStr>>(mut self, a: S) -> Self {
        self.args.push(a.as_ref().to_os_string());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Sets an environment variable for this command only.
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(mut self, k: K, v: V) -> Self {
        self.envs
            .push((k.as_ref().to_os_string(), Some(v.as_ref().to_os_string())));
        self
    }

    /// Removes an environment variable for this command only.
    pub fn env_remove<K: AsRef<OsStr>>(mut self, k: K) -> Self {
        self.envs.push((k.as_ref().to_os_string(), None));
        self
    }

    /// Feeds `data` to the command's stdin (otherwise stdin is /dev/null).
    pub fn stdin<B: Into<Vec<u8>>>(mut self, data: B) -> Self {
        self.stdin = Some(data.into());
        self
    }

    /// Sets how long the command may run before it is killed and the test fails.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// The command line, shell-quoted, with the environment it sets.
    pub fn cmdline(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.envs {
            match v {
                Some(v) => {
                    let _ = write!(s, "{}={} ", k.to_string_lossy(), quote(v));
                }
                None => {
                    let _ = write!(s, "-u {} ", k.to_string_lossy());
                }
            }
        }
        s.push_str(&quote(self.program.as_os_str()));
        for a in &self.args {
            s.push(' ');
            s.push_str(&quote(a));
        }
        s
    }

    /// A `std::process::Command` set up like this one (stdin, stdout and stderr are left
    /// for the caller), for tests that need to manage the process themselves.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args).current_dir(self.env.work());
        for (k, _) in std::env::vars_os() {
            let ks = k.to_string_lossy();
            if ks.starts_with("XDG_") || ks.starts_with("DOCKER_") || ks.starts_with("STRATA_") {
                c.env_remove(&k);
            }
        }
        for (k, v) in self.env.vars() {
            c.env(k, v);
        }
        for (k, v) in &self.envs {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c
    }

    /// Runs the command and returns what it did, whatever its exit status.
    /// Panics (with a full report) if it cannot be started or outlives its timeout.
    pub fn run(self) -> Output {
        let cmdline = self.cmdline();
        if self.program == strata_bin() && !self.program.exists() {
            panic!(
                "the strata binary {} does not exist: run `cargo build -p strata` or set STRATA_BIN",
                self.program.display()
            );
        }
        let mut c = self.command();
        c.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmdline}: {e}"));
        let pid = child.id() as libc::pid_t;
        let writer = match (self.stdin, child.stdin.take()) {
            (Some(data), Some(mut pipe)) => Some(std::thread::spawn(move || {
                // The command may stop reading early (that is what hostile input is for).
                let _ = pipe.write_all(&data);
            })),
            _ => None,
        };
        let mut out_pipe = child.stdout.take().unwrap();
        let mut err_pipe = child.stderr.take().unwrap();
        let out_t = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = out_pipe.read_to_end(&mut v);
            v
        });
        let err_t = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = err_pipe.read_to_end(&mut v);
            v
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let (status, timed_out) = match rx.recv_timeout(self.timeout) {
            Ok(s) => (s, false),
            Err(_) => {
                // SAFETY: pid is our child, not yet reaped (the waiter has not returned).
                unsafe { libc::kill(pid, libc::SIGKILL) };
                (rx.recv().expect("waiter thread"), true)
            }
        };
        let status = status.unwrap_or_else(|e| panic!("waiting for {cmdline}: {e}"));
        if let Some(w) = writer {
            let _ = w.join();
        }
        let out = Output {
            stdout: String::from_utf8_lossy(&out_t.join().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&err_t.join().unwrap()).into_owned(),
            code: exit_code(status),
        };
        self.env.record(format!("{cmdline}  => exit {}", out.code));
        if timed_out {
            Cmd::report_with(
                self.env,
                &cmdline,
                &out,
                &format!("timed out after {:?} and was killed", self.timeout),
            );
        }
        out
    }

    /// Runs the command and panics unless it exits 0.
    pub fn ok(self) -> Output {
        let (env, cmdline) = (self.env, self.cmdline());
        let out = self.run();
        if out.code != 0 {
            Cmd::report_with(env, &cmdline, &out, "expected exit status 0");
        }
        out
    }

    /// Runs the command and panics if it exits 0.
    pub fn fails(self) -> Output {
        let (env, cmdline) = (self.env, self.cmdline());
        let out = self.run();
        if out.code == 0 {
            Cmd::report_with(env, &cmdline, &out, "expected a non-zero exit status");
        }
        out
    }

    /// Runs the command and panics unless it exits with `code`.
    pub fn code(self, code: i32) -> Output {
        let (env, cmdline) = (self.env, self.cmdline());
        let out = self.run();
        if out.code != code {
            Cmd::report_with(env, &cmdline, &out, &format!("expected exit status {code}"));
        }
        out
    }

    fn report_with(env: &Env, cmdline: &str, out: &Output, why: &str) -> ! {
        let mut d = String::new();
        let _ = writeln!(d, "command: {cmdline}");
        let _ = writeln!(d, "cwd: {}", env.work().display());
        let _ = writeln!(d, "env: STRATA_ROOT={}", env.store().display());
        let _ = writeln!(d, "exit status: {}", out.code);
        let _ = writeln!(d, "---- stdout ----\n{}", clip(&out.stdout));
        let _ = writeln!(d, "---- stderr ----\n{}", clip(&out.stderr));
        let _ = writeln!(d, "----------------");
        env.fail_report(why, Some(&d));
        panic!("{why}: {cmdline} (exit status {})", out.code);
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

fn clip(s: &str) -> String {
    if s.len() <= REPORT_LIMIT {
        return s.to_string();
    }
    let mut end = REPORT_LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[... {} more bytes]", &s[..end], s.len() - end)
}

/// Shell-quotes one word for display.
pub fn quote(a: &OsStr) -> String {
    let s = a.to_string_lossy();
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:=@%+,-".contains(&b))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

// ---------------------------------------------------------------------------------------
// Docker-style tables
// ---------------------------------------------------------------------------------------

/// A table as docker prints it (Go's text/tabwriter with minwidth 10, padding 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The header cells.
    pub header: Vec<String>,
    /// The cells of each row.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Parses `text` by the header's column positions and asserts that it is laid out
    /// exactly as docker's tabwriter would lay out those cells.
    pub fn parse(text: &str) -> Table {
        let lines: Vec<&str> = text.lines().collect();
        assert!(!lines.is_empty(), "no table header in {text:?}");
        let head: Vec<char> = lines[0].chars().collect();
        // Columns are separated by at least three spaces; header names have single spaces.
        let mut starts = vec![0usize];
        let mut i = 0;
        while i < head.len() {
            if head[i] == ' ' {
                let j = (i..head.len())
                    .find(|&k| head[k] != ' ')
                    .unwrap_or(head.len());
                if j - i >= 2 && j < head.len() {
                    starts.push(j);
                }
                i = j;
            } else {
                i += 1;
            }
        }
        let cells = |line: &str| -> Vec<String> {
            let ch: Vec<char> = line.chars().collect();
            (0..starts.len())
                .map(|c| {
                    let a = starts[c].min(ch.len());
                    let b = if c + 1 < starts.len() {
                        starts[c + 1].min(ch.len())
                    } else {
                        ch.len()
                    };
                    ch[a..b].iter().collect::<String>().trim_end().to_string()
                })
                .collect()
        };
        let header = cells(lines[0]);
        let rows: Vec<Vec<String>> = lines[1..].iter().map(|l| cells(l)).collect();
        let t = Table { header, rows };
        let expected = t.render();
        assert_eq!(
            text, expected,
            "the table is not laid out as docker's tabwriter (minwidth 10, padding 3) would"
        );
        t
    }

    /// Lays the cells out as docker does.
    pub fn render(&self) -> String {
        let n = self.header.len();
        let all: Vec<&Vec<String>> = std::iter::once(&self.header).chain(&self.rows).collect();
        let widths: Vec<usize> = (0..n.saturating_sub(1))
            .map(|c| {
                all.iter()
                    .map(|r| r.get(c).map_or(0, |s| s.chars().count()) + 3)
                    .max()
                    .unwrap_or(0)
                    .max(10)
            })
            .collect();
        let mut s = String::new();
        for r in all {
            for (c, cell) in r.iter().enumerate() {
                if c + 1 < n {
                    let _ = write!(s, "{cell:<w$}", w = widths[c]);
                } else {
                    s.push_str(cell);
                }
            }
            s.push('\n');
        }
        s
    }

    /// The cells without the column `name`: for comparing two listings printed a moment
    /// apart, whose relative times (`CREATED`) may have crossed a second's boundary.
    pub fn without(mut self, name: &str) -> Table {
        let i = self.col(name);
        self.header.remove(i);
        for row in &mut self.rows {
            row.remove(i);
        }
        self
    }

    /// The index of the column named `name`.
    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }

    /// The cells of column `name`.
    pub fn column(&self, name: &str) -> Vec<String> {
        let c = self.col(name);
        self.rows.iter().map(|r| r[c].clone()).collect()
    }
}

/// Parses docker's human sizes (`units.HumanSizeWithPrecision(n, 3)`: `0B`, `512B`,
/// `4.26MB`, `1.2GB`) into bytes.
pub fn parse_human_size(s: &str) -> Option<f64> {
    let i = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(i);
    let n: f64 = num.parse().ok()?;
    let m = match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => return None,
    };
    Some(n * m)
}

/// True for docker's `CreatedSince` of something made in the last few minutes
/// (`Less than a second ago`, `5 seconds ago`, `About a minute ago`, `3 minutes ago`).
pub fn is_recent_created_since(s: &str) -> bool {
    let Some(d) = s.strip_suffix(" ago") else {
        return false;
    };
    if d == "Less than a second" || d == "1 second" || d == "About a minute" {
        return true;
    }
    for unit in [" seconds", " minutes"] {
        if let Some(n) = d.strip_suffix(unit) {
            return n.parse::<u32>().is_ok();
        }
    }
    false
}

// ---------------------------------------------------------------------------------------
// Fixtures: root filesystems
// ---------------------------------------------------------------------------------------

/// The applets `scripts/make-busybox-rootfs.sh` links to busybox.
pub const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "ls", "cat", "echo", "true", "false", "mkdir", "rm", "touch", "env", "id", "sleep",
    "stat", "head", "wc",
];

/// `etc/passwd` of the busybox root filesystem.
pub const BUSYBOX_PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

/// `etc/group` of the busybox root filesystem.
pub const BUSYBOX_GROUP: &str = "root:x:0:\nnobody:x:65534:\n";

/// The host's static busybox (package busybox-static).
pub fn busybox_binary() -> &'static [u8] {
    static BB: OnceLock<Vec<u8>> = OnceLock::new();
    BB.get_or_init(|| {
        for p in ["/bin/busybox", "/usr/bin/busybox"] {
            if let Ok(b) = std::fs::read(p) {
                return b;
            }
        }
        panic!("/bin/busybox is missing: install busybox-static (apt-get install busybox-static)")
    })
}

/// The busybox root filesystem, as `scripts/make-busybox-rootfs.sh` makes it: bin/busybox
/// with its applet symlinks, etc/passwd and etc/group, tmp (1777), root, dev, proc and sys;
/// everything owned by 0:0. Gzipped when `gz`. Built once per test process.
pub fn busybox_rootfs_tar(gz: bool) -> &'static [u8] {
    static PLAIN: OnceLock<Vec<u8>> = OnceLock::new();
    static GZ: OnceLock<Vec<u8>> = OnceLock::new();
    let plain = PLAIN.get_or_init(|| {
        let mut t = RootfsBuilder::new();
        t.dir("bin", 0o755);
        t.file("bin/busybox", 0o755, busybox_binary());
        for a in BUSYBOX_APPLETS {
            t.symlink(&format!("bin/{a}"), "busybox");
        }
        t.dir("dev", 0o755);
        t.dir("etc", 0o755);
        t.file("etc/group", 0o644, BUSYBOX_GROUP.as_bytes());
        t.file("etc/passwd", 0o644, BUSYBOX_PASSWD.as_bytes());
        t.dir("proc", 0o555);
        t.dir("root", 0o700);
        t.dir("sys", 0o555);
        t.dir("tmp", 0o1777);
        t.finish()
    });
    if gz {
        GZ.get_or_init(|| gzip(plain))
    } else {
        plain
    }
}

/// A small root filesystem made of the given regular files (directories are added as
/// needed), owned by 0:0; use it when a test needs an image that differs from busybox.
pub fn small_rootfs_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut t = RootfsBuilder::new();
    let mut dirs = std::collections::BTreeSet::new();
    for (name, _) in files {
        let mut p = Path::new(name).parent();
        while let Some(d) = p {
            if !d.as_os_str().is_empty() {
                dirs.insert(d.to_string_lossy().into_owned());
            }
            p = d.parent();
        }
    }
    for d in &dirs {
        t.dir(d, 0o755);
    }
    for (name, data) in files {
        t.file(name, 0o644, data);
    }
    t.finish()
}

/// A well-formed tar written with the `tar` crate: ustar/GNU headers, owner 0:0, a fixed
/// modification time.
pub struct RootfsBuilder {
    b: tar::Builder<Vec<u8>>,
}

impl Default for RootfsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl RootfsBuilder {
    /// The fixed modification time of every entry (2024-01-01T00:00:00Z).
    pub const MTIME: u64 = 1_704_067_200;

    /// An empty archive.
    pub fn new() -> Self {
        let mut b = tar::Builder::new(Vec::new());
        b.mode(tar::HeaderMode::Complete);
        RootfsBuilder { b }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(Self::MTIME);
        h.set_size(size);
        let _ = h.set_username("root");
        let _ = h.set_groupname("root");
        h
    }

    /// Adds a directory.
    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Directory, mode, 0);
        self.b
            .append_data(
                &mut h,
                format!("{}/", name.trim_end_matches('/')),
                std::io::empty(),
            )
            .unwrap();
        self
    }

    /// Adds a regular file.
    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Regular, mode, data.len() as u64);
        self.b.append_data(&mut h, name, data).unwrap();
        self
    }

    /// Adds a symbolic link.
    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0);
        self.b.append_link(&mut h, name, target).unwrap();
        self
    }

    /// Adds a hard link to an earlier entry.
    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Link, 0o644, 0);
        self.b.append_link(&mut h, name, target).unwrap();
        self
    }

    /// The finished archive (with its two zero blocks).
    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

// ---------------------------------------------------------------------------------------
// Fixtures: hand-made and hostile archives
// ---------------------------------------------------------------------------------------

/// Tar type flags.
pub mod kind {
    /// Regular file.
    pub const FILE: u8 = b'0';
    /// Hard link.
    pub const HARDLINK: u8 = b'1';
    /// Symbolic link.
    pub const SYMLINK: u8 = b'2';
    /// Character device.
    pub const CHAR: u8 = b'3';
    /// Block device.
    pub const BLOCK: u8 = b'4';
    /// Directory.
    pub const DIR: u8 = b'5';
    /// FIFO.
    pub const FIFO: u8 = b'6';
    /// PAX extended header for the next entry.
    pub const PAX: u8 = b'x';
    /// PAX global extended header.
    pub const PAX_GLOBAL: u8 = b'g';
    /// GNU long name for the next entry.
    pub const GNU_LONGNAME: u8 = b'L';
    /// GNU long link name for the next entry.
    pub const GNU_LONGLINK: u8 = b'K';
}

/// One raw 512-byte ustar header, every field settable to anything (names are bytes, not
/// checked). Numbers that do not fit in octal are written in GNU base-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawHeader {
    /// `name` (at most 100 bytes).
    pub name: Vec<u8>,
    /// Permission bits.
    pub mode: u64,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// The size the header declares (need not match the data that follows).
    pub size: u64,
    /// Modification time.
    pub mtime: u64,
    /// Type flag (see [`kind`]).
    pub typeflag: u8,
    /// Link target (at most 100 bytes).
    pub linkname: Vec<u8>,
    /// `magic` and `version` (8 bytes: `ustar\0` `00`).
    pub magic: [u8; 8],
    /// Owner name.
    pub uname: Vec<u8>,
    /// Group name.
    pub gname: Vec<u8>,
    /// Device major number.
    pub devmajor: u64,
    /// Device minor number.
    pub devminor: u64,
    /// Name prefix (at most 155 bytes).
    pub prefix: Vec<u8>,
    /// When set, written instead of the computed checksum.
    pub checksum: Option<u32>,
}

impl RawHeader {
    /// A header for `name` of type `typeflag`, owned by 0:0, size 0.
    pub fn new(name: impl AsRef<[u8]>, typeflag: u8) -> RawHeader {
        let dir = typeflag == kind::DIR;
        RawHeader {
            name: name.as_ref().to_vec(),
            mode: if dir { 0o755 } else { 0o644 },
            uid: 0,
            gid: 0,
            size: 0,
            mtime: RootfsBuilder::MTIME,
            typeflag,
            linkname: Vec::new(),
            magic: *b"ustar\x0000",
            uname: b"root".to_vec(),
            gname: b"root".to_vec(),
            devmajor: 0,
            devminor: 0,
            prefix: Vec::new(),
            checksum: None,
        }
    }

    /// Sets the declared size.
    pub fn size(mut self, size: u64) -> Self {
        self.size = size;
        self
    }

    /// Sets the link target.
    pub fn linkname(mut self, l: impl AsRef<[u8]>) -> Self {
        self.linkname = l.as_ref().to_vec();
        self
    }

    /// Sets the mode.
    pub fn mode(mut self, m: u64) -> Self {
        self.mode = m;
        self
    }

    /// The 512 bytes.
    pub fn to_block(&self) -> [u8; 512] {
        let mut b = [0u8; 512];
        put_bytes(&mut b[0..100], &self.name, "name");
        put_num(&mut b[100..108], self.mode);
        put_num(&mut b[108..116], self.uid);
        put_num(&mut b[116..124], self.gid);
        put_num(&mut b[124..136], self.size);
        put_num(&mut b[136..148], self.mtime);
        b[148..156].copy_from_slice(b"        ");
        b[156] = self.typeflag;
        put_bytes(&mut b[157..257], &self.linkname, "linkname");
        b[257..265].copy_from_slice(&self.magic);
        put_bytes(&mut b[265..297], &self.uname, "uname");
        put_bytes(&mut b[297..329], &self.gname, "gname");
        put_num(&mut b[329..337], self.devmajor);
        put_num(&mut b[337..345], self.devminor);
        put_bytes(&mut b[345..500], &self.prefix, "prefix");
        let sum = self
            .checksum
            .unwrap_or_else(|| b.iter().map(|&x| x as u32).sum());
        let s = format!("{sum:06o}\0 ");
        b[148..156].copy_from_slice(s.as_bytes());
        b
    }
}

fn put_bytes(field: &mut [u8], v: &[u8], what: &str) {
    assert!(
        v.len() <= field.len(),
        "tar {what} of {} bytes does not fit in {} (use a PAX header)",
        v.len(),
        field.len()
    );
    field[..v.len()].copy_from_slice(v);
}

fn put_num(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    if s.len() <= digits {
        field[..digits].copy_from_slice(s.as_bytes());
        field[digits] = 0;
    } else {
        // GNU base-256: high bit set, big-endian value in the rest.
        field.fill(0);
        let be = v.to_be_bytes();
        let n = field.len();
        field[n - 8..].copy_from_slice(&be);
        field[0] |= 0x80;
    }
}

/// Writes tar archives header by header, so that tests can make any archive at all:
/// lying sizes, absolute or `..` names, links anywhere, PAX records of any size, missing
/// end blocks.
#[derive(Debug, Clone, Default)]
pub struct TarBuilder {
    buf: Vec<u8>,
}

impl TarBuilder {
    /// An empty archive.
    pub fn new() -> Self {
        TarBuilder::default()
    }

    /// Appends `header` followed by `data` padded to a 512-byte boundary. The header's
    /// declared size is not changed: pass a matching one for a well-formed entry.
    /// Names or link targets longer than the 100 bytes a header holds go in a PAX header.
    pub fn entry(mut self, header: &RawHeader, data: &[u8]) -> Self {
        let mut records: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut header = header.clone();
        if header.name.len() > 100 {
            records.push((
                "path",
                std::mem::replace(&mut header.name, b"long-name".to_vec()),
            ));
        }
        if header.linkname.len() > 100 {
            records.push((
                "linkpath",
                std::mem::replace(&mut header.linkname, b"long-link".to_vec()),
            ));
        }
        if !records.is_empty() {
            let recs: Vec<(&str, &[u8])> =
                records.iter().map(|(k, v)| (*k, v.as_slice())).collect();
            self = self.pax(&recs);
        }
        self.buf.extend_from_slice(&header.to_block());
        self.buf.extend_from_slice(data);
        self.pad();
        self
    }

    /// Appends bytes as they are.
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Pads with zeros to the next 512-byte boundary.
    pub fn pad(&mut self) {
        let r = self.buf.len() % 512;
        if r != 0 {
            self.buf.resize(self.buf.len() + 512 - r, 0);
        }
    }

    /// A regular file with mode 0644.
    pub fn file(self, name: impl AsRef<[u8]>, data: &[u8]) -> Self {
        let h = RawHeader::new(name, kind::FILE).size(data.len() as u64);
        self.entry(&h, data)
    }

    /// A directory with mode 0755.
    pub fn dir(self, name: impl AsRef<[u8]>) -> Self {
        self.entry(&RawHeader::new(name, kind::DIR), &[])
    }

    /// A symbolic link.
    pub fn symlink(self, name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> Self {
        let h = RawHeader::new(name, kind::SYMLINK)
            .linkname(target)
            .mode(0o777);
        self.entry(&h, &[])
    }

    /// A hard link.
    pub fn hardlink(self, name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> Self {
        let h = RawHeader::new(name, kind::HARDLINK).linkname(target);
        self.entry(&h, &[])
    }

    /// A character device.
    pub fn char_device(self, name: impl AsRef<[u8]>, major: u64, minor: u64) -> Self {
        let mut h = RawHeader::new(name, kind::CHAR);
        h.devmajor = major;
        h.devminor = minor;
        self.entry(&h, &[])
    }

    /// A PAX extended header (`x`) carrying `records` for the next entry.
    pub fn pax(self, records: &[(&str, &[u8])]) -> Self {
        let body = pax_records(records);
        let h = RawHeader::new("PaxHeaders/next", kind::PAX).size(body.len() as u64);
        self.entry(&h, &body)
    }

    /// A header of type `typeflag` that declares `declared` bytes of content but is
    /// followed only by `data` (use with [`TarBuilder::unterminated`] for a stream that
    /// ends there).
    pub fn declared(self, name: &str, typeflag: u8, declared: u64, data: &[u8]) -> Self {
        let h = RawHeader::new(name, typeflag).size(declared);
        self.entry(&h, data)
    }

    /// The archive with its end-of-archive marker (two zero blocks).
    pub fn finish(mut self) -> Vec<u8> {
        self.pad();
        self.buf.extend_from_slice(&[0u8; 1024]);
        self.buf
    }

    /// The archive as it is, without the end-of-archive marker.
    pub fn unterminated(self) -> Vec<u8> {
        self.buf
    }

    /// The number of bytes so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True if nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Encodes PAX records (`"%d %s=%s\n"`, the length counting itself).
pub fn pax_records(records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let rest = k.len() + v.len() + 3; // space, '=', newline
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        out.extend_from_slice(format!("{len} {k}=").as_bytes());
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

// ---------------------------------------------------------------------------------------
// Compression
// ---------------------------------------------------------------------------------------

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// zstd of `data`.
pub fn zstd_compress(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

/// xz of `data`.
pub fn xz_compress(data: &[u8]) -> Vec<u8> {
    let mut e = xz2::write::XzEncoder::new(Vec::new(), 1);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// bzip2 of `data`.
pub fn bzip2_compress(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A deterministic stream of incompressible bytes (xorshift64*), for large inputs.
pub struct NoiseReader {
    state: u64,
    left: u64,
}

impl NoiseReader {
    /// `len` bytes from `seed`.
    pub fn new(seed: u64, len: u64) -> Self {
        NoiseReader {
            state: seed | 1,
            left: len,
        }
    }
}

impl Read for NoiseReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        let n = n - n % 8;
        let n = if n == 0 {
            (buf.len() as u64).min(self.left) as usize
        } else {
            n
        };
        for chunk in buf[..n].chunks_mut(8) {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            let v = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Whether `script` (util-linux), which gives a command a terminal, is installed.
pub fn has_script() -> bool {
    Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_header_checksum_matches_tar_crate() {
        let data = b"hello\n";
        let t = TarBuilder::new().file("etc/hello", data).finish();
        let mut a = tar::Archive::new(&t[..]);
        let mut n = 0;
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            assert_eq!(e.path().unwrap().to_str(), Some("etc/hello"));
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            assert_eq!(s, "hello\n");
            n += 1;
        }
        assert_eq!(n, 1);
    }

    #[test]
    fn base256_sizes() {
        let h = RawHeader::new("big", kind::FILE).size(1 << 40);
        let b = h.to_block();
        let th = tar::Header::from_byte_slice(&b);
        assert_eq!(th.size().unwrap(), 1 << 40);
        assert_eq!(
            th.cksum().unwrap(),
            b.iter()
                .enumerate()
                .map(|(i, &x)| if (148..156).contains(&i) {
                    32
                } else {
                    x as u32
                })
                .sum::<u32>()
        );
    }

    #[test]
    fn pax_record_lengths() {
        let r = pax_records(&[("path", b"a"), ("x", &[b'y'; 95])]);
        let s = String::from_utf8(r).unwrap();
        for rec in s.split_inclusive('\n') {
            let (n, _) = rec.split_once(' ').unwrap();
            assert_eq!(n.parse::<usize>().unwrap(), rec.len());
        }
    }

    #[test]
    fn table_layout() {
        let t = Table {
            header: vec![
                "REPOSITORY".into(),
                "TAG".into(),
                "IMAGE ID".into(),
                "CREATED".into(),
                "SIZE".into(),
            ],
            rows: vec![],
        };
        assert_eq!(
            t.render(),
            "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
        );
        let text = "REPOSITORY   TAG       IMAGE ID       CREATED          SIZE\nbusybox      latest    0123456789ab   14 seconds ago   4.26MB\n";
        let t = Table::parse(text);
        assert_eq!(t.column("CREATED"), vec!["14 seconds ago"]);
        assert_eq!(t.column("SIZE"), vec!["4.26MB"]);
    }

    #[test]
    fn busybox_rootfs_is_owned_by_root() {
        let t = busybox_rootfs_tar(false);
        let mut a = tar::Archive::new(t);
        let mut names = Vec::new();
        for e in a.entries().unwrap() {
            let e = e.unwrap();
            assert_eq!(e.header().uid().unwrap(), 0);
            assert_eq!(e.header().gid().unwrap(), 0);
            names.push(e.path().unwrap().to_string_lossy().into_owned());
        }
        for want in ["bin/busybox", "bin/sh", "etc/passwd", "etc/group", "tmp/"] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
    }

    #[test]
    fn human_sizes() {
        assert_eq!(parse_human_size("0B"), Some(0.0));
        assert_eq!(parse_human_size("4.26MB"), Some(4.26e6));
        assert!(is_recent_created_since("Less than a second ago"));
        assert!(is_recent_created_since("3 seconds ago"));
        assert!(!is_recent_created_since("3 hours ago"));
    }
}
