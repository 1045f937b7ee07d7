//! Member names: cleaning them, and resolving links, without ever leaving the archive.

use super::ArchiveError;

/// The parts of a member name, or an error when it leaves the archive.
pub fn clean_name(name: &str) -> Result<Vec<&str>, ArchiveError> {
    if name.starts_with('/') {
        return Err(ArchiveError::invalid(format!(
            "member {name:?} has an absolute name"
        )));
    }
    let mut parts = Vec::new();
    for p in name.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                return Err(ArchiveError::invalid(format!(
                    "member {name:?} leaves the archive"
                )))
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(ArchiveError::invalid(format!(
            "member {name:?} has an empty name"
        )));
    }
    Ok(parts)
}

/// The member name a link points at, resolved inside the archive: symbolic link targets
/// are relative to the link's directory, hard link targets to the archive's root.
pub fn link_target(name: &str, target: &str, symbolic: bool) -> Result<String, ArchiveError> {
    let what = if symbolic { "symbolic" } else { "hard" };
    let leaves = || {
        ArchiveError::invalid(format!(
            "member {name:?} is a {what} link that leaves the archive ({target:?})"
        ))
    };
    if target.starts_with('/') {
        return Err(leaves());
    }
    let mut parts: Vec<&str> = Vec::new();
    if symbolic {
        parts = clean_name(name)?;
        parts.pop();
    }
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(leaves());
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(leaves());
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            clean_name("./blobs/sha256/x").unwrap(),
            ["blobs", "sha256", "x"]
        );
        assert!(clean_name("../x").is_err());
        assert!(clean_name("a/../../x").is_err());
        assert!(clean_name("/etc/passwd").is_err());
        assert!(clean_name("./").is_err());
        assert_eq!(
            link_target("a/layer.tar", "../b.tar", true).unwrap(),
            "b.tar"
        );
        assert_eq!(
            link_target("a/layer.tar", "a/b.tar", false).unwrap(),
            "a/b.tar"
        );
        assert!(link_target("a/layer.tar", "../../b.tar", true).is_err());
        assert!(link_target("x", "/etc/passwd", true).is_err());
        assert!(link_target("x", "../y", false).is_err());
    }
}
