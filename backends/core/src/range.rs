//! Byte ranges for partial reads.

use std::fmt;
use std::ops::Range;

/// A part of a stored file to read, in HTTP's three forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// Bytes `start..end` (end exclusive; an end past the size is cut to the size).
    Bounded {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// From `start` to the end.
    From(u64),
    /// The last `n` bytes (all of them when `n` exceeds the size).
    Last(u64),
}

impl ByteRange {
    /// The concrete byte span within content of `size` bytes, or `None` when it holds no byte of it (HTTP's
    /// "unsatisfiable", which includes any range of empty content and an empty range).
    pub fn resolve(self, size: u64) -> Option<Range<u64>> {
        let span = match self {
            Self::Bounded { start, end } => start..end.min(size),
            Self::From(start) => start..size,
            Self::Last(n) => size.saturating_sub(n)..if n == 0 { 0 } else { size },
        };
        (span.start < span.end).then_some(span)
    }

    /// The span a read of `name` (content of `size` bytes) returns for `range`: all of it without a range,
    /// [`Error::RangeNotSatisfiable`](crate::Error::RangeNotSatisfiable) when the range holds no byte of it.
    pub fn span_of(
        range: Option<Self>,
        name: &crate::Name,
        size: u64,
    ) -> crate::Result<Range<u64>> {
        match range {
            None => Ok(0..size),
            Some(r) => r
                .resolve(size)
                .ok_or_else(|| crate::Error::RangeNotSatisfiable {
                    name: name.to_string(),
                    range: r,
                    size,
                }),
        }
    }
}

impl From<Range<u64>> for ByteRange {
    fn from(r: Range<u64>) -> Self {
        Self::Bounded {
            start: r.start,
            end: r.end,
        }
    }
}

impl From<std::ops::RangeFrom<u64>> for ByteRange {
    fn from(r: std::ops::RangeFrom<u64>) -> Self {
        Self::From(r.start)
    }
}

/// As in an HTTP `Range` header: `bytes=0-99`, `bytes=100-`, `bytes=-50`.
impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Bounded { start, end } if end > start => write!(f, "bytes={start}-{}", end - 1),
            Self::Bounded { start, end } => write!(f, "bytes={start}-(empty, ends at {end})"),
            Self::From(start) => write!(f, "bytes={start}-"),
            Self::Last(n) => write!(f, "bytes=-{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ByteRange;

    #[test]
    fn ranges_resolve_as_http_does() {
        assert_eq!(ByteRange::from(0..10).resolve(100), Some(0..10));
        assert_eq!(ByteRange::from(90..200).resolve(100), Some(90..100));
        assert_eq!(ByteRange::from(100..200).resolve(100), None);
        assert_eq!(ByteRange::From(99).resolve(100), Some(99..100));
        assert_eq!(ByteRange::From(100).resolve(100), None);
        assert_eq!(ByteRange::Last(10).resolve(100), Some(90..100));
        assert_eq!(ByteRange::Last(1000).resolve(100), Some(0..100));
        assert_eq!(ByteRange::Last(0).resolve(100), None);
        assert_eq!(ByteRange::From(0).resolve(0), None);
        assert_eq!(ByteRange::from(5..5).resolve(100), None);
    }

    #[test]
    fn ranges_display_in_header_form() {
        assert_eq!(ByteRange::from(0..100).to_string(), "bytes=0-99");
        assert_eq!(ByteRange::From(5).to_string(), "bytes=5-");
        assert_eq!(ByteRange::Last(7).to_string(), "bytes=-7");
    }
}
