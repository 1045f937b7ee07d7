//! The client side of the protocol: what the CLI calls to get an overlay mount.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;

use crate::overlay::MAX_LOWERS;
use crate::proto::{
    self, recv_exact, send_with_fds, Header, RecvError, HEADER_LEN, MAGIC, MAX_FDS_PER_CHUNK,
    MAX_MESSAGE, MOUNT_PAYLOAD_LEN, OP_MOUNT, STATUS_OK, STATUS_REFUSED,
};

/// How long the client waits for the whole exchange (the mount of 500 layers included).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

const SOCKET_HINT: &str = "start it with `systemctl enable --now strata-helper.socket`, or as root run `strata-helper serve --socket PATH` and set STRATA_HELPER_SOCKET=PATH, or (no systemd) have root make it setuid: `dpkg-statoverride --update --add root root 4755 /usr/libexec/strata/strata-helper` (see strata(1), THE HELPER)";

/// Why the helper did not give us a mount. Each displays as one lower-case line.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket is missing, refuses connections or may not be opened.
    #[error("no strata-helper answers on {} ({source}): {}", .socket.display(), connect_hint(.source))]
    Connect {
        /// The socket path.
        socket: PathBuf,
        /// What `connect` said.
        source: std::io::Error,
    },
    /// The helper refused the request; `message` is its reason.
    #[error("the strata helper refused the mount: {message}")]
    Refused {
        /// The helper's reason, one line.
        message: String,
        /// The errno the helper attached (0 for none).
        errno: i32,
    },
    /// Talking to the helper failed part way.
    #[error("talking to the strata helper at {} ({step}): {errno}", .socket.display())]
    Io {
        /// The socket path.
        socket: PathBuf,
        /// What we were doing.
        step: &'static str,
        /// The kernel's answer.
        errno: Errno,
    },
    /// The helper's reply broke the protocol.
    #[error("the strata helper at {} sent a malformed reply: {what}", .socket.display())]
    Protocol {
        /// The socket path.
        socket: PathBuf,
        /// What was wrong.
        what: String,
    },
    /// The request itself is impossible (checked before sending).
    #[error("an overlay takes 1 to {MAX_LOWERS} lower layers, got {0}")]
    LowerCount(usize),
}

fn connect_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "the socket must be reachable and mode 0666 (see strata-helper.socket)"
        }
        _ => SOCKET_HINT,
    }
}

/// Asks the helper at `socket` for an overlay of `lowers` (topmost first), `upper` and
/// `work` (all directory descriptors, `O_PATH` is enough) and returns the detached mount
/// it sends back; attach it with `move_mount`.
pub fn request_mount(
    socket: &Path,
    lowers: &[BorrowedFd<'_>],
    upper: BorrowedFd<'_>,
    work: BorrowedFd<'_>,
) -> Result<OwnedFd, ClientError> {
    let stream = UnixStream::connect(socket).map_err(|source| ClientError::Connect {
        socket: socket.to_path_buf(),
        source,
    })?;
    request_mount_over(&stream, socket, lowers, upper, work)
}

/// [`request_mount`] on a connection already made (the setuid mode's socket pair);
/// `socket` names the helper in errors.
pub fn request_mount_over(
    stream: &UnixStream,
    socket: &Path,
    lowers: &[BorrowedFd<'_>],
    upper: BorrowedFd<'_>,
    work: BorrowedFd<'_>,
) -> Result<OwnedFd, ClientError> {
    if lowers.is_empty() || lowers.len() > MAX_LOWERS {
        return Err(ClientError::LowerCount(lowers.len()));
    }
    let sock = stream.as_fd();
    let io = |step, errno| ClientError::Io {
        socket: socket.to_path_buf(),
        step,
        errno,
    };

    let mut all: Vec<BorrowedFd<'_>> = lowers.to_vec();
    all.push(upper);
    all.push(work);
    let mut request = Header::request(OP_MOUNT, MOUNT_PAYLOAD_LEN)
        .encode()
        .to_vec();
    request.extend_from_slice(&(lowers.len() as u32).to_le_bytes());
    request.extend_from_slice(&0u32.to_le_bytes());
    // A refusal can arrive while we still send (the helper stops reading): then the
    // reply is already queued for us, so read it before reporting a send error.
    let mut send_error = send_with_fds(sock, &request, &[]).err();
    if send_error.is_none() {
        for chunk in all.chunks(MAX_FDS_PER_CHUNK) {
            let count = (chunk.len() as u32).to_le_bytes();
            if let Err(e) = send_with_fds(sock, &count, chunk) {
                send_error = Some(e);
                break;
            }
        }
    }
    match read_reply(socket, sock) {
        Ok(fd) => Ok(fd),
        Err(e @ ClientError::Refused { .. }) => Err(e),
        Err(e) => Err(match send_error {
            Some(errno) => io("sending the request", errno),
            None => e,
        }),
    }
}

fn read_reply(socket: &Path, sock: BorrowedFd<'_>) -> Result<OwnedFd, ClientError> {
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let mut fds = Vec::new();
    let mut h = [0u8; HEADER_LEN];
    let protocol = |what: String| ClientError::Protocol {
        socket: socket.to_path_buf(),
        what,
    };
    let recv_err = |e: RecvError| match e {
        RecvError::HungUp { .. } => protocol("the connection closed before a whole reply".into()),
        RecvError::TimedOut => ClientError::Io {
            socket: socket.to_path_buf(),
            step: "waiting for the reply",
            errno: Errno::TIMEDOUT,
        },
        RecvError::TooManyFds => protocol("more than one descriptor".into()),
        RecvError::Sys(errno) => ClientError::Io {
            socket: socket.to_path_buf(),
            step: "reading the reply",
            errno,
        },
    };
    recv_exact(sock, &mut h, deadline, &mut fds, 1).map_err(recv_err)?;
    let h = Header::decode(&h);
    if h.magic != MAGIC || h.version != proto::VERSION {
        return Err(protocol(format!(
            "magic {:?} version {} (expected \"STRH\" version {})",
            String::from_utf8_lossy(&h.magic),
            h.version,
            proto::VERSION
        )));
    }
    if h.len > MAX_MESSAGE {
        return Err(protocol(format!("a message of {} bytes", h.len)));
    }
    let mut msg = vec![0u8; h.len as usize];
    recv_exact(sock, &mut msg, deadline, &mut fds, 1).map_err(recv_err)?;
    let message = String::from_utf8_lossy(&msg).trim().to_string();
    match h.code {
        STATUS_OK => match fds.pop() {
            Some(fd) => Ok(fd),
            None => Err(protocol("an ok reply without the mount descriptor".into())),
        },
        STATUS_REFUSED => Err(ClientError::Refused {
            message,
            errno: h.word as i32,
        }),
        other => Err(protocol(format!("unknown status {other}"))),
    }
}
