//! `nfs://` for `storages`: a directory on an NFS share that every app server mounts, written so that many writers
//! on many hosts never see each other's half-done files, and refused when the share is not really there.
//!
//! It is the `file://` backend ([`storages_local`]) with what a share needs on top:
//! - a **mount guard**: the root must exist (it is never created), lie on a mount of its own rather than on the
//!   root filesystem (`require_mount`, default on), and hold the `sentinel` file when one is named. Checked when
//!   the storage is opened, by `check`, and again before any change whenever the filesystem under the root is no
//!   longer the one verified (a share unmounted under a running server);
//! - **writes no other server sees half-done**: a temporary file named with host, process and a random part in the
//!   destination directory, its data synced (`fsync`, default on) before it is renamed or hard-linked into place;
//!   create-only is decided by `link(2)`, atomic on NFS where `O_EXCL` historically was not; no `flock`/`fcntl`;
//! - **reads that survive other writers**: `ESTALE` retried on open, stat and listing;
//! - **root squash**: an `EPERM` from applying `file_mode`/`dir_mode` is one warning ([`NfsStorage::warnings`], and
//!   a line on standard error), not a failed save;
//! - **cleaning**: [`NfsStorage::clean_temp_files`] removes what crashed writers left, and only that.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> storages_core::Result<()> {
//! use storages_core::StorageExt;
//! use storages_nfs::{NfsConfig, NfsStorage};
//! let share = tempfile::tempdir().unwrap(); // in production: the mounted share, e.g. /mnt/share/media
//! let mut config = NfsConfig::new(share.path());
//! config.require_mount = false; // a temporary directory is no mount point
//! let storage = NfsStorage::new(config)?;
//! let name = storage.save("avatars/me.png", vec![0x89, b'P', b'N', b'G']).await?;
//! assert_eq!(storage.read_to_bytes(&name).await?, &[0x89, b'P', b'N', b'G'][..]);
//! # Ok(()) }
//! ```

mod config;
mod error;
mod guard;
mod host;
pub mod mountinfo;
mod storage;

pub use crate::config::{NFS_OPTIONS, NfsConfig};
pub use crate::error::MountError;
pub use crate::guard::Share;
pub use crate::storage::NfsStorage;
pub use storages_local::{CleanReport, RemovedTemp, TEMP_PREFIX};
