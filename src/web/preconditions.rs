//! RFC 9110 §13: conditional requests, evaluated in the order §13.2.2 prescribes, and the validators they compare.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, header};

/// What the preconditions say about a `GET` or `HEAD` of a representation with these validators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Send it (whole or by range).
    Proceed,
    /// `304 Not Modified`: the client's copy is current.
    NotModified,
    /// `412 Precondition Failed`.
    Failed,
}

/// A representation's validators: its entity tag (normalized, quoted) and its modification time in whole seconds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Validators {
    pub etag: Option<EntityTag>,
    pub last_modified: Option<SystemTime>,
}

impl Validators {
    pub fn new(etag: Option<&str>, modified: Option<SystemTime>) -> Self {
        Self {
            etag: etag.and_then(EntityTag::normalize),
            last_modified: modified.and_then(http_seconds),
        }
    }

    /// §13.2.2 steps 1 to 4 for `GET`/`HEAD`: If-Match, else If-Unmodified-Since (412); then If-None-Match, else
    /// If-Modified-Since (304).
    pub fn evaluate(&self, headers: &HeaderMap) -> Outcome {
        if let Some(if_match) = header_str(headers, &header::IF_MATCH) {
            if !self.matches_any(if_match, Comparison::Strong) {
                return Outcome::Failed;
            }
        } else if let (Some(since), Some(modified)) = (
            header_date(headers, &header::IF_UNMODIFIED_SINCE),
            self.last_modified,
        ) {
            if modified > since {
                return Outcome::Failed;
            }
        }
        if let Some(if_none_match) = header_str(headers, &header::IF_NONE_MATCH) {
            if self.matches_any(if_none_match, Comparison::Weak) {
                return Outcome::NotModified;
            }
        } else if let (Some(since), Some(modified)) = (
            header_date(headers, &header::IF_MODIFIED_SINCE),
            self.last_modified,
        ) {
            if modified <= since {
                return Outcome::NotModified;
            }
        }
        Outcome::Proceed
    }

    /// §13.1.5: whether a `Range` request may be answered by range: true without `If-Range`, else only when its
    /// entity tag matches strongly or its date equals the last modification exactly. A value that is neither (or a
    /// header that is not text) does not hold, so the whole representation is sent.
    pub fn if_range_holds(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::IF_RANGE) else {
            return true;
        };
        let Ok(value) = value.to_str() else {
            return false;
        };
        let value = value.trim();
        if value.starts_with('"') || value.starts_with("W/") {
            let tags = parse_tags(value);
            return matches!(tags.as_deref(), Some([tag]) if self.etag.as_ref().is_some_and(|e| e.strong_eq(tag)));
        }
        match (httpdate::parse_http_date(value), self.last_modified) {
            (Ok(date), Some(modified)) => date == modified,
            _ => false,
        }
    }

    /// Whether an `If-Match`/`If-None-Match` value (`*` or a list of entity tags) matches. A list that does not
    /// parse matches nothing.
    fn matches_any(&self, value: &str, comparison: Comparison) -> bool {
        if value.trim() == "*" {
            return true;
        }
        let Some(current) = &self.etag else {
            return false;
        };
        parse_tags(value).is_some_and(|tags| {
            tags.iter().any(|tag| match comparison {
                Comparison::Strong => current.strong_eq(tag),
                Comparison::Weak => current.weak_eq(tag),
            })
        })
    }

    /// `Last-Modified` as an HTTP-date.
    pub fn last_modified_header(&self) -> Option<HeaderValue> {
        let text = httpdate::fmt_http_date(self.last_modified?);
        HeaderValue::from_str(&text).ok()
    }
}

#[derive(Clone, Copy)]
enum Comparison {
    Strong,
    Weak,
}

/// An entity tag: `"opaque"` or `W/"opaque"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntityTag {
    weak: bool,
    /// The opaque part with its quotes.
    opaque: String,
}

