//! The server: one thread per connection (up to a cap), each with a deadline.
//!
//! Why threads: a request is short (a few syscalls per layer), but a client can be slow
//! or hostile, and one user's stalled request (a slow sender, a FUSE server that does
//! not answer `fstatfs`) must not hold up another user's `strata run`. A thread per
//! connection keeps each request a straight line of code; the deadline bounds how long a
//! thread lives while reading, and the caps (in total and per uid) bound threads and the
//! descriptors they hold (a request holds at most 503).

use std::collections::HashMap;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{sockopt, RecvFlags};

use crate::check::{check_layer_fd, CheckError};
use crate::overlay::{give_workdir, mount_overlay, MountError, OverlaySpec, MAX_LOWERS};
use crate::proto::{
    recv_exact, send_reply, Header, RecvError, HEADER_LEN, MAGIC, MAX_FDS_PER_CHUNK, MAX_PAYLOAD,
    MOUNT_PAYLOAD_LEN, OP_MOUNT, STATUS_OK, STATUS_REFUSED, VERSION,
};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The time from accepting a connection to having read the whole request.
    pub timeout: Duration,
    /// Connections served at once, in total.
    pub max_connections: usize,
    /// Connections served at once for one uid.
    pub max_per_uid: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(10),
            max_connections: 64,
            max_per_uid: 16,
        }
    }
}

/// A refusal: the errno sent back and the one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Sent in the reply's errno field.
    pub errno: Errno,
    /// Sent as the reply's message.
    pub message: String,
}

fn refuse(errno: Errno, message: impl Into<String>) -> Refusal {
    Refusal {
        errno,
        message: message.into(),
    }
}

/// Who asked.
#[derive(Debug, Clone, Copy)]
struct Peer {
    uid: u32,
    pid: i32,
}

#[derive(Default)]
struct Load {
    total: usize,
    per_uid: HashMap<u32, usize>,
}

struct Slot {
    load: Arc<Mutex<Load>>,
    uid: u32,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut l = self.load.lock().unwrap_or_else(|e| e.into_inner());
        l.total -= 1;
        if let Some(n) = l.per_uid.get_mut(&self.uid) {
            *n -= 1;
            if *n == 0 {
                l.per_uid.remove(&self.uid);
            }
        }
    }
}

/// Accepts connections on `listener` forever, serving each on its own thread.
pub fn serve(listener: UnixListener, opts: Options) -> std::io::Result<()> {
    let load = Arc::new(Mutex::new(Load::default()));
    loop {
        let conn = match listener.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("strata-helper: accept: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let peer = match sockopt::socket_peercred(&conn) {
            Ok(c) => Peer {
                uid: c.uid.as_raw(),
                pid: c.pid.as_raw_nonzero().get(),
            },
            Err(e) => {
                eprintln!("strata-helper: SO_PEERCRED: {e}; connection dropped");
                continue;
            }
        };
        let slot = {
            let mut l = load.lock().unwrap_or_else(|e| e.into_inner());
            let mine = l.per_uid.get(&peer.uid).copied().unwrap_or(0);
            if l.total >= opts.max_connections || mine >= opts.max_per_uid {
                None
            } else {
                l.total += 1;
                *l.per_uid.entry(peer.uid).or_default() += 1;
                Some(Slot {
                    load: load.clone(),
                    uid: peer.uid,
                })
            }
        };
        let Some(slot) = slot else {
            let r = refuse(
                Errno::AGAIN,
                format!(
                    "busy: {} requests at once in total or {} per user are in progress; try again (EAGAIN)",
                    opts.max_connections, opts.max_per_uid
                ),
            );
            finish(&conn, peer, None, Err(r));
            continue;
        };
        let opts = opts.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("uid-{}", peer.uid))
            .spawn(move || {
                let _slot = slot;
                handle(conn, peer, &opts);
            });
        if let Err(e) = spawned {
            eprintln!("strata-helper: cannot start a thread: {e}");
        }
    }
}

