//! Django's rule for a taken name: `stem_<7 random alphanumerics>.ext`, within a length limit.

use crate::{Error, Name, NameError, NameErrorKind, Result};

/// Files and objects a backend keeps for itself (temporary files of unfinished writes, probes) start their last
/// segment with this. [`Name`] refuses it in any segment, with [`NameErrorKind::Reserved`], so no caller reaches
/// them through any backend or entry point, and backends skip them when they parse listings.
pub const TEMP_PREFIX: &str = ".storages-tmp.";

/// Whether a segment is a backend's own temporary file or probe: cheap, for listings to skip such entries before
/// building a [`Name`] of them.
pub fn is_temp(file_name: &str) -> bool {
    file_name.starts_with(TEMP_PREFIX)
}

/// How many alternatives `save` tries before giving up (Django tries forever; a bound turns a broken backend into
/// an error instead of a hang).
pub const MAX_ATTEMPTS: u32 = 100;

/// The sequence of names `save` tries: the name itself, then `dir/stem_XXXXXXX.ext` with a fresh random part each
/// time, the stem cut so the whole fits `max_len`.
#[derive(Debug, Clone)]
pub struct Alternatives {
    original: Name,
    max_len: usize,
}

impl Alternatives {
    /// The alternatives for `original`, none longer than `max_len` bytes.
    pub fn new(original: Name, max_len: usize) -> Self {
        Self { original, max_len }
    }

    /// The name asked for.
    pub fn original(&self) -> &Name {
        &self.original
    }

    /// Candidate number `attempt`: 0 is the original (when it fits), later ones are random alternatives. Past
    /// [`MAX_ATTEMPTS`] the answer is [`Error::NoAvailableName`].
    pub fn candidate(&self, attempt: u32) -> Result<Name> {
        if attempt == 0 && self.original.as_str().len() <= self.max_len {
            return Ok(self.original.clone());
        }
        if attempt > MAX_ATTEMPTS {
            return Err(Error::NoAvailableName {
                name: self.original.to_string(),
                attempts: MAX_ATTEMPTS,
            });
        }
        let (root, ext) = self.original.split_extension();
        let dir_len = self.original.parent().map_or(0, |d| d.len() + 1);
        let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(7)
            .collect();
        let fixed = dir_len + 1 + suffix.len() + ext.len();
        let stem = &root[dir_len..];
        let room = self.max_len.saturating_sub(fixed);
        let stem = truncate_at_char(stem, room);
        if stem.is_empty() {
            let err = NameError::new(
                self.original.as_str(),
                NameErrorKind::TooLong {
                    len: self.original.as_str().len(),
                    max: self.max_len,
                },
            );
            return Err(err.into());
        }
        let name = format!("{}{stem}_{suffix}{ext}", &root[..dir_len]);
        Ok(Name::with_max_len(name, self.max_len)?)
    }
}

fn truncate_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternatives_keep_dir_and_extensions() {
        let alts = Alternatives::new(Name::new("photos/cat.tar.gz").unwrap(), 1024);
        assert_eq!(alts.candidate(0).unwrap().as_str(), "photos/cat.tar.gz");
        let alt = alts.candidate(1).unwrap();
        let s = alt.as_str();
        assert!(
            s.starts_with("photos/cat_") && s.ends_with(".tar.gz"),
            "{s}"
        );
        assert_eq!(s.len(), "photos/cat_XXXXXXX.tar.gz".len());
        assert!(
            s["photos/cat_".len()..s.len() - 7]
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
        assert_ne!(alts.candidate(1).unwrap(), alts.candidate(2).unwrap());
    }

    #[test]
    fn alternatives_cut_the_stem_to_fit_max_length() {
        let alts = Alternatives::new(Name::new("d/abcdefghij.txt").unwrap(), 20);
        let alt = alts.candidate(1).unwrap();
        assert_eq!(alt.as_str().len(), 20, "{alt}");
        assert!(alt.as_str().starts_with("d/abcdef_"), "{alt}");
        // The original itself is too long: even attempt 0 gives a cut alternative.
        let alts = Alternatives::new(Name::new("d/abcdefghijklmnopqrstuvwxyz.txt").unwrap(), 20);
        assert_eq!(alts.candidate(0).unwrap().as_str().len(), 20);
    }

    #[test]
    fn no_room_for_a_stem_is_an_error() {
        let alts = Alternatives::new(Name::new("dir/x.txt").unwrap(), 14);
        assert!(matches!(alts.candidate(1), Err(Error::InvalidName(_))));
        let alts = Alternatives::new(Name::new("x").unwrap(), 100);
        assert!(matches!(
            alts.candidate(MAX_ATTEMPTS + 1),
            Err(Error::NoAvailableName { .. })
        ));
    }
}
