//! Settings URLs: one string picks a backend and configures it.
//!
//! ```text
//! file:///srv/media?base_url=/media/&file_mode=644&dir_mode=755   absolute path
//! file:media?base_url=/media/                                      relative to the working directory
//! nfs:///mnt/share/media?base_url=/media/&sentinel=.storages-share an NFS share mounted on every server
//! memory://?base_url=/media/                                       in this process's memory
//! ```
//! Parsing is a pure function ([`Settings::parse`]): nothing is touched until [`Settings::build`]. Unknown schemes,
//! unknown options, repeated options and bad values are errors that name the offending text; secrets in a URL are
//! masked in every message and in `Display`/`Debug`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use storages_core::is_secret_option;
use storages_core::{
    BackendConfig, Cleaned, CommonOptions, ConfigError, Result, SettingsUrl, Storage, UrlRules,
};

/// The backends a settings URL can choose: one line each, `Variant(config type) for [schemes]` and the cargo
/// feature that compiles it in. Everything else about a backend (how it reads its URL, which options it takes,
/// how its storage opens and cleans) is its own crate's [`BackendConfig`]. `mirror:` composes storages of a set by
/// alias, so it is the facade's own.
macro_rules! backends {
    ($($(#[$doc:meta])* $variant:ident($config:ty) for [$($scheme:literal),+] $(, feature $feature:literal)?;)*) => {
        /// The schemes this crate knows, whether or not their backend is compiled in.
        pub const SCHEMES: &[&str] = &[$($($scheme,)+)* "mirror"];

        /// The backend a settings URL chose, with its typed options.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        // Settings are parsed once per storage and matched on by callers: boxing the larger S3 options would cost
        // every caller a dereference to save a few hundred bytes that are never held in bulk.
        #[allow(clippy::large_enum_variant)]
        pub enum Backend {
            $(
                $(#[$doc])*
                $(#[cfg(feature = $feature)] #[cfg_attr(docsrs, doc(cfg(feature = $feature)))])?
                $variant($config),
            )*
            /// `mirror:?primary=ALIAS&mirrors=ALIAS[,ALIAS]`: storages of the same set, by alias.
            Mirror(MirrorAliases),
        }

        /// How the compiled-in backends' URLs are read and shown.
        fn rules() -> Vec<UrlRules> {
            vec![$($(#[cfg(feature = $feature)])? <$config as BackendConfig>::URL,)*]
        }

        /// The backend `url` chooses, with its settings read by the backend itself.
        fn backend_of(url: &SettingsUrl<'_>) -> Result<Backend, ConfigError> {
            Ok(match url.scheme() {
                "mirror" => mirror_backend(url)?,
                $($(#[cfg(feature = $feature)])? $($scheme)|+ => Backend::$variant(<$config>::from_url(url)?),)*
                other => return Err(match feature_of(other) {
                    Some(feature) => ConfigError::BackendNotEnabled {
                        backend: feature.into(),
                        feature: feature.into(),
                    },
                    None => ConfigError::UnknownScheme {
                        scheme: other.to_owned(),
                        known: SCHEMES.join(", "),
                    },
                }),
            })
        }

        /// The cargo feature that compiles in the backend of `scheme`, when it is a known scheme that has one.
        fn feature_of(scheme: &str) -> Option<&'static str> {
            match scheme {
                $($($scheme)|+ => {
                    let feature: &[&'static str] = &[$($feature)?];
                    feature.first().copied()
                })*
                _ => None,
            }
        }

        impl Backend {
            /// The options every backend shares (a mirror's are its primary's: `None`).
            fn common(&self) -> Option<&CommonOptions> {
                match self {
                    $($(#[cfg(feature = $feature)])? Self::$variant(config) => Some(config.common()),)*
                    Self::Mirror(_) => None,
                }
            }

            /// The shared options of a backend whose files have no URLs but those a `base_url` makes: where a default
            /// `base_url` goes (none for object storage, which links its own objects, nor for a mirror).
            fn common_for_default_url(&mut self) -> Option<&mut CommonOptions> {
                match self {
                    $($(#[cfg(feature = $feature)])? Self::$variant(config) => {
                        (!config.has_own_urls()).then(|| config.common_mut())
                    })*
                    Self::Mirror(_) => None,
                }
            }

            /// Opens the storage; a mirror finds the storages it names through `alias`.
            fn open(&self, alias: &dyn Fn(&str) -> Result<Arc<dyn Storage>>) -> Result<Arc<dyn Storage>> {
                match self {
                    $($(#[cfg(feature = $feature)])? Self::$variant(config) => config.open(),)*
                    Self::Mirror(names) => open_mirror(names, alias),
                }
            }

            /// The backend's [`BackendConfig::clean`] (a mirror cleans nothing).
            async fn clean(&self, older_than: Duration) -> Result<Option<Cleaned>> {
                match self {
                    $($(#[cfg(feature = $feature)])? Self::$variant(config) => config.clean(older_than).await,)*
                    Self::Mirror(_) => Ok(None),
                }
            }
        }
    };
}

backends! {
    /// `file:`
    Local(storages_local::LocalConfig) for ["file"], feature "local";
    /// `memory://`
    Memory(CommonOptions) for ["memory"];
    /// `nfs://`
    Nfs(storages_nfs::NfsConfig) for ["nfs"], feature "nfs";
    /// `s3://` and `minio://`
    S3(storages_s3::S3Config) for ["s3", "minio"], feature "s3";
}

/// A parsed, validated settings URL, ready to [`build`](Settings::build).
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    shown: String,
    backend: Backend,
}

/// The aliases a `mirror:` URL names: the primary that answers and names, and the mirrors every write is repeated
/// on ([`crate::mirror::MirrorStorage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorAliases {
    /// The alias that answers reads and picks names.
    pub primary: String,
    /// The aliases every write is repeated on, in order.
    pub mirrors: Vec<String>,
}

impl MirrorAliases {
    /// Every alias named, the primary first.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.primary.as_str()).chain(self.mirrors.iter().map(String::as_str))
    }
}

impl Settings {
    /// Parses and validates a settings URL without touching any storage.
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let url = SettingsUrl::parse(url, &rules())?;
        let backend = backend_of(&url)?;
        Ok(Self {
            shown: url.shown().to_owned(),
            backend,
        })
    }

    /// The backend and its options.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The options every backend shares (a mirror's are its primary's, known once built: `None` here).
    pub fn common(&self) -> Option<&CommonOptions> {
        self.backend.common()
    }

    /// These settings with `base_url` set to `base_url` where the URL named none, on backends whose files only
    /// have the URLs the app gives them (`file:`, `nfs:`, `memory:`): what the `media` and `static` aliases get,
    /// as Django's `MEDIA_URL` and `STATIC_URL`. Object storage keeps its own bucket URLs, and a `mirror:` the
    /// URLs of its primary (a storage of its own alias, with that alias's defaults).
    pub fn or_base_url(mut self, base_url: &str) -> Self {
        if let Some(common) = self.backend.common_for_default_url() {
            common.base_url.get_or_insert_with(|| base_url.to_owned());
        }
        self
    }

    /// Opens the storage these settings describe (creating a `file:` root when missing; an `nfs:` root must exist
    /// and pass the mount guard, or nothing is created). A `mirror:` names other storages of its set: build it with
    /// [`Settings::build_with`] (as [`crate::Storages`] does).
    pub fn build(&self) -> Result<Arc<dyn Storage>> {
        self.build_with(&|alias: &str| {
            Err(ConfigError::InvalidValue {
                option: "primary/mirrors".into(),
                value: alias.to_owned(),
                expected: "a mirror: storage opened through its named set (Storages), which knows its aliases"
                    .into(),
            }
            .into())
        })
    }

    /// [`Settings::build`], finding the storages a `mirror:` names through `alias`.
    pub fn build_with(
        &self,
        alias: &dyn Fn(&str) -> Result<Arc<dyn Storage>>,
    ) -> Result<Arc<dyn Storage>> {
        self.backend.open(alias)
    }

    /// Removes what writers that never finished left in this storage (temporary files under a `file:` or `nfs:`
    /// root, incomplete multipart uploads under an `s3:` prefix), once at least `older_than` old, and nothing else;
    /// creates nothing. `None` when the backend keeps nothing of the kind (`memory:`, `mirror:`).
    pub async fn clean(&self, older_than: Duration) -> Result<Option<Cleaned>> {
        self.backend.clean(older_than).await
    }
}

/// The mirror of the storages `names` names, found through `alias`.
fn open_mirror(
    names: &MirrorAliases,
    alias: &dyn Fn(&str) -> Result<Arc<dyn Storage>>,
) -> Result<Arc<dyn Storage>> {
    let primary = (names.primary.clone(), alias(&names.primary)?);
    let mut mirrors = Vec::new();
    for name in &names.mirrors {
        mirrors.push((name.clone(), alias(name)?));
    }
    Ok(Arc::new(crate::mirror::MirrorStorage::new(
        primary, mirrors,
    )))
}

/// `mirror:?primary=ALIAS&mirrors=ALIAS[,ALIAS]`: distinct, valid aliases; no host, path or other option.
fn mirror_backend(url: &SettingsUrl<'_>) -> Result<Backend, ConfigError> {
    if !url.is_bare() {
        return Err(
            url.invalid("mirror: takes no host or path, only primary=ALIAS&mirrors=ALIAS[,ALIAS]")
        );
    }
    let (mut primary, mut mirrors) = (None, Vec::new());
    for (option, value) in url.options() {
        match option.as_str() {
            "primary" => {
                crate::named::check_alias(value)?;
                primary = Some(value.clone());
            }
            "mirrors" => {
                for alias in value.split(',') {
                    crate::named::check_alias(alias)?;
                    mirrors.push(alias.to_owned());
                }
            }
            _ => {
                return Err(ConfigError::UnknownOption {
                    backend: "mirror".into(),
                    option: option.clone(),
                    valid: "mirrors, primary".into(),
                });
            }
        }
    }
    let primary = primary.ok_or_else(|| url.invalid("it names no primary (primary=ALIAS)"))?;
    if mirrors.is_empty() {
        return Err(url.invalid("it names no mirror (mirrors=ALIAS[,ALIAS])"));
    }
    let names = MirrorAliases { primary, mirrors };
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = names.all().find(|a| !seen.insert(*a)) {
        return Err(url.invalid(&format!(
            "alias `{twice}` is named twice: a storage cannot mirror itself"
        )));
    }
    Ok(Backend::Mirror(names))
}

/// `url` with the password of its user info, the user info of any URL in an option's value, the values of
/// secret options and the values of options no compiled-in backend takes (a misspelt secret option, say) replaced
/// by `***`.
pub fn redact(url: &str) -> String {
    storages_core::redact(url, &rules())
}

impl FromStr for Settings {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The URL as given, secrets masked.
impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.shown)
            .field("backend", &self.backend)
            .finish()
    }
}

#[cfg(all(test, feature = "local", feature = "nfs", feature = "s3"))]
mod tests {
    /// The facade routes a URL by the schemes its `backends!` lines name; each backend reads those its
    /// `BackendConfig::URL` names. The two lists agree, or a scheme would reach no backend.
    #[test]
    fn the_schemes_routed_are_the_schemes_the_backends_read() {
        let mut read: Vec<&str> = super::rules()
            .iter()
            .flat_map(|rules| rules.schemes.iter().copied())
            .chain(["mirror"])
            .collect();
        read.sort_unstable();
        let mut routed = super::SCHEMES.to_vec();
        routed.sort_unstable();
        assert_eq!(routed, read);
    }
}
