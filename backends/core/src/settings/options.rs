//! Errors in settings: shared by the facade's URL parser and every backend's option parsing.

use super::http::{check_http_url, check_percent_escapes, check_printable_ascii, describe};
use super::redact::{printable, shown_value};

/// Settings that do not describe a usable storage. Every message names the offending value and never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The settings URL cannot be read at all.
    #[error("invalid settings URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL with any secret masked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The scheme names no backend.
    #[error("unknown storage scheme `{scheme}`: expected one of {known}")]
    UnknownScheme {
        /// The scheme given.
        scheme: String,
        /// The schemes this crate knows, comma-separated.
        known: String,
    },

    /// The backend exists but its cargo feature is off.
    #[error("backend `{backend}` is not enabled: enable the `{feature}` feature of `storages`")]
    BackendNotEnabled {
        /// The backend (`s3`, `nfs`, ...).
        backend: String,
        /// The feature that turns it on.
        feature: String,
    },

    /// The backend is planned but not part of this version.
    #[error("backend `{backend}` is not available in this version of `storages`")]
    BackendNotBuilt {
        /// The backend (`s3`, `nfs`, ...).
        backend: String,
    },

    /// An option the backend does not know.
    #[error("unknown option `{option}` for the {backend} backend: valid options are {valid}")]
    UnknownOption {
        /// The backend.
        backend: String,
        /// The option given.
        option: String,
        /// The valid options, comma-separated.
        valid: String,
    },

    /// The same option twice.
    #[error("option `{option}` is given more than once")]
    DuplicateOption {
        /// The option.
        option: String,
    },

    /// An option whose value cannot be used.
    #[error("invalid value `{value}` for option `{option}`: expected {expected}")]
    InvalidValue {
        /// The option.
        option: String,
        /// The value given (masked when the option is a secret).
        value: String,
        /// What would be accepted.
        expected: String,
    },

    /// A named storage that is not configured.
    #[error("no storage named `{alias}`: configured are {known}")]
    UnknownAlias {
        /// The alias asked for.
        alias: String,
        /// The configured aliases, comma-separated.
        known: String,
    },

    /// An error in the settings of one named storage.
    #[error("storage `{alias}`: {source}")]
    InAlias {
        /// The alias (`media`, `static`, ...).
        alias: String,
        /// What is wrong with its settings.
        #[source]
        source: Box<ConfigError>,
    },

    /// A storage that cannot make URLs, where an app needs them: no `base_url` on a backend without URLs of its
    /// own. The first words are [`crate::Error::Unsupported`]'s, which `url()` itself answers.
    #[error(
        "the {backend} backend does not support URLs without a base_url: add base_url=/PATH/ (or \
         https://CDN/PATH/) to its settings URL"
    )]
    NoUrls {
        /// The backend's name (`local`, `memory`, ...).
        backend: String,
    },

    /// A settings file that cannot be read.
    #[error("settings file `{path}`: {reason}")]
    File {
        /// The file's path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A settings file whose text is wrong at a place.
    #[error("settings file `{path}`, line {line}, column {column}: {reason}")]
    FileSyntax {
        /// The file's path.
        path: String,
        /// The line, from 1.
        line: usize,
        /// The column (in characters), from 1.
        column: usize,
        /// What is wrong there.
        reason: String,
    },
}

/// Reads a boolean option: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.
pub fn parse_bool(option: &str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid_value(
            option,
            value,
            "true or false (or 1/0, yes/no, on/off)",
        )),
    }
}

/// Reads a Unix permission mode written in octal (`644`, `0644`, `0o644`): permission bits only, as setuid,
/// setgid and sticky bits have no business on stored files and the directories holding them.
pub fn parse_mode(option: &str, value: &str) -> Result<u32, ConfigError> {
    let digits = value.strip_prefix("0o").unwrap_or(value);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if !digits.is_empty() && mode <= 0o777 => Ok(mode),
        _ => Err(invalid_value(
            option,
            value,
            "an octal mode from 0 to 777, such as 644 or 0755 (no setuid, setgid or sticky bits)",
        )),
    }
}

