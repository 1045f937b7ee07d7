//! Container records: one directory per container under `ROOT/containers/ID/`.
//!
//! ```text
//! containers/ID/container.json   the record: name, image, layers, run config (written once)
//! containers/ID/state.json       status, pid, exit code (replaced atomically, not fsynced)
//! containers/ID/upper, work      the overlay's writable layer and work directory
//! ```
//!
//! Containers live beside the image database rather than in it: state changes on every
//! start and exit, and must not rewrite (or fsync) the whole database. Creating and
//! removing a container happen under the store lock, and garbage collection counts the
//! layers that containers use, so an image's layers outlive the image while a container
//! still runs on them.

use crate::atomic::unique_name;
use crate::error::IoContext;
use crate::{Digest, Result, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::ErrorKind;
use std::path::PathBuf;

/// A container, as created.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// 64 lower-case hex digits.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// The image's ID.
    pub image: Digest,
    /// The image as the user named it.
    pub image_name: String,
    /// Chain IDs of the image's layers, bottom first.
    pub layers: Vec<Digest>,
    /// RFC 3339 creation time.
    pub created: String,
    /// The run configuration, as the CLI keeps it.
    pub config: serde_json::Value,
}

/// Where a container is in its life, stored as docker names it (`created`, `running`,
/// `exited`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    /// Made but never started.
    #[default]
    Created,
    /// Its watcher runs.
    Running,
    /// It ran and ended.
    Exited,
}

impl ContainerStatus {
    /// The name docker gives the status (`State` in `ps`).
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Exited => "exited",
        }
    }
}

impl std::fmt::Display for ContainerStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a container is doing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    /// Created, running or exited.
    pub status: ContainerStatus,
    /// Host pid of the process that watches the container, while running.
    #[serde(default)]
    pub pid: Option<i32>,
    /// That process's start time (field 22 of /proc/PID/stat), to tell a reused pid.
    #[serde(default)]
    pub pid_start: Option<u64>,
    /// RFC 3339 time of the last start.
    #[serde(default)]
    pub started_at: Option<String>,
    /// RFC 3339 time of the last exit.
    #[serde(default)]
    pub finished_at: Option<String>,
    /// The last exit code.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Host pid of the container's first process, while running (for `exec`, `kill`,
    /// `cp`, `top`); absent in records written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_pid: Option<i32>,
    /// That process's start time, to tell a reused pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_start: Option<u64>,
}

