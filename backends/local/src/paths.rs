//! From names to paths and from file attributes to metadata.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use storages_core::{Metadata, Name};

pub use storages_core::naming::{TEMP_PREFIX, is_temp};

/// The path of `name` under `root`. Names are validated, so this never leaves the root.
pub fn path_of(root: &Path, name: &Name) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(name.segments());
    path
}

/// Metadata from a file's attributes: the ETag changes with the inode (a replaced file), the modification time
/// and the size.
pub fn metadata_of(name: Name, stat: &fs::Metadata) -> Metadata {
    let modified = stat.modified().ok();
    let nanos = modified
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Metadata {
        etag: Some(format!("\"{:x}-{nanos:x}-{:x}\"", stat.ino(), stat.size())),
        content_type: Some(storages_core::guess_content_type(&name)),
        size: stat.size(),
        modified: modified
            .or_else(|| Some(UNIX_EPOCH + Duration::from_secs(stat.mtime().max(0) as u64))),
        name,
    }
}
