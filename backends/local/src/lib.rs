//! `file://` for `storages`: files in a directory of this machine, written atomically.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> storages_core::Result<()> {
//! use storages_core::{Storage, StorageExt};
//! use storages_local::{LocalConfig, LocalStorage};
//! let dir = tempfile::tempdir().unwrap();
//! let storage = LocalStorage::new(LocalConfig::new(dir.path().join("media")))?;
//! let name = storage.save("avatars/me.png", vec![0x89, b'P', b'N', b'G']).await?;
//! assert!(storage.local_path(&name).unwrap().is_file());
//! # Ok(()) }
//! ```

mod blocking;
mod chunks;
mod clean;
mod config;
mod hooks;
mod paths;
mod read;
mod root;
mod storage;
mod write;

pub use crate::blocking::blocking;
pub use crate::clean::{CleanReport, RemovedTemp};
pub use crate::config::{LOCAL_OPTIONS, LocalConfig};
pub use crate::hooks::{Hooks, Warnings, WriteCheck, is_stale, retry_stale};
pub use crate::paths::{TEMP_PREFIX, is_temp};
pub use crate::storage::LocalStorage;
