//! The core of `storages`: the [`Storage`] trait every backend implements, the [`StorageExt`] conveniences built
//! once on top of it, validated [`Name`]s, [`Content`] to write, the one [`Error`] type, the in-memory backend
//! and (with the `conformance` feature) the suite every backend must pass.
//!
//! Backends depend on this crate only; applications use the `storages` facade, which re-exports it.

// docs.rs builds with every feature and `--cfg docsrs`: the conformance suite then says it needs its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod content;
mod error;
mod ext;
mod hash;
mod memory;
mod metadata;
mod name;
pub mod naming;
mod range;
mod settings;
mod storage;
mod url;

#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;

pub use crate::content::{ByteStream, CHUNK_SIZE, Content, guess_content_type};
pub use crate::error::{BoxError, Error, Result};
pub use crate::ext::{SaveOptions, StorageExt};
pub use crate::hash::{Md5, Md5Hasher};
pub use crate::memory::MemoryStorage;
pub use crate::metadata::Metadata;
pub use crate::name::{
    DEFAULT_MAX_NAME_LEN, IntoName, Name, NameError, NameErrorKind, valid_file_name,
};
pub use crate::range::ByteRange;
pub use crate::settings::{
    BackendConfig, COMMON_OPTIONS, Cleaned, ConfigError, Leftover, LeftoverKind, MASK, SettingsUrl,
    UrlRules, check_http_url, endpoint_origin, invalid_value, is_secret_option, mask_userinfo,
    misplaced_userinfo, parse_bool, parse_endpoint, parse_header_value, parse_mode, parse_number,
    printable, redact, shown_value, unknown_option,
};
pub use crate::storage::{
    Capabilities, CommonOptions, DirectUpload, GetResult, Listing, PutMode, Storage, UrlOptions,
    copy_by_streaming,
};
pub use crate::url::{encode_name, encode_path, public_url};

// Re-exported for backends and for the conformance macro's expansion.
pub use async_trait::async_trait;
pub use bytes::Bytes;
