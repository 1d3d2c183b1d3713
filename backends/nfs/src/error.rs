//! Why a root is refused as a share.

use std::io;
use std::path::PathBuf;

/// Why the mount guard refused the root: nothing was written. Carried as the source of an
/// `Error::Backend { backend: "nfs", .. }`, so callers can downcast to it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MountError {
    /// The root does not exist.
    #[error(
        "root {} does not exist: the share is not mounted, or the directory was never created on it \
         (nfs:// never creates its root)",
        .root.display()
    )]
    RootMissing {
        /// The root as configured.
        root: PathBuf,
    },

    /// The root is a file or something else that is not a directory.
    #[error("root {} is not a directory", .root.display())]
    NotADirectory {
        /// The root.
        root: PathBuf,
    },

    /// The root lies on the root filesystem, not on a mount of its own.
    #[error(
        "root {} is not on a mounted share: it lies on the root filesystem ({fstype} mounted at /), where a share \
         that failed to mount would silently fill the local disk; mount the share, or set require_mount=false",
        .root.display()
    )]
    NotMounted {
        /// The root (canonical).
        root: PathBuf,
        /// The type of the filesystem it lies on.
        fstype: String,
    },

    /// The root changed (a share mounted or unmounted) while a change was being prepared; nothing was touched.
    #[error("root {} changed (the share was mounted or unmounted) while a change was being made; nothing was touched", .root.display())]
    Changed {
        /// The root (canonical).
        root: PathBuf,
    },

    /// The sentinel file is missing.
    #[error(
        "root {} has no sentinel file {}: the share is not mounted there, or the sentinel was never created on \
         it (create it once on the share)",
        .root.display(),
        .sentinel.display()
    )]
    SentinelMissing {
        /// The root (canonical).
        root: PathBuf,
        /// The sentinel's path.
        sentinel: PathBuf,
    },

    /// The mount table could not be read.
    #[error(
        "cannot read {} to verify that root {} is mounted: {source}",
        .table.display(),
        .root.display()
    )]
    MountTable {
        /// The root.
        root: PathBuf,
        /// The table read (`/proc/self/mountinfo`).
        table: PathBuf,
        /// Why it could not be read.
        #[source]
        source: io::Error,
    },

    /// The root or the sentinel could not be examined.
    #[error("cannot examine {}: {source}", .path.display())]
    Inspect {
        /// What was examined.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
}

impl From<MountError> for storages_core::Error {
    fn from(e: MountError) -> Self {
        Self::Backend {
            backend: "nfs",
            message: e.to_string(),
            source: Some(Box::new(e)),
        }
    }
}
