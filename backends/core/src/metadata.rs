//! What a storage knows about a stored file.

use std::time::SystemTime;

use crate::Name;

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
}
