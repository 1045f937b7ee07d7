//! `--ssh default|ID[=SOCKET]`: SSH agent sockets a RUN may use through
//! `--mount=type=ssh[,id=ID][,target=PATH]`, as BuildKit forwards them. The socket is
//! bound into the build container (at `/run/buildkit/ssh_agent.N` unless a target is
//! given, `SSH_AUTH_SOCK` naming it), never into a layer. `default` without a socket is
//! the agent of `SSH_AUTH_SOCK`.

use super::error::{BuildError, Result};
use std::collections::BTreeMap;
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;

/// The agent sockets given with `--ssh`, by id.
#[derive(Debug, Clone, Default)]
pub struct SshAgents(BTreeMap<String, PathBuf>);

impl SshAgents {
    /// Reads the `--ssh` specs; each socket must be there and be a socket.
    pub fn parse(specs: &[String]) -> Result<SshAgents> {
        let mut map = BTreeMap::new();
        for spec in specs {
            let (id, path) = match spec.split_once('=') {
                Some((id, p)) => (id.to_string(), PathBuf::from(p)),
                None => {
                    let sock = std::env::var_os("SSH_AUTH_SOCK")
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| BuildError::SshNoAgent { id: spec.clone() })?;
                    (spec.clone(), PathBuf::from(sock))
                }
            };
            if id.is_empty() || path.as_os_str().is_empty() || path.to_string_lossy().contains(',')
            {
                return Err(BuildError::SshSpec { spec: spec.clone() });
            }
            let is_socket = std::fs::metadata(&path).is_ok_and(|m| m.file_type().is_socket());
            if !is_socket {
                return Err(BuildError::SshNotASocket { id, path });
            }
            map.insert(id, path);
        }
        Ok(SshAgents(map))
    }

    /// The socket given for `id`.
    pub fn get(&self, id: &str) -> Option<&PathBuf> {
        self.0.get(id)
    }
}
