//! The named set of storages an application uses: `media` (user uploads), `static` (published assets) and any
//! other alias, configured from the environment or a TOML file, with defaults that run with no configuration.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use storages_core::{ConfigError, Error, Result, Storage};

use crate::Settings;
use crate::settings::Backend;
use crate::traced::Traced;

/// The alias of user uploads.
pub const MEDIA: &str = "media";
/// The alias of published assets.
pub const STATIC: &str = "static";
/// The variable naming a TOML settings file.
pub const CONFIG_VAR: &str = "STORAGES_CONFIG";

/// Where each alias lives when nothing else is configured: directories under the working directory, served at
/// `/media/` and `/static/`.
pub const DEFAULTS: &[(&str, &str)] = &[
    (MEDIA, "file:media?base_url=/media/"),
    (STATIC, "file:static?base_url=/static/"),
];

/// The `base_url` of `media` and `static` when their settings URL names none, on backends whose files only have
/// the URLs the app gives them (`file:`, `nfs:`, `memory:`; see [`Settings::or_base_url`]): Django's `MEDIA_URL`
/// and `STATIC_URL`, where the photo apps and the web adapters' examples serve them.
pub const DEFAULT_BASE_URLS: &[(&str, &str)] = &[(MEDIA, "/media/"), (STATIC, "/static/")];

/// Built storages by alias. Every alias is validated and opened when the set is built, so a typo fails at start,
/// not at the first upload. Every storage comes wrapped in [`Traced`]: each operation runs in a `tracing` span
/// (and is measured, with the `metrics` feature).
///
/// Sources, later ones winning: [`DEFAULTS`], the TOML file named by `STORAGES_CONFIG`, then variables
/// `STORAGES_<ALIAS>_URL` (`STORAGES_MEDIA_URL`, `STORAGES_STATIC_URL`, `STORAGES_AVATARS_URL`, ...).
///
/// The TOML file holds one table:
/// ```toml
/// [storages]
/// media = "file:///srv/media?base_url=/media/"
/// static = "file:///srv/static?base_url=https://cdn.example.com/static/"
/// ```
#[derive(Clone)]
pub struct Storages {
    entries: BTreeMap<String, (Settings, Arc<dyn Storage>)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    storages: BTreeMap<toml::Spanned<String>, String>,
}

impl Storages {
    /// The set configured by this process's environment (and the file it names).
    pub fn from_env() -> Result<Self> {
        Self::from_vars(std::env::vars())
    }

    /// The set configured by `vars` as if they were the environment: `STORAGES_CONFIG` and `STORAGES_*_URL`.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
        Self::from_urls(configured_urls(vars)?)
    }

    /// The set of exactly these aliases and URLs (no defaults). Every storage is built, plain ones first and then
    /// the `mirror:` storages made of them.
    pub fn from_urls<A: Into<String>, U: AsRef<str>>(
        urls: impl IntoIterator<Item = (A, U)>,
    ) -> Result<Self> {
        let mut parsed = BTreeMap::new();
        for (alias, url) in urls {
            let alias = alias.into();
            check_alias(&alias)?;
            let settings = parse_in_alias(&alias, url.as_ref())?;
            parsed.insert(alias, settings);
        }
        let mut entries: BTreeMap<String, (Settings, Arc<dyn Storage>)> = BTreeMap::new();
        let (mirrors, plain): (Vec<_>, Vec<_>) = parsed
            .iter()
            .partition(|(_, settings)| matches!(settings.backend(), Backend::Mirror(_)));
        for (alias, settings) in plain {
            let storage = Traced::wrap(settings.build().map_err(|e| error_in_alias(alias, e))?);
            entries.insert(alias.clone(), (settings.clone(), storage));
        }
        for (alias, settings) in mirrors {
            // The mirror's own span holds the spans of its legs, which are the set's traced storages.
            let storage = settings
                .build_with(&|name| mirrored(name, entries.get(name).map(|(_, s)| s), &parsed))
                .map_err(|e| error_in_alias(alias, e))?;
            let storage = Traced::wrap(storage);
            entries.insert(alias.clone(), (settings.clone(), storage));
        }
        Ok(Self { entries })
    }

    /// The storage named `alias`.
    pub fn get(&self, alias: &str) -> Result<Arc<dyn Storage>, ConfigError> {
        self.entries
            .get(alias)
            .map(|(_, s)| Arc::clone(s))
            .ok_or_else(|| unknown_alias(alias, self.entries.keys()))
    }

    /// The settings of `alias` (secrets masked in their `Display`).
    pub fn settings(&self, alias: &str) -> Option<&Settings> {
        self.entries.get(alias).map(|(s, _)| s)
    }

    /// The storage `alias`, checked to answer `url()`: an app that puts its files' URLs in its pages or answers
    /// takes its storages through this at start, so that one that cannot make them (a `file:` storage without
    /// `base_url` under an alias with no [default](DEFAULT_BASE_URLS), a `mirror:` whose primary is one) stops it
    /// there, with [`ConfigError::NoUrls`] naming the alias, instead of failing every request that links a file.
    pub fn linkable(&self, alias: &str) -> Result<Arc<dyn Storage>> {
        let storage = self.get(alias)?;
        self.makes_urls(alias).map_err(|e| in_alias(alias, e))?;
        Ok(storage)
    }

    /// Whether the storage `alias` (a mirror: its primary) can make URLs without any I/O: its capabilities say so.
    fn makes_urls(&self, alias: &str) -> Result<(), ConfigError> {
        let storage = self.get(alias)?;
        if let Some(Backend::Mirror(names)) = self.settings(alias).map(Settings::backend) {
            let primary = names.primary.as_str();
            return self.makes_urls(primary).map_err(|e| in_alias(primary, e));
        }
        if storage.capabilities().public_urls {
            Ok(())
        } else {
            Err(ConfigError::NoUrls {
                backend: storage.backend().to_owned(),
            })
        }
    }

    /// User uploads.
    pub fn media(&self) -> Result<Arc<dyn Storage>, ConfigError> {
        self.get(MEDIA)
    }

    /// Published assets.
    pub fn static_files(&self) -> Result<Arc<dyn Storage>, ConfigError> {
        self.get(STATIC)
    }

    /// The configured aliases, sorted.
    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// A storage from a command line's STORAGE: a settings URL (a `mirror:` one names aliases of this set) or an
    /// alias of this set ([`UrlOrAlias`]).
    pub fn resolve(&self, url_or_alias: &str) -> Result<Arc<dyn Storage>> {
        match UrlOrAlias::new(url_or_alias) {
            UrlOrAlias::Url(url) => {
                open_settings(&Settings::parse(url)?, &|name| Ok(self.get(name)?))
            }
            UrlOrAlias::Alias(alias) => Ok(self.get(alias)?),
        }
    }
}

