//! The privileged mount helper, through its socket: the happy path, big stacks, and
//! abuse. Every abuse case is refused with a clear reply, and the mount table is the
//! same afterwards. As root each test starts its own helper and plays other users on
//! threads with their own uid ([`as_uid`]); as the unprivileged test user it uses the
//! helper that scripts/test.sh started (STRATA_HELPER_SOCKET).

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use strata_tests::helper::{
    as_uid, borrow, fuse_source, header, mount_request, mount_table_exclusive, mount_table_stable,
    mountinfo, opath, Helper, Reply,
};
use strata_tests::is_root;

/// The uid the root pass plays "another user" with.
const OTHER: u32 = 65534;

/// `n` lower layers (`l0` is the top one), an upper and a work directory. Layer `i`
/// holds `f<i>` and its own `who` (so the top one wins).
struct Stack {
    dir: tempfile::TempDir,
    n: usize,
}

impl Stack {
    fn new(n: usize) -> Stack {
        let dir = tempfile::Builder::new()
            .prefix("strata-helper-test.")
            .tempdir()
            .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        for i in 0..n {
            let l = dir.path().join(format!("l{i}"));
            fs::create_dir(&l).unwrap();
            fs::write(l.join(format!("f{i}")), format!("layer {i}")).unwrap();
            fs::write(l.join("who"), format!("{i}")).unwrap();
        }
        fs::create_dir(dir.path().join("upper")).unwrap();
        fs::create_dir(dir.path().join("work")).unwrap();
        Stack { dir, n }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Gives every directory to `uid` (root pass only).
    fn chown(&self, uid: u32) {
        for e in walk(self.dir.path()) {
            std::os::unix::fs::lchown(&e, Some(uid), Some(uid)).unwrap();
        }
    }

    fn lowers(&self) -> Vec<OwnedFd> {
        (0..self.n)
            .map(|i| opath(&self.path(&format!("l{i}"))))
            .collect()
    }

    fn upper(&self) -> OwnedFd {
        opath(&self.path("upper"))
    }

    fn work(&self) -> OwnedFd {
        opath(&self.path("work"))
    }
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut v = vec![p.to_path_buf()];
    if p.is_dir() && !p.is_symlink() {
        for e in fs::read_dir(p).unwrap() {
            v.extend(walk(&e.unwrap().path()));
        }
    }
    v
}

fn read_at(m: &OwnedFd, name: &str) -> String {
    let fd = rustix::fs::openat(
        m,
        name,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap_or_else(|e| panic!("openat(mount, {name}): {e}"));
    std::io::read_to_string(fs::File::from(fd)).unwrap()
}

/// Asks `helper` for a mount of `lowers`, `upper`, `work` and expects a refusal whose
/// message contains `want`; returns the message.
fn refused(
    helper: &Helper,
    lowers: &[OwnedFd],
    upper: &OwnedFd,
    work: &OwnedFd,
    want: &str,
) -> String {
    match helper.mount(&borrow(lowers), upper.as_fd(), work.as_fd()) {
        Ok(_) => panic!("the helper mounted what it should have refused ({want})"),
        Err(e) => {
            let line = e.to_string();
            assert!(!line.contains('\n'), "one line: {line:?}");
            assert!(line.contains(want), "{line:?} does not say {want:?}");
            line
        }
    }
}

fn assert_refusal(r: &Reply, want: &str) {
    assert_eq!(r.status, 1, "refused: {r:?}");
    assert_eq!(r.fds, 0, "a refusal carries no descriptor: {r:?}");
    assert!(r.errno > 0, "a refusal names an errno: {r:?}");
    assert!(!r.message.contains('\n'), "one line: {r:?}");
    assert!(
        r.message.contains(want),
        "{:?} does not say {want:?}",
        r.message
    );
}

/// The happy path: the mount comes back, layers stack, writes land in upper, the
/// mount is in no mount table, and (own helper) the log line names the caller.
#[test]
fn helper_mounts_and_the_mount_is_readable_through_its_descriptor() {
    let helper = Helper::get();
    let s = Stack::new(3);
    let _table = mount_table_stable();
    let before = mountinfo();
    let (lowers, up, wk) = (s.lowers(), s.upper(), s.work());
    let m = helper
        .mount(&borrow(&lowers), up.as_fd(), wk.as_fd())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read_at(&m, "who"), "0", "the top layer wins");
    assert_eq!(
        read_at(&m, "f2"),
        "layer 2",
        "the bottom layer shows through"
    );
    let fd = rustix::fs::openat(
        &m,
        "new",
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CREATE | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
    drop(fd);
    assert!(s.path("upper/new").exists(), "a write lands in upper");
    let st = rustix::fs::fstatvfs(&m).unwrap();
    let restricted = st.f_flag.contains(rustix::fs::StatVfsMountFlags::NOSUID)
        && st.f_flag.contains(rustix::fs::StatVfsMountFlags::NODEV);
    assert_eq!(
        restricted,
        !is_root(),
        "nosuid,nodev exactly for callers other than root"
    );
    drop(m);
    assert_eq!(
        before,
        mountinfo(),
        "the mount never entered the mount table"
    );
    if helper.is_own() {
        let line = helper.wait_for_log("mounted");
        let want = format!("uid=0 pid={} layers=3 mounted", std::process::id());
        assert!(line.contains(&want), "log line {line:?} lacks {want:?}");
    }
}

/// A caller other than root always gets nosuid and nodev, and may remove overlay's own
/// work/work afterwards (root pass: a thread as uid 65534 with directories it owns).
#[test]
fn helper_mounts_of_other_users_are_nosuid_and_nodev() {
    let helper = Helper::get();
    let s = Stack::new(1);
    let _table = mount_table_stable();
    let before = mountinfo();
    let check = |socket: PathBuf, s: &Stack| {
        let (lowers, up, wk) = (s.lowers(), s.upper(), s.work());
        let m =
            strata_helper::client::request_mount(&socket, &borrow(&lowers), up.as_fd(), wk.as_fd())
                .unwrap_or_else(|e| panic!("{e}"));
        let flags = rustix::fs::fstatvfs(&m).unwrap().f_flag;
        drop(m);
        // The helper hands overlay's own work/work to the caller, who can list and remove it.
        fs::read_dir(s.path("work/work"))
            .unwrap_or_else(|e| panic!("the caller cannot read work/work: {e}"));
        fs::remove_dir(s.path("work/work"))
            .unwrap_or_else(|e| panic!("the caller cannot remove work/work: {e}"));
        flags
    };
    let flags = if is_root() {
        s.chown(OTHER);
        let socket = helper.socket().to_path_buf();
        as_uid(OTHER, move || check(socket, &s))
    } else {
        check(helper.socket().to_path_buf(), &s)
    };
    assert!(
        flags.contains(rustix::fs::StatVfsMountFlags::NOSUID),
        "{flags:?}"
    );
    assert!(
        flags.contains(rustix::fs::StatVfsMountFlags::NODEV),
        "{flags:?}"
    );
    assert_eq!(before, mountinfo());
}

fn big_stack(n: usize) {
    let helper = Helper::get();
    let s = Stack::new(n);
    let _table = mount_table_stable();
    let before = mountinfo();
    let (lowers, up, wk) = (s.lowers(), s.upper(), s.work());
    let m = helper
        .mount(&borrow(&lowers), up.as_fd(), wk.as_fd())
        .unwrap_or_else(|e| panic!("{n} layers: {e}"));
    assert_eq!(read_at(&m, "who"), "0");
    assert_eq!(read_at(&m, "f0"), "layer 0");
    assert_eq!(
        read_at(&m, &format!("f{}", n - 1)),
        format!("layer {}", n - 1)
    );
    assert_eq!(
        read_at(&m, &format!("f{}", n / 2)),
        format!("layer {}", n / 2)
    );
    drop(m);
    assert_eq!(before, mountinfo());
}

/// 200 layers (more than docker's 128) need one chunk of 202 descriptors.
#[test]
fn helper_mounts_200_layers() {
    big_stack(200);
}

/// 500 layers, the kernel's limit: 502 descriptors in two chunks.
#[test]
fn helper_mounts_500_layers() {
    big_stack(500);
}

/// Another user's store: the root pass sends root's directories from a thread running
/// as uid 65534, and (as root) a directory owned by another uid; the unprivileged pass
/// sends root's home.
#[test]
fn helper_refuses_directories_of_another_users_store() {
    let helper = Helper::get();
    let _table = mount_table_stable();
    let before = mountinfo();
    if is_root() {
        // Opened here and moved into the thread: the stack itself stays with root, who
        // can remove it.
        let s = Stack::new(2); // owned by root
        let (lowers, up, wk) = (s.lowers(), s.upper(), s.work());
        let socket = helper.socket().to_path_buf();
        let line = as_uid(OTHER, move || {
            strata_helper::client::request_mount(&socket, &borrow(&lowers), up.as_fd(), wk.as_fd())
                .map(|_| ())
                .unwrap_err()
                .to_string()
        });
        assert!(
            line.contains("lower 1 of 2: owned by uid 0, not by the caller (uid 65534)"),
            "{line}"
        );
        // Root may use only root's directories.
        let s = Stack::new(2);
        std::os::unix::fs::lchown(s.path("l1"), Some(12345), Some(12345)).unwrap();
        refused(
            &helper,
            &s.lowers(),
            &s.upper(),
            &s.work(),
            "lower 2 of 2: owned by uid 12345, not by the caller (uid 0)",
        );
    } else {
        let s = Stack::new(1);
        let lowers = vec![opath(Path::new("/root")), opath(&s.path("l0"))];
        refused(
            &helper,
            &lowers,
            &s.upper(),
            &s.work(),
            "lower 1 of 2: owned by uid 0",
        );
        // ... and as upper, where writes would land.
        let root_owned = opath(Path::new("/root"));
        refused(
            &helper,
            &s.lowers(),
            &root_owned,
            &s.work(),
            "upper: owned by uid 0",
        );
    }
    assert_eq!(before, mountinfo());
}

/// `/etc` as a layer, from a caller other than root.
#[test]
fn helper_refuses_etc() {
    let helper = Helper::get();
    let _table = mount_table_stable();
    let before = mountinfo();
    let s = Stack::new(1);
    let attempt = |socket: PathBuf, s: &Stack| {
        let etc = vec![opath(Path::new("/etc"))];
        let r = strata_helper::client::request_mount(
            &socket,
            &borrow(&etc),
            s.upper().as_fd(),
            s.work().as_fd(),
        );
        r.map(|_| ()).unwrap_err().to_string()
    };
    let line = if is_root() {
        s.chown(OTHER);
        let socket = helper.socket().to_path_buf();
        as_uid(OTHER, move || attempt(socket, &s))
    } else {
        attempt(helper.socket().to_path_buf(), &s)
    };
    assert!(
        line.contains(
            "the strata helper refused the mount: lower 1 of 1: owned by uid 0, not by the caller"
        ),
        "{line}"
    );
    assert!(line.contains("EPERM"), "an errno hint: {line}");
    assert_eq!(before, mountinfo());
}

/// Non-directories: a regular file, a character device, a pipe, a socket.
#[test]
fn helper_refuses_non_directories() {
    let helper = Helper::get();
    let _table = mount_table_stable();
    let before = mountinfo();
    let s = Stack::new(1);
    let file = s.path("file");
    fs::write(&file, "x").unwrap();
    refused(
        &helper,
        &[opath(&file)],
        &s.upper(),
        &s.work(),
        "lower 1 of 1: not a directory but a regular file (ENOTDIR)",
    );
    refused(
        &helper,
        &s.lowers(),
        &opath(Path::new("/dev/null")),
        &s.work(),
        "upper: not a directory but a character device",
    );
    let fifo = s.path("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    refused(
        &helper,
        &s.lowers(),
        &s.upper(),
        &opath(&fifo),
        "work: not a directory but a fifo",
    );
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let a: OwnedFd = a.into();
    refused(
        &helper,
        &[a],
        &s.upper(),
        &s.work(),
        "lower 1 of 1: not a directory but a socket",
    );
    assert_eq!(before, mountinfo());
}

/// More descriptors than the kernel stacks (announced), more than announced (sent),
/// and the client library's own check.
#[test]
fn helper_refuses_too_many_descriptors() {
    let helper = Helper::get();
    let _table = mount_table_stable();
    let before = mountinfo();
    let a = helper.attacker();
    let _ = a.send(&mount_request(501), &[]);
    assert_refusal(
        &a.reply(),
        "too many descriptors: 501 lower layers, the kernel's limit is 500",
    );

    // Announce 1 lower (3 descriptors), send a chunk of 200.
    let s = Stack::new(200);
    let lowers = s.lowers();
    let a = helper.attacker();
    let _ = a.send(&mount_request(1), &[]);
    let _ = a.send(&200u32.to_le_bytes(), &borrow(&lowers));
    assert_refusal(&a.reply(), "too many descriptors");

    let s = Stack::new(501);
    let lowers = s.lowers();
    let e = helper
        .mount(&borrow(&lowers), s.upper().as_fd(), s.work().as_fd())
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "an overlay takes 1 to 500 lower layers, got 501"
    );
    assert_eq!(before, mountinfo());
}

/// A payload larger than the limit, and bytes after the last chunk.
#[test]
fn helper_refuses_an_oversized_message() {
    let helper = Helper::get();
    let _table = mount_table_stable();
    let before = mountinfo();
    let a = helper.attacker();
    let mut big = header(b"STRH", 1, 1, 0, 1 << 20);
    big.extend_from_slice(&[0xAAu8; 64 * 1024]);
    let _ = a.send(&big, &[]);
    assert_refusal(
        &a.reply(),
        "oversized request: a payload of 1048576 bytes, the limit is 4096",
    );

    let s = Stack::new(1);
    let fds = [s.lowers().remove(0), s.upper(), s.work()];
    let a = helper.attacker();
    a.send(&mount_request(1), &[]).unwrap();
    let mut chunk = 3u32.to_le_bytes().to_vec();
    chunk.extend_from_slice(&[0x55; 100]);
    a.send(&chunk, &borrow(&fds)).unwrap();
    assert_refusal(
        &a.reply(),
        "oversized request: bytes after the last descriptor chunk",
    );
    assert_eq!(before, mountinfo());
}

/// Requests that break the protocol, each refused with a reason.
#[test]
fn helper_refuses_malformed_messages() {
    let helper = Helper::get();
    let _table = mount_table_stable();
    let before = mountinfo();
    let s = Stack::new(2);
    let fds = [s.lowers().remove(0), s.upper(), s.work()];
    let fds = borrow(&fds);

    let payload = |lowers: u32, flags: u32| {
        let mut v = header(b"STRH", 1, 1, 0, 8);
        v.extend_from_slice(&lowers.to_le_bytes());
        v.extend_from_slice(&flags.to_le_bytes());
        v
    };
    // (name, header and payload, chunks as (bytes, descriptors attached), expected)
    type Case<'a> = (&'a str, Vec<u8>, Vec<(Vec<u8>, usize)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "bad magic",
            b"GET / HTTP/1.1\r\n".to_vec(),
            vec![],
            "malformed request: it starts with",
        ),
        (
            "reserved word",
            header(b"STRH", 1, 1, 7, 8),
            vec![],
            "reserved header word is 0x7",
        ),
        (
            "short payload",
            header(b"STRH", 1, 1, 0, 4),
            vec![],
            "a mount payload of 4 bytes, it is 8",
        ),
        ("unknown flags", payload(1, 2), vec![], "unknown flags 0x2"),
        ("no lowers", payload(0, 0), vec![], "no lower layers"),
        (
            "chunk short of fds",
            payload(1, 0),
            vec![(3u32.to_le_bytes().to_vec(), 2)],
            "a chunk announced 3 descriptors and carried 2",
        ),
        (
            "empty chunk",
            payload(1, 0),
            vec![(0u32.to_le_bytes().to_vec(), 0)],
            "a chunk announced 0 descriptors",
        ),
        (
            "chunk over SCM_MAX_FD",
            payload(1, 0),
            vec![(300u32.to_le_bytes().to_vec(), 3)],
            "a chunk announced 300 descriptors and carried 3",
        ),
    ];
    for (name, head, chunks, want) in cases {
        let a = helper.attacker();
        let _ = a.send(&head, &[]);
        for (bytes, n) in chunks {
            let _ = a.send(&bytes, &fds[..n]);
        }
        let r = a.reply();
        assert!(
            r.message.contains(want),
            "{name}: {:?} does not say {want:?}",
            r.message
        );
        assert_refusal(&r, want);
    }
    // Descriptors attached to the header.
    let a = helper.attacker();
    let _ = a.send(&payload(1, 0), &fds);
    assert_refusal(&a.reply(), "too many descriptors with the request header");
    // Random bytes.
    let a = helper.attacker();
    let _ = a.send(&strata_tests::sha256_hex(b"noise").into_bytes(), &[]);
    assert_refusal(&a.reply(), "malformed request");
    assert_eq!(before, mountinfo());
}

