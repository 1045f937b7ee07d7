//! `RUN --mount`: cache directories kept in the store across builds
//! (`ROOT/build-mounts/HASH`), read-only binds of the context, tmpfs, and secrets given
//! with `--secret id=ID,src=FILE` (bound read-only, never in a layer). Mount points the
//! runtime had to make in the image are taken out of the step's layer afterwards.

use super::cache::Key;
use super::copy::{hash_item, Ownership};
use super::error::{io, BuildError, Result};
use super::tree::Root;
use super::BuildContext;
use crate::container::spec::{BindMount, TmpfsMount};
use crate::dockerfile::{Mount, MountKind};
use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use store_layout::Store;

/// The `--secret` files, by id.
#[derive(Debug, Clone, Default)]
pub struct Secrets(BTreeMap<String, PathBuf>);

impl Secrets {
    /// Reads `--secret id=ID,src=FILE` (also `source=`; `type=file` is the only type).
    pub fn parse(specs: &[String]) -> Result<Secrets> {
        let mut map = BTreeMap::new();
        for spec in specs {
            let mut id = None;
            let mut src = None;
            for field in spec.split(',') {
                match field.split_once('=') {
                    Some(("id", v)) => id = Some(v.to_string()),
                    Some(("src" | "source", v)) => src = Some(v.to_string()),
                    Some(("type", "file")) => {}
                    _ => return Err(BuildError::SecretSpec { spec: spec.clone() }),
                }
            }
            let id = id.ok_or_else(|| BuildError::SecretNoId { spec: spec.clone() })?;
            let src = PathBuf::from(src.unwrap_or_else(|| id.clone()));
            let src = std::fs::canonicalize(&src).map_err(io(
                format!("secret {id}: cannot read {}", src.display()),
                &src,
            ))?;
            map.insert(id, src);
        }
        Ok(Secrets(map))
    }
}

/// What a RUN's mounts add to its container.
#[derive(Default)]
pub struct RunMounts {
    /// Bind mounts (cache directories, context paths, secrets).
    pub binds: Vec<BindMount>,
    /// tmpfs mounts.
    pub tmpfs: Vec<TmpfsMount>,
    /// Every mount point, absolute, to take out of the layer if the image lacked it.
    pub targets: Vec<String>,
}

fn absolute(target: &str, workdir: &str) -> String {
    super::metadata::workdir(Some(workdir), target)
}

/// The host directory of the cache mount `id`, made (with its owner and mode) if new.
fn cache_dir(store: &Store, m: &Mount, target: &str) -> Result<PathBuf> {
    let mut key = Key::new(None);
    key.add(m.id.as_deref().unwrap_or(target).as_bytes());
    let dir = store.root().join("build-mounts").join(key.finish());
    if !dir.exists() {
        make_cache_dir(&dir, m).map_err(io(
            format!("cannot make the cache mount directory {}", dir.display()),
            &dir,
        ))?;
    }
    Ok(dir)
}

/// Makes the cache mount directory `dir` (through a temporary one of this thread's,
/// renamed). Stages built at the same time may both make it: the one that renames second
/// finds it there and uses it.
fn make_cache_dir(dir: &Path, m: &Mount) -> std::io::Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    std::fs::create_dir_all(dir.parent().expect("a parent"))?;
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.with_extension(format!("new-{}-{n}", std::process::id()));
    std::fs::DirBuilder::new().mode(0o755).create(&tmp)?;
    let made = std::fs::set_permissions(
        &tmp,
        std::fs::Permissions::from_mode(m.mode.unwrap_or(0o755)),
    )
    .and_then(|()| {
        std::os::unix::fs::chown(&tmp, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))
    })
    .and_then(|()| {
        // Never over a directory another stage made (and may have mounted) already.
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            &tmp,
            rustix::fs::CWD,
            dir,
            rustix::fs::RenameFlags::NOREPLACE,
        )
        .map_err(std::io::Error::from)
    });
    match made {
        Err(_) if dir.is_dir() => {
            let _ = std::fs::remove_dir(&tmp);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_dir(&tmp);
            Err(e)
        }
        Ok(()) => Ok(()),
    }
}

