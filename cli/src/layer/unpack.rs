//! Unpacking a layer (or an `import` root filesystem) from a tar stream into a directory.
//!
//! The archive is untrusted. Every file operation starts from a descriptor of the target
//! directory: the parent of each entry is opened with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` and the entry is made with an `*at` call on
//! its last name that never follows a symlink. An archive therefore cannot write outside the
//! target, neither with `..`, absolute names or links, nor through symlinks it made itself.
//! Landlock, when asked for, is a second wall around the thread that writes, not the first.
//!
//! OCI whiteouts become what overlayfs reads: `.wh.NAME` a 0/0 character device `NAME`,
//! `.wh..wh..opq` the xattr `user.overlay.opaque=y` on its directory (the store's overlays are
//! mounted with `userxattr`). `trusted.overlay.*` and `user.overlay.*` xattrs coming from the
//! archive are dropped, so a layer cannot forge overlay metadata.

use super::readahead;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;

use rustix::fs::OFlags;
use std::path::{Path, PathBuf};

use super::sys::{self, RESOLVE_STRICT};

/// Largest pax extended header or GNU long name/link accepted.
pub const MAX_EXTENSION_HEADER: u64 = 1 << 20;
/// Most entries one archive may have.
pub const MAX_ENTRIES: u64 = 10_000_000;
/// Longest entry path or link target, in bytes.
pub const MAX_PATH: usize = 4096;
/// Longest path component, in bytes.
pub const MAX_NAME: usize = 255;

/// The xattr that marks an opaque directory for an overlay mounted with `userxattr`.
pub const OPAQUE_XATTR: &str = "user.overlay.opaque";

/// Bytes the tar reader may consume while it looks for the next entry: the padding of the
/// previous entry, one pax header, one GNU long name and one long link (each at most
/// MAX_EXTENSION_HEADER plus its 512-byte header), the entry's header and GNU sparse
/// extension blocks. Anything beyond is a hostile extension header; stopping here bounds the
/// memory the tar crate allocates for them.
const NEXT_ENTRY_BUDGET: u64 = 3 * (MAX_EXTENSION_HEADER + 1024) + (1 << 20) + 4096;
/// Buffer for file contents.
const COPY_BUF: usize = 1 << 20;
/// Chunks handed from the read-ahead thread to the writing thread.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between the two threads.
const QUEUE: usize = 4;

/// How to unpack.
#[derive(Clone, Debug, Default)]
pub struct UnpackOptions {
    /// Write from a thread that Landlock confines to the target directory (best effort: on a
    /// kernel without Landlock the thread runs unconfined; the path checks do not rely on it).
    pub landlock: bool,
    /// Give each entry the owner recorded in the archive. Where the kernel refuses (EPERM or
    /// EINVAL: an unprivileged user, or an id not mapped in the user namespace) the owner is
    /// left as it is, silently.
    pub preserve_ownership: bool,
    /// Do everything on one thread. By default a second thread reads the stream ahead (so the
    /// caller's decompression and hashing run while files are written).
    pub single_thread: bool,
}

/// What an unpack wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Bytes of regular file content (a hard-linked file counts once).
    pub size: u64,
    /// Entries read from the archive, whiteouts and skipped ones included.
    pub entries: u64,
    /// Device entries that were left out because creating devices is not permitted.
    pub skipped_devices: u64,
}

/// Why an unpack failed. Messages name the entry at fault.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The entry is unsafe or malformed and was not unpacked.
    #[error("refusing to unpack {path:?}: {reason}")]
    Refused { path: String, reason: String },
    /// A pax extended header or GNU long name is too large.
    #[error("refusing to unpack the layer: an extended header {position} is larger than 1 MiB")]
    ExtensionTooLarge { position: String },
    /// More entries than [`MAX_ENTRIES`].
    #[error("refusing to unpack the layer: it has more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    /// A file is larger than the free space of the target's filesystem.
    #[error(
        "layer needs more space than the disk has: {path:?} is {size} bytes, {free} bytes are free"
    )]
    NoSpace { path: String, size: u64, free: u64 },
    /// A file operation failed.
    #[error("cannot {op} {path:?}: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },
    /// The archive ended inside a file's content.
    #[error("layer archive ends in the middle of {path:?}")]
    Truncated { path: String },
    /// The tar stream could not be read (corrupt archive, or the underlying reader failed).
    #[error("cannot read the layer archive {position}: {source}")]
    Archive {
        position: String,
        #[source]
        source: io::Error,
    },
    /// The target directory cannot be used.
    #[error("cannot open the target directory {path}: {source}", path = .path.display())]
    Target {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The Landlock ruleset could not be applied.
    #[error("cannot confine the unpacking thread with landlock: {0}")]
    Landlock(String),
}

/// Unpacks the uncompressed tar stream `tar` into the existing, empty directory `target`.
///
/// Entries are read from `tar` up to the end-of-archive marker (the read-ahead thread may
/// read a little beyond it); the caller drains what remains. See the module documentation for
/// what is refused.
pub fn unpack<R: Read + Send>(
    tar: &mut R,
    target: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackStats, UnpackError> {
    let root = open_target(target)?;
    let umask = current_umask();
    if opts.single_thread && !opts.landlock {
        return Unpacker::new(root, opts, umask).run(tar);
    }
    let thread_err = |source| UnpackError::Io {
        op: "start a thread to unpack into",
        path: target.display().to_string(),
        source,
    };
    let builder = || {
        std::thread::Builder::new()
            .name("strata-unpack".into())
            .stack_size(8 << 20)
    };
    std::thread::scope(|s| {
        let worker = if opts.single_thread {
            builder()
                .spawn_scoped(s, move || work(root, opts, umask, tar))
                .map_err(thread_err)?
        } else {
            let (feeder, chunks) = readahead::stage(QUEUE, CHUNK);
            let worker = builder()
                .spawn_scoped(s, move || work(root, opts, umask, chunks))
                .map_err(thread_err)?;
            // This thread reads ahead while the worker writes; a read error reaches the
            // worker in its place in the stream.
            let _ = feeder.pump(tar);
            worker
        };
        match worker.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The writing thread: confine it if asked, then unpack from `src`.
fn work<S: Read>(
    root: OwnedFd,
    opts: &UnpackOptions,
    umask: Option<u32>,
    src: S,
) -> Result<UnpackStats, UnpackError> {
    if opts.landlock {
        confine(&root)?;
    }
    Unpacker::new(root, opts, umask).run(src)
}

/// The process's umask, from `/proc/self/status` (read before Landlock confines the
/// thread); `None` when it cannot be read.
fn current_umask() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Umask:"))?;
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).ok()
}

fn open_target(target: &Path) -> Result<OwnedFd, UnpackError> {
    use std::os::unix::ffi::OsStrExt;
    let err = |source| UnpackError::Target {
        path: target.to_path_buf(),
        source,
    };
    let c = CString::new(target.as_os_str().as_bytes())
        .map_err(|_| err(io::Error::from_raw_os_error(libc::EINVAL)))?;
    sys::openat(rustix::fs::CWD, &c, OFlags::RDONLY | OFlags::DIRECTORY, 0).map_err(err)
}

/// Restricts the calling thread, with Landlock, to reading and writing beneath `root`.
fn confine(root: &OwnedFd) -> Result<(), UnpackError> {
    use landlock::{
        Access, AccessFs, PathBeneath, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope, ABI,
    };
    let abi = ABI::V10;
    let access = AccessFs::from_all(abi);
    let e = |e: landlock::RulesetError| UnpackError::Landlock(e.to_string());
    // Best-effort compatibility (the default): rights the kernel does not know are dropped,
    // and without Landlock at all nothing is enforced.
    Ruleset::default()
        .handle_access(access)
        .map_err(e)?
        .scope(Scope::from_all(abi))
        .map_err(e)?
        .create()
        .map_err(e)?
        .add_rule(PathBeneath::new(root.as_fd(), access))
        .map_err(e)?
        .restrict_self()
        .map_err(e)?;
    Ok(())
}

/// A reader that, while a budget is set, refuses to deliver more than the budget.
struct Limited<'c, S> {
    inner: S,
    budget: &'c Cell<Option<u64>>,
    tripped: &'c Cell<bool>,
}

impl<S: Read> Read for Limited<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.budget.get() {
            None => self.inner.read(buf),
            Some(0) if !buf.is_empty() => {
                self.tripped.set(true);
                Err(io::Error::other("extended header too large"))
            }
            Some(left) => {
                let max = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = self.inner.read(&mut buf[..max])?;
                self.budget.set(Some(left - n as u64));
                Ok(n)
            }
        }
    }
}

/// An entry path made safe: no leading `/`, no `.` or empty components, no `..`.
/// The empty path is the target directory itself.
struct Clean {
    bytes: Vec<u8>,
    split: Option<usize>,
}

impl Clean {
    fn is_root(&self) -> bool {
        self.bytes.is_empty()
    }
    fn parent(&self) -> &[u8] {
        match self.split {
            Some(i) => &self.bytes[..i],
            None => b"",
        }
    }
    fn name(&self) -> &[u8] {
        match self.split {
            Some(i) => &self.bytes[i + 1..],
            None => &self.bytes,
        }
    }
    fn name_c(&self) -> CString {
        // clean() refused NUL bytes.
        CString::new(self.name()).expect("no NUL in a clean path")
    }
}

