//! Which images `images` lists: docker's `-f/--filter` (`dangling`, `reference` globs,
//! `label`, `before`, `since`) and the `REPOSITORY[:TAG]` argument.

use crate::output::{parse_filters, parse_rfc3339};
use crate::reference::{Reference, ReferenceError};
use crate::resolve::{resolve, ResolveError};
use store_layout::{Db, ImageRecord};

/// Why a filter cannot be used; `Display` is docker's line.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// A filter that is not `name=value`.
    #[error("{0}")]
    Syntax(String),
    /// `dangling=` with neither true nor false.
    #[error("invalid filter 'dangling={0}'")]
    Dangling(String),
    /// A filter name `images` does not know.
    #[error("invalid filter '{0}'")]
    Unknown(String),
    /// `before=`/`since=` naming no image.
    #[error(transparent)]
    Image(#[from] ResolveError),
    /// A `REPOSITORY[:TAG]` argument that is not a reference.
    #[error(transparent)]
    Repository(#[from] ReferenceError),
}

/// The filters of one `images` run.
#[derive(Debug, Default)]
pub struct ImageFilter {
    dangling: Option<bool>,
    references: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    before: Option<i64>,
    since: Option<i64>,
    repository: Option<Reference>,
}

/// When an image was created (its config's `created`, else when it was stored), in
/// seconds since the epoch.
pub fn created_of(img: &ImageRecord) -> i64 {
    img.created
        .as_deref()
        .and_then(parse_rfc3339)
        .unwrap_or(img.added)
}

impl ImageFilter {
    /// The filters `-f` gives (`raw`, as typed) and the `REPOSITORY[:TAG]` argument;
    /// `before`/`since` name images of `db`.
    pub fn new(
        db: &Db,
        raw: &[String],
        repository: Option<&str>,
    ) -> Result<ImageFilter, FilterError> {
        let mut f = ImageFilter::default();
        for (k, v) in parse_filters(raw).map_err(FilterError::Syntax)? {
            match k.as_str() {
                "dangling" => {
                    f.dangling = Some(match v.to_ascii_lowercase().as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(FilterError::Dangling(v)),
                    })
                }
                "reference" => f.references.push(v),
                "label" => {
                    let (k, val) = match v.split_once('=') {
                        Some((k, val)) => (k.to_string(), Some(val.to_string())),
                        None => (v.clone(), None),
                    };
                    f.labels.push((k, val));
                }
                "before" | "since" => {
                    let (id, _) = resolve(db, &v)?;
                    let t = created_of(&db.images()[&id]);
                    if k == "before" {
                        f.before = Some(t);
                    } else {
                        f.since = Some(t);
                    }
                }
                _ => return Err(FilterError::Unknown(k)),
            }
        }
        match repository {
            // A pattern (`repo/*`) filters as `reference=` does, as with docker.
            Some(p) if p.contains(['*', '?']) => f.references.push(p.to_string()),
            r => f.repository = r.map(Reference::parse).transpose()?,
        }
        Ok(f)
    }

    /// Whether an image (`dangling` when untagged) passes the `dangling`, `before`,
    /// `since` and `label` filters.
    pub fn keeps_image(&self, img: &ImageRecord, dangling: bool) -> bool {
        if self.dangling.is_some_and(|d| d != dangling) {
            return false;
        }
        let t = created_of(img);
        if self.before.is_some_and(|b| t >= b) || self.since.is_some_and(|s| t <= s) {
            return false;
        }
        self.labels
            .iter()
            .all(|(k, v)| match (img.labels.get(k), v) {
                (Some(_), None) => true,
                (Some(have), Some(want)) => have == want,
                (None, _) => false,
            })
    }

    /// Whether a row named `repo` (familiar, `<none>` when untagged) and `tag` passes
    /// the `reference` filters and the `REPOSITORY[:TAG]` argument (when either is
    /// given, untagged rows do not).
    pub fn keeps_name(&self, repo: &str, tag: &str) -> bool {
        if self.references.is_empty() && self.repository.is_none() {
            return true;
        }
        if repo == "<none>" {
            return false;
        }
        let with_tag = format!("{repo}:{tag}");
        if !self.references.is_empty()
            && !self
                .references
                .iter()
                .any(|p| glob(p, repo) || glob(p, &with_tag))
        {
            return false;
        }
        self.repository
            .as_ref()
            .is_none_or(|rf| rf.familiar_name() == repo && rf.tag().is_none_or(|t| t == tag))
    }
}

/// Shell-style glob match (`*`, `?`), as Go's path.Match does for references.
pub fn glob(pat: &str, s: &str) -> bool {
    fn m(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).any(|i| !s[..i].contains(&b'/') && m(&p[1..], &s[i..])),
            Some(b'?') => !s.is_empty() && s[0] != b'/' && m(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && m(&p[1..], &s[1..]),
        }
    }
    m(pat.as_bytes(), s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_like_path_match() {
        assert!(glob("demo/*", "demo/app"));
        assert!(!glob("demo/*", "demo/a/b"));
        assert!(glob("busy*", "busybox"));
        assert!(glob("*:1.?", "app:1.0"));
        assert!(!glob("app", "app2"));
    }
}