/// The host path of `source` in the context (resolved inside its root).
fn context_path(root: &Root, source: &str) -> Result<PathBuf> {
    let fail = || io(format!("cannot open {source} in the build context"), source);
    let fd = root
        .open_at(source, rustix::fs::OFlags::PATH)
        .map_err(fail())?;
    let link = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
    std::fs::read_link(link).map_err(fail())
}

/// Turns `mounts` into the container's binds and tmpfs mounts; context binds add their
/// content to `key`.
pub fn prepare(
    store: &Store,
    context: &BuildContext,
    secrets: &Secrets,
    mounts: &[Mount],
    workdir: &str,
    key: &mut Key,
) -> Result<RunMounts> {
    let mut out = RunMounts::default();
    for m in mounts {
        key.add(m.spec.as_bytes());
        let target = match (m.kind, m.target.is_empty()) {
            (MountKind::Secret, true) => {
                let id =
                    m.id.clone()
                        .or_else(|| m.source.clone())
                        .unwrap_or_default();
                format!("/run/secrets/{id}")
            }
            _ => absolute(&m.target, workdir),
        };
        match m.kind {
            MountKind::Cache => out.binds.push(BindMount {
                source: cache_dir(store, m, &target)?.to_string_lossy().into_owned(),
                target: target.clone(),
                readonly: m.readonly,
            }),
            MountKind::Bind => {
                if m.from.is_some() {
                    return Err(BuildError::BindFromUnsupported);
                }
                let source = m.source.clone().unwrap_or_default();
                let keep = |rel: &str, is_dir: bool| {
                    context.keeps(&super::ignore::clean(&format!("{source}/{rel}")), is_dir)
                };
                hash_item(
                    &context.root,
                    &source,
                    &keep,
                    &Ownership::default(),
                    &mut |b| key.stream(b),
                )
                .map_err(io(
                    format!("cannot read {source} in the build context"),
                    &source,
                ))?;
                out.binds.push(BindMount {
                    source: context_path(&context.root, &source)?
                        .to_string_lossy()
                        .into_owned(),
                    target: target.clone(),
                    readonly: m.readonly,
                });
            }
            MountKind::Tmpfs => out.tmpfs.push(TmpfsMount {
                target: target.clone(),
                size: m.size,
                mode: None,
            }),
            MountKind::Secret => {
                let id =
                    m.id.clone()
                        .or_else(|| m.source.clone())
                        .unwrap_or_default();
                match secrets.0.get(&id) {
                    Some(src) => out.binds.push(BindMount {
                        source: src.to_string_lossy().into_owned(),
                        target: target.clone(),
                        readonly: true,
                    }),
                    None if m.required => return Err(BuildError::SecretNotFound { id }),
                    None => continue,
                }
            }
            MountKind::Ssh => return Err(BuildError::SshUnsupported),
        }
        out.targets.push(target);
    }
    Ok(out)
}

/// Whether `rel` is in the image below the container (its layers, topmost first).
fn in_image(store: &Store, layers: &[store_layout::Digest], rel: &str) -> bool {
    layers
        .iter()
        .rev()
        .any(|c| store.layer_dir(c).join(rel).symlink_metadata().is_ok())
}

/// Removes from `upper` the mount points the runtime made for `targets` (and the
/// directories made for them) where the image had nothing.
pub fn remove_mount_points(
    store: &Store,
    layers: &[store_layout::Digest],
    upper: &Path,
    targets: &[String],
) -> Result<()> {
    for t in targets {
        let mut rel = t.trim_start_matches('/').to_string();
        while !rel.is_empty() && !in_image(store, layers, &rel) {
            let p = upper.join(&rel);
            let gone = match p.symlink_metadata() {
                Ok(m) if m.is_dir() => std::fs::remove_dir(&p).is_ok(),
                Ok(m) if m.len() == 0 => std::fs::remove_file(&p).is_ok(),
                _ => false,
            };
            if !gone {
                break;
            }
            rel = rel
                .rsplit_once('/')
                .map(|(d, _)| d.to_string())
                .unwrap_or_default();
        }
    }
    Ok(())
}
