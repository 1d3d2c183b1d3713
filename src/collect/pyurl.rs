//! The string functions of Python's `urllib.parse` and `posixpath` that Django's reference rewriting goes through,
//! reproduced as CPython 3.11 writes them.
//!
//! `ManifestStaticFilesStorage` unquotes, splits, joins, normalises and quotes every reference on its way to a hashed
//! name, and the odd corners of those functions (a query dropped when empty, a `\r` removed, a `%20` decoded into a
//! space) show in the files it writes. Reproducing them, rather than parsing URLs properly, is what makes our
//! rewritten CSS byte-identical to Django's.

/// Schemes after which `urlunsplit` writes `//` (`uses_netloc`).
const USES_NETLOC: &[&str] = &[
    "", "ftp", "http", "gopher", "nntp", "telnet", "imap", "wais", "file", "mms", "https", "shttp",
    "snews", "prospero", "rtsp", "rtsps", "rtspu", "rsync", "svn", "svn+ssh", "sftp", "nfs", "git",
    "git+ssh", "ws", "wss",
];

/// Schemes whose last path segment may carry `;params` (`uses_params`).
const USES_PARAMS: &[&str] = &[
    "", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtsps", "rtspu",
    "sip", "sips", "mms", "sftp", "tel",
];

/// Python's `str.isspace()` (and so `str.strip()` and the `\s` of `re`): Unicode whitespace plus the four ASCII
/// separators U+001C..U+001F, which Rust's `char::is_whitespace` leaves out.
pub(crate) fn is_py_space(c: char) -> bool {
    matches!(c, '\t'..='\r' | '\x1c'..='\x1f' | ' ' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
        | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

/// `str.strip()`.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// The five parts `urlsplit` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Split {
    pub scheme: String,
    pub netloc: String,
    pub path: String,
    pub query: String,
    pub fragment: String,
}

/// `urllib.parse.urlsplit(url)`.
pub(crate) fn urlsplit(url: &str) -> Split {
    let url = url.trim_start_matches(|c: char| c <= ' ');
    let mut url: String = url
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let mut split = Split::default();
    if let Some(i) = url.find(':') {
        let first = url.chars().next().unwrap_or(' ');
        let scheme_like = url[..i]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if i > 0 && first.is_ascii_alphabetic() && scheme_like {
            split.scheme = url[..i].to_ascii_lowercase();
            url = url[i + 1..].to_owned();
        }
    }
    if url.starts_with("//") {
        let end = url[2..].find(['/', '?', '#']).map_or(url.len(), |i| i + 2);
        split.netloc = url[2..end].to_owned();
        url = url[end..].to_owned();
    }
    if let Some((before, fragment)) = url.split_once('#') {
        split.fragment = fragment.to_owned();
        url = before.to_owned();
    }
    if let Some((before, query)) = url.split_once('?') {
        split.query = query.to_owned();
        url = before.to_owned();
    }
    split.path = url;
    split
}

/// `urllib.parse.urlunsplit(parts)`.
pub(crate) fn urlunsplit(parts: &Split) -> String {
    let mut url = parts.path.clone();
    let netloc_scheme = !parts.scheme.is_empty() && USES_NETLOC.contains(&parts.scheme.as_str());
    if !parts.netloc.is_empty() || (netloc_scheme && !url.starts_with("//")) {
        if !url.is_empty() && !url.starts_with('/') {
            url.insert(0, '/');
        }
        url = format!("//{}{url}", parts.netloc);
    }
    if !parts.scheme.is_empty() {
        url = format!("{}:{url}", parts.scheme);
    }
    if !parts.query.is_empty() {
        url = format!("{url}?{}", parts.query);
    }
    if !parts.fragment.is_empty() {
        url = format!("{url}#{}", parts.fragment);
    }
    url
}

/// `urllib.parse.urldefrag(url)`: the URL without its fragment (rebuilt by `urlparse`/`urlunparse` when it had
/// one, which drops an empty query), and the fragment.
pub(crate) fn urldefrag(url: &str) -> (String, String) {
    if !url.contains('#') {
        return (url.to_owned(), String::new());
    }
    let mut split = urlsplit(url);
    let fragment = std::mem::take(&mut split.fragment);
    // urlparse splits `;params` off the last segment and urlunparse puts them back, losing a lone `;`.
    if USES_PARAMS.contains(&split.scheme.as_str()) && split.path.contains(';') {
        let from = split.path.rfind('/').unwrap_or(0);
        let at = if split.path.contains('/') {
            split.path[from..].find(';').map(|i| i + from)
        } else {
            split.path.find(';')
        };
        if let Some(at) = at {
            let params = split.path[at + 1..].to_owned();
            split.path.truncate(at);
            if !params.is_empty() {
                split.path = format!("{};{params}", split.path);
            }
        }
    }
    (urlunsplit(&split), fragment)
}

/// `urllib.parse.unquote(s)`: `%XX` escapes decoded as UTF-8 in each run of ASCII, invalid sequences replaced by
/// U+FFFD.
pub(crate) fn unquote(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let ascii_len = rest.find(|c: char| !c.is_ascii()).unwrap_or(rest.len());
        let (ascii, after) = rest.split_at(ascii_len);
        // An escape that is not `%XX` stays as it is, in Python and in `percent_decode` alike.
        let decoded: Vec<u8> = percent_encoding::percent_decode(ascii.as_bytes()).collect();
        out.push_str(&String::from_utf8_lossy(&decoded));
        let other_len = after.find(|c: char| c.is_ascii()).unwrap_or(after.len());
        out.push_str(&after[..other_len]);
        rest = &after[other_len..];
    }
    out
}