/// Reads a whole number of at least `min`.
pub fn parse_number(option: &str, value: &str, min: u64) -> Result<u64, ConfigError> {
    match value.parse::<u64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(invalid_value(
            option,
            value,
            &format!("a whole number of at least {min}"),
        )),
    }
}

/// The error for a value of `option` that cannot be used, the value shown with any secret masked.
pub fn invalid_value(option: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError::InvalidValue {
        option: option.to_owned(),
        value: shown_value(option, value),
        expected: expected.to_owned(),
    }
}

/// Reads a value sent as an HTTP header (`Cache-Control`, a session token): printable ASCII and spaces, not
/// empty. A control character (a CR or LF above all) could never be sent, and would be dropped or refused late.
pub fn parse_header_value<'v>(
    option: &str,
    value: &'v str,
    expected: &str,
) -> Result<&'v str, ConfigError> {
    if value.trim().is_empty() {
        return Err(invalid_value(
            option,
            value,
            &format!("{expected}; it is empty"),
        ));
    }
    match value.chars().find(|c| !(c.is_ascii_graphic() || *c == ' ')) {
        None => Ok(value),
        Some(c) => Err(invalid_value(
            option,
            value,
            &format!(
                "{expected}; it contains {}, which no HTTP header can carry",
                describe(c)
            ),
        )),
    }
}

/// Checks a `base_url`: an absolute path (`/media/`) or an absolute `http(s)://` URL (`https://cdn.example.com/m/`).
///
/// A relative path would mean something else on every page that links it, and `//host/` something else again
/// (a host, for a browser); a query or fragment would end up before the appended name, an invalid `%` escape or a
/// raw space in every URL, and credentials would be given out with every link.
fn check_base_url(option: &str, value: &str) -> Result<(), ConfigError> {
    const EXPECTED: &str =
        "a path such as /media/ or an http(s) URL such as https://cdn.example.com/media/";
    let fail = |reason: String| invalid_value(option, value, &format!("{EXPECTED}; {reason}"));
    if value.is_empty() {
        return Err(fail("it is empty".into()));
    }
    if value.contains("://") {
        return check_http_url(option, value, EXPECTED);
    }
    check_printable_ascii(value).map_err(fail)?;
    check_percent_escapes(value).map_err(fail)?;
    if !value.starts_with('/') || value.starts_with("//") {
        return Err(fail(
            "it is neither an absolute path (one `/` first) nor an http:// or https:// URL".into(),
        ));
    }
    if value.contains(['?', '#']) {
        return Err(fail(
            "it has a query or fragment (`?`, `#`), which names appended to it would break".into(),
        ));
    }
    Ok(())
}

/// The options every backend takes, as `option=value` text.
pub const COMMON_OPTIONS: &[&str] = &["base_url", "overwrite", "cache_control", "max_name_length"];

impl crate::CommonOptions {
    /// Sets one of [`COMMON_OPTIONS`] from text; `Ok(false)` when `option` is not one of them.
    pub fn set(&mut self, option: &str, value: &str) -> Result<bool, ConfigError> {
        match option {
            "base_url" => {
                check_base_url(option, value)?;
                self.base_url = Some(value.to_owned());
            }
            "overwrite" => self.overwrite = parse_bool(option, value)?,
            "cache_control" => {
                let value = parse_header_value(
                    option,
                    value,
                    "a Cache-Control value such as max-age=3600",
                )?;
                self.cache_control = Some(value.to_owned());
            }
            "max_name_length" => {
                let n = parse_number(option, value, 1)?;
                self.max_name_len = usize::try_from(n)
                    .map_err(|_| invalid_value(option, value, "a smaller number"))?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The error for an option `backend` does not know, listing the valid ones (common and `own`).
pub fn unknown_option(backend: &str, option: &str, own: &[&str]) -> ConfigError {
    let mut valid: Vec<&str> = COMMON_OPTIONS.iter().chain(own).copied().collect();
    valid.sort_unstable();
    ConfigError::UnknownOption {
        backend: backend.to_owned(),
        option: printable(option).into_owned(),
        valid: valid.join(", "),
    }
}
