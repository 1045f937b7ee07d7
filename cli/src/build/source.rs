//! Where `build` finds its Dockerfile: a file, the context directory, standard input, or
//! inside a context archive on standard input (plain or compressed).

use super::error::{io, BuildError, Result};
use crate::layer::decompress::{decompress, detect, Compression};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The Dockerfile's text and the name errors give it.
pub struct Source {
    /// The Dockerfile.
    pub text: String,
    /// Its name in messages.
    pub name: String,
    /// The context archive read from standard input (`CONTEXT` `-` with a tar).
    pub archive: Option<Vec<u8>>,
}

fn base_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// The `-f` file (or `Dockerfile`) out of a tar archive `data` (plain, gzip, bzip2, xz or
/// zstd), if `data` is one.
fn from_tar(data: &[u8], wanted: &str) -> Result<Option<String>> {
    let mut plain = Vec::new();
    let data = if detect(data) == Compression::None {
        data
    } else {
        let (_, mut reader) =
            decompress(data).map_err(io("cannot read the context archive", "-"))?;
        reader
            .read_to_end(&mut plain)
            .map_err(io("cannot decompress the context archive", "-"))?;
        &plain
    };
    let is_tar = data.len() > 262 && &data[257..262] == b"ustar";
    if !is_tar {
        return Ok(None);
    }
    let wanted = wanted.trim_start_matches("./");
    let mut archive = tar::Archive::new(data);
    for entry in archive
        .entries()
        .map_err(io("cannot read the context archive", "-"))?
    {
        let mut entry = entry.map_err(io("cannot read the context archive", "-"))?;
        let path = entry
            .path()
            .map_err(io("cannot read the context archive", "-"))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        if path == wanted {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(io(
                format!("cannot read {wanted} in the context archive"),
                wanted,
            ))?;
            return Ok(Some(text));
        }
    }
    Err(BuildError::NotInArchive {
        wanted: wanted.to_string(),
    })
}

fn read_stdin() -> Result<Vec<u8>> {
    let mut data = Vec::new();
    std::io::stdin()
        .read_to_end(&mut data)
        .map_err(io("cannot read standard input", "-"))?;
    Ok(data)
}

/// Finds and reads the Dockerfile as docker does: `-f -` and `CONTEXT=-` read standard
/// input; otherwise `-f FILE` (relative to the current directory) or `CONTEXT/Dockerfile`.
/// `check_context` is false for `--print-ast`, which needs no context directory.
pub fn read_dockerfile(file: Option<&str>, context: &str, check_context: bool) -> Result<Source> {
    match (file, context) {
        (Some("-"), "-") => Err(BuildError::StdinTwice),
        (Some("-"), _) => Ok(Source {
            text: String::from_utf8_lossy(&read_stdin()?).into_owned(),
            name: "Dockerfile".into(),
            archive: None,
        }),
        (file, "-") => {
            let data = read_stdin()?;
            let wanted = file.unwrap_or("Dockerfile");
            let (text, archive) = match from_tar(&data, wanted)? {
                Some(t) => (t, Some(data)),
                None => (String::from_utf8_lossy(&data).into_owned(), None),
            };
            Ok(Source {
                text,
                name: base_name(wanted),
                archive,
            })
        }
        (file, dir) => {
            if check_context && !Path::new(dir).is_dir() {
                return Err(BuildError::ContextNotFound {
                    path: dir.to_string(),
                });
            }
            let path = match file {
                Some(f) => PathBuf::from(f),
                None => Path::new(dir).join("Dockerfile"),
            };
            let bytes = std::fs::read(&path).map_err(io(
                format!("unable to read the dockerfile {}", path.display()),
                &path,
            ))?;
            Ok(Source {
                text: String::from_utf8_lossy(&bytes).into_owned(),
                name: base_name(&path.to_string_lossy()),
                archive: None,
            })
        }
    }
}
