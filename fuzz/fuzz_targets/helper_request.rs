//! The helper's request decoding: arbitrary bytes, cut into messages some of which carry
//! descriptors, sent over a socket pair to `read_request`, which must refuse or accept
//! them without a panic, hold no more descriptors than a request may have, and never
//! accept a request whose descriptor count disagrees with its header. Nothing is mounted.
//!
//! Input: a sequence of messages, each `[fds: u8][len: u8][len bytes]`; `fds % 4`
//! descriptors (of a scratch directory) ride with the message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustix::fd::{AsFd, OwnedFd};
use rustix::net::{socketpair, AddressFamily, Shutdown, SocketFlags, SocketType};
use std::time::{Duration, Instant};
use strata_helper::proto::send_with_fds;
use strata_helper::server::read_request;
use strata_helper::MAX_LOWERS;

fn scratch_fd() -> OwnedFd {
    rustix::fs::open(
        "/tmp",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .expect("open /tmp")
}

fuzz_target!(|data: &[u8]| {
    let (client, server) = socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .expect("a socket pair");
    // Nobody reads while the client writes: a send that would wait for room gives up.
    rustix::net::sockopt::set_socket_timeout(
        &client,
        rustix::net::sockopt::Timeout::Send,
        Some(Duration::from_millis(10)),
    )
    .expect("a send timeout");
    let mut rest = data;
    let mut sent_fds = 0;
    while rest.len() >= 2 {
        let (nfds, len) = (rest[0] as usize % 4, rest[1] as usize);
        let body = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[2 + body.len()..];
        if body.is_empty() {
            continue;
        }
        let fds: Vec<OwnedFd> = (0..nfds).map(|_| scratch_fd()).collect();
        let borrowed: Vec<_> = fds.iter().map(|f| f.as_fd()).collect();
        if send_with_fds(client.as_fd(), body, &borrowed).is_err() {
            break;
        }
        sent_fds += nfds;
    }
    rustix::net::shutdown(&client, Shutdown::Write).expect("shut the client's side");
    let timeout = Duration::from_millis(200);
    if let Ok(fds) = read_request(server.as_fd(), Instant::now() + timeout, timeout) {
        assert!(
            fds.len() >= 3,
            "accepted a request with {} descriptors",
            fds.len()
        );
        assert!(fds.len() <= sent_fds, "more descriptors than were sent");
        assert!(
            fds.len() <= MAX_LOWERS + 2,
            "more descriptors than a request may carry"
        );
    }
});
