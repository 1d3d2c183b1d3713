#![doc = include_str!("../README.md")]

pub mod named;
pub mod settings;

#[cfg(feature = "cli")]
pub mod cli;

pub use storages_core::*;

pub use crate::named::Storages;
pub use crate::settings::Settings;

/// The `file://` backend.
#[cfg(feature = "local")]
pub use storages_local as local;
#[cfg(feature = "local")]
pub use storages_local::{LocalConfig, LocalStorage};
