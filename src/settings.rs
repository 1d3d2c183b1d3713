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
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use percent_encoding::percent_decode_str;
pub use storages_core::is_secret_option;
use storages_core::{
    CommonOptions, ConfigError, MASK, MemoryStorage, Result, Storage, mask_userinfo,
    misplaced_userinfo, printable, shown_value, unknown_option,
};

/// The schemes this crate knows, whether or not their backend is compiled in.
pub const SCHEMES: &[&str] = &["file", "memory", "nfs", "s3", "minio", "mirror"];

/// A parsed, validated settings URL, ready to [`build`](Settings::build).
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    shown: String,
    backend: Backend,
}

/// The backend a settings URL chose, with its typed options.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
// Settings are parsed once per storage and matched on by callers: boxing the larger S3 options would cost every
// caller a dereference to save a few hundred bytes that are never held in bulk.
#[allow(clippy::large_enum_variant)]
pub enum Backend {
    /// `memory://`
    Memory(CommonOptions),
    /// `file:`
    #[cfg(feature = "local")]
    #[cfg_attr(docsrs, doc(cfg(feature = "local")))]
    Local(storages_local::LocalConfig),
    /// `nfs://`
    #[cfg(feature = "nfs")]
    #[cfg_attr(docsrs, doc(cfg(feature = "nfs")))]
    Nfs(storages_nfs::NfsConfig),
    /// `s3://` and `minio://`
    #[cfg(feature = "s3")]
    #[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
    S3(storages_s3::S3Config),
    /// `mirror:?primary=ALIAS&mirrors=ALIAS[,ALIAS]`: storages of the same set, by alias.
    Mirror(MirrorAliases),
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
        let shown = redact(url);
        let invalid = |reason: &str| ConfigError::InvalidUrl {
            url: shown.clone(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = url
            .split_once(':')
            .ok_or_else(|| invalid("it has no scheme, such as file: or s3:"))?;
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return Err(invalid("the scheme is not a word such as file or s3"));
        }
        let scheme = scheme.to_ascii_lowercase();
        if scheme == "minio" && misplaced_userinfo(url) {
            return Err(invalid(
                "the part before `@` holds a `/`, `?` or `#`: percent-encode them in the access key and secret \
                 (%2F, %3F, %23)",
            ));
        }
        if rest.contains('#') {
            return Err(invalid(
                "it has a `#` fragment (write %23 for a `#` in a path)",
            ));
        }
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let options = parse_query(query)?;
        let backend = match scheme.as_str() {
            "memory" => {
                if !matches!(location, "" | "//" | "///") {
                    return Err(invalid("memory: takes no host or path, only options"));
                }
                let mut common = CommonOptions::default();
                for (option, value) in &options {
                    if !common.set(option, value)? {
                        return Err(unknown_option("memory", option, &[]));
                    }
                }
                Backend::Memory(common)
            }
            "mirror" => mirror_backend(location, &options, &invalid)?,
            "file" => file_backend(location, &options, &invalid)?,
            "nfs" => nfs_backend(location, &options, &invalid)?,
            #[cfg(feature = "s3")]
            "s3" | "minio" => Backend::S3(storages_s3::S3Config::from_url(
                &scheme, location, &options, &shown,
            )?),
            #[cfg(not(feature = "s3"))]
            "s3" | "minio" => {
                return Err(ConfigError::BackendNotEnabled {
                    backend: "s3".into(),
                    feature: "s3".into(),
                });
            }
            _ => {
                return Err(ConfigError::UnknownScheme {
                    scheme,
                    known: SCHEMES.join(", "),
                });
            }
        };
        Ok(Self { shown, backend })
    }

    /// The backend and its options.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The options every backend shares (a mirror's are its primary's, known once built: `None` here).
    pub fn common(&self) -> Option<&CommonOptions> {
        Some(match &self.backend {
            Backend::Memory(common) => common,
            #[cfg(feature = "local")]
            Backend::Local(config) => &config.common,
            #[cfg(feature = "nfs")]
            Backend::Nfs(config) => &config.local.common,
            #[cfg(feature = "s3")]
            Backend::S3(config) => &config.common,
            Backend::Mirror(_) => return None,
        })
    }

