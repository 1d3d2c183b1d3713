//! Errors in settings: shared by the facade's URL parser and every backend's option parsing.

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

    /// A settings file that cannot be read or parsed.
    #[error("settings file `{path}`: {reason}")]
    File {
        /// The file's path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads a boolean option: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.
pub fn parse_bool(option: &str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(option, value, "true or false")),
    }
}

/// Reads a Unix permission mode written in octal (`644`, `0644`, `0o644`).
pub fn parse_mode(option: &str, value: &str) -> Result<u32, ConfigError> {
    let digits = value.strip_prefix("0o").unwrap_or(value);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if !digits.is_empty() && mode <= 0o7777 => Ok(mode),
        _ => Err(invalid(option, value, "an octal mode such as 644 or 0755")),
    }
}

/// Reads a whole number of at least `min`.
pub fn parse_number(option: &str, value: &str, min: u64) -> Result<u64, ConfigError> {
    match value.parse::<u64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(invalid(
            option,
            value,
            &format!("a whole number of at least {min}"),
        )),
    }
}

fn invalid(option: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError::InvalidValue {
        option: option.to_owned(),
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

/// The options every backend takes, as `option=value` text.
pub const COMMON_OPTIONS: &[&str] = &["base_url", "overwrite", "cache_control", "max_name_length"];

impl crate::CommonOptions {
    /// Sets one of [`COMMON_OPTIONS`] from text; `Ok(false)` when `option` is not one of them.
    pub fn set(&mut self, option: &str, value: &str) -> Result<bool, ConfigError> {
        match option {
            "base_url" => {
                if value.is_empty() {
                    return Err(invalid(
                        option,
                        value,
                        "a URL or path prefix such as /media/",
                    ));
                }
                self.base_url = Some(value.to_owned());
            }
            "overwrite" => self.overwrite = parse_bool(option, value)?,
            "cache_control" => self.cache_control = Some(value.to_owned()),
            "max_name_length" => {
                let n = parse_number(option, value, 1)?;
                self.max_name_len =
                    usize::try_from(n).map_err(|_| invalid(option, value, "a smaller number"))?;
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
        option: option.to_owned(),
        valid: valid.join(", "),
    }
}
