//! The one reader of settings URLs: `scheme:[//authority]path[?options]` split into its parts, options decoded and
//! checked once, before any backend looks at them. Each backend reads its own parts from a [`SettingsUrl`] (its
//! `from_url`), so the rules every scheme shares (the scheme's shape, no fragment, no empty or repeated option, one
//! percent-decoder, no host on a local path) are written here once.

use std::fmt;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use super::backend::UrlRules;
use super::options::ConfigError;
use super::redact::{MASK, misplaced_userinfo, printable, redact};

/// A settings URL split into scheme, authority, path and options, with the text that may be shown of it (secrets
/// masked). `Debug` shows that text only: the authority may hold a password.
pub struct SettingsUrl<'a> {
    shown: String,
    scheme: String,
    authority: Option<&'a str>,
    path: &'a str,
    options: Vec<(String, String)>,
}

impl<'a> SettingsUrl<'a> {
    /// Splits `url`, given what the compiled-in backends declare ([`UrlRules`]: where their secrets may be, which
    /// options they take). Refused, naming the URL with its secrets masked: no scheme or one that is not a word, a
    /// `#` fragment, user info with an unencoded `/`, `?` or `#` where a scheme takes credentials there, and an
    /// empty or repeated option.
    pub fn parse(url: &'a str, rules: &[UrlRules]) -> Result<Self, ConfigError> {
        let shown = redact(url, rules);
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
        let credentials = rules
            .iter()
            .any(|r| r.credentials.contains(&scheme.as_str()));
        if credentials && misplaced_userinfo(url) {
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
        let (authority, path) = match location.strip_prefix("//") {
            Some(after) => {
                let end = after.find('/').unwrap_or(after.len());
                (Some(&after[..end]), &after[end..])
            }
            None => (None, location),
        };
        Ok(Self {
            shown,
            scheme,
            authority,
            path,
            options,
        })
    }

    /// The scheme, lowercase (`file`, `s3`).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The URL as it may be shown: secrets masked, control characters escaped.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The part after `//` up to the first `/`, as written (not decoded); `None` when the URL has no `//`.
    pub fn authority(&self) -> Option<&'a str> {
        self.authority
    }

    /// The path as written (not decoded): after the authority (empty or starting with `/`), or everything
    /// between the scheme and the options when there is no `//` (`media` in `file:media`).
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// Whether the URL has nothing between its scheme and its options but an empty authority (`memory:`,
    /// `memory://`, `memory:///`).
    pub fn is_bare(&self) -> bool {
        matches!(
            (self.authority, self.path),
            (None, "") | (Some(""), "" | "/")
        )
    }

    /// The options, decoded, in the order given (none repeated).
    pub fn options(&self) -> &[(String, String)] {
        &self.options
    }

    /// The decoded value of `option`, when given.
    pub fn option(&self, option: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == option)
            .map(|(_, v)| v.as_str())
    }

    /// The error for this URL, saying `reason`.
    pub fn invalid(&self, reason: &str) -> ConfigError {
        ConfigError::InvalidUrl {
            url: self.shown.clone(),
            reason: reason.to_owned(),
        }
    }

    /// `part` of this URL percent-decoded; `what` names it in the error when it is not UTF-8 once decoded
    /// (`the path`, `the secret key`: never its value, which may be a secret).
    pub fn decode(&self, part: &str, what: &str) -> Result<String, ConfigError> {
        percent_decode_str(part)
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
            .map_err(|_| self.invalid(&format!("{what} is not UTF-8 once decoded")))
    }

    /// The path of a directory on this machine (`file:`, `nfs:`): no host but `localhost` (`write` says what to
    /// write instead), decoded, without NUL bytes. It may be empty or relative: the backend decides.
    pub fn local_path(&self, write: &str) -> Result<PathBuf, ConfigError> {
        if let Some(host) = self
            .authority
            .filter(|h| !h.is_empty() && !h.eq_ignore_ascii_case("localhost"))
        {
            // Neither user info nor port: either may be part of a password.
            let host = host.rsplit('@').next().unwrap_or_default();
            let host = printable(host.split(':').next().unwrap_or_default());
            return Err(self.invalid(&format!(
                "{} URLs take no host (`{host}`): {write}",
                self.scheme
            )));
        }
        let path = self.decode(self.path, "the path")?;
        if path.contains('\0') {
            return Err(self.invalid("the path contains a NUL byte"));
        }
        Ok(PathBuf::from(path))
    }
}