/// A protocol version the helper does not speak.
#[test]
fn helper_refuses_a_wrong_version() {
    let helper = Helper::get();
    let a = helper.attacker();
    let _ = a.send(&header(b"STRH", 2, 1, 0, 8), &[]);
    assert_refusal(
        &a.reply(),
        "unsupported protocol version 2 (this helper speaks version 1)",
    );
}

/// An operation other than mount.
#[test]
fn helper_refuses_an_unknown_operation() {
    let helper = Helper::get();
    let _table = mount_table_stable();
    let before = mountinfo();
    for op in [0u16, 2, 0xffff] {
        let a = helper.attacker();
        let mut req = header(b"STRH", 1, op, 0, 8);
        req.extend_from_slice(&[0u8; 8]);
        let _ = a.send(&req, &[]);
        assert_refusal(
            &a.reply(),
            &format!("unknown operation {op} (the only operation is 1, mount an overlay)"),
        );
    }
    assert_eq!(before, mountinfo());
}

/// A client that stops half way: it gets a refusal if it still listens, nothing is
/// mounted, and the helper goes on serving.
#[test]
fn helper_refuses_a_client_that_hangs_up_mid_request() {
    let helper = Helper::get();
    let _table = mount_table_stable();
    let before = mountinfo();
    let s = Stack::new(300);
    let lowers = s.lowers();

    // Half-close after the header: the refusal still arrives.
    let a = helper.attacker();
    a.send(&mount_request(300), &[]).unwrap();
    a.hang_up_writing();
    assert_refusal(
        &a.reply(),
        "the client hung up in the middle of the descriptor chunks",
    );

    // Half-close in the middle of a 4-byte chunk count.
    let a = helper.attacker();
    a.send(&mount_request(300), &[]).unwrap();
    a.send(&[253, 0], &borrow(&lowers[..253])).unwrap();
    a.hang_up_writing();
    assert_refusal(&a.reply(), "hung up");

    // Gone for good after the first of two chunks.
    let a = helper.attacker();
    a.send(&mount_request(300), &[]).unwrap();
    a.send_chunks(&borrow(&lowers[..253])).unwrap();
    drop(a);
    if helper.is_own() {
        helper.wait_for_log("hung up in the middle of the descriptor chunks (after 0 bytes");
    }

    // Still serving.
    let s = Stack::new(1);
    let (l, up, wk) = (s.lowers(), s.upper(), s.work());
    helper
        .mount(&borrow(&l), up.as_fd(), wk.as_fd())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(before, mountinfo());
}

