//! Settings as text, in one place: a settings URL split into its parts ([`SettingsUrl`], which every backend's
//! `from_url` reads), the [`BackendConfig`] trait through which the facade dispatches a scheme to its backend, the
//! redaction that keeps secrets out of every message ([`redact`]), the checks of http(s) URLs in options, and the
//! typed errors and value parsers every backend's options share.

mod backend;
mod http;
mod options;
mod redact;
mod url;

pub use self::backend::{BackendConfig, Cleaned, Leftover, LeftoverKind, UrlRules};
pub use self::http::{check_http_url, endpoint_origin, parse_endpoint};
pub use self::options::{
    COMMON_OPTIONS, ConfigError, invalid_value, parse_bool, parse_header_value, parse_mode,
    parse_number, unknown_option,
};
pub use self::redact::{
    MASK, is_secret_option, mask_userinfo, misplaced_userinfo, printable, redact, shown_value,
};
pub use self::url::SettingsUrl;
