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

    /// A settings file that cannot be read or parsed.
    #[error("settings file `{path}`: {reason}")]
    File {
        /// The file's path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}
