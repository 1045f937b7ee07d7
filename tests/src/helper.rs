//! The privileged mount helper in the tests.
//!
//! [`Helper::get`] gives every test a helper to talk to: as root it starts its own
//! `strata-helper serve` on a temporary socket (stopped when the [`Helper`] drops, its
//! log kept for [`Helper::log`]); as any other user it uses the helper that
//! `scripts/test.sh` started as root and named in `STRATA_HELPER_SOCKET`, and panics
//! with instructions when there is none: helper tests never skip silently.
//!
//! [`Attacker`] is a raw client that writes whatever bytes and descriptors a test wants,
//! for the malformed-request tests; [`opath`] and [`mountinfo`] are the small tools
//! around them.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use strata_helper::proto;

/// The `strata-helper` binary: `$STRATA_HELPER_BIN`, else next to the strata binary.
pub fn helper_bin() -> PathBuf {
    match std::env::var_os("STRATA_HELPER_BIN") {
        Some(p) => PathBuf::from(p),
        None => crate::strata_bin().with_file_name("strata-helper"),
    }
}

/// A helper to talk to.
pub struct Helper {
    socket: PathBuf,
    own: Option<(Child, tempfile::TempDir)>,
}

impl Helper {
    /// The helper for this test: a private one as root, else `$STRATA_HELPER_SOCKET`.
    pub fn get() -> Helper {
        if crate::is_root() {
            return Helper::start(&[]);
        }
        match std::env::var_os(strata_helper::SOCKET_ENV) {
            Some(s) if !s.is_empty() => {
                let socket = PathBuf::from(s);
                assert!(
                    socket.exists(),
                    "STRATA_HELPER_SOCKET={} does not exist: is the helper running?",
                    socket.display()
                );
                Helper { socket, own: None }
            }
            _ => panic!(
                "the helper tests need a helper: as root they start one; as user {} set \
                 STRATA_HELPER_SOCKET to the socket of `strata-helper serve --socket PATH` \
                 started as root (scripts/test.sh does this)",
                std::env::var("USER").unwrap_or_default()
            ),
        }
    }

