//! RFC 9110 §14: the `Range` header of a `GET`.

use std::ops::Range;

use storages_core::ByteRange;

/// What a `Range` header asks of a representation of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeRequest {
    /// Send the whole representation with `200`: another unit than `bytes`, or several ranges (refused plainly:
    /// §14.2 lets a server ignore `Range`, and a whole `200` is what every client understands; no
    /// `multipart/byteranges`).
    Whole,
    /// Send this one span with `206`.
    Single(ByteRange),
    /// `416` with `Content-Range: bytes */size`: a `bytes` range that is malformed or holds no byte of the
    /// representation.
    Unsatisfiable,
}

/// Reads a `Range` header value for a representation of `size` bytes.
pub(crate) fn parse(value: &str, size: u64) -> RangeRequest {
    let Some((unit, set)) = value.trim().split_once('=') else {
        return RangeRequest::Unsatisfiable;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeRequest::Whole;
    }
    // `1#range-spec`: empty list elements are allowed and skipped.
    let specs: Vec<&str> = set
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let spec = match specs.as_slice() {
        [one] => *one,
        [] => return RangeRequest::Unsatisfiable,
        _ => return RangeRequest::Whole,
    };
    match parse_spec(spec) {
        Some(range) if range.resolve(size).is_some() => RangeRequest::Single(range),
        _ => RangeRequest::Unsatisfiable,
    }
}

/// `first-last`, `first-` or `-suffix`, digits only.
fn parse_spec(spec: &str) -> Option<ByteRange> {
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (first.is_empty(), last.is_empty()) {
        (true, true) => None,
        (true, false) => Some(ByteRange::Last(number(last)?)),
        (false, true) => Some(ByteRange::From(number(first)?)),
        (false, false) => {
            let (first, last) = (number(first)?, number(last)?);
            (first <= last).then(|| ByteRange::Bounded {
                start: first,
                end: last.saturating_add(1),
            })
        }
    }
}

/// `bytes first-last/size` for a span sent.
pub(crate) fn content_range(span: &Range<u64>, size: u64) -> String {
    format!("bytes {}-{}/{size}", span.start, span.end.saturating_sub(1))
}

/// `bytes */size` for a `416`.
pub(crate) fn unsatisfied_range(size: u64) -> String {
    format!("bytes */{size}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_byte_ranges_in_their_three_forms() {
        assert_eq!(
            parse("bytes=0-9", 100),
            RangeRequest::Single(ByteRange::from(0..10))
        );
        assert_eq!(
            parse("bytes=90-", 100),
            RangeRequest::Single(ByteRange::From(90))
        );
        assert_eq!(
            parse("bytes=-5", 100),
            RangeRequest::Single(ByteRange::Last(5))
        );
        assert_eq!(
            parse("Bytes = 1-1 ,", 100),
            RangeRequest::Single(ByteRange::from(1..2))
        );
        assert_eq!(
            parse("bytes=50-500", 100),
            RangeRequest::Single(ByteRange::from(50..501))
        );
    }

    #[test]
    fn malformed_or_empty_byte_ranges_are_unsatisfiable() {
        for bad in [
            "bytes=5-2",
            "bytes=abc",
            "bytes=-",
            "bytes=",
            "bytes=1-2-3",
            "bytes=+1-2",
            "bytes",
            "bytes=100-",
            "bytes=-0",
        ] {
            assert_eq!(parse(bad, 100), RangeRequest::Unsatisfiable, "{bad}");
        }
        assert_eq!(parse("bytes=0-0", 0), RangeRequest::Unsatisfiable);
    }

    #[test]
    fn other_units_and_several_ranges_get_the_whole() {
        assert_eq!(parse("items=0-1", 100), RangeRequest::Whole);
        assert_eq!(parse("bytes=0-1,5-6", 100), RangeRequest::Whole);
    }

    #[test]
    fn content_range_values() {
        assert_eq!(content_range(&(0..10), 100), "bytes 0-9/100");
        assert_eq!(unsatisfied_range(7), "bytes */7");
    }
}