impl EntityTag {
    /// A backend's validator as an HTTP entity tag: kept when already quoted, quoted otherwise (S3-compatible
    /// servers differ), refused when it cannot be a header value.
    fn normalize(etag: &str) -> Option<Self> {
        let (weak, rest) = match etag.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, etag),
        };
        let inner = rest
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(rest);
        let valid = !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b));
        valid.then(|| Self {
            weak,
            opaque: format!("\"{inner}\""),
        })
    }

    fn strong_eq(&self, other: &Self) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    fn weak_eq(&self, other: &Self) -> bool {
        self.opaque == other.opaque
    }

    /// The `ETag` header value.
    pub fn header(&self) -> Option<HeaderValue> {
        let text = if self.weak {
            format!("W/{}", self.opaque)
        } else {
            self.opaque.clone()
        };
        HeaderValue::from_str(&text).ok()
    }
}

/// A comma-separated list of entity tags (commas may appear inside the quotes, so it is scanned, not split).
fn parse_tags(value: &str) -> Option<Vec<EntityTag>> {
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Some(tags);
        }
        let (weak, after) = match rest.strip_prefix("W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let after = after.strip_prefix('"')?;
        let end = after.find('"')?;
        tags.push(EntityTag {
            weak,
            opaque: format!("\"{}\"", &after[..end]),
        });
        rest = &after[end + 1..];
        let next = rest.trim_start_matches([' ', '\t']);
        if !(next.is_empty() || next.starts_with(',')) {
            return None;
        }
    }
}

/// A time cut to whole seconds (HTTP dates have no finer precision), or `None` outside what an HTTP-date can
/// express (before 1970, after 9999).
fn http_seconds(time: SystemTime) -> Option<SystemTime> {
    const YEAR_10000: u64 = 253_402_300_800;
    let seconds = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
    (seconds < YEAR_10000).then(|| UNIX_EPOCH + Duration::from_secs(seconds))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A date header; one that does not parse is ignored, as §13.1.3 and §13.1.4 require.
fn header_date(headers: &HeaderMap, name: &header::HeaderName) -> Option<SystemTime> {
    header_str(headers, name).and_then(|v| httpdate::parse_http_date(v.trim()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), HeaderValue::from_str(v).unwrap()))
            .collect()
    }

    #[test]
    fn entity_tags_are_normalized_to_quoted_form() {
        let tag = |s| EntityTag::normalize(s).map(|t| t.header().unwrap());
        assert_eq!(tag("\"abc\"").unwrap(), "\"abc\"");
        assert_eq!(tag("abc").unwrap(), "\"abc\"");
        assert_eq!(tag("W/\"abc\"").unwrap(), "W/\"abc\"");
        assert!(tag("a\"b").is_none());
        assert!(tag("\"\"").is_none());
    }

    #[test]
    fn tag_lists_allow_commas_inside_quotes_and_refuse_junk() {
        let tags = parse_tags("\"a,b\", W/\"c\" ,\"d\"").unwrap();
        assert_eq!(tags.len(), 3);
        assert!(tags[1].weak);
        assert_eq!(tags[0].opaque, "\"a,b\"");
        assert!(parse_tags("\"a\" junk").is_none());
        assert!(parse_tags("unquoted").is_none());
    }

    #[test]
    fn if_match_takes_precedence_over_if_unmodified_since() {
        let v = Validators::new(
            Some("\"x\""),
            Some(UNIX_EPOCH + Duration::from_secs(1_000_000)),
        );
        let old = httpdate::fmt_http_date(UNIX_EPOCH);
        let h = headers(&[
            (header::IF_MATCH, "\"x\""),
            (header::IF_UNMODIFIED_SINCE, &old),
        ]);
        assert_eq!(v.evaluate(&h), Outcome::Proceed);
        let h = headers(&[(header::IF_UNMODIFIED_SINCE, &old)]);
        assert_eq!(v.evaluate(&h), Outcome::Failed);
    }

    #[test]
    fn sub_second_modification_times_compare_as_http_dates() {
        let modified = UNIX_EPOCH + Duration::from_millis(1_000_000_500);
        let v = Validators::new(None, Some(modified));
        let same_second = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1_000_000));
        let h = headers(&[(header::IF_MODIFIED_SINCE, &same_second)]);
        assert_eq!(v.evaluate(&h), Outcome::NotModified);
    }

    #[test]
    fn times_outside_http_dates_are_dropped() {
        assert!(http_seconds(UNIX_EPOCH - Duration::from_secs(1)).is_none());
        assert!(http_seconds(UNIX_EPOCH + Duration::from_secs(300_000_000_000)).is_none());
    }
}
