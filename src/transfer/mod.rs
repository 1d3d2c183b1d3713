//! Making a target hold a set of files: the one engine behind collectstatic and `sync`.
//!
//! A run lists the target once, decides for every file whether the target already holds its content
//! (`plan`: size first, then content MD5s, read only where no hash is known), copies what differs `jobs` at a time,
//! streaming each file (`apply`), can read the copies back to check them (`verify`) and removes what the caller
//! says is stale. Modification times never decide. Progress goes through the [`Progress`] trait, which the command
//! line implements with a bar: nothing here touches a terminal.

mod apply;
mod plan;
mod progress;
mod verify;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt;
use storages_core::{Md5, Metadata, Name, Storage};

pub(crate) use self::apply::{Budget, delete, upload};
pub(crate) use self::plan::decide;
pub use self::progress::{NoProgress, Progress, Stage};
pub use self::verify::Mismatch;
pub(crate) use self::verify::verify;

/// Asked before anything is deleted, with the number of files to delete: `true` goes ahead.
pub type Confirm = Arc<dyn Fn(usize) -> bool + Send + Sync>;

/// Where a file's bytes come from.
#[derive(Clone)]
// Files and bytes are collectstatic's.
#[cfg_attr(not(feature = "collect"), allow(dead_code))]
pub(crate) enum Body {
    /// A file on this machine, streamed when copied.
    File(PathBuf),
    /// Bytes made in memory (collectstatic's rewritten CSS/JS, compressed siblings, manifest).
    Bytes(Bytes),
    /// The file of the same name in another storage, streamed from it.
    Stored(Arc<dyn Storage>),
    /// The same bytes as this file, already in the target (stored before this item is copied): copied within the
    /// target ([`Storage::copy_within`]: a hard link on a filesystem), never sent again. The item's MD5 must be set.
    Copy(Name),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Bytes(bytes) => write!(f, "Bytes({})", bytes.len()),
            Self::Stored(storage) => write!(f, "Stored({})", storage.backend()),
            Self::Copy(name) => f.debug_tuple("Copy").field(name).finish(),
        }
    }
}

/// One file the target should hold.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// Its name in the target.
    pub name: Name,
    /// Where its bytes come from.
    pub body: Body,
    /// Its size, as listed or read.
    pub size: u64,
    /// The MD5 of its content when known; filled in when it has to be read to decide, or is hashed while copied.
    pub md5: Option<Md5>,
    /// The `Content-Type` to store (`None`: the source storage's, else the target guesses from the name).
    pub content_type: Option<String>,
    /// The `Cache-Control` to store (`None`: the source storage's, else the target's setting).
    pub cache_control: Option<String>,
    /// The name carries the content's hash (a hashed copy), so a stored file of that name and size holds this
    /// content even where no hash of it is known.
    pub content_addressed: bool,
}

impl Item {
    /// A file with nothing known but its name, body and size.
    pub fn new(name: Name, body: Body, size: u64) -> Self {
        Self {
            name,
            body,
            size,
            md5: None,
            content_type: None,
            cache_control: None,
            content_addressed: false,
        }
    }
}

/// What the engine plans and copies: an [`Item`], with whatever else the caller keeps beside it.
pub(crate) trait Planned: Send {
    fn item(&self) -> &Item;
    fn item_mut(&mut self) -> &mut Item;
}

impl Planned for Item {
    fn item(&self) -> &Item {
        self
    }

    fn item_mut(&mut self) -> &mut Item {
        self
    }
}

/// One listing of `storage` under `prefix` (everything when `None`), by name.
pub(crate) async fn listing(
    storage: &dyn Storage,
    prefix: Option<&Name>,
) -> storages_core::Result<HashMap<String, Metadata>> {
    storage
        .list(prefix)
        .map_ok(|m| (m.name.to_string(), m))
        .try_collect()
        .await
}

/// Uploads (and stored-file checks) in flight by default: many for a remote storage (object storage), where each
/// request waits on the network; twice the cores for file systems.
pub fn default_jobs(target: &dyn Storage) -> usize {
    if target.capabilities().remote {
        32
    } else {
        2 * cores()
    }
}

/// The jobs a run uses: `jobs` when given, else [`default_jobs`] for `target`; `None` for zero, which would do
/// nothing forever.
pub(crate) fn jobs_for(jobs: Option<usize>, target: &dyn Storage) -> Option<usize> {
    match jobs {
        Some(0) => None,
        Some(jobs) => Some(jobs),
        None => Some(default_jobs(target)),
    }
}

/// What a run reports progress to: the caller's, or nothing.
pub(crate) fn reporter(progress: Option<&Arc<dyn Progress>>) -> &dyn Progress {
    match progress {
        Some(progress) => &**progress,
        None => &NoProgress,
    }
}

/// The cores this process may use.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// The error for a blocking task reading `what` that panicked or was cancelled.
pub(crate) fn join_error(what: &str, e: tokio::task::JoinError) -> storages_core::Error {
    storages_core::Error::io("read", what, std::io::Error::other(e))
}