    /// These settings with `base_url` set to `base_url` where the URL named none, on backends whose files only
    /// have the URLs the app gives them (`file:`, `nfs:`, `memory:`): what the `media` and `static` aliases get,
    /// as Django's `MEDIA_URL` and `STATIC_URL`. Object storage keeps its own bucket URLs, and a `mirror:` the
    /// URLs of its primary (a storage of its own alias, with that alias's defaults).
    pub fn or_base_url(mut self, base_url: &str) -> Self {
        let common = match &mut self.backend {
            Backend::Memory(common) => common,
            #[cfg(feature = "local")]
            Backend::Local(config) => &mut config.common,
            #[cfg(feature = "nfs")]
            Backend::Nfs(config) => &mut config.local.common,
            #[cfg(feature = "s3")]
            Backend::S3(_) => return self,
            Backend::Mirror(_) => return self,
        };
        common.base_url.get_or_insert_with(|| base_url.to_owned());
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
        Ok(match &self.backend {
            Backend::Mirror(names) => {
                let primary = (names.primary.clone(), alias(&names.primary)?);
                let mut mirrors = Vec::new();
                for name in &names.mirrors {
                    mirrors.push((name.clone(), alias(name)?));
                }
                Arc::new(crate::mirror::MirrorStorage::new(primary, mirrors))
            }
            Backend::Memory(common) => Arc::new(MemoryStorage::with_options(common.clone())),
            #[cfg(feature = "local")]
            Backend::Local(config) => Arc::new(storages_local::LocalStorage::new(config.clone())?),
            #[cfg(feature = "nfs")]
            Backend::Nfs(config) => Arc::new(storages_nfs::NfsStorage::new(config.clone())?),
            #[cfg(feature = "s3")]
            Backend::S3(config) => Arc::new(storages_s3::S3Storage::new(config.clone())?),
        })
    }
}

/// `mirror:?primary=ALIAS&mirrors=ALIAS[,ALIAS]`: distinct, valid aliases; no host, path or other option.
fn mirror_backend(
    location: &str,
    options: &[(String, String)],
    invalid: &dyn Fn(&str) -> ConfigError,
) -> Result<Backend, ConfigError> {
    if !matches!(location, "" | "//" | "///") {
        return Err(invalid(
            "mirror: takes no host or path, only primary=ALIAS&mirrors=ALIAS[,ALIAS]",
        ));
    }
    let (mut primary, mut mirrors) = (None, Vec::new());
    for (option, value) in options {
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
    let primary = primary.ok_or_else(|| invalid("it names no primary (primary=ALIAS)"))?;
    if mirrors.is_empty() {
        return Err(invalid("it names no mirror (mirrors=ALIAS[,ALIAS])"));
    }
    let names = MirrorAliases { primary, mirrors };
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = names.all().find(|a| !seen.insert(*a)) {
        return Err(invalid(&format!(
            "alias `{twice}` is named twice: a storage cannot mirror itself"
        )));
    }
    Ok(Backend::Mirror(names))
}

#[cfg(feature = "local")]
fn file_backend(
    location: &str,
    options: &[(String, String)],
    invalid: &dyn Fn(&str) -> ConfigError,
) -> Result<Backend, ConfigError> {
    let path = match location.strip_prefix("//") {
        Some(authority_and_path) => {
            let (host, path) = match authority_and_path.find('/') {
                Some(i) => authority_and_path.split_at(i),
                None => (authority_and_path, ""),
            };
            if !host.is_empty() && !host.eq_ignore_ascii_case("localhost") {
                let host = shown_host(host);
                return Err(invalid(&format!(
                    "file URLs take no host (`{host}`): write file:///absolute/path or file:relative/path"
                )));
            }
            path
        }
        None => location,
    };
    if path.is_empty() {
        return Err(invalid("it names no directory"));
    }
    let mut config = storages_local::LocalConfig::new(decoded_path(path, invalid)?);
    for (option, value) in options {
        config.set(option, value)?;
    }
    Ok(Backend::Local(config))
}

/// The host name of a URL's authority for a message: no user info, no port (either may be part of a password).
#[cfg(any(feature = "local", feature = "nfs"))]
fn shown_host(authority: &str) -> String {
    let host = authority.rsplit('@').next().unwrap_or_default();
    printable(host.split(':').next().unwrap_or_default()).into_owned()
}

/// A URL's path, percent-decoded: UTF-8 without NUL bytes.
#[cfg(any(feature = "local", feature = "nfs"))]
fn decoded_path(path: &str, invalid: &dyn Fn(&str) -> ConfigError) -> Result<PathBuf, ConfigError> {
    let decoded = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| invalid("the path is not UTF-8 once decoded"))?;
    if decoded.contains('\0') {
        return Err(invalid("the path contains a NUL byte"));
    }
    Ok(PathBuf::from(decoded.as_ref()))
}

