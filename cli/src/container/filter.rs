//! `ps -f KEY=VALUE`: which containers a filter keeps.

use store_layout::{ContainerRecord, ContainerState, ContainerStatus, Db};

/// The filters `ps -f` knows.
pub const FILTERS: &[&str] = &["status", "name", "id", "exited", "ancestor", "label"];

/// Whether container `c` passes the filter `key=value` (docker's `ps -f`).
pub fn matches(db: &Db, c: &ContainerRecord, st: &ContainerState, key: &str, value: &str) -> bool {
    match key {
        "status" => st.status.as_str() == value,
        "name" => c.name.contains(value.trim_start_matches('/')),
        "id" => c.id.starts_with(value),
        "exited" => {
            st.status == ContainerStatus::Exited
                && st.exit_code.map(|e| e.to_string()).as_deref() == Some(value)
        }
        "ancestor" => {
            c.image_name == value
                || c.image
                    .as_str()
                    .trim_start_matches("sha256:")
                    .starts_with(value.trim_start_matches("sha256:"))
                || crate::resolve::resolve(db, value).is_ok_and(|(id, _)| id == c.image)
        }
        "label" => {
            let labels = c.config.get("labels");
            let (k, v) = value
                .split_once('=')
                .map_or((value, None), |(k, v)| (k, Some(v)));
            match (labels.and_then(|l| l.get(k)), v) {
                (Some(_), None) => true,
                (Some(have), Some(want)) => have.as_str() == Some(want),
                (None, _) => false,
            }
        }
        _ => false,
    }
}