/// Serves the one request of `conn` for `uid` (the setuid mode: the caller is the real
/// uid, and the connection a socket pair the caller's strata made).
pub fn serve_one(conn: UnixStream, uid: u32, opts: &Options) {
    let pid = sockopt::socket_peercred(&conn).map_or(0, |c| c.pid.as_raw_nonzero().get());
    handle(conn, Peer { uid, pid }, opts);
}

/// Serves one connection: reads and checks the request, mounts, replies, logs one line.
fn handle(conn: UnixStream, peer: Peer, opts: &Options) {
    let deadline = Instant::now() + opts.timeout;
    let mut layers = None;
    let result = read_request(conn.as_fd(), deadline, opts.timeout).and_then(|fds| {
        layers = Some(fds.len() - 2);
        mount(&fds, peer.uid)
    });
    finish(&conn, peer, layers, result);
}

/// Sends the reply for `result` and logs the request.
fn finish(conn: &UnixStream, peer: Peer, layers: Option<usize>, result: Result<OwnedFd, Refusal>) {
    let sent = match &result {
        Ok(m) => send_reply(conn.as_fd(), STATUS_OK, 0, "", Some(m.as_fd())),
        Err(r) => send_reply(
            conn.as_fd(),
            STATUS_REFUSED,
            r.errno.raw_os_error(),
            &r.message,
            None,
        ),
    };
    let layers = layers.map_or("-".to_string(), |n| n.to_string());
    let outcome = match &result {
        Ok(_) => "mounted".to_string(),
        Err(r) => format!("refused: {}", r.message),
    };
    let delivery = match sent {
        Ok(()) => String::new(),
        Err(e) => format!(" (reply not delivered: {e})"),
    };
    eprintln!(
        "strata-helper: uid={} pid={} layers={layers} {outcome}{delivery}",
        peer.uid, peer.pid
    );
}

fn recv_refusal(e: RecvError, what: &str, timeout: Duration) -> Refusal {
    match e {
        RecvError::HungUp { got } => refuse(
            Errno::PIPE,
            format!("the client hung up in the middle of the {what} (after {got} bytes of it)"),
        ),
        RecvError::TimedOut => refuse(
            Errno::TIMEDOUT,
            format!(
                "the request took longer than {:.1}s (stopped waiting for the {what}) (ETIMEDOUT)",
                timeout.as_secs_f64()
            ),
        ),
        RecvError::TooManyFds => refuse(
            Errno::TOOMANYREFS,
            format!("too many descriptors with the {what} (at most {MAX_FDS_PER_CHUNK} per chunk, {} in all) (ETOOMANYREFS)", MAX_LOWERS + 2),
        ),
        RecvError::Sys(e) => refuse(e, format!("reading the {what}: {e}")),
    }
}

