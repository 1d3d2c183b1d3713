//! Names to object keys under the storage's prefix, and keys back to names.

use object_store::path::Path;
use storages_core::Name;

use crate::storage::S3Storage;

impl S3Storage {
    /// The object key of `name` (a validated name, or a hidden one of ours such as a probe).
    pub(crate) fn key(&self, name: &str) -> Path {
        let prefix = &self.config().prefix;
        let key = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}/{name}")
        };
        // Names and the prefix are validated `Name`s, which object_store's path rules accept as they are.
        Path::parse(&key).unwrap_or_else(|_| Path::from(key.as_str()))
    }

    /// The key prefix a listing of `prefix` (`None`: the whole storage) asks for.
    pub(crate) fn prefix_path(&self, prefix: Option<&Name>) -> Option<Path> {
        let own = &self.config().prefix;
        match (own.is_empty(), prefix) {
            (true, None) => None,
            (false, None) => Path::parse(own).ok(),
            (_, Some(p)) => Some(self.key(p.as_str())),
        }
    }

    /// The name of an object key under the prefix, or `None` for keys that are not valid names or are hidden.
    pub(crate) fn name_of(&self, location: &Path) -> Option<Name> {
        let key = location.as_ref();
        let prefix = self.config().prefix.as_str();
        let rest = if prefix.is_empty() {
            key
        } else {
            key.strip_prefix(prefix)?.strip_prefix('/')?
        };
        // Temporary objects and probes are not names: refused here, so hidden.
        Name::with_max_len(rest, usize::MAX).ok()
    }
}