/// A client that sends part of a request and waits: refused when the time limit
/// passes (root: a helper with `--timeout 1`; otherwise the shared helper's limit).
#[test]
fn helper_refuses_a_request_slower_than_its_time_limit() {
    let helper = if is_root() {
        Helper::start(&["--timeout", "1"])
    } else {
        Helper::get()
    };
    let _table = mount_table_stable();
    let before = mountinfo();
    let a = helper.attacker();
    a.send(&mount_request(1), &[]).unwrap();
    let t = std::time::Instant::now();
    let r = a.reply_within(Duration::from_secs(60));
    assert_refusal(&r, "the request took longer than");
    assert!(r.message.contains("ETIMEDOUT"), "{r:?}");
    if is_root() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "took {:?}",
            t.elapsed()
        );
    }
    assert_eq!(before, mountinfo());
}

/// A directory on FUSE. Root mounts a FUSE filesystem with no server behind it
/// (owned by another uid, so that the kernel answers the helper's statfs itself); the
/// unprivileged pass uses the one scripts/test.sh mounted for it (STRATA_TEST_FUSE_DIR),
/// or else mounts one with fusermount3.
#[test]
fn helper_refuses_a_fuse_directory() {
    let helper = Helper::get();
    if !Path::new("/dev/fuse").exists() {
        // Not a silent skip: straight to the terminal, past the test harness's capture.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "helper_refuses_a_fuse_directory: NOT RUN: /dev/fuse is missing on this machine; \
             only strata-helper's check::tests cover the FUSE refusal (statfs classification)"
        );
        return;
    }
    let _table = mount_table_exclusive();
    let before = mountinfo();
    let s = Stack::new(1);
    let mnt = s.path("fuse");
    fs::create_dir(&mnt).unwrap();
    // scripts/test.sh mounts one for the unprivileged pass (where /dev/fuse may be
    // closed to users); otherwise root mounts its own and users use fusermount3.
    let given = std::env::var_os("STRATA_TEST_FUSE_DIR").map(PathBuf::from);
    let mnt = given.clone().unwrap_or(mnt);
    let fuse = match (&given, is_root()) {
        (Some(_), _) => None,
        (None, true) => Some(fuse_mount_root(&mnt)),
        (None, false) => Some(fuse_mount_user(&mnt)),
    };
    let result = std::panic::catch_unwind(|| {
        let lowers = vec![opath(&mnt), opath(&s.path("l0"))];
        refused(
            &helper,
            &lowers,
            &s.upper(),
            &s.work(),
            "lower 1 of 2: on fuse, which the helper does not stack",
        )
    });
    // Unmount before judging (scripts/test.sh unmounts its own).
    if given.is_some() {
    } else if is_root() {
        rustix::mount::unmount(&mnt, rustix::mount::UnmountFlags::DETACH).unwrap();
    } else {
        let st = std::process::Command::new("fusermount3")
            .args(["-u", "-z"])
            .arg(&mnt)
            .status()
            .unwrap();
        assert!(st.success(), "fusermount3 -u");
    }
    drop(fuse);
    let line = result.unwrap_or_else(|e| std::panic::resume_unwind(e));
    assert!(line.contains("EXDEV"), "{line}");
    assert_eq!(before, mountinfo());
}

