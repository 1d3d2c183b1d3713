//! What a storage knows about a stored file.

use std::time::SystemTime;

use crate::{Md5, Name};

/// A stored file's name and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// The file's name.
    pub name: Name,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, where the medium records it.
    pub modified: Option<SystemTime>,
    /// A validator that changes whenever the content changes (quoted, as in HTTP).
    pub etag: Option<String>,
    /// Its content type, where the medium records or implies one.
    pub content_type: Option<String>,
    /// Its `Cache-Control`, where the medium keeps one with the file (S3 objects, memory).
    pub cache_control: Option<String>,
    /// The MD5 of its content, where the backend knows it without reading the content: a single-part S3 object's
    /// ETag, the record S3 writes keep in object metadata (read by `stat` and `get`, which a listing does not
    /// return), what the memory backend computed when storing it. `None` means unknown, never "different": read
    /// the content to find out (file systems keep no hash, so theirs is always `None`).
    pub content_md5: Option<Md5>,
}
