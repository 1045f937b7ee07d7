//! The wire protocol (version 1), shared by the client and the server. The README
//! describes it byte for byte; in short, on a unix stream socket:
//!
//! 1. request header, 16 bytes: `"STRH"`, version `u16`, operation `u16`, reserved
//!    `u32` (zero), payload length `u32`; all integers little-endian;
//! 2. the payload (for [`OP_MOUNT`]: lower count `u32`, flags `u32`, zero);
//! 3. descriptor chunks until `lowers + 2` descriptors have arrived: each one `sendmsg`
//!    of 4 bytes (`u32` count, 1 to [`MAX_FDS_PER_CHUNK`]) carrying exactly that many
//!    descriptors with `SCM_RIGHTS`; lowers topmost first, then upper, then work;
//! 4. reply header, 16 bytes: `"STRH"`, version `u16`, status `u16` (0 ok, 1 refused),
//!    errno `u32`, message length `u32`; then the message (UTF-8, one line). An ok
//!    reply carries the detached mount's descriptor with `SCM_RIGHTS`.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{
    recvmsg, sendmsg, sockopt, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags,
};

/// The first four bytes of every request and reply.
pub const MAGIC: [u8; 4] = *b"STRH";
/// The protocol version this crate speaks.
pub const VERSION: u16 = 1;
/// The one operation: build an overlay from the passed descriptors.
pub const OP_MOUNT: u16 = 1;
/// Length of the request and of the reply header.
pub const HEADER_LEN: usize = 16;
/// Length of the [`OP_MOUNT`] payload.
pub const MOUNT_PAYLOAD_LEN: u32 = 8;
/// The largest payload the server reads; anything larger is refused unread.
pub const MAX_PAYLOAD: u32 = 4096;
/// The most descriptors in one chunk (the kernel's `SCM_MAX_FD`).
pub const MAX_FDS_PER_CHUNK: usize = 253;
/// The longest reply message.
pub const MAX_MESSAGE: u32 = 4096;
/// Reply status: the mount is attached.
pub const STATUS_OK: u16 = 0;
/// Reply status: refused; the message says why.
pub const STATUS_REFUSED: u16 = 1;

/// A request or reply header, decoded but not yet validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Bytes 0..4; [`MAGIC`] when well-formed.
    pub magic: [u8; 4],
    /// Bytes 4..6.
    pub version: u16,
    /// Bytes 6..8: the operation (requests) or status (replies).
    pub code: u16,
    /// Bytes 8..12: reserved, zero (requests) or errno (replies).
    pub word: u32,
    /// Bytes 12..16: payload length (requests) or message length (replies).
    pub len: u32,
}

impl Header {
    /// A request header for `op` with a payload of `len` bytes.
    pub fn request(op: u16, len: u32) -> Header {
        Header {
            magic: MAGIC,
            version: VERSION,
            code: op,
            word: 0,
            len,
        }
    }

    /// The 16 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&self.magic);
        h[4..6].copy_from_slice(&self.version.to_le_bytes());
        h[6..8].copy_from_slice(&self.code.to_le_bytes());
        h[8..12].copy_from_slice(&self.word.to_le_bytes());
        h[12..16].copy_from_slice(&self.len.to_le_bytes());
        h
    }

    /// Decodes 16 bytes (no validation).
    pub fn decode(h: &[u8; HEADER_LEN]) -> Header {
        Header {
            magic: [h[0], h[1], h[2], h[3]],
            version: u16::from_le_bytes([h[4], h[5]]),
            code: u16::from_le_bytes([h[6], h[7]]),
            word: u32::from_le_bytes([h[8], h[9], h[10], h[11]]),
            len: u32::from_le_bytes([h[12], h[13], h[14], h[15]]),
        }
    }
}
/// Why reading a fixed number of bytes stopped.
#[derive(Debug)]
pub enum RecvError {
    /// The peer closed the connection after `got` bytes.
    HungUp {
        /// Bytes read before the end.
        got: usize,
    },
    /// The deadline passed.
    TimedOut,
    /// More descriptors arrived than the caller allows, or the kernel truncated them.
    TooManyFds,
    /// Any other failure of `recvmsg`.
    Sys(Errno),
}

/// Reads exactly `buf.len()` bytes before `deadline`, appending any descriptors that
/// arrive to `fds`; more than `max_fds` descriptors in total is an error.
pub fn recv_exact(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    deadline: Instant,
    fds: &mut Vec<OwnedFd>,
    max_fds: usize,
) -> Result<(), RecvError> {
    let mut got = 0;
    while got < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RecvError::TimedOut);
        }
        sockopt::set_socket_timeout(
            sock,
            sockopt::Timeout::Recv,
            Some(left.max(Duration::from_millis(1))),
        )
        .map_err(RecvError::Sys)?;
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_PER_CHUNK))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [IoSliceMut::new(&mut buf[got..])];
        let r = match recvmsg(sock, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Ok(r) => r,
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => return Err(RecvError::TimedOut),
            Err(e) => return Err(RecvError::Sys(e)),
        };
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = msg {
                fds.extend(received);
            }
        }
        if r.flags.contains(ReturnFlags::CTRUNC) || fds.len() > max_fds {
            return Err(RecvError::TooManyFds);
        }
        if r.bytes == 0 {
            return Err(RecvError::HungUp { got });
        }
        got += r.bytes;
    }
    Ok(())
}

/// Sends all of `bytes` in one `sendmsg`, with `fds` attached (`SCM_RIGHTS`) when any.
pub fn send_with_fds(
    sock: BorrowedFd<'_>,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
) -> Result<(), Errno> {
    assert!(fds.len() <= MAX_FDS_PER_CHUNK);
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_PER_CHUNK))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(Errno::NOBUFS);
    }
    let mut sent = 0;
    while sent < bytes.len() {
        let iov = [IoSlice::new(&bytes[sent..])];
        let mut none = SendAncillaryBuffer::default();
        let ctl = if sent == 0 { &mut control } else { &mut none };
        match sendmsg(sock, &iov, ctl, SendFlags::NOSIGNAL) {
            Ok(n) => sent += n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends a reply: status, errno, message (cut to [`MAX_MESSAGE`] bytes at a character
/// boundary) and, on success, the mount's descriptor.
pub fn send_reply(
    sock: BorrowedFd<'_>,
    status: u16,
    errno: i32,
    message: &str,
    fd: Option<BorrowedFd<'_>>,
) -> Result<(), Errno> {
    let mut end = message.len().min(MAX_MESSAGE as usize);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let msg = &message.as_bytes()[..end];
    let h = Header {
        magic: MAGIC,
        version: VERSION,
        code: status,
        word: errno as u32,
        len: msg.len() as u32,
    };
    let mut bytes = h.encode().to_vec();
    bytes.extend_from_slice(msg);
    let fds: Vec<BorrowedFd<'_>> = fd.into_iter().collect();
    sockopt::set_socket_timeout(sock, sockopt::Timeout::Send, Some(Duration::from_secs(5)))?;
    send_with_fds(sock, &bytes, &fds)
}

/// Convenience for callers holding owned descriptors.
pub fn borrow_all(fds: &[OwnedFd]) -> Vec<BorrowedFd<'_>> {
    fds.iter().map(|f| f.as_fd()).collect()
}
