//! What a backend gives the facade so that a settings URL can choose it: the rules for reading and showing its URLs,
//! its `from_url`, and how to open (or clean) the storage its settings describe. The facade's dispatch is then one
//! line per backend.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::options::ConfigError;
use super::url::SettingsUrl;
use crate::{CommonOptions, Error, Result, Storage};

/// What must be known of a backend's settings URLs before it reads one: which schemes choose it, where their
/// secrets may be, and which options it takes (the values of options no backend takes are masked when shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UrlRules {
    /// The schemes that choose the backend, lowercase.
    pub schemes: &'static [&'static str],
    /// Those of `schemes` whose URLs carry credentials before the host (`minio://ACCESS:SECRET@HOST/...`): user
    /// info with an unencoded `/`, `?` or `#` is refused before anything else, as it would be split there.
    pub credentials: &'static [&'static str],
    /// The URLs name a path on this machine: only the authority can hold user info, an `@` after it is part of
    /// the path (and is not masked).
    pub paths: bool,
    /// The options it takes besides the common ones; an entry ending in `*` stands for every option it starts.
    pub options: &'static [&'static str],
}

impl UrlRules {
    /// The rules of a backend chosen by `schemes` and taking `options`: no credentials before a host, no path on
    /// this machine.
    pub const fn new(schemes: &'static [&'static str], options: &'static [&'static str]) -> Self {
        Self {
            schemes,
            credentials: &[],
            paths: false,
            options,
        }
    }

    /// These rules, for URLs that name a path on this machine ([`UrlRules::paths`]).
    pub const fn with_paths(self) -> Self {
        Self {
            paths: true,
            ..self
        }
    }

    /// These rules, `schemes` carrying credentials before the host ([`UrlRules::credentials`]).
    pub const fn with_credentials(self, schemes: &'static [&'static str]) -> Self {
        Self {
            credentials: schemes,
            ..self
        }
    }
}

/// A backend's settings as read from a settings URL, and the storage they open: what the facade dispatches a
/// scheme to. Implemented by every backend crate for its config type (and by [`CommonOptions`] for `memory://`).
#[crate::async_trait]
pub trait BackendConfig:
    Sized + Clone + fmt::Debug + PartialEq + Eq + Send + Sync + 'static
{
    /// How its URLs are read and shown.
    const URL: UrlRules;

    /// Reads the settings from `url`, whose scheme is one of [`UrlRules::schemes`]; errors name the offending
    /// value, never a secret.
    fn from_url(url: &SettingsUrl<'_>) -> Result<Self, ConfigError>;

    /// Reads the settings from the text of a settings URL of this backend alone (with the `storages` facade,
    /// `Settings::parse` reads any scheme compiled in).
    fn from_url_str(url: &str) -> Result<Self, ConfigError> {
        Self::from_url(&SettingsUrl::parse(url, &[Self::URL])?)
    }

    /// The options every backend shares.
    fn common(&self) -> &CommonOptions;

    /// The options every backend shares, to change (the facade gives `media` and `static` a default `base_url`).
    fn common_mut(&mut self) -> &mut CommonOptions;

    /// Whether its files have URLs of their own without a `base_url` (an S3 bucket's); `false` (the default): the
    /// only URLs are those a `base_url` makes.
    fn has_own_urls(&self) -> bool {
        false
    }

    /// Opens the storage these settings describe (creating what the backend creates, checking what it checks).
    fn open(&self) -> Result<Arc<dyn Storage>>;

    /// Removes what writers that never finished left behind, once it is at least `older_than` old, and nothing
    /// else; never creates anything (a missing root is an error). `None` when the backend keeps nothing of the kind.
    async fn clean(&self, older_than: Duration) -> Result<Option<Cleaned>> {
        let _ = older_than;
        Ok(None)
    }
}

/// What [`BackendConfig::clean`] did: what it removed and the entries it could not handle (it goes on past them).
#[derive(Debug)]
#[non_exhaustive]
pub struct Cleaned {
    /// What the backend keeps of unfinished writes.
    pub kind: LeftoverKind,
    /// What was removed, sorted.
    pub removed: Vec<Leftover>,
    /// Entries that could not be cleaned, each error naming its path or upload.
    pub failed: Vec<Error>,
}

impl Cleaned {
    /// A report of `kind`: what was `removed` (each of a backend's own report types), and what `failed`.
    pub fn new<L: Into<Leftover>>(
        kind: LeftoverKind,
        removed: impl IntoIterator<Item = L>,
        failed: Vec<Error>,
    ) -> Self {
        Self {
            kind,
            removed: removed.into_iter().map(Into::into).collect(),
            failed,
        }
    }
}

/// What a backend keeps of writes that never finished. Exhaustive on purpose: a program that reports cleaning (the
/// `storages` command) must be told, by the compiler, of a new kind it has to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftoverKind {
    /// Temporary files under a directory (`file:`, `nfs:`).
    TempFiles,
    /// Incomplete multipart uploads (`s3:`).
    Uploads,
}

/// One thing a write that never finished left, removed by cleaning (exhaustive, as [`LeftoverKind`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leftover {
    /// A temporary file.
    TempFile {
        /// Its path relative to the storage root.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// How long before the cleaning it was last written.
        age: Duration,
    },
    /// An incomplete multipart upload, aborted.
    Upload {
        /// The object key it would have created.
        key: String,
        /// The id the server gave it.
        upload_id: String,
        /// How long before the cleaning it was started.
        age: Duration,
    },
}
