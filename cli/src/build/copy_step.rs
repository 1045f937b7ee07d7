//! COPY and ADD: sources from the context (`.dockerignore` applied, never outside its
//! root), another stage or an image (`--from`), or heredocs; wildcards in the last
//! path element; directory sources copy their content; a destination ending in `/` (or
//! an existing directory) takes files by their names. ADD unpacks local tar archives.

use super::archive;
use super::cache::Key;
use super::container::BuildContainer;
use super::copy::{copy_item, hash_item, mkdir_p, write_file, Ownership, Target};
use super::error::{io, BuildError, Result};
use super::ignore::{clean, Ignore};
use super::pattern::{has_wildcard, matches};
use super::state::ImageState;
use super::tree::{kind, Root};
use super::{Builder, StageRun};
use crate::container::plan::resolve_user;
use crate::dockerfile::{Add, Copy, Heredoc, StageRef};
use sha2::Digest as _;

/// What COPY and ADD share.
#[derive(Debug)]
pub struct CopySpec {
    name: &'static str,
    sources: Vec<String>,
    heredocs: Vec<Heredoc>,
    dest: String,
    from: Option<StageRef>,
    chown: Option<String>,
    chmod: Option<String>,
    unpack: bool,
    excludes: Vec<String>,
    checksum: Option<String>,
    parents: bool,
    link: bool,
}

/// Whether an ADD source is an http(s) URL.
fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// Downloads the http(s) `urls` into `dir` (each under the last element of its path, mode
/// 0600, as docker does), checking `--checksum`; returns the file names.
fn download(urls: &[String], dir: &std::path::Path, checksum: Option<&str>) -> Result<Vec<String>> {
    use sha2::Digest as _;
    use std::os::unix::fs::PermissionsExt;
    let mut names = Vec::new();
    for url in urls {
        let path = url.split(['?', '#']).next().unwrap_or(url);
        let name = path
            .rsplit('/')
            .find(|n| !n.is_empty() && !n.contains(':'))
            .unwrap_or("download");
        let resp = ureq::get(url).call().map_err(|e| BuildError::Download {
            url: url.clone(),
            error: Box::new(e),
        })?;
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut resp.into_reader(), &mut data).map_err(|source| {
            BuildError::DownloadBody {
                url: url.clone(),
                source,
            }
        })?;
        if let Some(want) = checksum {
            let got = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&data)));
            if got != want {
                return Err(BuildError::Checksum {
                    url: url.clone(),
                    expected: want.to_string(),
                    got,
                });
            }
        }
        let file = dir.join(name);
        let fail = || io(format!("cannot write {}", file.display()), &file);
        std::fs::write(&file, &data).map_err(fail())?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(fail())?;
        names.push(name.to_string());
    }
    Ok(names)
}

impl CopySpec {
    /// From a COPY.
    pub fn from_copy(c: &Copy) -> CopySpec {
        CopySpec {
            name: "COPY",
            sources: c.sources.clone(),
            heredocs: c.heredocs.clone(),
            dest: c.dest.clone(),
            from: c.from.clone(),
            chown: c.chown.clone(),
            chmod: c.chmod.clone(),
            unpack: false,
            excludes: c.excludes.clone(),
            checksum: None,
            parents: c.parents,
            link: c.link,
        }
    }

    /// What docker's classic builder writes after `#(nop)` in the step's history entry:
    /// `COPY file:HASH in /dest` (`dir:` for a directory, `multi:` for several sources),
    /// `--chown=` before the hash as docker writes it. `sums` are the sources' own
    /// `file:`/`dir:` checksums (docker's are of its own making: tarsum-style headers).
    fn commit_message(&self, sums: &[String]) -> String {
        let hash = match sums {
            [one] => one.clone(),
            _ => format!(
                "multi:{}",
                hex::encode(sha2::Sha256::digest(sums.join(",")))
            ),
        };
        let chown = self
            .chown
            .as_deref()
            .map(|c| format!("--chown={c}"))
            .unwrap_or_default();
        format!("{} {chown}{hash} in {}", self.name, self.dest)
    }

