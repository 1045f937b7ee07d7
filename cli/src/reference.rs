//! Image references, parsed and normalised as docker does.
//!
//! `centos:6.7` is `docker.io/library/centos:6.7`; `latest` is the default tag.
