//! The documents a registry serves, named where `push` and `commands::pull` look for
//! them: the types are in `image::document`, media types in `image::media_type`,
//! platforms and choosing one in `image::platform`.

pub use crate::image::document::{Descriptor, Document};
pub use crate::image::media_type::OCI_MANIFEST;
pub use crate::image::platform::Platform;