    /// From an ADD (URLs and git sources are refused).
    pub fn from_add(a: &Add) -> Result<CopySpec> {
        if let Some(s) = a.sources.iter().find(|s| {
            (s.contains("://") && !is_url(s)) || s.starts_with("git@") || s.ends_with(".git")
        }) {
            return Err(BuildError::RemoteSource { src: s.clone() });
        }
        let urls = a.sources.iter().filter(|s| is_url(s)).count();
        if urls != 0 && urls != a.sources.len() {
            return Err(BuildError::MixedAdd);
        }
        Ok(CopySpec {
            name: "ADD",
            sources: a.sources.clone(),
            heredocs: a.heredocs.clone(),
            dest: a.dest.clone(),
            from: None,
            chown: a.chown.clone(),
            chmod: a.chmod.clone(),
            unpack: a.unpack.unwrap_or(urls == 0),
            excludes: a.excludes.clone(),
            checksum: a.checksum.clone(),
            parents: false,
            link: a.link,
        })
    }
}

/// Where sources are read from.
enum Source<'c> {
    Context(&'c super::BuildContext),
    Other(Root),
}

impl Source<'_> {
    fn root(&self) -> &Root {
        match self {
            Source::Context(c) => &c.root,
            Source::Other(r) => r,
        }
    }

    /// What of `item` is copied: not what `.dockerignore` (for the context) or
    /// `--exclude` (paths relative to the item) leave out.
    fn keeps<'s>(&'s self, item: &str, exclude: &'s Ignore) -> impl Fn(&str, bool) -> bool + 's {
        let item = item.to_string();
        move |rel: &str, is_dir: bool| {
            let ignored = match self {
                Source::Context(c) => !c.keeps(&clean(&format!("{item}/{rel}")), is_dir),
                Source::Other(_) => false,
            };
            !ignored && !exclude.excluded(rel)
        }
    }
}

/// The last element of `path`.
fn split_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, n)| n)
}

/// The source items (paths relative to the source root) that `patterns` name.
fn expand_sources(
    src: &Source<'_>,
    patterns: &[String],
    what: &'static str,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let not_found = |p: &str| BuildError::CopySource {
        what,
        path: p.to_string(),
    };
    for p in patterns {
        let rel = clean(p);
        let excluded =
            |r: &str| matches!(src, Source::Context(c) if !r.is_empty() && c.ignore.excluded(r));
        if !has_wildcard(&rel) {
            let st = src
                .root()
                .stat(&rel)
                .map_err(io(format!("cannot read {rel}"), &rel))?;
            if excluded(&rel) || st.is_none() {
                return Err(not_found(p));
            }
            out.push(rel);
            continue;
        }
        let (dir, pat) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
        let names = src.root().list(dir).unwrap_or_default();
        let before = out.len();
        for n in names {
            let full = if dir.is_empty() {
                n.clone()
            } else {
                format!("{dir}/{n}")
            };
            if matches(pat, &n, false) && !excluded(&full) {
                out.push(full);
            }
        }
        if out.len() == before {
            return Err(not_found(p));
        }
    }
    Ok(out)
}

fn parse_chmod(s: &str) -> Result<u32> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| BuildError::Chmod {
            value: s.to_string(),
        })
}

/// `--chown=user[:group]` resolved against the container's /etc/passwd and /etc/group.
pub(super) fn chown_ids(root: &Root, spec: &str) -> Result<(u32, u32)> {
    let text = |p: &str| -> Result<String> {
        let bytes = root.read(p).map_err(io(format!("cannot read /{p}"), p))?;
        Ok(String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned())
    };
    let spec = if spec.contains(':') {
        spec.to_string()
    } else {
        // A bare user keeps root's group unless it is numeric (docker: gid = uid).
        match spec.parse::<u32>() {
            Ok(n) => format!("{n}:{n}"),
            Err(_) => spec.to_string(),
        }
    };
    let id = resolve_user(&spec, &text("etc/passwd")?, &text("etc/group")?)
        .map_err(|error| BuildError::Chown { error })?;
    Ok((id.uid, id.gid))
}

impl<'a> Builder<'a> {
    /// The root `--from` names, with the container that holds it mounted.
    fn source_root(&self, r: &StageRef) -> Result<(Root, BuildContainer<'a>)> {
        let state = match r {
            StageRef::Stage(i) => self.stage(*i),
            StageRef::Image(name) => self.image(name)?,
        };
        let ctr = BuildContainer::create(self.store, &state, Default::default())?;
        Ok((ctr.mount()?, ctr))
    }

