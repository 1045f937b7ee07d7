//! Build containers: a container on the existing runtime made from a stage's current
//! image, in which a RUN command runs or into whose root COPY and ADD write; its upper
//! directory becomes the step's layer exactly as `commit` makes one. A build container
//! is removed when it is dropped; one left by a killed build (its builder's process is
//! gone) is removed by the next build.

use super::error::{io, Result};
use super::state::ImageState;
use super::tree::Root;
use crate::container::launch::{self, Mode};
use crate::container::lookup::process_start;
use crate::container::names::random_bytes;
use crate::container::plan::ContainerPlan;
use crate::container::spec::RunConfig;
use crate::ingest::Ingested;
use std::path::{Path, PathBuf};
use store_layout::{ContainerRecord, Digest, Store, Txn};

const PREFIX: &str = "strata_build_";

/// A build container.
pub struct BuildContainer<'a> {
    store: &'a Store,
    /// Its record.
    pub rec: ContainerRecord,
    /// How its process runs.
    pub cfg: RunConfig,
    dir: PathBuf,
}

/// The build's mark in its containers' names: the pid and start time of the strata
/// process the user started (for an ordinary user, the parent of this process in the user
/// namespace, which a SIGKILL ends first).
fn owner_mark() -> String {
    let parent = crate::userns::in_child()
        .then(rustix::process::getppid)
        .flatten()
        .map(|p| p.as_raw_nonzero().get());
    let pid = parent.unwrap_or(std::process::id() as i32);
    format!("{pid}_{}", process_start(pid).unwrap_or(0))
}

/// Whether process `pid` has ended and waits to be reaped (a killed build's process
/// whose parent is gone too).
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .and_then(|i| s[i + 1..].trim_start().chars().next())
        })
        .is_some_and(|state| matches!(state, 'Z' | 'X'))
}

/// Removes build containers whose builder is gone.
pub fn remove_leftovers(store: &Store) -> Result<()> {
    for c in store.containers()? {
        let Some(mark) = c.name.strip_prefix(PREFIX) else {
            continue;
        };
        let mut parts = mark.split('_');
        let (Some(pid), Some(start)) = (parts.next(), parts.next()) else {
            continue;
        };
        let alive = match (pid.parse::<i32>(), start.parse::<u64>()) {
            (Ok(pid), Ok(start)) => process_start(pid) == Some(start) && !is_zombie(pid),
            _ => false,
        };
        if !alive {
            store.remove_container(&c.id)?;
        }
    }
    Ok(())
}

impl<'a> BuildContainer<'a> {
    /// Creates a container from `state` that would run `cfg` (its hostname is set to
    /// the container's short ID).
    pub fn create(store: &'a Store, state: &ImageState, mut cfg: RunConfig) -> Result<Self> {
        let id = hex::encode(
            random_bytes(32).map_err(io("cannot make a build container id", PathBuf::new()))?,
        );
        cfg.hostname = id[..12].to_string();
        let rec = ContainerRecord {
            id: id.clone(),
            name: format!("{PREFIX}{}_{}", owner_mark(), &id[..12]),
            image: state.id.clone().unwrap_or_else(|| Digest::of(b"scratch")),
            image_name: "strata-build".into(),
            layers: state.layers.clone(),
            created: crate::clock::now_rfc3339(),
            config: serde_json::to_value(&cfg)?,
        };
        let dir = store
            .create_container(&rec, |_, _| Ok::<(), std::convert::Infallible>(()))?
            .unwrap_or_else(|never| match never {});
        Ok(BuildContainer {
            store,
            rec,
            cfg,
            dir,
        })
    }

    /// The short ID docker prints (` ---> Running in ID`).
    pub fn short_id(&self) -> &str {
        &self.rec.id[..12]
    }

    /// Its root filesystem, mounted (detached) for writing from here.
    pub fn mount(&self) -> Result<Root> {
        let plan = ContainerPlan::new(&self.cfg, &self.dir, "");
        launch::prepare(&self.dir, &plan)?;
        let fd = launch::overlay(self.store, &self.rec, &self.dir)?;
        Ok(Root::from_fd(fd))
    }

    /// Runs its command with strata's standard streams; returns the exit code.
    pub fn run(&self) -> Result<i32> {
        Ok(launch::start(
            self.store,
            &self.rec,
            &self.cfg,
            Mode::Attached,
        )?)
    }

    /// Its upper (writable) directory.
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// Its writable layer as a new layer of `txn`, times clamped to `epoch` when given.
    pub fn layer(&self, txn: &Txn, epoch: Option<i64>) -> Result<Ingested> {
        let upper = self.upper();
        if let Some(t) = epoch {
            clamp_times(&upper, t).map_err(io(
                format!("cannot clamp times in {}", upper.display()),
                &upper,
            ))?;
        }
        Ok(crate::container::changes::layer_from_upper(txn, &upper)?)
    }
}

impl Drop for BuildContainer<'_> {
    fn drop(&mut self) {
        let _ = self.store.remove_container(&self.rec.id);
    }
}

/// Sets every modification time in `dir` later than `epoch` to `epoch` (what
/// `SOURCE_DATE_EPOCH` asks of a layer). A whiteout that belongs to the mounter (the
/// helper, for an ordinary user) is made again, as this process may do, to take the time.
fn clamp_times(dir: &Path, epoch: i64) -> std::io::Result<()> {
    use rustix::fs::{AtFlags, FileType, Mode, Timespec, Timestamps, CWD};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let at = |t: i64, n: i64| Timespec {
        tv_sec: t,
        tv_nsec: n as _,
    };
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let m = entry.metadata()?;
        if m.is_dir() {
            clamp_times(&entry.path(), epoch)?;
        }
        if m.mtime() <= epoch && m.atime() <= epoch {
            continue;
        }
        let ts = Timestamps {
            last_access: at(epoch, 0),
            last_modification: at(
                epoch.min(m.mtime()),
                if m.mtime() > epoch { 0 } else { m.mtime_nsec() },
            ),
        };
        let path = entry.path();
        match rustix::fs::utimensat(CWD, &path, &ts, AtFlags::SYMLINK_NOFOLLOW) {
            Err(rustix::io::Errno::PERM) if m.file_type().is_char_device() && m.rdev() == 0 => {
                std::fs::remove_file(&path)?;
                rustix::fs::mknodat(CWD, &path, FileType::CharacterDevice, Mode::empty(), 0)?;
                rustix::fs::utimensat(CWD, &path, &ts, AtFlags::SYMLINK_NOFOLLOW)?;
            }
            r => r?,
        }
    }
    Ok(())
}
