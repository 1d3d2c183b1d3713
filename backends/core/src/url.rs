//! Public URLs: the base URL and the percent-encoded name, built without I/O.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode, utf8_percent_encode};

use crate::Name;

/// Everything but RFC 3986's unreserved characters is encoded in a path segment, so a name's `#`, `?`, `%`,
/// spaces and non-ASCII characters can never change what the URL means.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `name` percent-encoded segment by segment, `/` kept between segments.
pub fn encode_name(name: &Name) -> String {
    let mut out = String::with_capacity(name.as_str().len() + 8);
    for (i, segment) in name.segments().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.extend(utf8_percent_encode(segment, SEGMENT));
    }
    out
}

/// A path as bytes (a file's, which need not be UTF-8) percent-encoded by the same rule as a name's segments, its
/// `/` kept: what a front server given a path in a header (`X-Sendfile`) decodes.
pub fn encode_path(path: &[u8]) -> String {
    const PATH: &AsciiSet = &SEGMENT.remove(b'/');
    percent_encode(path, PATH).to_string()
}

/// `base` followed by the encoded `name`, with exactly one `/` between them.
pub fn public_url(base: &str, name: &Name) -> String {
    let encoded = encode_name(name);
    if base.ends_with('/') {
        format!("{base}{encoded}")
    } else {
        format!("{base}/{encoded}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_per_segment() {
        let name = Name::new("a b/c#d?e%f/é.txt").unwrap();
        assert_eq!(
            public_url("/media/", &name),
            "/media/a%20b/c%23d%3Fe%25f/%C3%A9.txt"
        );
        assert_eq!(
            public_url("https://cdn.example.com/m", &name),
            "https://cdn.example.com/m/a%20b/c%23d%3Fe%25f/%C3%A9.txt"
        );
    }

    #[test]
    fn paths_are_encoded_as_names_are_with_their_separators_kept() {
        assert_eq!(
            encode_path(b"/srv/media/a b/c#d?e%f/\xc3\xa9\xff.txt"),
            "/srv/media/a%20b/c%23d%3Fe%25f/%C3%A9%FF.txt"
        );
    }
}
