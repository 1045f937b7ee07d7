//! `RUN --mount`: cache directories kept in the store across builds (`cache_mount`),
//! binds of the context or of another stage's or image's filesystem (read-only unless
//! `rw`, whose writes are discarded with the container), tmpfs, secrets given with
//! `--secret id=ID,src=FILE` and SSH agents given with `--ssh` (bound, never in a layer).
//! Mount points the runtime had to make in the image are taken out of the step's layer
//! afterwards.

use super::cache::Key;
use super::cache_mount::{self, CacheUse, Seed};
use super::container::BuildContainer;
use super::copy::{hash_item, Ownership};
use super::error::{io, BuildError, Result};
use super::state::ImageState;
use super::tree::Root;
use super::{BuildContext, Builder};
use crate::container::spec::{BindMount, LayersMount, TmpfsMount};
use crate::dockerfile::{Mount, MountKind, StageRef};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use store_layout::{Store, Txn};

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

/// What a RUN's mounts add to its container; the cache locks and the containers holding
/// cache seeds live as long as this does.
#[derive(Default)]
pub struct RunMounts<'a> {
    /// Bind mounts (cache directories, context paths, secrets, agent sockets).
    pub binds: Vec<BindMount>,
    /// tmpfs mounts.
    pub tmpfs: Vec<TmpfsMount>,
    /// Other stages' or images' filesystems.
    pub layers: Vec<LayersMount>,
    /// Variables the mounts set (`SSH_AUTH_SOCK`).
    pub env: Vec<String>,
    /// Every mount point, absolute, to take out of the layer if the image lacked it.
    pub targets: Vec<String>,
    caches: Vec<CacheUse>,
    seeds: Vec<BuildContainer<'a>>,
    scratch: std::cell::RefCell<Option<Txn>>,
}

impl RunMounts<'_> {
    /// A new directory that goes when these mounts do.
    fn scratch_dir(&self, store: &Store) -> Result<PathBuf> {
        let mut txn = self.scratch.borrow_mut();
        if txn.is_none() {
            *txn = Some(store.begin()?);
        }
        let base = txn.as_ref().expect("made").scratch().join("binds");
        let n = std::fs::read_dir(&base).map_or(0, |d| d.count());
        let dir = base.join(n.to_string());
        std::fs::create_dir_all(&dir)
            .map_err(io(format!("cannot make {}", dir.display()), &dir))?;
        Ok(dir)
    }
}