/// Reads one mount request: header, payload, descriptor chunks. Returns the
/// descriptors: lowers (topmost first), upper, work.
pub fn read_request(
    sock: BorrowedFd<'_>,
    deadline: Instant,
    timeout: Duration,
) -> Result<Vec<OwnedFd>, Refusal> {
    let mut fds = Vec::new();
    let mut h = [0u8; HEADER_LEN];
    recv_exact(sock, &mut h, deadline, &mut fds, 0)
        .map_err(|e| recv_refusal(e, "request header", timeout))?;
    let h = Header::decode(&h);
    let malformed =
        |what: String| refuse(Errno::PROTO, format!("malformed request: {what} (EPROTO)"));
    if h.magic != MAGIC {
        return Err(malformed(format!(
            "it starts with {:02x?}, not \"STRH\" (is this a strata-helper client?)",
            h.magic
        )));
    }
    if h.version != VERSION {
        return Err(refuse(
            Errno::PROTONOSUPPORT,
            format!("unsupported protocol version {} (this helper speaks version {VERSION}) (EPROTONOSUPPORT)", h.version),
        ));
    }
    if h.len > MAX_PAYLOAD {
        return Err(refuse(
            Errno::MSGSIZE,
            format!(
                "oversized request: a payload of {} bytes, the limit is {MAX_PAYLOAD} (EMSGSIZE)",
                h.len
            ),
        ));
    }
    if h.code != OP_MOUNT {
        return Err(refuse(
            Errno::OPNOTSUPP,
            format!("unknown operation {} (the only operation is {OP_MOUNT}, mount an overlay) (EOPNOTSUPP)", h.code),
        ));
    }
    if h.word != 0 {
        return Err(malformed(format!(
            "reserved header word is {:#x}, not 0",
            h.word
        )));
    }
    if h.len != MOUNT_PAYLOAD_LEN {
        return Err(malformed(format!(
            "a mount payload of {} bytes, it is {MOUNT_PAYLOAD_LEN}",
            h.len
        )));
    }
    let mut p = [0u8; MOUNT_PAYLOAD_LEN as usize];
    recv_exact(sock, &mut p, deadline, &mut fds, 0)
        .map_err(|e| recv_refusal(e, "request payload", timeout))?;
    let lowers = u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as usize;
    let flags = u32::from_le_bytes([p[4], p[5], p[6], p[7]]);
    if flags != 0 {
        return Err(malformed(format!("unknown flags {flags:#x}")));
    }
    if lowers == 0 {
        return Err(malformed("no lower layers".into()));
    }
    if lowers > MAX_LOWERS {
        return Err(refuse(
            Errno::TOOMANYREFS,
            format!("too many descriptors: {lowers} lower layers, the kernel's limit is {MAX_LOWERS} (ETOOMANYREFS)"),
        ));
    }
    let want = lowers + 2;
    while fds.len() < want {
        let before = fds.len();
        let mut c = [0u8; 4];
        recv_exact(sock, &mut c, deadline, &mut fds, want)
            .map_err(|e| recv_refusal(e, "descriptor chunks", timeout))?;
        let n = u32::from_le_bytes(c) as usize;
        let arrived = fds.len() - before;
        if n == 0 || n > MAX_FDS_PER_CHUNK || arrived != n {
            return Err(malformed(format!(
                "a chunk announced {n} descriptors and carried {arrived} (1 to {MAX_FDS_PER_CHUNK}, attached to its count)"
            )));
        }
    }
    let mut extra = [0u8; 1];
    let pending = rustix::net::recv(sock, &mut extra, RecvFlags::PEEK | RecvFlags::DONTWAIT);
    if let Ok((n, _)) = pending {
        if n > 0 {
            return Err(refuse(
                Errno::MSGSIZE,
                "oversized request: bytes after the last descriptor chunk (EMSGSIZE)",
            ));
        }
    }
    Ok(fds)
}

/// Checks every descriptor for `uid` and builds the overlay (restricted unless root).
pub fn mount(fds: &[OwnedFd], uid: u32) -> Result<OwnedFd, Refusal> {
    let n = fds.len() - 2;
    for (i, fd) in fds.iter().enumerate() {
        check_layer_fd(fd.as_fd(), uid).map_err(|e| {
            let role = match i {
                i if i < n => format!("lower {} of {n}", i + 1),
                i if i == n => "upper".to_string(),
                _ => "work".to_string(),
            };
            refuse(check_errno(&e), format!("{role}: {e}"))
        })?;
    }
    let spec = OverlaySpec {
        lowers: fds[..n].iter().map(|f| f.as_fd()).collect(),
        upper: fds[n].as_fd(),
        work: fds[n + 1].as_fd(),
        restricted: uid != 0,
    };
    let errno_of = |e: &MountError| match e {
        MountError::Sys { errno, .. } => *errno,
        MountError::LowerCount(_) => Errno::INVAL,
        MountError::TooManyForKernel { .. } => Errno::TOOBIG,
    };
    let mounted = mount_overlay(&spec)
        .map_err(|e| refuse(errno_of(&e), format!("the overlay mount failed: {e}")))?;
    if uid != 0 {
        give_workdir(spec.work, uid)
            .map_err(|e| refuse(errno_of(&e), format!("the overlay work directory: {e}")))?;
    }
    Ok(mounted)
}

/// The errno a failed check is reported with.
pub fn check_errno(e: &CheckError) -> Errno {
    match e {
        CheckError::Stat(e) => *e,
        CheckError::NotADirectory(_) => Errno::NOTDIR,
        CheckError::NotOwned { .. } => Errno::PERM,
        CheckError::Filesystem(_) => Errno::XDEV,
    }
}
