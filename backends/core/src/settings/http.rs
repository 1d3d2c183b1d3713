//! http(s) URLs in settings (an S3 endpoint, a CDN's base URL), checked when the settings are read: the HTTP
//! clients further down parse them again late, and some panic on what they cannot parse.

use url::{Host, Url};

use super::redact::{misplaced_userinfo, shown_value};
use crate::ConfigError;

/// What an `http://` or `https://` URL in settings may hold besides scheme, host and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A server's address only: requests add the bucket and the names to it.
    Origin,
    /// A path too (a base URL that names are appended to).
    WithPath,
}

/// Reads a server's address (`http://127.0.0.1:9000`, `https://[::1]:3900`, `https://s3.example.com`) and returns
/// it normalized as `scheme://host[:port]`: lowercase, the default port left out, no trailing `/`.
///
/// Refused, naming the value (credentials masked) and the reason: another scheme, no host, a host no HTTP client
/// accepts, a port outside 1..=65535, an IPv6 address without its brackets, a path, query or fragment, spaces,
/// control or non-ASCII characters, and user info: requests are signed with the access key, so a password in the
/// address could only be sent along in the clear or leak into the URLs given out.
pub fn parse_endpoint(option: &str, value: &str) -> Result<String, ConfigError> {
    endpoint_origin(value).map_err(|reason| {
        invalid(
            option,
            value,
            "an http:// or https:// server address such as http://127.0.0.1:9000",
            &reason,
        )
    })
}

/// [`parse_endpoint`] for a server address that is part of a bigger value (the host of a `minio://` URL): the
/// normalized address, or why it is refused (never repeating a password).
pub fn endpoint_origin(value: &str) -> Result<String, String> {
    let url = parse(value, Shape::Origin)?;
    let host = url.host_str().unwrap_or_default();
    Ok(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// Checks an absolute `http://` or `https://` URL that may have a path (such as `https://cdn.example.com/media/`),
/// by the rules of [`parse_endpoint`] otherwise.
pub fn check_http_url(option: &str, value: &str, expected: &str) -> Result<(), ConfigError> {
    parse(value, Shape::WithPath)
        .map(drop)
        .map_err(|reason| invalid(option, value, expected, &reason))
}

/// Checks that every `%` in `value` starts a percent escape (`%` and two hex digits).
pub fn check_percent_escapes(value: &str) -> Result<(), String> {
    let bytes = value.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let escape = bytes.get(i + 1..i + 3);
            if !escape.is_some_and(|e| e.iter().all(u8::is_ascii_hexdigit)) {
                let shown: String = value[i..].chars().take(3).collect();
                return Err(format!(
                    "`{shown}` is not a percent escape (write %25 for a `%`)"
                ));
            }
        }
    }
    Ok(())
}

/// Checks that `value` is printable ASCII: no space, control or non-ASCII character.
pub fn check_printable_ascii(value: &str) -> Result<(), String> {
    match value.chars().find(|c| !c.is_ascii_graphic()) {
        None => Ok(()),
        Some(c) => Err(format!(
            "it contains {}: write it percent-encoded (a host in punycode)",
            describe(c)
        )),
    }
}

/// The kind of a refused character, for a message: never the character itself, which may be part of a secret.
pub(crate) fn describe(c: char) -> &'static str {
    match c {
        ' ' => "a space",
        '\r' | '\n' => "a line break (CR or LF)",
        c if c.is_control() => "a control character",
        _ => "a non-ASCII character",
    }
}

fn invalid(option: &str, value: &str, expected: &str, reason: &str) -> ConfigError {
    ConfigError::InvalidValue {
        option: option.to_owned(),
        value: shown_value(option, value),
        expected: format!("{expected}; {reason}"),
    }
}

fn parse(value: &str, shape: Shape) -> Result<Url, String> {
    check_printable_ascii(value)?;
    let lower = value.get(..8).unwrap_or(value).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err("it does not start with http:// or https://".to_owned());
    }
    let url = Url::parse(value).map_err(|e| reason(value, e))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "it holds credentials (`user:password@`), which would be sent in the clear or given out with every \
             URL: remove them (S3 requests are signed with the access key)"
                .to_owned(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(
            "it has a query or fragment (`?`, `#`), which names appended to it would break"
                .to_owned(),
        );
    }
    if shape == Shape::Origin && url.path() != "/" {
        return Err(format!(
            "it has a path (`{}`): give the server's address only, the bucket and names are added to it",
            url.path()
        ));
    }
    // Only now: a `%` in the user info is part of a password, never to be quoted.
    check_percent_escapes(url.path())?;
    match url.host() {
        Some(Host::Domain(domain)) => {
            // What the URL standard lets through but HTTP's own URI grammar does not (`"`, `{`, `!`, ...):
            // object_store hands the URL from one to the other and panics in between.
            if !domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            {
                return Err(format!(
                    "the host `{domain}` is not a valid host name (letters, digits, `-`, `_` and `.` only)"
                ));
            }
        }
        Some(Host::Ipv4(_) | Host::Ipv6(_)) => {}
        None => return Err("it has no host".to_owned()),
    }
    if url.port() == Some(0) {
        return Err("port 0 is no port a server listens on".to_owned());
    }
    Ok(url)
}