    pub(super) fn copy(&self, run: &mut StageRun<'_>, spec: &CopySpec) -> Result<()> {
        let mut _from = None;
        let mut _downloads = None;
        let mut sources = spec.sources.clone();
        let src = match &spec.from {
            None if spec.sources.iter().any(|s| is_url(s)) => {
                let txn = self.store.begin()?;
                let dir = txn.scratch().join("add");
                let fail = || io(format!("cannot make {}", dir.display()), &dir);
                std::fs::create_dir(&dir).map_err(fail())?;
                sources = download(&spec.sources, &dir, spec.checksum.as_deref())?;
                let root = Root::open(&dir).map_err(fail())?;
                _downloads = Some(txn);
                Source::Other(root)
            }
            None => Source::Context(self.context),
            Some(r) => {
                let (root, ctr) = self.source_root(r)?;
                _from = Some(ctr);
                Source::Other(root)
            }
        };
        let exclude = Ignore::parse(&spec.excludes.join("\n"));
        let items: Vec<String> = expand_sources(&src, &sources, spec.name)?
            .into_iter()
            .filter(|i| !exclude.excluded(split_name(i)))
            .collect();
        if items.len() + spec.heredocs.len() > 1 && !spec.dest.ends_with('/') {
            return Err(BuildError::NotADirectory { what: spec.name });
        }
        let mode = spec.chmod.as_deref().map(parse_chmod).transpose()?;
        let (content, sums) = self.content_key(spec, &src, &items, &exclude, mode)?;
        let mut key = Key::new(run.state.id.as_ref());
        key.add(content.as_bytes());
        let key = match self.cached(run, key)? {
            Ok(()) => return Ok(()),
            Err(key) => key,
        };
        let c = run.state.config.config.clone().unwrap_or_default();
        let created_by = format!(
            "{} #(nop) {} ",
            super::metadata::shell(&c).join(" "),
            spec.commit_message(&sums)
        );
        if spec.link && self.reuse_link(run, &content, created_by.clone(), &key)? {
            return Ok(());
        }
        // A --link layer is made on an empty root: what is below does not change it.
        let base = if spec.link {
            ImageState::scratch()
        } else {
            run.state.clone()
        };
        let owner = match &spec.chown {
            Some(c) if spec.link => {
                let ctr = BuildContainer::create(self.store, &run.state, Default::default())?;
                Some(chown_ids(&ctr.mount()?, c)?)
            }
            _ => None,
        };
        let ctr = BuildContainer::create(self.store, &base, Default::default())?;
        let dest = ctr.mount()?;
        let owner = match (owner, &spec.chown) {
            (Some(o), _) => Some(o),
            (None, Some(c)) => Some(chown_ids(&dest, c)?),
            (None, None) => None,
        };
        let own = Ownership {
            owner,
            preserve: spec.from.is_some(),
            mode,
        };
        let workdir = c.working_dir.clone().unwrap_or_else(|| "/".into());
        let dest_path = super::metadata::workdir(Some(&workdir), &spec.dest);
        let dest_dir_syntax =
            spec.dest.ends_with('/') || spec.dest.ends_with("/.") || spec.dest == ".";
        let exists_dir = dest
            .stat(&dest_path)
            .map_err(io(format!("cannot read {dest_path}"), &dest_path))?
            .is_some_and(|st| kind(&st) == libc::S_IFDIR);
        let target = Target {
            path: &dest_path,
            is_dir: dest_dir_syntax || exists_dir,
        };
        write_items(&src, &items, &exclude, spec, &dest, &target, &own)?;
        let epoch = self.opts.epoch.unwrap_or_else(crate::clock::now_unix);
        write_heredocs(spec, &dest, &target, &own, epoch)?;
        drop(dest);
        self.store_layer(run, &ctr, created_by, &key)?;
        if spec.link {
            self.cache.put(
                &self.link_key(&content),
                run.state.id.as_ref().expect("stored"),
            );
        }
        Ok(())
    }

