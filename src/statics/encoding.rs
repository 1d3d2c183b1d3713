//! Precompressed siblings: `app.css.br` and `app.css.gz` beside `app.css`, holding its bytes compressed, written by
//! collectstatic (`--compress`) and sent by the web core to clients whose `Accept-Encoding` takes them.

use std::fmt;
use std::str::FromStr;

use storages_core::{Name, NameError};

use super::StaticsError;

/// A content coding a file's precompressed sibling can have: its name's suffix and its `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Encoding {
    /// gzip: `name.gz`, `Content-Encoding: gzip`.
    Gzip,
    /// Brotli: `name.br`, `Content-Encoding: br`.
    Brotli,
}

impl Encoding {
    /// Every encoding with a sibling convention.
    pub const ALL: [Self; 2] = [Self::Gzip, Self::Brotli];

    /// The suffix of the sibling's name.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Gzip => ".gz",
            Self::Brotli => ".br",
        }
    }

    /// The `Content-Encoding` token (also how it is written on a command line).
    pub fn token(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Brotli => "br",
        }
    }

    /// The sibling of `name` in this encoding, no longer than `max_len` bytes (a storage's `max_name_length`).
    pub fn sibling(self, name: &Name, max_len: usize) -> Result<Name, NameError> {
        Name::with_max_len(format!("{name}{}", self.suffix()), max_len)
    }

    /// The encoding whose sibling `name` looks like (`app.css.br`: Brotli): such a name is not given siblings of
    /// its own.
    pub fn of_sibling(name: &Name) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|encoding| name.file_name().ends_with(encoding.suffix()))
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// `gzip` or `gz`, `br` or `brotli`, in any case.
impl FromStr for Encoding {
    type Err = StaticsError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "gzip" | "gz" => Ok(Self::Gzip),
            "br" | "brotli" => Ok(Self::Brotli),
            _ => Err(StaticsError::UnknownEncoding(value.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use storages_core::DEFAULT_MAX_NAME_LEN;

    #[test]
    fn siblings_are_named_by_suffix_and_recognised() {
        let name = Name::new("css/app.css").unwrap();
        for encoding in Encoding::ALL {
            let sibling = encoding.sibling(&name, DEFAULT_MAX_NAME_LEN).unwrap();
            assert_eq!(
                sibling.as_str(),
                format!("css/app.css{}", encoding.suffix())
            );
            assert_eq!(Encoding::of_sibling(&sibling), Some(encoding));
        }
        assert_eq!(Encoding::of_sibling(&name), None);
        assert!(Encoding::Gzip.sibling(&name, 13).is_err());
    }

    #[test]
    fn parsed_from_tokens_and_aliases() {
        for (text, encoding) in [
            ("gzip", Encoding::Gzip),
            ("GZ", Encoding::Gzip),
            (" br", Encoding::Brotli),
            ("Brotli", Encoding::Brotli),
        ] {
            assert_eq!(text.parse::<Encoding>().unwrap(), encoding);
        }
        assert_eq!(Encoding::Brotli.to_string(), "br");
        let err = "zip".parse::<Encoding>().unwrap_err().to_string();
        assert_eq!(err, "unknown encoding `zip`: expected gzip or br");
    }
}
