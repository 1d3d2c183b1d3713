//! Secrets in settings text: which options hold one, and URLs shown with the password of their user info masked.
//! Every message, `Display` and `Debug` of settings goes through these, so a secret never reaches a log.

use std::borrow::Cow;

use super::backend::UrlRules;
use super::options::COMMON_OPTIONS;

/// What a masked secret is shown as.
pub const MASK: &str = "***";

/// Whether an option's value is a secret that must never be shown.
pub fn is_secret_option(option: &str) -> bool {
    let o = option.to_ascii_lowercase();
    ["secret", "password", "token", "session", "credential"]
        .iter()
        .any(|s| o.contains(s))
        || (o.contains("key") && !o.contains("key_id") && !o.contains("keyid"))
}

/// `url` with the user info of its authority masked: `http://user:***@host/...`, or `http://***@host/...` when
/// there is no password (a lone user part is often a token) or the user part may hold part of one. Text without
/// `://` and `@` is returned as it is.
///
/// Passwords are often written unencoded, and AWS-style secrets hold `/`, `+` and `=`: so the user info ends at
/// the last `@` before any `?` or `#` (not only before the path), or else at the first `@` with no `=` before it
/// (a `?` in the password). An `@` in a path is masked too: masking too much is the safe side.
pub fn mask_userinfo(url: &str) -> Cow<'_, str> {
    let Some((start, at, _)) = userinfo_span(url) else {
        return Cow::Borrowed(url);
    };
    let userinfo = &url[start..at];
    let user = match userinfo.split_once(':') {
        Some((user, _)) => user,
        None => userinfo,
    };
    let masked_user = if userinfo.contains(':') && !user.contains(['/', '?', '#']) {
        format!("{user}:{MASK}")
    } else {
        MASK.to_owned()
    };
    Cow::Owned(format!("{}{masked_user}{}", &url[..start], &url[at..]))
}

/// Whether `url` seems to hold user info with an unencoded `/`, `?` or `#` (`minio://KEY:SE/CRET@host/...`): a
/// parser would split it there and quote a piece of the secret as a host, port or path.
pub fn misplaced_userinfo(url: &str) -> bool {
    userinfo_span(url).is_some_and(|(_, _, proper)| !proper)
}

/// Where the user info of `url` starts and where its `@` is, by [`mask_userinfo`]'s rule, and whether that `@`
/// lies inside the authority proper (before any `/`).
fn userinfo_span(url: &str) -> Option<(usize, usize, bool)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let head_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let at = match rest[..head_end].rfind('@') {
        Some(at) => at,
        None => match rest.find('@') {
            Some(at) if !rest[..at].contains('=') => at,
            _ => return None,
        },
    };
    Some((start, start + at, !rest[..at].contains(['/', '?', '#'])))
}

/// A settings URL as it may be shown: the password of its user info, the user info of any URL in an option's
/// value, the values of secret options and the values of options no backend in `rules` takes (a misspelt secret
/// option, say) replaced by `***`, control characters escaped.
pub fn redact(url: &str, rules: &[UrlRules]) -> String {
    let scheme = url.split_once(':').map_or("", |(s, _)| s);
    let paths = rules
        .iter()
        .any(|r| r.paths && r.schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)));
    // A path may hold an `@`: where a scheme has one, only the authority's counts.
    let masked = if paths {
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
            let key = pair.split_once('=').map_or(pair, |(key, _)| key);
            // Decoded, as the parser reads them: `aws_s%65cret_access_key` is a secret option too.
            let (key_decoded, value_decoded) = form_urlencoded::parse(pair.as_bytes())
                .next()
                .unwrap_or_default();
            let shown = if is_known_option(&key_decoded, rules) || value_decoded.is_empty() {
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

/// Whether a backend of `rules` takes `option` (an entry ending in `*` takes every option it starts), so its value
/// can be shown unless it is a secret.
fn is_known_option(option: &str, rules: &[UrlRules]) -> bool {
    let known = |entry: &&str| match entry.strip_suffix('*') {
        Some(prefix) => option.starts_with(prefix),
        None => *entry == option,
    };
    COMMON_OPTIONS.contains(&option) || rules.iter().any(|r| r.options.iter().any(known))
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

/// `text` with its control characters escaped (`\n`, `\u{7}`), so a value quoted in a message stays on one line
/// and cannot forge another.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().collect()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// An option's value as it may be shown: masked whole when the option is a secret, else with any URL's user info
/// masked.
pub fn shown_value(option: &str, value: &str) -> String {
    if is_secret_option(option) {
        MASK.to_owned()
    } else {
        printable(&mask_userinfo(value)).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_masked_wherever_it_may_end() {
        let cases = [
            ("http://u:SeCrEt@h:1/x", "http://u:***@h:1/x"),
            ("http://SeCrEt@h", "http://***@h"),
            ("minio://K:Se/Cr?Et@h/b", "minio://K:***@h/b"),
            ("s3://b/a@b/c", "s3://***@b/c"),
            ("http://u:Se/Cr+Et=@h:1", "http://u:***@h:1"),
            ("http://u:Se/Cr=Et@h:1/?x=@y", "http://u:***@h:1/?x=@y"),
            ("minio://K:Se?CrEt@h/b", "minio://K:***@h/b"),
            ("minio://K:S@e@h/b", "minio://K:***@h/b"),
            ("http://h/a?x=y@z", "http://h/a?x=y@z"),
            ("https://cdn.example.com/m/", "https://cdn.example.com/m/"),
            ("/media/", "/media/"),
            ("", ""),
        ];
        for (url, shown) in cases {
            assert_eq!(mask_userinfo(url), shown, "{url}");
        }
    }

    #[test]
    fn misplaced_user_info_is_found() {
        for url in [
            "minio://K:Se/Cr@h/b",
            "minio://K:Se?Cr@h/b",
            "http://u:p#x@h",
        ] {
            assert!(misplaced_userinfo(url), "{url}");
        }
        for url in [
            "minio://K:S@h/b",
            "minio://h/b",
            "s3://b?endpoint=http://h&x=a@b",
            "/m/",
        ] {
            assert!(!misplaced_userinfo(url), "{url}");
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            printable("a\r\nSet-Cookie: x\u{7}"),
            "a\\r\\nSet-Cookie: x\\u{7}"
        );
        assert_eq!(printable("plain é"), "plain é");
        assert_eq!(shown_value("cache_control", "a\nb"), "a\\nb");
    }

    #[test]
    fn secret_options_are_masked_whole() {
        assert_eq!(shown_value("aws_secret_access_key", "x"), "***");
        assert_eq!(shown_value("aws_session_token", "x"), "***");
        assert_eq!(shown_value("aws_access_key_id", "AKID"), "AKID");
        assert_eq!(shown_value("endpoint", "http://a:b@h"), "http://a:***@h");
    }
}