    /// Starts a private helper with extra `serve` arguments (root only). Its socket
    /// directory is world-searchable so that a thread running as another uid can connect.
    pub fn start(extra: &[&str]) -> Helper {
        assert!(crate::is_root(), "only root can start a helper");
        let bin = helper_bin();
        assert!(
            bin.exists(),
            "{} does not exist: run `cargo build --workspace` or set STRATA_HELPER_BIN",
            bin.display()
        );
        let dir = tempfile::Builder::new()
            .prefix("strata-helper.")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let socket = dir.path().join("helper.sock");
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(&bin)
            .args(["serve", "--socket"])
            .arg(&socket)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let t = Instant::now();
        while !socket.exists() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the helper did not create {} within 10s; its log:\n{}",
                socket.display(),
                std::fs::read_to_string(dir.path().join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        Helper {
            socket,
            own: Some((child, dir)),
        }
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// True when this test started the helper (and so may read its log).
    pub fn is_own(&self) -> bool {
        self.own.is_some()
    }

    /// The helper's log so far (empty for a helper this test did not start).
    pub fn log(&self) -> String {
        match &self.own {
            Some((_, dir)) => std::fs::read_to_string(dir.path().join("log")).unwrap_or_default(),
            None => String::new(),
        }
    }

    /// Waits until the log has a line containing `needle` (own helpers only).
    pub fn wait_for_log(&self, needle: &str) -> String {
        let t = Instant::now();
        loop {
            let log = self.log();
            if let Some(l) = log.lines().find(|l| l.contains(needle)) {
                return l.to_string();
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no log line with {needle:?}; the log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Asks for a mount through the library's client.
    pub fn mount(
        &self,
        lowers: &[BorrowedFd<'_>],
        upper: BorrowedFd<'_>,
        work: BorrowedFd<'_>,
    ) -> Result<OwnedFd, strata_helper::ClientError> {
        strata_helper::client::request_mount(&self.socket, lowers, upper, work)
    }

    /// A raw connection for hand-made requests.
    pub fn attacker(&self) -> Attacker {
        Attacker {
            stream: UnixStream::connect(&self.socket)
                .unwrap_or_else(|e| panic!("connect {}: {e}", self.socket.display())),
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if let Some((child, dir)) = &mut self.own {
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                eprintln!(
                    "==== helper log:\n{}",
                    std::fs::read_to_string(dir.path().join("log")).unwrap_or_default()
                );
            }
        }
    }
}

/// What a helper answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// 0 ok, 1 refused.
    pub status: u16,
    /// The errno the helper attached.
    pub errno: i32,
    /// The message.
    pub message: String,
    /// Descriptors that came with the reply.
    pub fds: usize,
}

/// A client that sends whatever it is told to.
pub struct Attacker {
    stream: UnixStream,
}

impl Attacker {
    /// Sends `bytes` in one `sendmsg`, with `fds` attached. Errors (the helper may have
    /// hung up already) are returned, not raised.
    pub fn send(&self, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), rustix::io::Errno> {
        proto::send_with_fds(self.stream.as_fd(), bytes, fds)
    }

    /// Sends descriptors in chunks of at most 253, each with its 4-byte count.
    pub fn send_chunks(&self, fds: &[BorrowedFd<'_>]) -> Result<(), rustix::io::Errno> {
        for c in fds.chunks(proto::MAX_FDS_PER_CHUNK) {
            self.send(&(c.len() as u32).to_le_bytes(), c)?;
        }
        Ok(())
    }

    /// Closes the sending half (the helper sees the end of the request).
    pub fn hang_up_writing(&self) {
        self.stream.shutdown(std::net::Shutdown::Write).unwrap();
    }

    /// Reads the reply (waiting up to `timeout`).
    pub fn reply_within(&self, timeout: Duration) -> Reply {
        let deadline = Instant::now() + timeout;
        let mut fds = Vec::new();
        let mut h = [0u8; proto::HEADER_LEN];
        proto::recv_exact(self.stream.as_fd(), &mut h, deadline, &mut fds, 1)
            .unwrap_or_else(|e| panic!("no reply header from the helper: {e:?}"));
        let h = proto::Header::decode(&h);
        assert_eq!(&h.magic, b"STRH", "reply magic");
        assert!(
            h.len <= proto::MAX_MESSAGE,
            "reply message of {} bytes",
            h.len
        );
        let mut msg = vec![0u8; h.len as usize];
        proto::recv_exact(self.stream.as_fd(), &mut msg, deadline, &mut fds, 1)
            .unwrap_or_else(|e| panic!("no reply message from the helper: {e:?}"));
        Reply {
            status: h.code,
            errno: h.word as i32,
            message: String::from_utf8(msg).expect("the reply message is UTF-8"),
            fds: fds.len(),
        }
    }

    /// Reads the reply (waiting up to 30 s).
    pub fn reply(&self) -> Reply {
        self.reply_within(Duration::from_secs(30))
    }
}

/// A request header as the README describes it.
pub fn header(magic: &[u8; 4], version: u16, op: u16, reserved: u32, payload_len: u32) -> Vec<u8> {
    proto::Header {
        magic: *magic,
        version,
        code: op,
        word: reserved,
        len: payload_len,
    }
    .encode()
    .to_vec()
}

/// A well-formed mount request header and payload for `lowers` lower layers.
pub fn mount_request(lowers: u32) -> Vec<u8> {
    let mut v = header(b"STRH", 1, 1, 0, 8);
    v.extend_from_slice(&lowers.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v
}

/// `open(path, O_PATH | O_CLOEXEC)` (a directory or not).
pub fn opath(p: &Path) -> OwnedFd {
    rustix::fs::open(
        p,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap_or_else(|e| panic!("open O_PATH {}: {e}", p.display()))
}

static MOUNT_TABLE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Held (shared) by every test that compares the mount table before and after; the one
/// test that mounts something in the host's table (FUSE) holds it exclusively.
pub fn mount_table_stable() -> std::sync::RwLockReadGuard<'static, ()> {
    MOUNT_TABLE.read().unwrap_or_else(|e| e.into_inner())
}

/// Exclusive hold of the mount table, for a test that changes it.
pub fn mount_table_exclusive() -> std::sync::RwLockWriteGuard<'static, ()> {
    MOUNT_TABLE.write().unwrap_or_else(|e| e.into_inner())
}

/// The source name of the FUSE mounts this test process makes: its own, so that another
/// test binary's FUSE test (say another checkout's suite on the same machine) never
/// shows in [`mountinfo`].
pub fn fuse_source() -> String {
    format!("strata-test-{}", std::process::id())
}

/// The part of this process's mount table that these tests could change: overlays the
/// helper builds (mount source `strata`) and this process's FUSE mounts
/// ([`fuse_source`]). The rest belongs to whatever else runs on the machine (other test
/// binaries, benchmarks with docker or podman) and may change at any moment.
pub fn mountinfo() -> String {
    let all = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let fuse = fuse_source();
    all.lines()
        .filter(|l| {
            // "... - FSTYPE SOURCE OPTIONS"
            let source = l.split(" - ").nth(1).and_then(|r| r.split(' ').nth(1));
            source.is_some_and(|s| s == "strata" || s == fuse)
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Borrows each descriptor.
pub fn borrow(fds: &[OwnedFd]) -> Vec<BorrowedFd<'_>> {
    fds.iter().map(|f| f.as_fd()).collect()
}

/// Runs `f` on a thread whose uid (real, effective, saved, and fs) is `uid`, so that
/// the helper sees that uid with SO_PEERCRED. Linux credentials are per thread, and the
/// raw `setresuid` system call (unlike libc's) changes only the calling thread. Root only.
pub fn as_uid<T: Send + 'static>(uid: u32, f: impl FnOnce() -> T + Send + 'static) -> T {
    assert!(crate::is_root(), "as_uid needs root");
    std::thread::spawn(move || {
        // SAFETY: plain system calls on this thread's own credentials.
        let r = unsafe { libc::syscall(libc::SYS_setresgid, uid, uid, uid) };
        assert_eq!(r, 0, "setresgid({uid})");
        let r = unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) };
        assert_eq!(r, 0, "setresuid({uid})");
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}
