//! What can go wrong in a build: each failure as a variant carrying what failed (the
//! path, the URL, the step), its message docker's or strata's own line.

use crate::container::changes::UpperLayerError;
use crate::container::launch::LaunchError;
use crate::container::plan::UserError;
use crate::dockerfile::ParseError;
use crate::image::platform::InvalidPlatform;
use crate::image::writer::WriteError;
use crate::registry::pull::ImageForRunError;
use std::io;
use std::path::PathBuf;
use store_layout::{Digest, StoreError};

/// A failed build (or a failed step of one).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A file or directory could not be read or written; `what` is the whole message
    /// (it names `path`).
    #[error("{what}")]
    Io {
        /// The message: what was done, to which path.
        what: String,
        /// The path (or context item) it was done to.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The Dockerfile is wrong (found while building: targets, bases, expansion).
    #[error(transparent)]
    Dockerfile(#[from] ParseError),
    /// A step failed; the message starts with its place in the Dockerfile.
    #[error("{file}:{line}")]
    Step {
        /// The Dockerfile's name.
        file: String,
        /// The step's line.
        line: usize,
        /// What failed.
        source: Box<BuildError>,
    },
    /// `FROM --platform` names a platform that cannot be expanded or parsed.
    #[error(transparent)]
    Platform(#[from] InvalidPlatform),
    /// `FROM --platform` names another machine's platform.
    #[error("{file}:{line}: FROM --platform={platform}: strata builds for this machine's platform only ({os}/{arch})")]
    ForeignPlatform {
        /// The Dockerfile's name.
        file: String,
        /// The FROM's line.
        line: usize,
        /// The platform asked for.
        platform: String,
        /// This machine's OS.
        os: String,
        /// This machine's architecture.
        arch: String,
    },
    /// A FROM among a stage's steps (an ONBUILD FROM).
    #[error("{file}:{line}: FROM inside a stage")]
    FromInStage {
        /// The Dockerfile's name.
        file: String,
        /// The step's line.
        line: usize,
    },
    /// The build container could not be set up or run.
    #[error(transparent)]
    Runtime(#[from] LaunchError),
    /// The build container's config could not be recorded.
    #[error(transparent)]
    ContainerConfig(#[from] serde_json::Error),
    /// The step's layer could not be made from the container's upper directory.
    #[error(transparent)]
    Layer(#[from] UpperLayerError),
    /// The step's image could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A base image could not be found or pulled.
    #[error(transparent)]
    Pull(#[from] ImageForRunError),
    /// A RUN command exited with a non-zero code.
    #[error("The command '{command}' returned a non-zero code: {code}")]
    RunFailed {
        /// The command as docker shows it.
        command: String,
        /// Its exit code.
        code: i32,
    },
    /// A stage's build thread panicked.
    #[error("a stage's build panicked")]
    Panicked,
    /// The build made no image.
    #[error("No image was generated. Is your Dockerfile empty?")]
    NoImage,
    /// An image the build needs is not in the store.
    #[error("No such image: {id}")]
    NoSuchImage {
        /// Its ID.
        id: Digest,
    },
    /// A stored image's config does not parse.
    #[error("image {id}: invalid config: {error}")]
    InvalidConfig {
        /// The image's short ID.
        id: String,
        /// Why it does not parse.
        error: serde_json::Error,
    },
    /// An `EXPOSE` port that is not a port.
    #[error("invalid containerPort: {spec}")]
    Port {
        /// The port as written.
        spec: String,
    },
    /// An `EXPOSE` range whose end is below its start.
    #[error("invalid range specified for container port: {spec}")]
    PortRange {
        /// The range as written.
        spec: String,
    },
    /// An `ADD` URL could not be fetched.
    #[error("ADD {url}: cannot download: {error}")]
    Download {
        /// The URL.
        url: String,
        /// Why.
        error: Box<ureq::Error>,
    },
    /// An `ADD` URL's body could not be read.
    #[error("ADD {url}: cannot download")]
    DownloadBody {
        /// The URL.
        url: String,
        /// Why.
        source: io::Error,
    },
    /// An `ADD --checksum` that does not match the download.
    #[error("ADD {url}: checksum mismatch: expected {expected}, got {got}")]
    Checksum {
        /// The URL.
        url: String,
        /// The checksum given.
        expected: String,
        /// The download's checksum.
        got: String,
    },
    /// An `ADD` of a git or other remote source.
    #[error("ADD {src}: git and other remote sources are not supported by strata's builder yet")]
    RemoteSource {
        /// The source as written.
        src: String,
    },
    /// An `ADD` of URLs and local files together.
    #[error("ADD: URLs and local files in one ADD are not supported by strata's builder yet")]
    MixedAdd,
    /// A COPY/ADD source that is not in the context (or is excluded).
    #[error("{what} failed: file not found in build context or excluded by .dockerignore: stat {path}: file does not exist")]
    CopySource {
        /// `COPY` or `ADD`.
        what: &'static str,
        /// The source as written.
        path: String,
    },
    /// Several COPY/ADD sources to a destination that is not a directory.
    #[error("When using {what} with more than one source file, the destination must be a directory and end with a /")]
    NotADirectory {
        /// `COPY` or `ADD`.
        what: &'static str,
    },
    /// A `--chmod` that is not an octal mode.
    #[error("invalid chmod parameter: {value}")]
    Chmod {
        /// The value given.
        value: String,
    },
    /// A `--chown` user or group the image does not know.
    #[error("unable to convert uid/gid chown string to host mapping: {error}")]
    Chown {
        /// Why.
        error: UserError,
    },
    /// A `--secret` that is not `id=ID,src=FILE`.
    #[error("invalid secret spec {spec:?}: use id=ID,src=FILE")]
    SecretSpec {
        /// The spec given.
        spec: String,
    },
    /// A `--secret` without an id.
    #[error("invalid secret spec {spec:?}: no id")]
    SecretNoId {
        /// The spec given.
        spec: String,
    },
    /// A required secret mount whose secret was not given.
    #[error("secret {id} not found: give it with --secret id={id},src=FILE")]
    SecretNotFound {
        /// The secret's id.
        id: String,
    },
    /// A `--ssh` that is not `default|ID[=SOCKET]`.
    #[error("invalid ssh spec {spec:?}: use default|ID[=SOCKET]")]
    SshSpec {
        /// The spec given.
        spec: String,
    },
    /// A `--ssh ID` without a socket while `SSH_AUTH_SOCK` is not set.
    #[error("--ssh {id}: no socket given and SSH_AUTH_SOCK is not set")]
    SshNoAgent {
        /// The id.
        id: String,
    },
    /// A `--ssh ID=PATH` whose path is not a socket (key files are not supported).
    #[error("--ssh {id}: {path} is not an SSH agent socket")]
    SshNotASocket {
        /// The id.
        id: String,
        /// The path given.
        path: PathBuf,
    },
    /// A required ssh mount whose agent was not given.
    #[error("no SSH agent {id:?} forwarded: give it with --ssh {id}[=SOCKET]")]
    SshNotFound {
        /// The ssh id.
        id: String,
    },
    /// A mount's `from=` names a stage index that does not exist.
    #[error("RUN --mount from={name}: no such stage")]
    MountFrom {
        /// The name as written.
        name: String,
    },
    /// `-f -` with the context on standard input too.
    #[error("invalid argument: can't use stdin for both build context and dockerfile")]
    StdinTwice,
    /// The context directory does not exist.
    #[error("unable to prepare context: path {path:?} not found")]
    ContextNotFound {
        /// The directory as given.
        path: String,
    },
    /// The context archive on standard input has no Dockerfile.
    #[error("cannot find {wanted} in the context archive")]
    NotInArchive {
        /// The Dockerfile's name in the archive.
        wanted: String,
    },
    /// A step would make an image with more layers than can run.
    #[error(transparent)]
    TooManyLayers(#[from] crate::ingest::TooManyLayers),
}

/// Result of the builder.
pub type Result<T, E = BuildError> = std::result::Result<T, E>;

/// Turns an I/O error into [`BuildError::Io`] with `what` (the message) and `path`.
pub fn io(
    what: impl Into<String>,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> BuildError {
    move |source| BuildError::Io {
        what: what.into(),
        path: path.into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_failed_reads_as_docker_and_a_step_names_its_place() {
        let e = BuildError::RunFailed {
            command: "/bin/sh -c exit 3".into(),
            code: 3,
        };
        assert_eq!(
            e.to_string(),
            "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
        );
        let e = BuildError::Step {
            file: "Dockerfile".into(),
            line: 4,
            source: Box::new(BuildError::Port { spec: "x".into() }),
        };
        let cause = std::error::Error::source(&e).expect("a cause");
        assert_eq!(
            format!("{e}: {cause}"),
            "Dockerfile:4: invalid containerPort: x"
        );
    }
}