fn clean(raw: &[u8]) -> Result<Clean, &'static str> {
    if raw.len() > MAX_PATH {
        return Err("path is longer than 4096 bytes");
    }
    if raw.contains(&0) {
        return Err("path contains a NUL byte");
    }
    let mut bytes = Vec::with_capacity(raw.len());
    for comp in raw.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => continue,
            b".." => return Err("path leaves the layer"),
            _ if comp.len() > MAX_NAME => return Err("a path component is longer than 255 bytes"),
            _ => {}
        }
        if !bytes.is_empty() {
            bytes.push(b'/');
        }
        bytes.extend_from_slice(comp);
    }
    let split = bytes.iter().rposition(|b| *b == b'/');
    Ok(Clean { bytes, split })
}

/// An entry path for messages: lossy UTF-8, cut short when very long.
fn show(raw: &[u8]) -> String {
    const MAX: usize = 256;
    let s = String::from_utf8_lossy(raw);
    if s.chars().count() > MAX {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    } else {
        s.into_owned()
    }
}

fn position(last: &Option<String>) -> String {
    match last {
        Some(p) => format!("after {p:?}"),
        None => "at its start".to_string(),
    }
}

fn refused(path: &str, reason: impl Into<String>) -> UnpackError {
    UnpackError::Refused {
        path: path.to_string(),
        reason: reason.into(),
    }
}

fn io_err<'a>(op: &'static str, path: &'a str) -> impl FnOnce(io::Error) -> UnpackError + 'a {
    move |source| UnpackError::Io {
        op,
        path: path.to_string(),
        source,
    }
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// Parses a pax time (`seconds[.fraction]`, possibly negative) into seconds and nanoseconds.
fn parse_pax_time(v: &[u8]) -> Option<(i64, u32)> {
    let s = std::str::from_utf8(v).ok()?;
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut secs: i64 = int.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos = 0u32;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    if s.starts_with('-') && nanos > 0 {
        secs = secs.checked_sub(1)?;
        nanos = 1_000_000_000 - nanos;
    }
    Some((secs, nanos))
}

/// What an entry's header says about the file, besides its name and content.
struct Meta {
    mode: u32,
    owner: Option<(u32, u32)>,
    atime: (i64, u32),
    mtime: (i64, u32),
    xattrs: Vec<(CString, Vec<u8>)>,
}

/// Directory metadata applied once everything is written.
struct DirMeta {
    mode: u32,
    atime: (i64, u32),
    mtime: (i64, u32),
}

struct Unpacker<'o> {
    opts: &'o UnpackOptions,
    root: Rc<OwnedFd>,
    /// The last parent directory resolved, as an O_PATH descriptor.
    cache: Option<(Vec<u8>, Rc<OwnedFd>)>,
    dirs: BTreeMap<Vec<u8>, DirMeta>,
    stats: UnpackStats,
    /// Free space left by the last statvfs, minus what was written since.
    room: u64,
    buf: Vec<u8>,
    /// The owner new files get (this process's effective ids), when the target is not a
    /// setgid directory (whose files take its group): no `fchown` is needed for entries
    /// that name it.
    own_ids: Option<(u32, u32)>,
    /// The process's umask when known: a new file whose mode it leaves untouched (and
    /// that has no setuid, setgid or sticky bit) needs no `fchmod`.
    umask: Option<u32>,
}

impl<'o> Unpacker<'o> {
    fn new(root: OwnedFd, opts: &'o UnpackOptions, umask: Option<u32>) -> Self {
        let setgid = rustix::fs::fstat(&root)
            .map(|st| st.st_mode & libc::S_ISGID != 0)
            .unwrap_or(true);
        let own_ids = (!setgid).then(|| {
            (
                rustix::process::geteuid().as_raw(),
                rustix::process::getegid().as_raw(),
            )
        });
        Unpacker {
            opts,
            root: Rc::new(root),
            cache: None,
            dirs: BTreeMap::new(),
            stats: UnpackStats::default(),
            room: 0,
            buf: Vec::new(),
            own_ids,
            umask,
        }
    }

    fn run<S: Read>(mut self, src: S) -> Result<UnpackStats, UnpackError> {
        self.buf = vec![0; COPY_BUF];
        let budget = Cell::new(None);
        let tripped = Cell::new(false);
        let mut archive = tar::Archive::new(Limited {
            inner: src,
            budget: &budget,
            tripped: &tripped,
        });
        let mut last: Option<String> = None;
        let mut entries = archive.entries().map_err(|source| UnpackError::Archive {
            position: position(&last),
            source,
        })?;
        loop {
            budget.set(Some(NEXT_ENTRY_BUDGET));
            let next = entries.next();
            budget.set(None);
            let mut entry = match next {
                None => break,
                Some(Ok(entry)) => entry,
                Some(Err(source)) if tripped.get() => {
                    let _ = source;
                    return Err(UnpackError::ExtensionTooLarge {
                        position: position(&last),
                    });
                }
                Some(Err(source)) => {
                    return Err(UnpackError::Archive {
                        position: position(&last),
                        source,
                    })
                }
            };
            self.stats.entries += 1;
            if self.stats.entries > MAX_ENTRIES {
                return Err(UnpackError::TooManyEntries);
            }
            let shown = self.entry(&mut entry)?;
            // Whatever content was not used (a skipped device, a link with data…) is read
            // here, so that the tar reader's next step only skips the padding.
            loop {
                match entry.read(&mut self.buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(source) => {
                        return Err(UnpackError::Archive {
                            position: format!("in {shown:?}"),
                            source,
                        })
                    }
                }
            }
            last = Some(shown);
        }
        self.finish()?;
        Ok(self.stats)
    }

    /// Unpacks one entry; returns its path for messages.
    fn entry<S: Read>(&mut self, entry: &mut tar::Entry<'_, S>) -> Result<String, UnpackError> {
        use tar::EntryType;
        let kind = entry.header().entry_type();
        let raw = entry.path_bytes().into_owned();
        let shown = show(&raw);
        if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            // Extension headers the tar crate hands out as entries (global pax headers, or
            // extensions in a pre-POSIX header): only their size matters, they are skipped.
            if entry.size() > MAX_EXTENSION_HEADER {
                return Err(refused(&shown, "extended header is larger than 1 MiB"));
            }
            return Ok(shown);
        }
        let meta = self.meta(entry, &shown)?;
        let path = clean(&raw).map_err(|reason| refused(&shown, reason))?;