fn fuse_mount_root(mnt: &Path) -> OwnedFd {
    let fuse = rustix::fs::open(
        "/dev/fuse",
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    use std::os::fd::AsRawFd;
    let data = format!(
        "fd={},rootmode=40000,user_id=12345,group_id=12345",
        fuse.as_raw_fd()
    );
    rustix::mount::mount(
        fuse_source(),
        mnt,
        "fuse",
        rustix::mount::MountFlags::NOSUID | rustix::mount::MountFlags::NODEV,
        Some(std::ffi::CString::new(data).unwrap().as_c_str()),
    )
    .unwrap_or_else(|e| panic!("mount -t fuse {}: {e}", mnt.display()));
    fuse
}

fn fuse_mount_user(mnt: &Path) -> OwnedFd {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let raw = theirs.as_raw_fd();
    let mut cmd = std::process::Command::new("fusermount3");
    cmd.args(["-o", &format!("fsname={}", fuse_source())])
        .arg(mnt)
        .env("_FUSE_COMMFD", raw.to_string());
    // SAFETY: fcntl is async-signal-safe; it clears close-on-exec on the one descriptor
    // fusermount3 sends the FUSE device back on.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(raw, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("fusermount3: {e} (install fuse3)"));
    drop(theirs);
    assert!(
        out.status.success(),
        "fusermount3: {} (when users may not open /dev/fuse, have root mount a FUSE directory \
         and name it in STRATA_TEST_FUSE_DIR, as scripts/test.sh does)",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let mut fds = Vec::new();
    let mut b = [0u8; 1];
    strata_helper::proto::recv_exact(
        ours.as_fd(),
        &mut b,
        std::time::Instant::now() + Duration::from_secs(10),
        &mut fds,
        1,
    )
    .unwrap_or_else(|e| panic!("no FUSE descriptor from fusermount3: {e:?}"));
    fds.pop().expect("fusermount3 sent the FUSE descriptor")
}

/// One stalled client does not hold up the others: each connection has its own thread.
#[test]
fn helper_serves_others_while_a_client_stalls() {
    let helper = Helper::get();
    let _table = mount_table_stable();
    let before = mountinfo();
    let stalled: Vec<_> = (0..3)
        .map(|_| {
            let a = helper.attacker();
            a.send(&mount_request(1), &[]).unwrap();
            a
        })
        .collect();
    let s = Stack::new(2);
    let (lowers, up, wk) = (s.lowers(), s.upper(), s.work());
    let t = std::time::Instant::now();
    let m = helper
        .mount(&borrow(&lowers), up.as_fd(), wk.as_fd())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "a mount behind stalled clients took {:?}",
        t.elapsed()
    );
    assert_eq!(read_at(&m, "who"), "0");
    drop(m);
    drop(stalled);
    assert_eq!(before, mountinfo());
}