/// `urllib.parse.quote(s, safe="/~!*()'")`, as Django's `filepath_to_uri` calls it.
pub(crate) fn quote_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~/!*()'".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `posixpath.normpath(path)`.
pub(crate) fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let initial = if path.starts_with("//") && !path.starts_with("///") {
        2
    } else if path.starts_with('/') {
        1
    } else {
        0
    };
    let mut comps: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        if comp.is_empty() || comp == "." {
            continue;
        }
        if comp != ".." || (initial == 0 && comps.is_empty()) || comps.last() == Some(&"..") {
            comps.push(comp);
        } else if !comps.is_empty() {
            comps.pop();
        }
    }
    let joined = format!("{}{}", "/".repeat(initial), comps.join("/"));
    if joined.is_empty() {
        ".".to_owned()
    } else {
        joined
    }
}

/// `posixpath.split(path)`: the head (trailing slashes removed unless it is all slashes) and the last component.
pub(crate) fn split(path: &str) -> (&str, &str) {
    let i = path.rfind('/').map_or(0, |i| i + 1);
    let (head, tail) = path.split_at(i);
    if !head.is_empty() && head.chars().any(|c| c != '/') {
        (head.trim_end_matches('/'), tail)
    } else {
        (head, tail)
    }
}

/// `posixpath.join(a, b)` of two components.
pub(crate) fn join(a: &str, b: &str) -> String {
    if b.starts_with('/') {
        b.to_owned()
    } else if a.is_empty() || a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// The last path segment of `urljoin(base, quoted)` for a relative `quoted`: dot segments resolve to a directory.
pub(crate) fn joined_last_segment(quoted: &str) -> &str {
    match quoted.rsplit('/').next().unwrap_or("") {
        "." | ".." => "",
        last => last,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_matches_python() {
        let s = urlsplit("../fonts/a.woff2?v=1#iefix");
        assert_eq!(
            (s.path.as_str(), s.query.as_str(), s.fragment.as_str()),
            ("../fonts/a.woff2", "v=1", "iefix")
        );
        assert_eq!(urlsplit("C:x").scheme, "c");
        assert_eq!(urlsplit("css/a:b").scheme, "");
        assert_eq!(urlsplit(" x.map\r").path, "x.map");
        assert_eq!(
            urldefrag("a.eot?#iefix"),
            ("a.eot".to_owned(), "iefix".to_owned())
        );
        assert_eq!(urldefrag("a;#x"), ("a".to_owned(), "x".to_owned()));
        assert_eq!(urldefrag("a;b#x"), ("a;b".to_owned(), "x".to_owned()));
        assert_eq!(urlunsplit(&urlsplit("http:x")), "http:///x");
    }

    #[test]
    fn quoting_matches_python() {
        assert_eq!(unquote("a%20b%zz%"), "a b%zz%");
        assert_eq!(unquote("%C3%A9t%C3"), "ét\u{fffd}");
        assert_eq!(unquote("%C3é"), "\u{fffd}é");
        assert_eq!(quote_path("a b/é?#:=.png"), "a%20b/%C3%A9%3F%23%3A%3D.png");
    }

    #[test]
    fn paths_match_python() {
        assert_eq!(normpath("css/../img/./a.png"), "img/a.png");
        assert_eq!(normpath("../../a"), "../../a");
        assert_eq!(normpath("a/.."), ".");
        assert_eq!(normpath("//a//b/"), "//a/b");
        assert_eq!(split("a/b/c.css"), ("a/b", "c.css"));
        assert_eq!(split("c.css"), ("", "c.css"));
        assert_eq!(join("css", "../img/a.png"), "css/../img/a.png");
        assert_eq!(join("", "a.png"), "a.png");
        assert!(is_py_space('\x1c') && !is_py_space('x'));
    }
}
