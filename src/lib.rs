#![doc = include_str!("../README.md")]
// docs.rs builds with every feature and `--cfg docsrs`: each feature-gated item then says which feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod mirror;
pub mod named;
pub mod settings;
pub mod statics;
pub mod traced;

#[cfg(feature = "collect")]
#[cfg_attr(docsrs, doc(cfg(feature = "collect")))]
pub mod collect;

#[cfg(feature = "transfer")]
#[cfg_attr(docsrs, doc(cfg(feature = "transfer")))]
pub mod sync;

#[cfg(feature = "transfer")]
#[cfg_attr(docsrs, doc(cfg(feature = "transfer")))]
pub mod transfer;

#[cfg(feature = "web")]
#[cfg_attr(docsrs, doc(cfg(feature = "web")))]
pub mod web;

pub use storages_core::*;

pub use crate::named::Storages;
pub use crate::settings::Settings;

/// The `file://` backend.
#[cfg(feature = "local")]
#[cfg_attr(docsrs, doc(cfg(feature = "local")))]
pub use storages_local as local;
#[cfg(feature = "local")]
#[cfg_attr(docsrs, doc(cfg(feature = "local")))]
pub use storages_local::{LocalConfig, LocalStorage};

/// The `nfs://` backend.
#[cfg(feature = "nfs")]
#[cfg_attr(docsrs, doc(cfg(feature = "nfs")))]
pub use storages_nfs as nfs;
#[cfg(feature = "nfs")]
#[cfg_attr(docsrs, doc(cfg(feature = "nfs")))]
pub use storages_nfs::{NfsConfig, NfsStorage};

/// The `s3://` and `minio://` backend.
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use storages_s3 as s3;
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use storages_s3::{S3Config, S3Storage};