        if path
            .parent()
            .split(|b| *b == b'/')
            .any(|c| c.starts_with(b".wh..wh."))
        {
            // Inside aufs metadata (.wh..wh.plnk/…): not part of the image.
            return Ok(shown);
        }
        if let Some(name) = path.name().strip_prefix(b".wh.") {
            let name = name.to_vec();
            self.whiteout(&path, &name, &shown)?;
            return Ok(shown);
        }
        let is_dir = kind == EntryType::Directory
            || (matches!(kind, EntryType::Regular | EntryType::Continuous) && raw.ends_with(b"/"));
        if path.is_root() && !is_dir {
            return Err(refused(
                &shown,
                "only a directory can be the root of the layer",
            ));
        }
        match kind {
            _ if is_dir => self.directory(&path, &meta, &shown)?,
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.file(entry, &path, &meta, &shown)?
            }
            EntryType::Symlink => {
                let target = entry.link_name_bytes().map(|t| t.into_owned());
                self.symlink(&path, target, &meta, &shown)?
            }
            EntryType::Link => {
                let target = entry.link_name_bytes().map(|t| t.into_owned());
                self.hardlink(&path, target, &shown)?
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let h = entry.header();
                let major = h.device_major().ok().flatten().unwrap_or(0);
                let minor = h.device_minor().ok().flatten().unwrap_or(0);
                let fmt = match kind {
                    EntryType::Char => libc::S_IFCHR,
                    EntryType::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                self.node(&path, fmt, libc::makedev(major, minor), &meta, &shown)?
            }
            other => {
                return Err(refused(
                    &shown,
                    format!(
                        "unsupported entry type {:?}",
                        char::from(other.as_byte()).escape_default().to_string()
                    ),
                ))
            }
        }
        Ok(shown)
    }

    fn meta<S: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, S>,
        shown: &str,
    ) -> Result<Meta, UnpackError> {
        let mut xattrs = Vec::new();
        let mut pax_mtime = None;
        let mut pax_atime = None;
        let pax = entry
            .pax_extensions()
            .map_err(|source| UnpackError::Archive {
                position: format!("in {shown:?}"),
                source,
            })?;
        if let Some(pax) = pax {
            let mut total = 0usize;
            for ext in pax {
                let ext = ext.map_err(|e| refused(shown, format!("malformed pax header: {e}")))?;
                let (key, value) = (ext.key_bytes(), ext.value_bytes());
                total += key.len() + value.len();
                if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                    if name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.") {
                        continue;
                    }
                    let name = CString::new(name)
                        .map_err(|_| refused(shown, "xattr name contains a NUL byte"))?;
                    xattrs.push((name, value.to_vec()));
                } else if key == b"mtime" {
                    pax_mtime = parse_pax_time(value);
                } else if key == b"atime" {
                    pax_atime = parse_pax_time(value);
                } else if key == b"size"
                    && std::str::from_utf8(value).map_or(true, |v| v.parse::<u64>().is_err())
                {
                    // The tar crate falls back to the header's size, so the entries after
                    // this one would be read from the wrong place: refused, as Go's tar does.
                    return Err(refused(shown, "the pax size record is not a 64-bit size"));
                }
            }
            if total as u64 > MAX_EXTENSION_HEADER {
                return Err(refused(shown, "extended header is larger than 1 MiB"));
            }
        }
        let h = entry.header();
        let bad = |what: &str| refused(shown, format!("malformed {what} in the tar header"));
        let mode = h.mode().map_err(|_| bad("mode"))? & 0o7777;
        let owner = if self.opts.preserve_ownership {
            let uid = h.uid().map_err(|_| bad("uid"))?;
            let gid = h.gid().map_err(|_| bad("gid"))?;
            // u32::MAX is chown's "leave unchanged"; larger ids do not exist.
            match (u32::try_from(uid), u32::try_from(gid)) {
                (Ok(u), Ok(g)) if u != u32::MAX && g != u32::MAX => Some((u, g)),
                _ => None,
            }
        } else {
            None
        };
        let mtime = match pax_mtime {
            Some(t) => t,
            None => (
                i64::try_from(h.mtime().map_err(|_| bad("mtime"))?).unwrap_or(i64::MAX),
                0,
            ),
        };
        Ok(Meta {
            mode,
            owner,
            atime: pax_atime.unwrap_or(mtime),
            mtime,
            xattrs,
        })
    }

    /// The descriptor of `path`'s parent directory, creating missing directories (0755).
    /// Shared with the cache of the last one (no system call for a hit).
    fn parent(&mut self, path: &Clean, shown: &str) -> Result<Rc<OwnedFd>, UnpackError> {
        let p = path.parent();
        if p.is_empty() {
            return Ok(Rc::clone(&self.root));
        }
        if let Some((key, fd)) = &self.cache {
            if key.as_slice() == p {
                return Ok(Rc::clone(fd));
            }
        }
        let fd = Rc::new(
            self.open_dir(p, true)
                .map_err(|e| resolve_error(e, shown, "open the directory of"))?,
        );
        self.cache = Some((p.to_vec(), Rc::clone(&fd)));
        Ok(fd)
    }

    /// Opens the directory `p` (a clean path, not empty) beneath the root as O_PATH, never
    /// through a symlink; with `create`, missing directories are made on the way.
    fn open_dir(&self, p: &[u8], create: bool) -> io::Result<OwnedFd> {
        let flags = OFlags::PATH | OFlags::DIRECTORY;
        let root = self.root.as_fd();
        let c = CString::new(p).map_err(io::Error::other)?;
        match sys::openat2(root, &c, flags, 0, RESOLVE_STRICT) {
            Err(e) if create && errno(&e) == libc::ENOENT => {}
            r => return r,
        }
        let mut cur: Option<OwnedFd> = None;
        for comp in p.split(|b| *b == b'/') {
            let c = CString::new(comp).map_err(io::Error::other)?;
            let at = cur.as_ref().map_or(root, |f| f.as_fd());
            let next = match sys::openat2(at, &c, flags, 0, RESOLVE_STRICT) {
                Err(e) if errno(&e) == libc::ENOENT => {
                    match sys::mkdirat(at, &c, 0o755) {
                        // Exactly 0755, whatever the umask.
                        Ok(()) => sys::fchmodat_nofollow(at, &c, 0o755)?,
                        Err(e) if errno(&e) == libc::EEXIST => {}
                        Err(e) => return Err(e),
                    }
                    sys::openat2(at, &c, flags, 0, RESOLVE_STRICT)?
                }
                r => r?,
            };
            cur = Some(next);
        }
        cur.ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
    }

    /// Runs `make`; if the name is taken, removes what is there (a whole tree for a
    /// directory) and runs it again.
    fn create<T>(
        &mut self,
        dir: BorrowedFd<'_>,
        path: &Clean,
        mut make: impl FnMut(BorrowedFd<'_>, &CStr) -> io::Result<T>,
    ) -> io::Result<T> {
        let name = path.name_c();
        match make(dir, &name) {
            Err(e) if errno(&e) == libc::EEXIST => {
                self.remove(dir, &name, &path.bytes)?;
                make(dir, &name)
            }
            r => r,
        }
    }

    /// Removes `name` in `dir` (whose clean path is `full`), whatever it is.
    fn remove(&mut self, dir: BorrowedFd<'_>, name: &CStr, full: &[u8]) -> io::Result<()> {
        sys::remove_all(dir, name)?;
        // Directories that went with it get no metadata at the end. (The cached parent is
        // `dir` itself, which is not inside what was removed.)
        self.dirs.remove(full);
        let mut prefix = full.to_vec();
        prefix.push(b'/');
        let gone: Vec<Vec<u8>> = self
            .dirs
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.dirs.remove(&k);
        }
        Ok(())
    }

    fn check_space(&mut self, size: u64, shown: &str) -> Result<(), UnpackError> {
        if size <= self.room {
            self.room -= size;
            return Ok(());
        }
        match sys::free_bytes(self.root.as_fd())
            .map_err(io_err("check the free space for", shown))?
        {
            None => self.room = u64::MAX,
            Some(free) if size > free => {
                return Err(UnpackError::NoSpace {
                    path: shown.to_string(),
                    size,
                    free,
                })
            }
            Some(free) => self.room = free - size,
        }
        Ok(())
    }

    fn file<S: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, S>,
        path: &Clean,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), UnpackError> {
        let size = entry.size();
        self.check_space(size, shown)?;
        let dir = self.parent(path, shown)?;
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
        // Created with its final permission bits when the umask leaves them as they are
        // (the layer directory is private until it commits); setuid, setgid and sticky
        // bits only by fchmod, after fchown, which clears the first two.
        let exact = self
            .umask
            .is_some_and(|m| meta.mode & 0o7000 == 0 && meta.mode & m == 0);
        let create_mode = if exact { meta.mode & 0o777 } else { 0o600 };
        let fd = self
            .create(dir.as_fd(), path, |d, n| {
                sys::openat(d, n, flags, create_mode)
            })
            .map_err(io_err("create", shown))?;
        let mut file = File::from(fd);
        let mut written = 0u64;
        let buf = &mut self.buf;
        loop {
            // Fill the buffer before writing: fewer, larger writes.
            let mut filled = 0;
            while filled < buf.len() {
                match entry.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(source) => {
                        return Err(UnpackError::Archive {
                            position: format!("in {shown:?}"),
                            source,
                        })
                    }
                }
            }
            if filled == 0 {
                break;
            }
            file.write_all(&buf[..filled])
                .map_err(io_err("write", shown))?;
            written += filled as u64;
        }
        if written != size {
            return Err(UnpackError::Truncated {
                path: shown.to_string(),
            });
        }
        self.stats.size += written;
        let fd = file.as_fd();
        if let Some((uid, gid)) = meta.owner.filter(|o| Some(*o) != self.own_ids) {
            ignore_eperm(sys::fchown(fd, uid, gid))
                .map_err(io_err("change the owner of", shown))?;
        }
        // After chown, which clears setuid and setgid.
        if !exact {
            sys::fchmod(fd, meta.mode).map_err(io_err("change the mode of", shown))?;
        }
        for (name, value) in &meta.xattrs {
            ignore_unsupported(sys::fsetxattr(fd, name, value))
                .map_err(io_err("set an xattr on", shown))?;
        }
        sys::futimens(fd, meta.atime, meta.mtime).map_err(io_err("set the times of", shown))?;
        Ok(())
    }

    fn directory(&mut self, path: &Clean, meta: &Meta, shown: &str) -> Result<(), UnpackError> {
        let dirmeta = DirMeta {
            mode: meta.mode,
            atime: meta.atime,
            mtime: meta.mtime,
        };
        if path.is_root() {
            let fd = self.root.as_fd();
            if let Some((uid, gid)) = meta.owner {
                ignore_eperm(sys::fchown(fd, uid, gid))
                    .map_err(io_err("change the owner of", shown))?;
            }
            for (name, value) in &meta.xattrs {
                ignore_unsupported(sys::fsetxattr(fd, name, value))
                    .map_err(io_err("set an xattr on", shown))?;
            }
            self.dirs.insert(Vec::new(), dirmeta);
            return Ok(());
        }
        let dir = self.parent(path, shown)?;
        let dir = dir.as_fd();
        let name = path.name_c();
        // 0700 while unpacking, so that the children can be written whatever the final mode.
        match sys::mkdirat(dir, &name, 0o700) {
            Ok(()) => {}
            Err(e) if errno(&e) == libc::EEXIST => {
                let st = sys::fstatat(dir, &name).map_err(io_err("create", shown))?;
                if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                    self.remove(dir, &name, &path.bytes)
                        .and_then(|()| sys::mkdirat(dir, &name, 0o700))
                        .map_err(io_err("create", shown))?;
                }
            }
            Err(e) => return Err(io_err("create", shown)(e)),
        }
        if let Some((uid, gid)) = meta.owner {
            ignore_eperm(sys::fchownat_nofollow(dir, &name, uid, gid))
                .map_err(io_err("change the owner of", shown))?;
        }
        if !meta.xattrs.is_empty() {
            let fd = sys::openat(
                dir,
                &name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW,
                0,
            )
            .map_err(io_err("open", shown))?;
            for (xname, value) in &meta.xattrs {
                ignore_unsupported(sys::fsetxattr(fd.as_fd(), xname, value))
                    .map_err(io_err("set an xattr on", shown))?;
            }
        }
        self.dirs.insert(path.bytes.clone(), dirmeta);
        Ok(())
    }

    fn symlink(
        &mut self,
        path: &Clean,
        target: Option<Vec<u8>>,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), UnpackError> {
        let target = match target {
            Some(t) if !t.is_empty() => t,
            _ => return Err(refused(shown, "symlink without a target")),
        };
        if target.len() > MAX_PATH {
            return Err(refused(shown, "symlink target is longer than 4096 bytes"));
        }
        let target = CString::new(target)
            .map_err(|_| refused(shown, "symlink target contains a NUL byte"))?;
        let dir = self.parent(path, shown)?;
        self.create(dir.as_fd(), path, |d, n| sys::symlinkat(&target, d, n))
            .map_err(io_err("create", shown))?;
        self.node_meta(dir.as_fd(), path, meta, shown, false)
    }

    /// Owner, mode (unless a symlink), xattrs and times of a non-regular, non-directory node.
    fn node_meta(
        &self,
        dir: BorrowedFd<'_>,
        path: &Clean,
        meta: &Meta,
        shown: &str,
        chmod: bool,
    ) -> Result<(), UnpackError> {
        let name = path.name_c();
        if let Some((uid, gid)) = meta.owner {
            ignore_eperm(sys::fchownat_nofollow(dir, &name, uid, gid))
                .map_err(io_err("change the owner of", shown))?;
        }
        if chmod {
            sys::fchmodat_nofollow(dir, &name, meta.mode)
                .map_err(io_err("change the mode of", shown))?;
        }
        for (xname, value) in &meta.xattrs {
            ignore_unsupported(sys::lsetxattr_at(dir, &name, xname, value))
                .map_err(io_err("set an xattr on", shown))?;
        }
        sys::utimensat_nofollow(dir, &name, meta.atime, meta.mtime)
            .map_err(io_err("set the times of", shown))
    }

    fn hardlink(
        &mut self,
        path: &Clean,
        target: Option<Vec<u8>>,
        shown: &str,
    ) -> Result<(), UnpackError> {
        let raw = match target {
            Some(t) if !t.is_empty() => t,
            _ => return Err(refused(shown, "hard link without a target")),
        };
        let link = show(&raw);
        let target = clean(&raw)
            .map_err(|reason| refused(shown, format!("hard link target {link:?}: {reason}")))?;
        if target.is_root() {
            return Err(refused(shown, "hard link to the root of the layer"));
        }
        if target.bytes == path.bytes {
            return Ok(());
        }
        let dir = self.parent(path, shown)?;
        // The target's directory: the cached one if it is the same, else opened (not created).
        let tdir = if target.parent().is_empty() {
            Rc::clone(&self.root)
        } else if target.parent() == path.parent() {
            Rc::clone(&dir)
        } else {
            let owned = self
                .open_dir(target.parent(), false)
                .map_err(|e| match errno(&e) {
                    libc::ENOENT | libc::ENOTDIR => refused(
                        shown,
                        format!("hard link target {link:?} is not an earlier entry of the layer"),
                    ),
                    _ => resolve_error(e, shown, "open the directory of the hard link target of"),
                })?;
            Rc::new(owned)
        };
        let tname = target.name_c();
        // Check before removing anything that the name may hold.
        match sys::fstatat(tdir.as_fd(), &tname) {
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {
                return Err(refused(
                    shown,
                    format!("hard link target {link:?} is a directory"),
                ))
            }
            Ok(_) => {}
            Err(e) if errno(&e) == libc::ENOENT => {
                return Err(refused(
                    shown,
                    format!("hard link target {link:?} is not an earlier entry of the layer"),
                ))
            }
            Err(e) => return Err(io_err("find the hard link target of", shown)(e)),
        }
        self.create(dir.as_fd(), path, |d, n| {
            sys::linkat(tdir.as_fd(), &tname, d, n)
        })
        .map_err(io_err("create", shown))
    }

    fn node(
        &mut self,
        path: &Clean,
        fmt: libc::mode_t,
        dev: libc::dev_t,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), UnpackError> {
        let dir = self.parent(path, shown)?;
        match self.create(dir.as_fd(), path, |d, n| {
            sys::mknodat(d, n, fmt | 0o600, dev)
        }) {
            Ok(()) => {}
            Err(e) if errno(&e) == libc::EPERM && fmt != libc::S_IFIFO => {
                // Not privileged to make devices (an ordinary user, a user namespace).
                self.stats.skipped_devices += 1;
                return Ok(());
            }
            Err(e) => return Err(io_err("create", shown)(e)),
        }
        self.node_meta(dir.as_fd(), path, meta, shown, true)
    }

    fn whiteout(&mut self, path: &Clean, name: &[u8], shown: &str) -> Result<(), UnpackError> {
        if let Some(meta) = name.strip_prefix(b".wh.") {
            if meta == b".opq" {
                return self.opaque(path, shown);
            }
            // Other aufs metadata (.wh..wh.plnk, .wh..wh.aufs): nothing to unpack.
            return Ok(());
        }
        if name.is_empty() || name == b"." || name == b".." {
            return Err(refused(shown, "invalid whiteout name"));
        }
        let dir = self.parent(path, shown)?;
        let cname = CString::new(name).expect("no NUL in a clean path");
        let mut victim = path.parent().to_vec();
        if !victim.is_empty() {
            victim.push(b'/');
        }
        victim.extend_from_slice(name);
        self.remove(dir.as_fd(), &cname, &victim)
            .map_err(io_err("remove the whited-out", &show(&victim)))?;
        sys::mknodat(
            dir.as_fd(),
            &cname,
            libc::S_IFCHR | 0o600,
            libc::makedev(0, 0),
        )
        .map_err(|e| {
            if errno(&e) == libc::EPERM {
                refused(
                    shown,
                    "whiteouts (0/0 character devices) cannot be made without privilege; \
                     an ordinary user must unpack inside a user namespace",
                )
            } else {
                io_err("create the whiteout", shown)(e)
            }
        })
    }

    fn opaque(&mut self, path: &Clean, shown: &str) -> Result<(), UnpackError> {
        let dir = self.parent(path, shown)?;
        let fd = sys::openat(dir.as_fd(), c".", OFlags::RDONLY | OFlags::DIRECTORY, 0)
            .map_err(io_err("open the directory of", shown))?;
        let xname = CString::new(OPAQUE_XATTR).expect("constant");
        sys::fsetxattr(fd.as_fd(), &xname, b"y")
            .map_err(io_err("mark as opaque the directory of", shown))
    }

    /// Applies directory modes and times, deepest first, once nothing more is written.
    fn finish(&mut self) -> Result<(), UnpackError> {
        self.cache = None;
        let mut dirs: Vec<(Vec<u8>, DirMeta)> =
            std::mem::take(&mut self.dirs).into_iter().collect();
        dirs.sort_by_key(|(k, _)| {
            std::cmp::Reverse(if k.is_empty() {
                0
            } else {
                1 + k.iter().filter(|b| **b == b'/').count()
            })
        });
        for (k, m) in dirs {
            let shown = if k.is_empty() {
                ".".to_string()
            } else {
                show(&k)
            };
            let owned;
            let fd = if k.is_empty() {
                self.root.as_fd()
            } else {
                let c = CString::new(k).expect("no NUL in a clean path");
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW;
                match sys::openat2(self.root.as_fd(), &c, flags, 0, RESOLVE_STRICT) {
                    Ok(fd) => {
                        owned = fd;
                        owned.as_fd()
                    }
                    // Replaced by something else later in the archive.
                    Err(e) if matches!(errno(&e), libc::ENOENT | libc::ENOTDIR | libc::ELOOP) => {
                        continue
                    }
                    Err(e) => return Err(io_err("open", &shown)(e)),
                }
            };
            sys::fchmod(fd, m.mode).map_err(io_err("change the mode of", &shown))?;
            sys::futimens(fd, m.atime, m.mtime).map_err(io_err("set the times of", &shown))?;
        }
        Ok(())
    }
}

