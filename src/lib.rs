#![doc = include_str!("../README.md")]

pub mod mirror;
pub mod named;
pub mod settings;
pub mod traced;

#[cfg(feature = "collect")]
pub mod collect;

#[cfg(feature = "transfer")]
pub mod sync;

#[cfg(feature = "transfer")]
pub mod transfer;

#[cfg(feature = "web")]
pub mod web;

pub use storages_core::*;

pub use crate::named::Storages;
pub use crate::settings::Settings;

/// The `file://` backend.
#[cfg(feature = "local")]
pub use storages_local as local;
#[cfg(feature = "local")]
pub use storages_local::{LocalConfig, LocalStorage};

/// The `nfs://` backend.
#[cfg(feature = "nfs")]
pub use storages_nfs as nfs;
#[cfg(feature = "nfs")]
pub use storages_nfs::{NfsConfig, NfsStorage};

/// The `s3://` and `minio://` backend.
#[cfg(feature = "s3")]
pub use storages_s3 as s3;
#[cfg(feature = "s3")]
pub use storages_s3::{S3Config, S3Storage};