fn absolute(target: &str, workdir: &str) -> String {
    super::metadata::workdir(Some(workdir), target)
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

/// A bind of `source` of the context; its content goes into `key`. A read-write one is
/// a copy in `scratch` (what the RUN writes there is discarded, as BuildKit does, and
/// never reaches the context).
fn context_bind(
    context: &BuildContext,
    m: &Mount,
    target: &str,
    key: &mut Key,
    scratch: &dyn Fn() -> Result<PathBuf>,
) -> Result<BindMount> {
    let source = m.source.clone().unwrap_or_default();
    let keep = |rel: &str, is_dir: bool| {
        context.keeps(&super::ignore::clean(&format!("{source}/{rel}")), is_dir)
    };
    let fail = || {
        io(
            format!("cannot read {source} in the build context"),
            &source,
        )
    };
    hash_item(
        &context.root,
        &source,
        &keep,
        &Ownership::default(),
        &mut |b| key.stream(b),
    )
    .map_err(fail())?;
    let host = if m.readonly {
        context_path(&context.root, &source)?
    } else {
        let dir = scratch()?;
        let dest = Root::open(&dir).map_err(fail())?;
        let is_dir = context
            .root
            .stat(&source)
            .map_err(fail())?
            .is_some_and(|st| super::tree::kind(&st) == libc::S_IFDIR);
        let to = super::copy::Target {
            path: "",
            is_dir: true,
        };
        super::copy::copy_item(
            &context.root,
            &source,
            &keep,
            &dest,
            &to,
            &Ownership::default(),
        )
        .map_err(fail())?;
        match source.rsplit('/').next().filter(|_| !is_dir) {
            Some(name) => dir.join(name),
            None => dir,
        }
    };
    Ok(BindMount {
        source: host.to_string_lossy().into_owned(),
        target: target.to_string(),
        readonly: m.readonly,
    })
}

/// Where mount `m` appears: its target, made absolute; a secret's default is
/// `/run/secrets/ID`, the `n`th ssh mount's `/run/buildkit/ssh_agent.N`.
fn target_of(m: &Mount, workdir: &str, ssh_n: usize) -> String {
    match (m.kind, m.target.is_empty()) {
        (MountKind::Secret, true) => format!("/run/secrets/{}", secret_id(m)),
        (MountKind::Ssh, true) => format!("/run/buildkit/ssh_agent.{ssh_n}"),
        _ => absolute(&m.target, workdir),
    }
}

/// The name a cache mount's directory is found by: its `id`, else its target.
fn cache_name(m: &Mount, workdir: &str) -> String {
    m.id.clone().unwrap_or_else(|| target_of(m, workdir, 0))
}

fn secret_id(m: &Mount) -> String {
    m.id.clone()
        .or_else(|| m.source.clone())
        .unwrap_or_default()
}

/// A path in another stage's filesystem, relative to its root.
fn stage_path(m: &Mount) -> String {
    super::ignore::clean(m.source.as_deref().unwrap_or("/"))
}

impl<'a> Builder<'a> {
    /// The image `from=` names: a stage (built already) or an image.
    fn mount_from(&self, name: &str) -> Result<ImageState> {
        match self.df.stage_ref(name) {
            Ok(StageRef::Stage(i)) => Ok(self.stage(i)),
            Ok(StageRef::Image(n)) => self.image(&n),
            Err(_) => Err(BuildError::MountFrom {
                name: name.to_string(),
            }),
        }
    }

    /// Turns `mounts` into what the RUN's container mounts; what the result depends on
    /// (the content of context binds, the images of stage binds) goes into `key`.
    pub(super) fn mounts(
        &self,
        mounts: &[Mount],
        workdir: &str,
        key: &mut Key,
    ) -> Result<RunMounts<'a>> {
        let mut out = RunMounts::default();
        // Cache mounts are opened (and, for sharing=locked, waited for) in one order, by
        // their cache's name, so that two RUNs locking the same caches never deadlock.
        let mut order: Vec<(String, usize)> = mounts
            .iter()
            .enumerate()
            .filter(|(_, m)| m.kind == MountKind::Cache)
            .map(|(i, m)| (cache_name(m, workdir), i))
            .collect();
        order.sort();
        let mut caches = std::collections::HashMap::new();
        for (_, i) in order {
            let target = target_of(&mounts[i], workdir, 0);
            caches.insert(i, self.cache_mount(&mounts[i], &target, &mut out)?);
        }
        let mut ssh_n = 0;
        for (i, m) in mounts.iter().enumerate() {
            key.add(m.spec.as_bytes());
            let target = target_of(m, workdir, ssh_n);
            let bind = |source: &PathBuf| BindMount {
                source: source.to_string_lossy().into_owned(),
                target: target.clone(),
                readonly: true,
            };
            match m.kind {
                MountKind::Cache => {
                    let cache = caches.remove(&i).expect("every cache mount was opened");
                    out.binds.push(BindMount {
                        source: cache.dir.to_string_lossy().into_owned(),
                        target: target.clone(),
                        readonly: m.readonly,
                    });
                    out.caches.push(cache);
                }
                MountKind::Bind => match &m.from {
                    Some(from) => {
                        let state = self.mount_from(from)?;
                        let id = state.id.as_ref().map_or("scratch", |d| d.as_str());
                        key.add(id.as_bytes());
                        out.layers.push(LayersMount {
                            layers: state.layers,
                            source: stage_path(m),
                            target: target.clone(),
                            readonly: m.readonly,
                        });
                    }
                    None => {
                        let scratch = || out.scratch_dir(self.store);
                        let bind = context_bind(self.context, m, &target, key, &scratch)?;
                        out.binds.push(bind);
                    }
                },
                MountKind::Tmpfs => out.tmpfs.push(TmpfsMount {
                    target: target.clone(),
                    size: m.size,
                    mode: None,
                }),
                MountKind::Secret => match self.opts.secrets.0.get(&secret_id(m)) {
                    Some(src) => out.binds.push(bind(src)),
                    None if m.required => {
                        return Err(BuildError::SecretNotFound { id: secret_id(m) })
                    }
                    None => continue,
                },
                MountKind::Ssh => {
                    let id = m.id.clone().unwrap_or_else(|| "default".into());
                    match self.opts.ssh.get(&id) {
                        Some(sock) => out.binds.push(bind(sock)),
                        None if m.required => return Err(BuildError::SshNotFound { id }),
                        None => continue,
                    }
                    if ssh_n == 0 {
                        out.env.push(format!("SSH_AUTH_SOCK={target}"));
                    }
                    ssh_n += 1;
                }
            }
            out.targets.push(target);
        }
        Ok(out)
    }

    /// A cache directory, seeded from `from=` when new, locked as `sharing=` says (the
    /// seed's container is kept in `out`).
    fn cache_mount(&self, m: &Mount, target: &str, out: &mut RunMounts<'a>) -> Result<CacheUse> {
        let seed_root = match &m.from {
            Some(from) => {
                let state = self.mount_from(from)?;
                let ctr = BuildContainer::create(self.store, &state, Default::default())?;
                let root = ctr.mount()?;
                out.seeds.push(ctr);
                Some(root)
            }
            None => None,
        };
        let seed = seed_root.as_ref().map(|root| Seed {
            root,
            source: stage_path(m),
        });
        cache_mount::open(self.store, m, target, seed.as_ref())
    }
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