/// What a command line's STORAGE stands for: a settings URL, anything with a `:` (`file:media`, `s3://bucket`), or
/// else the alias of a configured storage (`media`). Every command and [`Storages::resolve`] decide it here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlOrAlias<'a> {
    /// A settings URL.
    Url(&'a str),
    /// An alias.
    Alias(&'a str),
}

impl<'a> UrlOrAlias<'a> {
    /// What `arg` stands for.
    pub fn new(arg: &'a str) -> Self {
        if arg.contains(':') {
            Self::Url(arg)
        } else {
            Self::Alias(arg)
        }
    }

    /// The alias, when it is one.
    pub fn alias(self) -> Option<&'a str> {
        match self {
            Self::Url(_) => None,
            Self::Alias(alias) => Some(alias),
        }
    }

    /// The settings URL it stands for: itself, or the URL `urls` configure for the alias.
    pub fn url(self, urls: &'a BTreeMap<String, String>) -> Result<&'a str, ConfigError> {
        match self {
            Self::Url(url) => Ok(url),
            Self::Alias(alias) => urls
                .get(alias)
                .map(String::as_str)
                .ok_or_else(|| unknown_alias(alias, urls.keys())),
        }
    }

    /// As a message may show it: an alias in backquotes, a settings URL with its secrets masked.
    pub fn shown(self) -> String {
        match self {
            Self::Url(url) => crate::settings::redact(url),
            Self::Alias(alias) => format!("`{alias}`"),
        }
    }
}

/// Opens the one storage STORAGE stands for ([`UrlOrAlias`] among `urls`), and for a `mirror:` the aliases it
/// names, without parsing or opening any other alias of `urls`: what a command line needs. Like the storages of
/// [`Storages`], it comes wrapped in [`Traced`].
pub fn open_one(url_or_alias: &str, urls: &BTreeMap<String, String>) -> Result<Arc<dyn Storage>> {
    let leg = |name: &str| {
        let url = UrlOrAlias::Alias(name).url(urls)?;
        let named = parse_in_alias(name, url)?;
        if matches!(named.backend(), Backend::Mirror(_)) {
            return Err(mirror_of_mirror(name));
        }
        named
            .build()
            .map(Traced::wrap)
            .map_err(|e| error_in_alias(name, e))
    };
    let arg = UrlOrAlias::new(url_or_alias);
    let url = arg.url(urls)?;
    // An alias gets its defaults (media and static their base URLs), a URL given as it is none.
    let settings = match arg.alias() {
        Some(alias) => parse_in_alias(alias, url)?,
        None => Settings::parse(url)?,
    };
    open_settings(&settings, &leg).map_err(|e| match arg.alias() {
        Some(alias) => error_in_alias(alias, e),
        None => e,
    })
}

/// The storage `settings` describe (a `mirror:` finds the storages it names through `leg`), in [`Traced`].
fn open_settings(
    settings: &Settings,
    leg: &dyn Fn(&str) -> Result<Arc<dyn Storage>>,
) -> Result<Arc<dyn Storage>> {
    Ok(Traced::wrap(settings.build_with(leg)?))
}

/// The storage a mirror names as `name`: a plain storage of the set (built), never another mirror.
fn mirrored(
    name: &str,
    built: Option<&Arc<dyn Storage>>,
    parsed: &BTreeMap<String, Settings>,
) -> Result<Arc<dyn Storage>> {
    match (built, parsed.contains_key(name)) {
        (Some(storage), _) => Ok(Arc::clone(storage)),
        (None, true) => Err(mirror_of_mirror(name)),
        (None, false) => Err(unknown_alias(name, parsed.keys()).into()),
    }
}

fn mirror_of_mirror(name: &str) -> Error {
    ConfigError::InvalidValue {
        option: "primary/mirrors".into(),
        value: name.to_owned(),
        expected: "the alias of a plain storage: a mirror: storage cannot be part of another"
            .into(),
    }
    .into()
}

fn unknown_alias<'a>(name: &str, known: impl Iterator<Item = &'a String>) -> ConfigError {
    ConfigError::UnknownAlias {
        alias: name.to_owned(),
        known: known.cloned().collect::<Vec<_>>().join(", "),
    }
}

