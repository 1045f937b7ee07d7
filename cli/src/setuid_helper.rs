//! The helper's setuid mode, strata's side: for machines without the helper's socket,
//! strata starts `strata-helper once` (installed setuid root by the administrator) on a
//! socket pair for each mount.
//!
//! The kernel honours a file's setuid bit only when its owner is mapped in the caller's
//! user namespace, and host root is not mapped in the namespace strata's child runs in,
//! so the child cannot start the helper itself. The parent, outside the namespace, keeps
//! a broker: a socket pair to the child on which the child asks for a connection, and
//! the parent starts the helper on a fresh socket pair and passes the child its end. The
//! child then speaks the protocol on it exactly as on the service's socket.
//!
//! Which binary: `STRATA_HELPER_BIN`, `strata-helper` next to strata (a build tree),
//! `../libexec/strata/strata-helper` from strata's directory (any install prefix), then
//! `/usr/libexec/strata/strata-helper`; the first that exists, used only when it is
//! owned by root and setuid. The environment may choose it: the kernel grants root only
//! for a file root made setuid, which the user could run directly anyway, and strata
//! itself holds no privilege that a hostile choice could borrow.

use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use rustix::net::{
    recvmsg, socketpair, AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags,
    SocketFlags, SocketType,
};
use strata_helper::client::{request_mount_over, ClientError};
use strata_helper::proto::send_with_fds;

/// The environment variable naming the helper binary.
pub const BIN_ENV: &str = "STRATA_HELPER_BIN";

/// The installed helper.
pub const INSTALLED: &str = "/usr/libexec/strata/strata-helper";

static BROKER: OnceLock<(OwnedFd, PathBuf)> = OnceLock::new();

/// The helper binary strata would start: the first of the places above that exists.
pub fn helper_binary() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os(BIN_ENV).map(PathBuf::from) {
        if p.is_absolute() {
            candidates.push(p);
        }
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.to_owned()))
    {
        candidates.push(dir.join("strata-helper"));
        candidates.push(dir.join("../libexec/strata/strata-helper"));
    }
    candidates.push(PathBuf::from(INSTALLED));
    candidates.into_iter().find(|p| p.is_file())
}

/// Whether the kernel would run `path` as root for an ordinary user: a regular file
/// owned by root with the setuid bit and an execute bit.
pub fn is_setuid_root(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.uid() == 0 && m.mode() & 0o4000 != 0 && m.mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The setuid helper strata would start, if there is one.
pub fn setuid_binary() -> Option<PathBuf> {
    helper_binary().filter(|p| is_setuid_root(p))
}

/// In the parent, before the child enters its namespace: when a setuid helper is
/// installed, starts the broker and returns the child's end of it.
pub fn start_broker() -> std::io::Result<Option<OwnedFd>> {
    let Some(bin) = setuid_binary() else {
        return Ok(None);
    };
    let (ours, theirs) = seqpacket_pair()?;
    std::thread::spawn(move || broker(ours, bin));
    Ok(Some(theirs))
}

fn seqpacket_pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    Ok(socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// Serves the child's asks until it hangs up: each gets a new helper's connection, or
/// why the helper did not start. One helper at a time, each waited for.
fn broker(sock: OwnedFd, bin: PathBuf) {
    let mut ask = [0u8; 1];
    while let Ok(n) = rustix::io::read(&sock, &mut ask) {
        if n == 0 {
            return;
        }
        match spawn_once(&bin) {
            Ok((conn, mut helper)) => {
                let sent = send_with_fds(sock.as_fd(), b"+", &[conn.as_fd()]);
                drop(conn);
                let _ = helper.wait();
                if sent.is_err() {
                    return;
                }
            }
            Err(e) => {
                let why = format!("cannot start the setuid helper {}: {e}", bin.display());
                if send_with_fds(sock.as_fd(), why.as_bytes(), &[]).is_err() {
                    return;
                }
            }
        }
    }
}

/// Starts `bin once` with one end of a new socket pair as its descriptor 0, nothing on
/// its other descriptors and an empty environment (it distrusts them anyway).
fn spawn_once(bin: &Path) -> std::io::Result<(UnixStream, std::process::Child)> {
    let (ours, theirs) = UnixStream::pair()?;
    let child = Command::new(bin)
        .arg("once")
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok((ours, child))
}

/// In the child: takes the broker's descriptor (passed on `fd`), closed on exec so the
/// container's processes do not inherit it.
pub fn take_broker(fd: OwnedFd) -> std::io::Result<()> {
    rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC)?;
    let bin = setuid_binary().unwrap_or_else(|| PathBuf::from(INSTALLED));
    let _ = BROKER.set((fd, bin));
    Ok(())
}

/// In the child: asks the parent for a connection to a new setuid helper.
fn connect_via_broker(sock: &OwnedFd) -> std::io::Result<UnixStream> {
    rustix::io::write(sock, b"?")?;
    let mut text = [0u8; 512];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [IoSliceMut::new(&mut text)];
    let got = recvmsg(sock, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC)?;
    let fd = control.drain().find_map(|m| match m {
        RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
        _ => None,
    });
    match fd {
        Some(fd) => Ok(UnixStream::from(fd)),
        None if got.bytes > 0 && text[0] != b'+' => Err(std::io::Error::other(
            String::from_utf8_lossy(&text[..got.bytes]).into_owned(),
        )),
        None => Err(std::io::Error::other("strata's parent process has gone")),
    }
}

/// In the child: the overlay from the helper's socket, or, when nothing answers there
/// and a setuid helper is installed, from a setuid helper started for it.
pub fn request_mount(
    socket: &Path,
    lowers: &[rustix::fd::BorrowedFd<'_>],
    upper: rustix::fd::BorrowedFd<'_>,
    work: rustix::fd::BorrowedFd<'_>,
) -> Result<OwnedFd, ClientError> {
    let first = strata_helper::request_mount(socket, lowers, upper, work);
    let (Err(ClientError::Connect { source, .. }), Some((broker, bin))) = (&first, BROKER.get())
    else {
        return first;
    };
    if !matches!(
        source.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
    ) {
        return first;
    }
    let stream = connect_via_broker(broker).map_err(|source| ClientError::Connect {
        socket: bin.clone(),
        source,
    })?;
    request_mount_over(&stream, bin, lowers, upper, work)
}
