//! From names to the paths `local_path` gives out.

use std::path::{Path, PathBuf};

use storages_core::Name;

pub use storages_core::naming::{TEMP_PREFIX, is_temp};

/// The path of `name` under `root`, joined as text: what `local_path` hands to callers (a file server, a
/// hand-off to nginx). The storage itself never uses it: it resolves names beneath the root's handle
/// (`root.rs`), so a symbolic link cannot take it outside.
pub fn path_of(root: &Path, name: &Name) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(name.segments());
    path
}