fn error_in_alias(alias: &str, e: Error) -> Error {
    match e {
        Error::Config(c) => Error::Config(in_alias(alias, c)),
        other => other,
    }
}

/// The URL of every alias `vars` configure, defaults included, without parsing or opening any of them (so one
/// can be used, or each checked, on its own).
pub fn configured_urls(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut urls: BTreeMap<String, String> = DEFAULTS
        .iter()
        .map(|(alias, url)| ((*alias).to_owned(), (*url).to_owned()))
        .collect();
    let vars: Vec<(String, String)> = vars.into_iter().collect();
    if let Some((_, path)) = vars.iter().find(|(k, _)| k == CONFIG_VAR) {
        urls.extend(read_file(Path::new(path))?);
    }
    for (key, value) in &vars {
        let Some(alias) = key
            .strip_prefix("STORAGES_")
            .and_then(|k| k.strip_suffix("_URL"))
        else {
            continue;
        };
        let alias = alias.to_ascii_lowercase();
        check_alias(&alias)?;
        urls.insert(alias, value.clone());
    }
    Ok(urls)
}

fn read_file(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let shown = path.display().to_string();
    let fail = |reason: String| ConfigError::File {
        path: shown.clone(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let at = |offset: usize, reason: String| {
        let before = &text[..offset.min(text.len())];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        ConfigError::FileSyntax {
            path: shown.clone(),
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            reason,
        }
    };
    let file: SettingsFile = toml::from_str(&text).map_err(|e| match e.span() {
        Some(span) => at(span.start, e.message().trim_end().to_owned()),
        None => fail(e.message().trim_end().to_owned()),
    })?;
    let mut urls = BTreeMap::new();
    for (alias, url) in file.storages {
        check_alias(alias.get_ref()).map_err(|e| at(alias.span().start, e.to_string()))?;
        urls.insert(alias.into_inner(), url);
    }
    Ok(urls)
}

pub(crate) fn check_alias(alias: &str) -> Result<(), ConfigError> {
    let ok = !alias.is_empty()
        && alias
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !alias.starts_with('_')
        && !alias.ends_with('_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::InvalidValue {
            option: "alias".into(),
            value: alias.to_owned(),
            expected: "lowercase letters, digits and inner `_`".into(),
        })
    }
}

/// `url` parsed as the settings of `alias`, with the alias's default `base_url` ([`DEFAULT_BASE_URLS`]).
fn parse_in_alias(alias: &str, url: &str) -> Result<Settings, ConfigError> {
    let settings = Settings::parse(url).map_err(|e| in_alias(alias, e))?;
    Ok(match DEFAULT_BASE_URLS.iter().find(|(a, _)| *a == alias) {
        Some((_, base_url)) => settings.or_base_url(base_url),
        None => settings,
    })
}

fn in_alias(alias: &str, error: ConfigError) -> ConfigError {
    ConfigError::InAlias {
        alias: alias.to_owned(),
        source: Box::new(error),
    }
}

/// Aliases and their URLs, secrets masked.
impl fmt::Debug for Storages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.entries
                    .iter()
                    .map(|(alias, (settings, _))| (alias, settings.to_string())),
            )
            .finish()
    }
}