    /// What the step's layer depends on apart from what is below it (the step as
    /// written, the `--from` stage's image, and the sources' names and content), and
    /// each source's own `file:`/`dir:` checksum for the history entry.
    fn content_key(
        &self,
        spec: &CopySpec,
        src: &Source<'_>,
        items: &[String],
        exclude: &Ignore,
        mode: Option<u32>,
    ) -> Result<(String, Vec<String>)> {
        let mut key = Key::new(None);
        key.add(format!("{spec:?}").as_bytes());
        if let Some(StageRef::Stage(i)) = &spec.from {
            let id = self.stage(*i).id;
            key.add(id.map(|d| d.to_string()).unwrap_or_default().as_bytes());
        }
        let own = Ownership {
            owner: None,
            preserve: spec.from.is_some(),
            mode,
        };
        let mut sums = Vec::new();
        for item in items {
            key.add(item.as_bytes());
            let mut sum = sha2::Sha256::new();
            hash_item(
                src.root(),
                item,
                &src.keeps(item, exclude),
                &own,
                &mut |b| {
                    key.stream(b);
                    sum.update(b);
                },
            )
            .map_err(io(format!("cannot read {item}"), item))?;
            let is_dir = src
                .root()
                .stat(item)
                .map_err(io(format!("cannot read {item}"), item))?
                .is_some_and(|st| kind(&st) == libc::S_IFDIR);
            let what = if is_dir { "dir" } else { "file" };
            sums.push(format!("{what}:{}", hex::encode(sum.finalize())));
        }
        for h in &spec.heredocs {
            sums.push(format!(
                "file:{}",
                hex::encode(sha2::Sha256::digest(h.body()))
            ));
        }
        Ok((key.finish(), sums))
    }
}

/// Copies (or, for ADD, unpacks) the source items into `dest`.
fn write_items(
    src: &Source<'_>,
    items: &[String],
    exclude: &Ignore,
    spec: &CopySpec,
    dest: &Root,
    target: &Target<'_>,
    own: &Ownership,
) -> Result<()> {
    for item in items {
        let file = if spec.unpack {
            archive_of(src.root(), item)?
        } else {
            None
        };
        match file {
            Some(f) => {
                archive::unpack(&f, dest, target.path, own)
                    .map_err(io(format!("cannot unpack {item}"), item))?;
            }
            None => {
                // --parents keeps the source's parent directories under the
                // destination (`a/b/c` goes to `DEST/a/b/c`).
                let parents = item
                    .rsplit_once('/')
                    .map(|(d, _)| d)
                    .filter(|_| spec.parents);
                let path = match parents {
                    Some(d) => format!("{}/{d}", target.path),
                    None => target.path.to_string(),
                };
                let to = Target {
                    path: &path,
                    is_dir: target.is_dir || parents.is_some(),
                };
                copy_item(src.root(), item, &src.keeps(item, exclude), dest, &to, own)
                    .map_err(io(format!("cannot copy {item} to {path}"), item))?
            }
        }
    }
    Ok(())
}

/// Writes the heredoc sources (`COPY <<EOF /file`), mode 0644, owned by root unless
/// `--chown`, dated `epoch`.
fn write_heredocs(
    spec: &CopySpec,
    dest: &Root,
    target: &Target<'_>,
    own: &Ownership,
    epoch: i64,
) -> Result<()> {
    for h in &spec.heredocs {
        let (dir, name) = if target.is_dir || spec.heredocs.len() > 1 {
            (target.path.to_string(), h.name.clone())
        } else {
            let (d, n) = target.path.rsplit_once('/').unwrap_or(("", target.path));
            (d.to_string(), n.to_string())
        };
        let fail = || {
            io(
                format!("cannot write {dir}/{name}"),
                format!("{dir}/{name}"),
            )
        };
        let fd = mkdir_p(dest, &dir, own.new_dirs()).map_err(fail())?;
        let mut st: rustix::fs::Stat = rustix::fs::fstat(&fd).map_err(|e| fail()(e.into()))?;
        st.st_mode = 0o644;
        st.st_uid = 0;
        st.st_gid = 0;
        st.st_mtime = epoch as _;
        st.st_mtime_nsec = 0;
        write_file(&fd, &name, &mut h.body().as_bytes(), &st, own).map_err(fail())?;
    }
    Ok(())
}

/// The file `item` when it is a tar archive that ADD unpacks.
fn archive_of(root: &Root, item: &str) -> Result<Option<std::fs::File>> {
    archive_file(root, item).map_err(io(format!("cannot read {item}"), item))
}

/// [`archive_of`] without the error's context.
fn archive_file(root: &Root, item: &str) -> std::io::Result<Option<std::fs::File>> {
    let Some(st) = root.stat(item)? else {
        return Ok(None);
    };
    if kind(&st) != libc::S_IFREG {
        return Ok(None);
    }
    let f = std::fs::File::from(root.open_at(item, rustix::fs::OFlags::RDONLY)?);
    Ok(archive::is_archive(&f)?.then_some(f))
}