fn resolve_error(e: io::Error, shown: &str, op: &'static str) -> UnpackError {
    match errno(&e) {
        libc::ELOOP => refused(shown, "path goes through a symlink"),
        libc::EXDEV => refused(shown, "path leaves the layer"),
        libc::ENOTDIR => refused(shown, "path goes through something that is not a directory"),
        _ => io_err(op, shown)(e),
    }
}

/// chown: EPERM and EINVAL (no privilege, id not mapped) leave the owner as it is.
fn ignore_eperm(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if matches!(errno(&e), libc::EPERM | libc::EINVAL) => Ok(()),
        r => r,
    }
}

/// xattrs from the archive: a filesystem without xattrs, or a namespace we may not write
/// (trusted.*, security.* for an ordinary user) drops them.
fn ignore_unsupported(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if matches!(errno(&e), libc::EPERM | libc::ENOTSUP) => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    use tar::{Builder, EntryType, Header};

    fn is_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    /// A tempdir (under /var/tmp, which has user xattrs) with `target` and a sibling
    /// `outside` that must stay empty.
    struct Dirs {
        tmp: Option<tempfile::TempDir>,
        target: PathBuf,
        outside: PathBuf,
    }

    impl Dirs {
        fn new() -> Dirs {
            let tmp = tempfile::Builder::new()
                .prefix("strata-unpack-test-")
                .tempdir_in("/var/tmp")
                .unwrap();
            let target = tmp.path().join("target");
            let outside = tmp.path().join("outside");
            std::fs::create_dir(&target).unwrap();
            std::fs::create_dir(&outside).unwrap();
            Dirs {
                tmp: Some(tmp),
                target,
                outside,
            }
        }

        fn t(&self, p: &str) -> PathBuf {
            self.target.join(p)
        }

        fn assert_outside_empty(&self) {
            let n = std::fs::read_dir(&self.outside).unwrap().count();
            assert_eq!(n, 0, "something was written outside the target");
        }

        fn unpack(&self, data: &[u8]) -> Result<UnpackStats, UnpackError> {
            self.unpack_with(data, &opts())
        }

        fn unpack_with(
            &self,
            data: &[u8],
            opts: &UnpackOptions,
        ) -> Result<UnpackStats, UnpackError> {
            unpack(&mut &data[..], &self.target, opts)
        }
    }

    impl Drop for Dirs {
        fn drop(&mut self) {
            // Directories left at 0500 or 0000 must be opened up for the tempdir to go.
            fn open_up(p: &Path) {
                if let Ok(md) = std::fs::symlink_metadata(p) {
                    if md.is_dir() {
                        let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700));
                        if let Ok(rd) = std::fs::read_dir(p) {
                            for e in rd.flatten() {
                                open_up(&e.path());
                            }
                        }
                    }
                }
            }
            if let Some(tmp) = self.tmp.take() {
                open_up(tmp.path());
                let _ = tmp.close();
            }
        }
    }

    fn opts() -> UnpackOptions {
        UnpackOptions {
            preserve_ownership: true,
            ..Default::default()
        }
    }

    /// A header whose name bytes are written as they are (tar::Builder refuses `..`).
    fn header(name: &[u8], kind: EntryType, size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(if kind == EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        h
    }

    fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
        let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        let mut v = format!("{len} {key}=").into_bytes();
        v.extend_from_slice(value);
        v.push(b'\n');
        v
    }

    struct Tar(Builder<Vec<u8>>);

    impl Tar {
        fn new() -> Tar {
            Tar(Builder::new(Vec::new()))
        }
        fn raw(&mut self, h: Header, data: &[u8]) -> &mut Tar {
            self.0.append(&h, data).unwrap();
            self
        }
        fn file_mode(&mut self, name: &str, data: &[u8], mode: u32) -> &mut Tar {
            let mut h = header(name.as_bytes(), EntryType::Regular, data.len() as u64);
            h.set_mode(mode);
            h.set_cksum();
            self.raw(h, data)
        }
        fn file(&mut self, name: &str, data: &[u8]) -> &mut Tar {
            self.file_mode(name, data, 0o644)
        }
        fn dir_mode(&mut self, name: &str, mode: u32) -> &mut Tar {
            let mut h = header(name.as_bytes(), EntryType::Directory, 0);
            h.set_mode(mode);
            h.set_cksum();
            self.raw(h, b"")
        }
        fn dir(&mut self, name: &str) -> &mut Tar {
            self.dir_mode(name, 0o755)
        }
        fn link(&mut self, kind: EntryType, name: &str, target: &str) -> &mut Tar {
            let mut h = header(name.as_bytes(), kind, 0);
            let t = target.as_bytes();
            h.as_old_mut().linkname[..t.len()].copy_from_slice(t);
            h.set_cksum();
            self.raw(h, b"")
        }
        fn symlink(&mut self, name: &str, target: &str) -> &mut Tar {
            self.link(EntryType::Symlink, name, target)
        }
        fn hardlink(&mut self, name: &str, target: &str) -> &mut Tar {
            self.link(EntryType::Link, name, target)
        }
        fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Tar {
            let mut data = Vec::new();
            for (k, v) in records {
                data.extend_from_slice(&pax_record(k, v));
            }
            let h = header(b"././@PaxHeader", EntryType::XHeader, data.len() as u64);
            self.raw(h, &data)
        }
        fn finish(&mut self) -> Vec<u8> {
            let b = std::mem::replace(&mut self.0, Builder::new(Vec::new()));
            b.into_inner().unwrap()
        }
    }

    fn refused_reason(r: Result<UnpackStats, UnpackError>) -> (String, String) {
        match r {
            Err(UnpackError::Refused { path, reason }) => (path, reason),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn getxattr(p: &Path, name: &str) -> Option<Vec<u8>> {
        use std::os::unix::ffi::OsStrExt;
        let mut buf = vec![0u8; 4096];
        let n = rustix::fs::lgetxattr(p.as_os_str().as_bytes(), name, &mut buf[..]).ok()?;
        buf.truncate(n);
        Some(buf)
    }

    /// The peak resident set size of this process (VmHWM), in KiB.
    fn max_rss_kib() -> i64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line["VmHWM:".len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap()
    }

    // ---- paths ----

    #[test]
    fn absolute_path_lands_in_target() {
        let d = Dirs::new();
        let data = Tar::new()
            .file("/etc/strata-abs-test", b"x")
            .file("//./usr//./bin/y", b"y")
            .file("./z", b"z")
            .finish();
        d.unpack(&data).unwrap();
        assert_eq!(std::fs::read(d.t("etc/strata-abs-test")).unwrap(), b"x");
        assert_eq!(std::fs::read(d.t("usr/bin/y")).unwrap(), b"y");
        assert_eq!(std::fs::read(d.t("z")).unwrap(), b"z");
        assert!(!Path::new("/etc/strata-abs-test").exists());
        // Missing parents are made 0755.
        let mode = std::fs::metadata(d.t("usr/bin"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o755);
        d.assert_outside_empty();
    }

    #[test]
    fn dotdot_refused() {
        let d = Dirs::new();
        let data = Tar::new().file("../outside/x", b"x").finish();
        let err = d.unpack(&data).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"refusing to unpack "../outside/x": path leaves the layer"#
        );
        d.assert_outside_empty();
    }

    #[test]
    fn nested_dotdot_refused() {
        let d = Dirs::new();
        let data = Tar::new().file("a/../../outside/x", b"x").finish();
        let (path, reason) = refused_reason(d.unpack(&data));
        assert_eq!(path, "a/../../outside/x");
        assert_eq!(reason, "path leaves the layer");
        d.assert_outside_empty();
        // Even a `..` that stays inside is refused.
        let d = Dirs::new();
        let data = Tar::new().file("a/b/../c", b"x").finish();
        refused_reason(d.unpack(&data));
    }

    #[test]
    fn long_path_refused() {
        let d = Dirs::new();
        let long = "a/".repeat(2100) + "f";
        let mut name = long.clone().into_bytes();
        name.push(0);
        let mut t = Tar::new();
        t.raw(
            header(b"././@LongLink", EntryType::GNULongName, name.len() as u64),
            &name,
        )
        .file("placeholder", b"x");
        let (_, reason) = refused_reason(d.unpack(&t.finish()));
        assert_eq!(reason, "path is longer than 4096 bytes");

        let d = Dirs::new();
        let comp = "c".repeat(256);
        let mut name = comp.into_bytes();
        name.push(0);
        let mut t = Tar::new();
        t.raw(
            header(b"././@LongLink", EntryType::GNULongName, name.len() as u64),
            &name,
        )
        .file("placeholder", b"x");
        let (_, reason) = refused_reason(d.unpack(&t.finish()));
        assert_eq!(reason, "a path component is longer than 255 bytes");
        assert_eq!(std::fs::read_dir(&d.target).unwrap().count(), 0);
    }

    // ---- symlinks ----

    #[test]
    fn write_through_symlink_refused() {
        let d = Dirs::new();
        let data = Tar::new()
            .symlink("a", "../outside")
            .file("a/x", b"x")
            .finish();
        let err = d.unpack(&data).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"refusing to unpack "a/x": path goes through a symlink"#
        );
        d.assert_outside_empty();
    }

    #[test]
    fn symlink_to_root_then_write_refused() {
        let d = Dirs::new();
        let name = format!("strata-escape-test-{}", std::process::id());
        let data = Tar::new()
            .symlink("a", "/")
            .file(&format!("a/tmp/{name}"), b"x")
            .finish();
        let (_, reason) = refused_reason(d.unpack(&data));
        assert_eq!(reason, "path goes through a symlink");
        assert!(!Path::new("/tmp").join(&name).exists());
        d.assert_outside_empty();
    }

    #[test]
    fn symlink_inside_layer_is_not_followed_either() {
        let d = Dirs::new();
        let data = Tar::new()
            .dir("b/")
            .symlink("a", "b")
            .file("a/f", b"x")
            .finish();
        let (_, reason) = refused_reason(d.unpack(&data));
        assert_eq!(reason, "path goes through a symlink");
        assert!(!d.t("b/f").exists());
    }

    #[test]
    fn symlink_named_dot_refused() {
        for name in [".", "./", "/"] {
            let d = Dirs::new();
            let mut h = header(name.as_bytes(), EntryType::Symlink, 0);
            h.as_old_mut().linkname[..1].copy_from_slice(b"/");
            h.set_cksum();
            let data = Tar::new().raw(h, b"").finish();
            let (_, reason) = refused_reason(d.unpack(&data));
            assert_eq!(reason, "only a directory can be the root of the layer");
            assert!(d.target.is_dir());
            assert!(!d.target.is_symlink());
        }
    }

    #[test]
    fn file_or_hardlink_named_dot_refused() {
        let d = Dirs::new();
        let data = Tar::new().file(".", b"x").finish();
        refused_reason(d.unpack(&data));
        let d = Dirs::new();
        let data = Tar::new().file("f", b"x").hardlink(".", "f").finish();
        refused_reason(d.unpack(&data));
        assert!(d.target.is_dir());
    }

    #[test]
    fn symlink_replaced_not_followed() {
        let d = Dirs::new();
        let data = Tar::new()
            .symlink("b", "../outside/b")
            .file("b", b"inside")
            .finish();
        d.unpack(&data).unwrap();
        let md = std::fs::symlink_metadata(d.t("b")).unwrap();
        assert!(md.is_file());
        assert_eq!(std::fs::read(d.t("b")).unwrap(), b"inside");
        d.assert_outside_empty();
    }

    // ---- hard links ----

    #[test]
    fn hardlink_to_absolute_host_file_refused() {
        let d = Dirs::new();
        let data = Tar::new().hardlink("l", "/etc/passwd").finish();
        let (path, reason) = refused_reason(d.unpack(&data));
        assert_eq!(path, "l");
        assert!(reason.contains("is not an earlier entry"), "{reason}");
        assert!(!d.t("l").exists());
        d.assert_outside_empty();
    }

    #[test]
    fn hardlink_to_absolute_path_resolves_in_target() {
        let d = Dirs::new();
        let data = Tar::new()
            .file("etc/passwd", b"root:x:0:0\n")
            .hardlink("l", "/etc/passwd")
            .finish();
        d.unpack(&data).unwrap();
        let a = std::fs::metadata(d.t("etc/passwd")).unwrap();
        let b = std::fs::metadata(d.t("l")).unwrap();
        assert_eq!(a.ino(), b.ino());
    }

    #[test]
    fn hardlink_dotdot_refused() {
        let d = Dirs::new();
        std::fs::write(d.outside.join("f"), b"secret").unwrap();
        let data = Tar::new().hardlink("l", "../outside/f").finish();
        let (_, reason) = refused_reason(d.unpack(&data));
        assert_eq!(
            reason,
            r#"hard link target "../outside/f": path leaves the layer"#
        );
        assert!(!d.t("l").exists());
        assert_eq!(std::fs::metadata(d.outside.join("f")).unwrap().nlink(), 1);
    }

    #[test]
    fn hardlink_through_symlinked_dir_refused() {
        let d = Dirs::new();
        std::fs::write(d.outside.join("f"), b"secret").unwrap();
        let data = Tar::new()
            .symlink("s", "../outside")
            .hardlink("l", "s/f")
            .finish();
        let (_, reason) = refused_reason(d.unpack(&data));
        assert_eq!(reason, "path goes through a symlink");
        assert!(!d.t("l").exists());
        assert_eq!(std::fs::metadata(d.outside.join("f")).unwrap().nlink(), 1);
    }

    #[test]
    fn hardlink_to_symlink_links_the_symlink() {
        let d = Dirs::new();
        std::fs::write(d.outside.join("f"), b"secret").unwrap();
        let data = Tar::new()
            .symlink("s", "../outside/f")
            .hardlink("l", "s")
            .finish();
        d.unpack(&data).unwrap();
        assert!(std::fs::symlink_metadata(d.t("l")).unwrap().is_symlink());
        assert_eq!(std::fs::metadata(d.outside.join("f")).unwrap().nlink(), 1);
    }

    #[test]
    fn hardlink_counted_once() {
        let d = Dirs::new();
        let data = Tar::new()
            .file("a", &[7u8; 1000])
            .hardlink("b", "a")
            .hardlink("dir/c", "./a")
            .finish();
        let stats = d.unpack(&data).unwrap();
        assert_eq!(stats.size, 1000);
        assert_eq!(stats.entries, 3);
        let a = std::fs::metadata(d.t("a")).unwrap();
        assert_eq!(a.nlink(), 3);
        assert_eq!(a.ino(), std::fs::metadata(d.t("b")).unwrap().ino());
        assert_eq!(a.ino(), std::fs::metadata(d.t("dir/c")).unwrap().ino());
    }

    // ---- whiteouts ----

    #[test]
    fn whiteout_dot_refused() {
        let d = Dirs::new();
        let data = Tar::new().file(".wh..", b"").finish();
        let (_, reason) = refused_reason(d.unpack(&data));
        assert_eq!(reason, "invalid whiteout name");
        assert!(d.target.is_dir());
    }

    #[test]
    fn whiteout_dotdot_refused() {
        let d = Dirs::new();
        let data = Tar::new().file("a/.wh...", b"").finish();
        let (_, reason) = refused_reason(d.unpack(&data));
        assert_eq!(reason, "invalid whiteout name");
        d.assert_outside_empty();
    }

    #[test]
    fn whiteout_empty_name_refused() {
        let d = Dirs::new();
        let data = Tar::new().file(".wh.", b"").finish();
        let (_, reason) = refused_reason(d.unpack(&data));
        assert_eq!(reason, "invalid whiteout name");
    }

    #[test]
    fn whiteout_outside_refused() {
        let d = Dirs::new();
        std::fs::write(d.outside.join("x"), b"keep").unwrap();
        let data = Tar::new().file("../outside/.wh.x", b"").finish();
        let (_, reason) = refused_reason(d.unpack(&data));
        assert_eq!(reason, "path leaves the layer");
        assert_eq!(std::fs::read(d.outside.join("x")).unwrap(), b"keep");
    }

    #[test]
    fn whiteout_replaces_earlier_entry() {
        let d = Dirs::new();
        let data = Tar::new()
            .file("a/f", b"data")
            .dir("a/sub/")
            .file("a/sub/g", b"g")
            .file("a/.wh.f", b"")
            .file("a/.wh.sub", b"")
            .file("a/.wh.gone", b"")
            .finish();
        // Since Linux 5.8 anyone may make a 0/0 character device (a whiteout), so this is
        // the same for root and for an ordinary user.
        d.unpack(&data).unwrap();
        for name in ["f", "sub", "gone"] {
            let md = std::fs::symlink_metadata(d.t("a").join(name)).unwrap();
            assert!(md.file_type().is_char_device(), "{name}");
            assert_eq!(md.rdev(), 0);
        }
        assert!(!d.t("a/.wh.f").exists());
        assert!(!d.t("a/sub/g").exists());
    }

    #[test]
    fn opaque_dir_sets_xattr() {
        let d = Dirs::new();
        let data = Tar::new()
            .dir("d/")
            .file("d/keep", b"k")
            .file("d/.wh..wh..opq", b"")
            .file("missing/.wh..wh..opq", b"")
            .finish();
        d.unpack(&data).unwrap();
        assert_eq!(
            getxattr(&d.t("d"), OPAQUE_XATTR).as_deref(),
            Some(&b"y"[..])
        );
        assert_eq!(
            getxattr(&d.t("missing"), OPAQUE_XATTR).as_deref(),
            Some(&b"y"[..])
        );
        assert!(d.t("d/keep").exists());
        assert!(!d.t("d/.wh..wh..opq").exists());
        assert!(!d.t("missing/.wh..wh..opq").exists());
    }

    #[test]
    fn aufs_metadata_skipped() {
        let d = Dirs::new();
        let data = Tar::new()
            .dir(".wh..wh.plnk/")
            .file(".wh..wh.plnk/1234.5678", b"x")
            .file(".wh..wh.aufs", b"")
            .file("real", b"r")
            .finish();
        let stats = d.unpack(&data).unwrap();
        assert_eq!(stats.entries, 4);
        let names: Vec<_> = std::fs::read_dir(&d.target)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("real")]);
    }

    // ---- hostile headers ----

    #[test]
    fn giant_pax_header_refused_without_memory() {
        let d = Dirs::new();
        let claimed: u64 = 256 << 20;
        let h = header(b"././@PaxHeader", EntryType::XHeader, claimed);
        let mut stream =
            io::Cursor::new(h.as_bytes().to_vec()).chain(io::repeat(b'a').take(claimed));
        let before = max_rss_kib();
        let err = unpack(&mut stream, &d.target, &opts()).unwrap_err();
        let grown = max_rss_kib() - before;
        assert!(
            matches!(err, UnpackError::ExtensionTooLarge { .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "refusing to unpack the layer: an extended header at its start is larger than 1 MiB"
        );
        assert!(grown < 100 << 10, "memory grew by {grown} KiB");
        d.assert_outside_empty();
    }

    #[test]
    fn pax_header_over_limit_refused() {
        let d = Dirs::new();
        let big = vec![b'v'; (MAX_EXTENSION_HEADER + 10) as usize];
        let data = Tar::new()
            .pax(&[("SCHILY.xattr.user.big", &big)])
            .file("f", b"x")
            .finish();
        let (path, reason) = refused_reason(d.unpack(&data));
        assert_eq!(path, "f");
        assert_eq!(reason, "extended header is larger than 1 MiB");
        assert!(!d.t("f").exists());
    }

    #[test]
    fn giant_gnu_long_name_refused() {
        let d = Dirs::new();
        let claimed: u64 = 64 << 20;
        let h = header(b"././@LongLink", EntryType::GNULongName, claimed);
        let mut stream = Tar::new().file("first", b"1").finish();
        stream.truncate(stream.len() - 1024); // drop the end-of-archive blocks
        let mut stream = io::Cursor::new(stream)
            .chain(io::Cursor::new(h.as_bytes().to_vec()))
            .chain(io::repeat(b'n').take(claimed));
        let err = unpack(&mut stream, &d.target, &opts()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refusing to unpack the layer: an extended header after \"first\" is larger than 1 MiB"
        );
    }

    #[test]
    fn giant_global_pax_header_refused() {
        let d = Dirs::new();
        let claimed: u64 = 64 << 20;
        let h = header(b"pax_global_header", EntryType::XGlobalHeader, claimed);
        let mut stream =
            io::Cursor::new(h.as_bytes().to_vec()).chain(io::repeat(b'g').take(claimed));
        let (path, reason) = refused_reason(unpack(&mut stream, &d.target, &opts()));
        assert_eq!(path, "pax_global_header");
        assert_eq!(reason, "extended header is larger than 1 MiB");
    }

    #[test]
    fn small_global_pax_header_ignored() {
        let d = Dirs::new();
        let rec = pax_record("comment", b"hello");
        let data = Tar::new()
            .raw(
                header(
                    b"pax_global_header",
                    EntryType::XGlobalHeader,
                    rec.len() as u64,
                ),
                &rec,
            )
            .file("f", b"x")
            .finish();
        d.unpack(&data).unwrap();
        assert!(!d.t("pax_global_header").exists());
        assert!(d.t("f").exists());
    }

    #[test]
    fn decompression_bomb_refused() {
        let d = Dirs::new();
        // A GNU header can claim any size (base-256); the content never comes.
        let h = header(b"bomb", EntryType::Regular, 1 << 52);
        let mut stream = io::Cursor::new(h.as_bytes().to_vec()).chain(io::repeat(0).take(1 << 20));
        let err = unpack(&mut stream, &d.target, &opts()).unwrap_err();
        assert!(matches!(err, UnpackError::NoSpace { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("layer needs more space than the disk has: \"bomb\" is"),
            "{msg}"
        );
        assert!(!d.t("bomb").exists());
    }

    #[test]
    fn truncated_file_is_an_error() {
        let d = Dirs::new();
        let h = header(b"f", EntryType::Regular, 100);
        let mut stream = io::Cursor::new(h.as_bytes().to_vec()).chain(&b"only ten b"[..]);
        let err = unpack(&mut stream, &d.target, &opts()).unwrap_err();
        assert!(matches!(err, UnpackError::Truncated { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            r#"layer archive ends in the middle of "f""#
        );
    }

    #[test]
    fn corrupt_header_is_an_error() {
        let d = Dirs::new();
        let mut data = Tar::new().file("f", b"x").finish();
        data[0] ^= 0xff; // checksum no longer matches
        let err = d.unpack(&data).unwrap_err();
        assert!(matches!(err, UnpackError::Archive { .. }), "{err:?}");
        assert!(err
            .to_string()
            .starts_with("cannot read the layer archive at its start"));
    }

    // ---- replacing ----

    #[test]
    fn duplicate_entries_replace() {
        let d = Dirs::new();
        let data = Tar::new()
            .file("a", b"one")
            .file("a", b"two")
            .file("b", b"file")
            .dir("b/")
            .file("b/inner", b"i")
            .dir("c/")
            .file("c/x", b"x")
            .dir("c/sub/")
            .file("c", b"now a file")
            .dir("e/")
            .file("e/kept", b"k")
            .dir_mode("e/", 0o750)
            .file("f", b"file")
            .symlink("f", "elsewhere")
            .finish();
        d.unpack(&data).unwrap();
        assert_eq!(std::fs::read(d.t("a")).unwrap(), b"two");
        assert!(d.t("b").is_dir());
        assert_eq!(std::fs::read(d.t("b/inner")).unwrap(), b"i");
        assert_eq!(std::fs::read(d.t("c")).unwrap(), b"now a file");
        assert_eq!(std::fs::read(d.t("e/kept")).unwrap(), b"k");
        let mode = std::fs::metadata(d.t("e")).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o750);
        assert_eq!(
            std::fs::read_link(d.t("f")).unwrap(),
            PathBuf::from("elsewhere")
        );
    }

    #[test]
    fn parent_that_is_a_file_refused() {
        let d = Dirs::new();
        let data = Tar::new().file("a", b"x").file("a/b", b"y").finish();
        let (path, _) = refused_reason(d.unpack(&data));
        assert_eq!(path, "a/b");
    }

    // ---- metadata ----

    #[test]
    fn dir_mode_0500_with_children() {
        let d = Dirs::new();
        let data = Tar::new()
            .dir_mode("d/", 0o500)
            .file("d/f", b"x")
            .dir_mode("d/sub/", 0o000)
            .file("d/sub/g", b"y")
            .finish();
        d.unpack(&data).unwrap();
        let mode = |p: &str| std::fs::symlink_metadata(d.t(p)).unwrap().mode() & 0o7777;
        assert_eq!(mode("d"), 0o500);
        assert_eq!(mode("d/sub"), 0o000);
        std::fs::set_permissions(d.t("d/sub"), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(std::fs::read(d.t("d/sub/g")).unwrap(), b"y");
        assert_eq!(std::fs::read(d.t("d/f")).unwrap(), b"x");
    }

    #[test]
    fn root_entry_sets_target_metadata() {
        let d = Dirs::new();
        let mut h = header(b"./", EntryType::Directory, 0);
        h.set_mode(0o750);
        h.set_mtime(1_234_567_890);
        h.set_cksum();
        let data = Tar::new().raw(h, b"").file("./f", b"x").finish();
        d.unpack(&data).unwrap();
        let md = std::fs::metadata(&d.target).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o750);
        assert_eq!(md.mtime(), 1_234_567_890);
    }

    #[test]
    fn mtimes_preserved() {
        let d = Dirs::new();
        let mut t = Tar::new();
        let mut h = header(b"dir/", EntryType::Directory, 0);
        h.set_mtime(1_400_000_000);
        h.set_cksum();
        t.raw(h, b"");
        let mut h = header(b"dir/f", EntryType::Regular, 1);
        h.set_mtime(1_500_000_000);
        h.set_cksum();
        t.raw(h, b"x");
        let mut h = header(b"dir/s", EntryType::Symlink, 0);
        h.set_mtime(1_300_000_000);
        h.as_old_mut().linkname[..1].copy_from_slice(b"f");
        h.set_cksum();
        t.raw(h, b"");
        t.pax(&[
            ("mtime", b"1600000000.123456789"),
            ("atime", b"1600000001.5"),
        ]);
        t.file("dir/p", b"p");
        d.unpack(&t.finish()).unwrap();
        let md = |p: &str| std::fs::symlink_metadata(d.t(p)).unwrap();
        assert_eq!(md("dir").mtime(), 1_400_000_000);
        assert_eq!(md("dir/f").mtime(), 1_500_000_000);
        assert_eq!(md("dir/f").atime(), 1_500_000_000);
        assert_eq!(md("dir/s").mtime(), 1_300_000_000);
        assert_eq!(md("dir/p").mtime(), 1_600_000_000);
        assert_eq!(md("dir/p").mtime_nsec(), 123_456_789);
        assert_eq!(md("dir/p").atime(), 1_600_000_001);
        assert_eq!(md("dir/p").atime_nsec(), 500_000_000);
    }

    #[test]
    fn pax_time_parsing() {
        assert_eq!(parse_pax_time(b"12"), Some((12, 0)));
        assert_eq!(parse_pax_time(b"12.5"), Some((12, 500_000_000)));
        assert_eq!(parse_pax_time(b"-1.25"), Some((-2, 750_000_000)));
        assert_eq!(parse_pax_time(b"1.0000000019"), Some((1, 1)));
        assert_eq!(parse_pax_time(b"x"), None);
        assert_eq!(parse_pax_time(b"1.x"), None);
    }

    #[test]
    fn modes_including_setuid() {
        let d = Dirs::new();
        let data = Tar::new()
            .file_mode("suid", b"x", 0o4755)
            .file_mode("ro", b"r", 0o400)
            .file_mode("rw-all", b"w", 0o666)
            .file_mode("plain", b"p", 0o644)
            .file_mode("none", b"n", 0o000)
            .file_mode("sgid", b"g", 0o2711)
            .dir_mode("sticky/", 0o1777)
            .finish();
        d.unpack(&data).unwrap();
        let mode = |p: &str| std::fs::symlink_metadata(d.t(p)).unwrap().mode() & 0o7777;
        // The owner may set setuid and sticky bits on its own files, root or not.
        assert_eq!(mode("suid"), 0o4755);
        assert_eq!(mode("ro"), 0o400);
        assert_eq!(mode("sticky"), 0o1777);
        // Whatever the umask: modes it would cut are set after creation.
        assert_eq!(mode("rw-all"), 0o666);
        assert_eq!(mode("plain"), 0o644);
        assert_eq!(mode("none"), 0o000);
        assert_eq!(mode("sgid"), 0o2711);
    }

    #[test]
    fn ownership_preserved_or_left() {
        let d = Dirs::new();
        let mut t = Tar::new();
        for (name, kind) in [
            (&b"dir/"[..], EntryType::Directory),
            (b"file", EntryType::Regular),
            (b"link", EntryType::Symlink),
        ] {
            let mut h = header(name, kind, 0);
            h.set_uid(1234);
            h.set_gid(5678);
            if kind == EntryType::Symlink {
                h.as_old_mut().linkname[..4].copy_from_slice(b"file");
            }
            h.set_cksum();
            t.raw(h, b"");
        }
        d.unpack(&t.finish()).unwrap();
        let me = rustix::process::geteuid().as_raw();
        let mygid = rustix::process::getegid().as_raw();
        for p in ["dir", "file", "link"] {
            let md = std::fs::symlink_metadata(d.t(p)).unwrap();
            if is_root() {
                assert_eq!((md.uid(), md.gid()), (1234, 5678), "{p}");
            } else {
                assert_eq!(md.uid(), me, "{p}");
                assert_eq!(md.gid(), mygid, "{p}");
            }
        }
        // Without preserve_ownership the unpacking user owns everything.
        let d = Dirs::new();
        let mut h = header(b"file", EntryType::Regular, 0);
        h.set_uid(1234);
        h.set_cksum();
        let data = Tar::new().raw(h, b"").finish();
        d.unpack_with(&data, &UnpackOptions::default()).unwrap();
        assert_eq!(std::fs::metadata(d.t("file")).unwrap().uid(), me);
    }

    #[test]
    fn devices_and_fifos() {
        let d = Dirs::new();
        let mut t = Tar::new();
        for (name, kind, major, minor) in [
            (&b"dev/null"[..], EntryType::Char, 1, 3),
            (b"dev/loop0", EntryType::Block, 7, 0),
            (b"dev/fifo", EntryType::Fifo, 0, 0),
        ] {
            let mut h = header(name, kind, 0);
            h.set_device_major(major).unwrap();
            h.set_device_minor(minor).unwrap();
            h.set_mode(0o620);
            h.set_cksum();
            t.raw(h, b"");
        }
        let stats = d.unpack(&t.finish()).unwrap();
        let md = |p: &str| std::fs::symlink_metadata(d.t(p)).unwrap();
        assert!(md("dev/fifo").file_type().is_fifo());
        assert_eq!(md("dev/fifo").mode() & 0o7777, 0o620);
        if is_root() {
            assert_eq!(stats.skipped_devices, 0);
            assert!(md("dev/null").file_type().is_char_device());
            assert_eq!(md("dev/null").rdev(), libc::makedev(1, 3));
            assert!(md("dev/loop0").file_type().is_block_device());
            assert_eq!(md("dev/loop0").rdev(), libc::makedev(7, 0));
            assert_eq!(md("dev/null").mode() & 0o7777, 0o620);
        } else {
            assert_eq!(stats.skipped_devices, 2);
            assert!(!d.t("dev/null").exists());
            assert!(!d.t("dev/loop0").exists());
        }
    }

    #[test]
    fn xattrs_kept_and_overlay_xattrs_dropped() {
        let d = Dirs::new();
        let data = Tar::new()
            .pax(&[
                ("SCHILY.xattr.user.keep", b"v1"),
                ("SCHILY.xattr.trusted.overlay.opaque", b"y"),
                ("SCHILY.xattr.user.overlay.opaque", b"y"),
                ("SCHILY.xattr.trusted.overlay.redirect", b"/etc"),
                ("SCHILY.xattr.trusted.other", b"t"),
            ])
            .file("f", b"x")
            .pax(&[
                ("SCHILY.xattr.user.dirkeep", b"v2"),
                ("SCHILY.xattr.user.overlay.opaque", b"y"),
            ])
            .dir("d/")
            .finish();
        d.unpack(&data).unwrap();
        let f = d.t("f");
        assert_eq!(getxattr(&f, "user.keep").as_deref(), Some(&b"v1"[..]));
        assert_eq!(getxattr(&f, "trusted.overlay.opaque"), None);
        assert_eq!(getxattr(&f, "user.overlay.opaque"), None);
        assert_eq!(getxattr(&f, "trusted.overlay.redirect"), None);
        assert_eq!(
            getxattr(&d.t("d"), "user.dirkeep").as_deref(),
            Some(&b"v2"[..])
        );
        assert_eq!(getxattr(&d.t("d"), "user.overlay.opaque"), None);
        if is_root() {
            assert_eq!(getxattr(&f, "trusted.other").as_deref(), Some(&b"t"[..]));
        } else {
            // An ordinary user cannot write trusted.*: dropped silently.
            assert_eq!(getxattr(&f, "trusted.other"), None);
        }
    }

    #[test]
    fn pax_path_and_long_names() {
        let d = Dirs::new();
        let long = format!("{}/{}", "d".repeat(200), "f".repeat(200));
        let data = Tar::new()
            .pax(&[("path", long.as_bytes())])
            .file("short", b"pax")
            .finish();
        d.unpack(&data).unwrap();
        assert_eq!(std::fs::read(d.t(&long)).unwrap(), b"pax");
        assert!(!d.t("short").exists());
    }

    #[test]
    fn unsupported_entry_type_refused() {
        let d = Dirs::new();
        let h = header(b"vol", EntryType::new(b'V'), 0);
        let data = Tar::new().raw(h, b"").finish();
        let (_, reason) = refused_reason(d.unpack(&data));
        assert!(reason.starts_with("unsupported entry type"), "{reason}");
    }

    // ---- threads, landlock ----

    fn sample_layer() -> Vec<u8> {
        let mut t = Tar::new();
        t.dir("usr/").dir("usr/bin/");
        for i in 0..200 {
            let data = vec![i as u8; i * 97];
            t.file(&format!("usr/bin/f{i}"), &data);
        }
        t.file("big", &vec![3u8; 3 << 20]);
        t.symlink("usr/bin/l", "f1").hardlink("usr/h", "usr/bin/f2");
        t.finish()
    }

    #[test]
    fn every_mode_gives_the_same_result() {
        let data = sample_layer();
        let want: u64 = (0..200u64).map(|i| i * 97).sum::<u64>() + (3 << 20);
        for (landlock, single_thread) in
            [(false, false), (false, true), (true, false), (true, true)]
        {
            let d = Dirs::new();
            let o = UnpackOptions {
                landlock,
                single_thread,
                preserve_ownership: true,
            };
            let stats = d.unpack_with(&data, &o).unwrap();
            assert_eq!(stats.size, want, "{o:?}");
            assert_eq!(stats.entries, 2 + 200 + 1 + 2, "{o:?}");
            assert_eq!(
                std::fs::read(d.t("usr/bin/f199")).unwrap(),
                vec![199u8; 199 * 97]
            );
            assert_eq!(std::fs::metadata(d.t("big")).unwrap().len(), 3 << 20);
            d.assert_outside_empty();
        }
        // The caller's thread is not confined afterwards.
        let d = Dirs::new();
        std::fs::write(d.outside.join("after"), b"ok").unwrap();
    }

    #[test]
    fn single_thread_reads_no_further_than_the_archive() {
        let d = Dirs::new();
        let mut data = Tar::new().file("f", b"x").finish();
        data.extend_from_slice(b"trailing garbage the caller drains");
        let mut r = &data[..];
        let o = UnpackOptions {
            single_thread: true,
            ..opts()
        };
        unpack(&mut r, &d.target, &o).unwrap();
        assert!(r.len() >= 34, "the unpacker read past the archive");
    }

    #[test]
    fn reader_error_is_reported() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("network went away"))
            }
        }
        let d = Dirs::new();
        for single_thread in [false, true] {
            let o = UnpackOptions {
                single_thread,
                ..opts()
            };
            let err = unpack(&mut Failing, &d.target, &o).unwrap_err();
            assert!(err.to_string().contains("network went away"), "{err}");
        }
    }

    #[test]
    fn landlock_confines_the_writing_thread() {
        let d = Dirs::new();
        let allowed = d.target.clone();
        let denied = d.outside.clone();
        let (inside, outside) = std::thread::spawn(move || {
            let root = open_target(&allowed).unwrap();
            confine(&root).unwrap();
            (
                std::fs::write(allowed.join("in"), b"ok"),
                std::fs::write(denied.join("out"), b"no"),
            )
        })
        .join()
        .unwrap();
        inside.unwrap();
        assert_eq!(
            outside.unwrap_err().raw_os_error(),
            Some(libc::EACCES),
            "landlock did not confine the thread"
        );
        d.assert_outside_empty();
    }

    #[test]
    fn target_must_exist() {
        let d = Dirs::new();
        let err = unpack(&mut &b""[..], &d.t("nope"), &opts()).unwrap_err();
        assert!(matches!(err, UnpackError::Target { .. }));
        assert!(err
            .to_string()
            .starts_with("cannot open the target directory"));
    }

    /// Speed check against GNU tar: `STRATA_BENCH_TGZ=/tmp/usr.tgz cargo test --release
    /// -p strata --lib bench_unpack -- --ignored --nocapture` (unpacks into /dev/shm).
    #[test]
    #[ignore]
    fn bench_unpack() {
        let src = std::env::var("STRATA_BENCH_TGZ").expect("STRATA_BENCH_TGZ");
        let dir = std::env::var("STRATA_BENCH_DIR").unwrap_or_else(|_| "/dev/shm".into());
        for (name, o) in [
            ("pipelined", opts()),
            (
                "single thread",
                UnpackOptions {
                    single_thread: true,
                    ..opts()
                },
            ),
            (
                "pipelined+landlock",
                UnpackOptions {
                    landlock: true,
                    ..opts()
                },
            ),
        ] {
            let tmp = tempfile::tempdir_in(&dir).unwrap();
            let file = io::BufReader::with_capacity(1 << 20, File::open(&src).unwrap());
            let start = std::time::Instant::now();
            let (_, mut r) = crate::layer::decompress::decompress(file).unwrap();
            let stats = unpack(&mut r, tmp.path(), &o).unwrap();
            io::copy(&mut r, &mut io::sink()).unwrap();
            let t = start.elapsed();
            eprintln!("{name}: {stats:?} in {t:?}");
            if std::env::var_os("STRATA_BENCH_KEEP").is_some() {
                eprintln!("kept in {}", tmp.keep().display());
            }
        }
    }
}