/// `nfs:///mnt/share/media`: the absolute path where the share is mounted on this server (the backend does not
/// mount anything itself, so a server name has no place here).
#[cfg(feature = "nfs")]
fn nfs_backend(
    location: &str,
    options: &[(String, String)],
    invalid: &dyn Fn(&str) -> ConfigError,
) -> Result<Backend, ConfigError> {
    let path = match location.strip_prefix("//") {
        Some(authority_and_path) => {
            let end = authority_and_path
                .find('/')
                .unwrap_or(authority_and_path.len());
            let (host, path) = authority_and_path.split_at(end);
            if !host.is_empty() && !host.eq_ignore_ascii_case("localhost") {
                let host = shown_host(host);
                return Err(invalid(&format!(
                    "nfs URLs take no host (`{host}`): mount the share on this server and write nfs:///mount/point/path"
                )));
            }
            path
        }
        None => location,
    };
    if !path.starts_with('/') {
        return Err(invalid(
            "nfs URLs take the absolute path of the mounted share: nfs:///mount/point/path",
        ));
    }
    let mut config = storages_nfs::NfsConfig::new(decoded_path(path, invalid)?);
    for (option, value) in options {
        config.set(option, value)?;
    }
    Ok(Backend::Nfs(config))
}

#[cfg(not(feature = "nfs"))]
fn nfs_backend(
    _location: &str,
    _options: &[(String, String)],
    _invalid: &dyn Fn(&str) -> ConfigError,
) -> Result<Backend, ConfigError> {
    Err(ConfigError::BackendNotEnabled {
        backend: "nfs".into(),
        feature: "nfs".into(),
    })
}

#[cfg(not(feature = "local"))]
fn file_backend(
    _location: &str,
    _options: &[(String, String)],
    _invalid: &dyn Fn(&str) -> ConfigError,
) -> Result<Backend, ConfigError> {
    Err(ConfigError::BackendNotEnabled {
        backend: "local".into(),
        feature: "local".into(),
    })
}

/// `a=1&b=2` as pairs, decoded; an empty or repeated option is an error.
fn parse_query(query: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key.is_empty() {
            // No option says whether the value is a secret: it is not shown.
            return Err(ConfigError::InvalidValue {
                option: String::new(),
                value: MASK.into(),
                expected: "option=value pairs separated by &".into(),
            });
        }
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(ConfigError::DuplicateOption {
                option: printable(&key).into_owned(),
            });
        }
        pairs.push((key.into_owned(), value.into_owned()));
    }
    Ok(pairs)
}

/// `url` with the password of its user info, the user info of any URL in an option's value, the values of
/// secret options and the values of options no backend knows (a misspelt secret option, say) replaced by `***`.
pub fn redact(url: &str) -> String {
    let scheme = url.split_once(':').map_or("", |(s, _)| s);
    // file: and nfs: have no user info; a path of theirs may hold an `@`: only the authority's counts there.
    let masked = if ["file", "nfs"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s))
    {
        mask_authority_userinfo(url)
    } else {
        mask_userinfo(url).into_owned()
    };
    let Some((head, query)) = masked.split_once('?') else {
        return printable(&masked).into_owned();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            // Decoded, as the parser reads them: `aws_s%65cret_access_key` is a secret option too.
            let decode = |s: &str| -> String {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let (key_decoded, value_decoded) = (decode(key), decode(value));
            let shown = if is_known_option(&key_decoded) || value_decoded.is_empty() {
                shown_value(&key_decoded, &value_decoded)
            } else {
                MASK.to_owned()
            };
            if shown == value_decoded {
                pair.to_owned()
            } else {
                format!("{key}={shown}")
            }
        })
        .collect();
    printable(&format!("{head}?{}", parts.join("&"))).into_owned()
}

/// Whether a compiled-in backend takes `option`: its value can be shown unless it is a secret.
fn is_known_option(option: &str) -> bool {
    let lists: &[&[&str]] = &[
        storages_core::COMMON_OPTIONS,
        #[cfg(feature = "local")]
        storages_local::LOCAL_OPTIONS,
        #[cfg(feature = "nfs")]
        storages_nfs::NFS_OPTIONS,
        #[cfg(feature = "s3")]
        storages_s3::S3_OPTIONS,
    ];
    lists.iter().any(|list| list.contains(&option)) || option.starts_with("aws_")
}

/// `url` with the user info of its authority (up to the first `/`) masked.
fn mask_authority_userinfo(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..end].rfind('@') {
        Some(at) => format!("{}{MASK}{}", &url[..start], &url[start + at..]),
        None => url.to_owned(),
    }
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
