//! Layer archives: detecting compression and unpacking tar streams safely.

pub mod decompress;
pub mod readahead;
pub mod unpack;

mod sys;