/// Whether `id` is a well-formed container ID (so that it can become a path).
pub fn valid_container_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Store {
    fn containers_root(&self) -> PathBuf {
        self.root().join("containers")
    }

    /// The directory of a container (whether or not it exists).
    pub fn container_dir(&self, id: &str) -> Result<PathBuf> {
        if !valid_container_id(id) {
            return Err(StoreError::NotFound(format!("container {id:?}")));
        }
        Ok(self.containers_root().join(id))
    }

    /// Every container record, sorted by creation time, newest first.
    pub fn containers(&self) -> Result<Vec<ContainerRecord>> {
        let root = self.containers_root();
        let entries = match fs::read_dir(&root) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).at(root),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e.at(&root)?;
            let name = e.file_name();
            let Some(id) = name.to_str().filter(|n| valid_container_id(n)) else {
                continue;
            };
            let path = root.join(id).join("container.json");
            match fs::read(&path) {
                Ok(data) => out.push(
                    serde_json::from_slice(&data)
                        .map_err(|source| StoreError::Corrupt { path, source })?,
                ),
                // A directory without a record is a creation that did not finish.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e).at(path),
            }
        }
        out.sort_by(|a: &ContainerRecord, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Creates a container under the store lock: `check` sees the database and the
    /// existing containers first (image present, name free) and may refuse. Returns the
    /// container's directory, with empty `upper` and `work` directories in it.
    pub fn create_container<E>(
        &self,
        record: &ContainerRecord,
        check: impl FnOnce(&crate::Db, &[ContainerRecord]) -> std::result::Result<(), E>,
    ) -> Result<std::result::Result<PathBuf, E>> {
        let _lock = self.lock()?;
        let db = self.db()?;
        let existing = self.containers()?;
        if let Err(e) = check(&db, &existing) {
            return Ok(Err(e));
        }
        let root = self.containers_root();
        fs::create_dir_all(&root).at(&root)?;
        let dir = self.container_dir(&record.id)?;
        fs::create_dir(&dir).at(&dir)?;
        for d in ["upper", "work"] {
            let p = dir.join(d);
            fs::create_dir(&p).at(&p)?;
        }
        let data = serde_json::to_vec_pretty(record).expect("record serialises");
        // Written last: a directory without it is not a container.
        write_quick(&dir.join("container.json"), &data)?;
        Ok(Ok(dir))
    }

    /// Reads a container's state (`created` when it never started).
    pub fn container_state(&self, id: &str) -> Result<ContainerState> {
        let path = self.container_dir(id)?.join("state.json");
        match fs::read(&path) {
            Ok(data) => {
                serde_json::from_slice(&data).map_err(|source| StoreError::Corrupt { path, source })
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(ContainerState::default()),
            Err(e) => Err(e).at(path),
        }
    }

    /// Replaces a container's state atomically (rename, without fsync: state is
    /// rebuilt from the pid after a crash).
    pub fn set_container_state(&self, id: &str, state: &ContainerState) -> Result<()> {
        let path = self.container_dir(id)?.join("state.json");
        write_quick(&path, &serde_json::to_vec(state).expect("state serialises"))
    }

    /// Renames a container under the store lock; `check` sees the existing containers
    /// first (the new name free) and may refuse.
    pub fn rename_container<E>(
        &self,
        id: &str,
        name: &str,
        check: impl FnOnce(&[ContainerRecord]) -> std::result::Result<(), E>,
    ) -> Result<std::result::Result<(), E>> {
        let _lock = self.lock()?;
        let all = self.containers()?;
        if let Err(e) = check(&all) {
            return Ok(Err(e));
        }
        let Some(mut rec) = all.into_iter().find(|c| c.id == id) else {
            return Err(StoreError::NotFound(format!("container {id}")));
        };
        rec.name = name.to_string();
        let data = serde_json::to_vec_pretty(&rec).expect("record serialises");
        write_quick(&self.container_dir(id)?.join("container.json"), &data)?;
        Ok(Ok(()))
    }

    /// Removes a container under the store lock, then any layers that only it used
    /// (an image removed with `rmi -f` while the container existed).
    pub fn remove_container(&self, id: &str) -> Result<()> {
        let dir = self.container_dir(id)?;
        let trash = self.root().join("tmp").join(unique_name("trash"));
        self.update(|_| {
            fs::rename(&dir, &trash).at(&dir)?;
            Ok(())
        })?;
        crate::staging::remove_tree(&trash).at(&trash)
    }

    /// Chain IDs of layers that containers use.
    pub(crate) fn container_layers(&self) -> Result<Vec<Digest>> {
        Ok(self
            .containers()?
            .into_iter()
            .flat_map(|c| c.layers)
            .collect())
    }
}

fn write_quick(path: &std::path::Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let tmp = dir.join(unique_name(".tmp"));
    fs::write(&tmp, data).at(&tmp)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        StoreError::Io {
            path: path.to_path_buf(),
            source: e,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_reads_and_writes_as_before() {
        let old = r#"{"status":"running","pid":7,"pid_start":9,"started_at":"t","finished_at":null,"exit_code":null}"#;
        let st: ContainerState = serde_json::from_str(old).unwrap();
        assert_eq!(st.status, ContainerStatus::Running);
        assert_eq!(serde_json::to_string(&st).unwrap(), old);
        for (s, v) in [
            ("created", ContainerStatus::Created),
            ("running", ContainerStatus::Running),
            ("exited", ContainerStatus::Exited),
        ] {
            let st: ContainerState =
                serde_json::from_str(&format!(r#"{{"status":"{s}"}}"#)).unwrap();
            assert_eq!(st.status, v);
            assert_eq!(v.to_string(), s);
        }
        assert!(serde_json::from_str::<ContainerState>(r#"{"status":"paused"}"#).is_err());
        let st = ContainerState {
            init_pid: Some(8),
            init_start: Some(10),
            ..Default::default()
        };
        let text = serde_json::to_string(&st).unwrap();
        assert!(text.ends_with(r#""init_pid":8,"init_start":10}"#));
        assert_eq!(serde_json::from_str::<ContainerState>(&text).unwrap(), st);
    }
}