fn reason(value: &str, e: url::ParseError) -> String {
    use url::ParseError as E;
    if misplaced_userinfo(value) {
        // The parser split a password at its `/`, `?` or `#`: quoting the host or port would quote a piece of it.
        return "it is not a valid URL (percent-encode any `/`, `?` and `#` before an `@`)"
            .to_owned();
    }
    let authority = value
        .split_once("://")
        .map_or("", |(_, rest)| rest)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match e {
        E::EmptyHost if host_port.matches(':').count() > 1 => format!(
            "`{host_port}` looks like an IPv6 address: write it in brackets, such as http://[::1]:9000"
        ),
        E::EmptyHost => "it has no host".to_owned(),
        E::InvalidPort => {
            let port = host_port.rsplit_once(':').map_or("", |(_, p)| p);
            format!("the port `{port}` is not a number from 1 to 65535")
        }
        E::InvalidIpv6Address => {
            format!("`{host_port}` is not a valid IPv6 address in brackets, such as [::1]:9000")
        }
        E::InvalidIpv4Address => {
            format!("`{host_port}` ends in a number but is not a valid IPv4 address")
        }
        E::IdnaError | E::InvalidDomainCharacter => {
            format!("the host `{host_port}` is not a valid host name")
        }
        other => format!("it is not a valid URL ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_normalized_origins() {
        let cases = [
            ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
            ("http://127.0.0.1:9000/", "http://127.0.0.1:9000"),
            ("HTTPS://S3.Example.COM:443", "https://s3.example.com"),
            ("http://[::1]:3900", "http://[::1]:3900"),
            ("https://minio.internal:9000", "https://minio.internal:9000"),
        ];
        for (value, normalized) in cases {
            assert_eq!(
                parse_endpoint("endpoint", value).as_deref(),
                Ok(normalized),
                "{value}"
            );
        }
    }

    #[test]
    fn bad_endpoints_say_why_and_never_show_a_password() {
        let cases = [
            (
                "http://127.0.0.1:99999",
                "the port `99999` is not a number from 1 to 65535",
            ),
            ("http://127.0.0.1:abc", "the port `abc`"),
            ("http://[::1", "`[::1` is not a valid IPv6 address"),
            ("http://::1:9000", "write it in brackets"),
            ("http://127.0.0.1:0", "port 0"),
            ("http://999.1.1.1", "not a valid IPv4 address"),
            ("http://h/x", "it has a path (`/x`)"),
            ("http://h?x=1", "query or fragment"),
            ("http://h#x", "query or fragment"),
            ("http://", "no host"),
            ("ftp://h", "does not start with http://"),
            ("localhost:9000", "does not start with http://"),
            ("http://h\n", "a line break"),
            ("http://h\u{7}", "a control character"),
            ("http://a b", "a space"),
            ("http://bücher.example", "a non-ASCII character"),
            ("http://h%zz", "not a valid host name"),
            ("http://u:p%zz@h", "holds credentials"),
            ("http://a\"b", "not a valid host name"),
            ("http://a{b}", "not a valid host name"),
            ("http://a!b", "not a valid host name"),
            ("http://u:SeCrEt@h:1", "holds credentials"),
            ("http://u:Se/CrEt@h:1", "percent-encode any `/`"),
            ("http://u:SeCrEt/x@h:1", "percent-encode any `/`"),
        ];
        for (value, reason) in cases {
            let err = parse_endpoint("endpoint", value)
                .expect_err(value)
                .to_string();
            assert!(err.contains(reason), "{value}: {err}");
            assert!(err.contains("option `endpoint`"), "{value}: {err}");
            assert!(!err.contains("SeCrEt"), "{value}: {err}");
        }
    }

    #[test]
    fn urls_with_paths_keep_the_same_rules() {
        let expected = "a URL";
        assert!(check_http_url("base_url", "https://cdn.example.com/m/", expected).is_ok());
        assert!(check_http_url("base_url", "https://cdn.example.com", expected).is_ok());
        for bad in [
            "https://u:SeCrEt@cdn.example.com/m/",
            "https://cdn.example.com/m/?v=1",
            "https://cdn.example.com/%zz/",
            "https://cdn.example.com/a%2/",
            "https://cdn.example.com:99999/",
        ] {
            let err = check_http_url("base_url", bad, expected)
                .expect_err(bad)
                .to_string();
            assert!(!err.contains("SeCrEt"), "{err}");
        }
    }
}
