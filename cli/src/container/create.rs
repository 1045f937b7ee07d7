//! Creating a container record: under the store lock, with a name no other container
//! has (a random name that collides gets a numeric suffix), and the image's config kept
//! beside it.

use store_layout::{ContainerRecord, Store, StoreError};

/// Why a container record was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The image went away before the record was made.
    #[error("No such image: {0}")]
    NoImage(String),
    /// Another container has the name.
    #[error(
        "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". \
         You have to remove (or rename) that container to be able to reuse that name."
    )]
    NameInUse {
        /// The name asked for.
        name: String,
        /// The container that has it.
        id: String,
    },
    /// A hundred random names with suffixes were all taken.
    #[error("cannot find a free container name")]
    NoFreeName,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The image's config could not be written beside the record.
    #[error("{path}: {source}")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// Creates `rec` (and its directories) under the store lock. A name the user chose
/// (`named`) that is in use is refused; a random one gets a numeric suffix.
pub fn create_record(
    store: &Store,
    rec: &mut ContainerRecord,
    named: bool,
    config_bytes: &[u8],
) -> Result<(), CreateError> {
    let base = rec.name.clone();
    for attempt in 0..100 {
        if attempt > 0 {
            rec.name = format!("{base}{attempt}");
        }
        let r = store.create_container(rec, |db, existing| {
            if !db.images().contains_key(&rec.image) {
                return Err(CreateError::NoImage(rec.image_name.clone()));
            }
            if let Some(c) = existing.iter().find(|c| c.name == rec.name) {
                return Err(CreateError::NameInUse {
                    name: rec.name.clone(),
                    id: c.id.clone(),
                });
            }
            Ok(())
        })?;
        match r {
            Ok(dir) => {
                let path = dir.join("image-config.json");
                return std::fs::write(&path, config_bytes)
                    .map_err(|source| CreateError::Write { path, source });
            }
            Err(CreateError::NameInUse { .. }) if !named => continue,
            Err(e) => return Err(e),
        }
    }
    Err(CreateError::NoFreeName)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_in_use_is_dockers_conflict() {
        let e = CreateError::NameInUse {
            name: "web".into(),
            id: "abc".into(),
        };
        assert_eq!(
            e.to_string(),
            "Conflict. The container name \"/web\" is already in use by container \"abc\". \
             You have to remove (or rename) that container to be able to reuse that name."
        );
        assert_eq!(
            CreateError::NoImage("bb".into()).to_string(),
            "No such image: bb"
        );
    }
}