/// The URL as it may be shown, and its scheme.
impl fmt::Debug for SettingsUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SettingsUrl")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &[UrlRules] = &[
        UrlRules::new(&["file"], &[]).with_paths(),
        UrlRules::new(&["minio"], &["region"]).with_credentials(&["minio"]),
    ];

    #[test]
    fn urls_split_into_scheme_authority_path_and_decoded_options() {
        let cases: &[(&str, &str, Option<&str>, &str)] = &[
            ("file:///srv/m?x=1", "file", Some(""), "/srv/m"),
            ("FILE://localhost/srv", "file", Some("localhost"), "/srv"),
            ("file:media", "file", None, "media"),
            ("file:/srv", "file", None, "/srv"),
            ("minio://K:S@h:9/b/p", "minio", Some("K:S@h:9"), "/b/p"),
            ("memory://", "memory", Some(""), ""),
            ("memory:", "memory", None, ""),
        ];
        for (text, scheme, authority, path) in cases {
            let url = SettingsUrl::parse(text, RULES).expect(text);
            assert_eq!(
                (url.scheme(), url.authority(), url.path()),
                (*scheme, *authority, *path),
                "{text}"
            );
        }
        let url = SettingsUrl::parse("file:m?base_url=%2Fm%2F&a=b+c", RULES).expect("parse");
        assert_eq!(url.option("base_url"), Some("/m/"));
        assert_eq!(url.option("a"), Some("b c"));
        assert_eq!(url.option("z"), None);
    }

    #[test]
    fn bad_urls_are_refused_with_their_secrets_masked() {
        let cases = [
            ("no-scheme", "it has no scheme"),
            (":x", "not a word"),
            ("fi le:x", "not a word"),
            ("file:///a#frag", "`#` fragment"),
            ("minio://K:Se/CrEt@h/b", "percent-encode them"),
            ("minio://K:Se#CrEt@h/b", "percent-encode them"),
        ];
        for (text, reason) in cases {
            let err = SettingsUrl::parse(text, RULES).expect_err(text).to_string();
            assert!(err.contains(reason), "{text}: {err}");
            assert!(!err.contains("CrEt"), "{text}: {err}");
        }
        assert!(matches!(
            SettingsUrl::parse("file:m?a=1&a=2", RULES),
            Err(ConfigError::DuplicateOption { option }) if option == "a"
        ));
        assert!(matches!(
            SettingsUrl::parse("file:m?=SeCrEt", RULES),
            Err(ConfigError::InvalidValue { value, .. }) if value == MASK
        ));
    }

    #[test]
    fn local_paths_take_no_host_and_are_decoded_once() {
        let path = |text| {
            SettingsUrl::parse(text, RULES)
                .expect(text)
                .local_path("fix")
        };
        assert_eq!(
            path("file:///a%20b/%C3%A9").expect("decoded"),
            PathBuf::from("/a b/é")
        );
        assert_eq!(
            path("file://LOCALHOST/a").expect("localhost"),
            PathBuf::from("/a")
        );
        let err = path("file://u:SeCrEt@server:1/a")
            .expect_err("host")
            .to_string();
        assert!(
            err.contains("file URLs take no host (`server`): fix"),
            "{err}"
        );
        assert!(!err.contains("SeCrEt"), "{err}");
        let err = path("file:///a%FF").expect_err("not UTF-8").to_string();
        assert!(err.contains("the path is not UTF-8 once decoded"), "{err}");
        let err = path("file:///a%00").expect_err("NUL").to_string();
        assert!(err.contains("NUL byte"), "{err}");
    }

    #[test]
    fn debug_shows_only_the_masked_url() {
        let url = SettingsUrl::parse("minio://K:SeCrEt@h/b", RULES).expect("parse");
        let debug = format!("{url:?}");
        assert!(
            debug.contains("minio://K:***@h/b") && !debug.contains("SeCrEt"),
            "{debug}"
        );
    }
}
