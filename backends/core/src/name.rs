//! Validated storage names: the only way a caller's string reaches a backend.

use std::fmt;

/// The longest name accepted when no other limit is configured, in bytes.
pub const DEFAULT_MAX_NAME_LEN: usize = 1024;

/// A relative, `/`-separated name that can never leave the root of a storage.
///
/// Every backend maps a `Name` to its medium (a path under a directory, an object key under a prefix) without
/// further checks, so the rules here are the whole of the traversal defence:
/// no absolute paths, no `..` or `.` segments, no empty segments (so no `a//b` and no trailing `/`), no
/// backslashes, no NUL or other control characters, no Windows drive prefix (`C:`), no segment starting with
/// [`TEMP_PREFIX`](crate::naming::TEMP_PREFIX) (the backends' own temporary files: a caller can neither name nor
/// reach one, and listings, which parse entries into names, skip them), and at most [`DEFAULT_MAX_NAME_LEN`] bytes
/// unless another limit is given. Everything else, `%2e%2e` included, is a literal character of the name.
///
/// ```
/// use storages_core::Name;
/// assert_eq!(Name::new("photos/cat.jpg").unwrap().file_name(), "cat.jpg");
/// assert!(Name::new("../etc/passwd").is_err());
/// assert!(Name::new("%2e%2e/x").is_ok()); // a literal directory called `%2e%2e`
/// assert!(Name::new("photos/.storages-tmp.cat.jpg").is_err()); // reserved for temporary files
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

/// Why a string is not a valid [`Name`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameErrorKind {
    /// The name is empty.
    Empty,
    /// The name starts with `/`.
    Absolute,
    /// A segment is `..`.
    ParentSegment,
    /// A segment is `.`.
    DotSegment,
    /// Two `/` in a row (`a//b`).
    EmptySegment,
    /// The name ends with `/`.
    TrailingSlash,
    /// The name holds a `\`, a path separator on Windows.
    Backslash,
    /// The name holds a NUL or another control character.
    ControlCharacter(char),
    /// The name starts with a Windows drive prefix such as `C:`.
    DrivePrefix,
    /// The name is longer than the limit, in bytes.
    TooLong {
        /// The name's length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A segment starts with [`TEMP_PREFIX`](crate::naming::TEMP_PREFIX), reserved for the backends' own files
    /// (temporary files of unfinished writes, probes).
    Reserved,
    /// Nothing usable is left after cleaning an uploaded file name.
    NothingLeft,
}

impl fmt::Display for NameErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("it is empty"),
            Self::Absolute => f.write_str("it is absolute (starts with `/`)"),
            Self::ParentSegment => f.write_str("it has a `..` segment"),
            Self::DotSegment => f.write_str("it has a `.` segment"),
            Self::EmptySegment => f.write_str("it has an empty segment (`//`)"),
            Self::TrailingSlash => f.write_str("it ends with `/`"),
            Self::Backslash => f.write_str("it contains a backslash"),
            Self::ControlCharacter(c) => {
                write!(f, "it contains the control character U+{:04X}", *c as u32)
            }
            Self::DrivePrefix => f.write_str("it starts with a drive prefix"),
            Self::TooLong { len, max } => {
                write!(f, "it is {len} bytes long, over the limit of {max}")
            }
            Self::Reserved => write!(
                f,
                "a segment starts with `{}`, reserved for the storage's temporary files",
                crate::naming::TEMP_PREFIX
            ),
            Self::NothingLeft => f.write_str("nothing is left of it once cleaned"),
        }
    }
}

/// A string refused as a [`Name`]: the offending value (shortened when huge) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid name {}: {kind}", shown(.name))]
pub struct NameError {
    name: String,
    kind: NameErrorKind,
}

impl NameError {
    /// Builds an error for `name` (kept as given, shortened for display only).
    pub fn new(name: impl Into<String>, kind: NameErrorKind) -> Self {
        Self {
            name: name.into(),
            kind,
        }
    }

    /// The refused string.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Why it was refused.
    pub fn kind(&self) -> &NameErrorKind {
        &self.kind
    }
}

/// Quotes a name for a message: escaped like Rust's `Debug` and cut to 120 characters.
fn shown(name: &str) -> String {
    const KEEP: usize = 120;
    if name.chars().count() <= KEEP {
        format!("{name:?}")
    } else {
        let head: String = name.chars().take(KEEP).collect();
        format!("{head:?}… ({} bytes)", name.len())
    }
}

impl Name {
    /// Validates `name` with the default length limit.
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        Self::with_max_len(name, DEFAULT_MAX_NAME_LEN)
    }

    /// Validates `name`, allowing at most `max` bytes.
    pub fn with_max_len(name: impl Into<String>, max: usize) -> Result<Self, NameError> {
        let name = name.into();
        match check(&name, max) {
            Ok(()) => Ok(Self(name)),
            Err(kind) => Err(NameError::new(name, kind)),
        }
    }

    /// The name as a `/`-separated string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The segments between the `/`s.
    pub fn segments(&self) -> std::str::Split<'_, char> {
        self.0.split('/')
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The directory part without its trailing `/`, or `None` at the top level.
    pub fn parent(&self) -> Option<&str> {
        self.0.rsplit_once('/').map(|(dir, _)| dir)
    }

    /// `self/child`, validated again as a whole.
    pub fn join(&self, child: &str) -> Result<Self, NameError> {
        Self::new(format!("{}/{child}", self.0))
    }

    /// The directory prefix (`"a/b/"`) that names under this one start with.
    pub fn as_dir_prefix(&self) -> String {
        format!("{}/", self.0)
    }

    /// Splits the file name into stem and extensions the way Django does (`archive.tar.gz` -> `archive`,
    /// `.tar.gz`), keeping the directory with the stem: `(dir/stem, ext)`.
    pub fn split_extension(&self) -> (&str, &str) {
        let file = self.file_name();
        let dir_len = self.0.len() - file.len();
        // A leading dot is part of the stem (`.bashrc` has no extension), as for pathlib's `suffixes`.
        let body = file.trim_start_matches('.');
        let lead = file.len() - body.len();
        let ext_start = match body.find('.') {
            // pathlib ignores a name ending in `.` for suffixes.
            Some(_) if body.ends_with('.') => None,
            Some(i) => Some(dir_len + lead + i),
            None => None,
        };
        match ext_start {
            Some(i) => self.0.split_at(i),
            None => (&self.0, ""),
        }
    }
}

fn check(name: &str, max: usize) -> Result<(), NameErrorKind> {
    if name.is_empty() {
        return Err(NameErrorKind::Empty);
    }
    if name.len() > max {
        return Err(NameErrorKind::TooLong {
            len: name.len(),
            max,
        });
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(NameErrorKind::ControlCharacter(c));
    }
    if name.contains('\\') {
        return Err(NameErrorKind::Backslash);
    }
    if name.starts_with('/') {
        return Err(NameErrorKind::Absolute);
    }
    if name.ends_with('/') {
        return Err(NameErrorKind::TrailingSlash);
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err(NameErrorKind::DrivePrefix);
    }
    for segment in name.split('/') {
        match segment {
            "" => return Err(NameErrorKind::EmptySegment),
            "." => return Err(NameErrorKind::DotSegment),
            ".." => return Err(NameErrorKind::ParentSegment),
            // In every segment, not only the last: a prefix is a name too, so a directory named like a temporary
            // file could otherwise be listed but never entered.
            reserved if crate::naming::is_temp(reserved) => return Err(NameErrorKind::Reserved),
            _ => {}
        }
    }
    Ok(())
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for Name {
    type Error = NameError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for Name {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

/// Turns an uploaded file name into a safe one, as Django's `get_valid_filename`: only the last path segment is
/// kept (browsers may send `C:\Users\me\cat.jpg`), surrounding white space is trimmed, spaces become `_`, and every
/// character outside `[-\w.]` is dropped. `""`, `.` and `..` are refused.
///
/// Leading dots stay, as in Django (`.bashrc`), except where they would make a backend's reserved temporary name
/// ([`TEMP_PREFIX`](crate::naming::TEMP_PREFIX)): those are dropped, so `.storages-tmp.x.png` becomes
/// `storages-tmp.x.png`, an ordinary name, instead of one every backend refuses.
///
/// This is an explicit step for names chosen by a client; names chosen by the application go to [`Name::new`].
///
/// ```
/// use storages_core::valid_file_name;
/// assert_eq!(valid_file_name("C:\\Users\\me\\my cat (1).jpg").unwrap(), "my_cat_1.jpg");
/// assert!(valid_file_name("../..").is_err());
/// ```
pub fn valid_file_name(uploaded: &str) -> Result<String, NameError> {
    let base = uploaded.rsplit(['/', '\\']).next().unwrap_or(uploaded);
    let cleaned: String = base
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('_'),
            '-' | '_' | '.' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect();
    match cleaned.as_str() {
        "" | "." | ".." => Err(NameError::new(uploaded, NameErrorKind::NothingLeft)),
        reserved if crate::naming::is_temp(reserved) => {
            Ok(reserved.trim_start_matches('.').to_owned())
        }
        _ => Ok(cleaned),
    }
}

/// Anything that can be turned into a [`Name`]: strings are validated, names pass through.
pub trait IntoName {
    /// Validates with at most `max_len` bytes.
    fn into_name(self, max_len: usize) -> Result<Name, NameError>;
}

impl IntoName for &str {
    fn into_name(self, max_len: usize) -> Result<Name, NameError> {
        Name::with_max_len(self, max_len)
    }
}

impl IntoName for String {
    fn into_name(self, max_len: usize) -> Result<Name, NameError> {
        Name::with_max_len(self, max_len)
    }
}

impl IntoName for &String {
    fn into_name(self, max_len: usize) -> Result<Name, NameError> {
        Name::with_max_len(self.as_str(), max_len)
    }
}

impl IntoName for Name {
    fn into_name(self, max_len: usize) -> Result<Name, NameError> {
        Name::with_max_len(self.0, max_len)
    }
}

impl IntoName for &Name {
    fn into_name(self, max_len: usize) -> Result<Name, NameError> {
        Name::with_max_len(self.0.clone(), max_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(name: &str) -> NameErrorKind {
        Name::new(name).expect_err(name).kind().clone()
    }

    #[test]
    fn traversal_and_absolute_names_are_refused() {
        assert_eq!(kind("../x"), NameErrorKind::ParentSegment);
        assert_eq!(kind("a/../../b"), NameErrorKind::ParentSegment);
        assert_eq!(kind("/etc/passwd"), NameErrorKind::Absolute);
        assert_eq!(kind("a\\b"), NameErrorKind::Backslash);
        assert_eq!(kind("a\0b"), NameErrorKind::ControlCharacter('\0'));
        assert_eq!(kind("C:x"), NameErrorKind::DrivePrefix);
        assert_eq!(kind("./a"), NameErrorKind::DotSegment);
        assert_eq!(kind("a//b"), NameErrorKind::EmptySegment);
        assert_eq!(kind("a/"), NameErrorKind::TrailingSlash);
        assert_eq!(kind(""), NameErrorKind::Empty);
    }

    #[test]
    fn segments_named_like_temporary_files_are_reserved() {
        for reserved in [
            ".storages-tmp.x",
            ".storages-tmp.",
            "photos/.storages-tmp.cat.jpg",
            ".storages-tmp.dir/x.txt",
            "a/.storages-tmp.b/c",
        ] {
            assert_eq!(kind(reserved), NameErrorKind::Reserved, "{reserved}");
        }
        for near_miss in [
            ".storages-tmp",
            "..storages-tmp.x",
            "x.storages-tmp.y",
            "storages-tmp.x",
        ] {
            assert!(Name::new(near_miss).is_ok(), "{near_miss}");
        }
        assert_eq!(
            Name::new("photos")
                .unwrap()
                .join(".storages-tmp.x")
                .unwrap_err()
                .kind(),
            &NameErrorKind::Reserved
        );
        let message = Name::new("d/.storages-tmp.x").unwrap_err().to_string();
        assert!(message.contains("\"d/.storages-tmp.x\""), "{message}");
    }

    #[test]
    fn length_limit_counts_bytes() {
        assert!(Name::new("é".repeat(512)).is_ok());
        assert_eq!(
            kind(&"é".repeat(513)),
            NameErrorKind::TooLong {
                len: 1026,
                max: 1024
            }
        );
        assert!(Name::with_max_len("abcd", 3).is_err());
    }

    #[test]
    fn error_message_names_the_value_escaped_and_shortened() {
        let err = Name::new("a\0b").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid name \"a\\0b\": it contains the control character U+0000"
        );
        let long = Name::new("x".repeat(2000)).unwrap_err().to_string();
        assert!(long.len() < 250, "{long}");
        assert!(long.contains("2000 bytes"), "{long}");
    }

    #[test]
    fn extensions_split_like_django() {
        let split = |n: &str| {
            let name = Name::new(n).unwrap();
            let (stem, ext) = name.split_extension();
            (stem.to_owned(), ext.to_owned())
        };
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(split("a/archive.tar.gz"), pair("a/archive", ".tar.gz"));
        assert_eq!(split("photo.jpg"), pair("photo", ".jpg"));
        assert_eq!(split("dir.d/README"), pair("dir.d/README", ""));
        assert_eq!(split(".bashrc"), pair(".bashrc", ""));
        assert_eq!(split("x/.config.toml"), pair("x/.config", ".toml"));
        assert_eq!(split("trailing."), pair("trailing.", ""));
    }

    #[test]
    fn uploaded_names_are_cleaned_like_django() {
        assert_eq!(
            valid_file_name("john's portrait in 2004.jpg").unwrap(),
            "johns_portrait_in_2004.jpg"
        );
        assert_eq!(valid_file_name("/tmp/x/../évian.png").unwrap(), "évian.png");
        assert_eq!(valid_file_name("a<b>c|d?.txt").unwrap(), "abcd.txt");
        assert!(valid_file_name("..").is_err());
        assert!(valid_file_name("   ").is_err());
        assert!(valid_file_name("x/").is_err());
    }

    #[test]
    fn uploaded_dot_files_keep_their_dots_like_django() {
        assert_eq!(valid_file_name(".bashrc").unwrap(), ".bashrc");
        assert_eq!(valid_file_name("..hidden.png").unwrap(), "..hidden.png");
        assert_eq!(valid_file_name(".storages-tmp").unwrap(), ".storages-tmp");
    }

    #[test]
    fn uploaded_names_never_become_reserved_temporary_names() {
        assert_eq!(
            valid_file_name(".storages-tmp.x.png").unwrap(),
            "storages-tmp.x.png"
        );
        assert_eq!(
            valid_file_name("C:\\tmp\\.storages-tmp.x.png").unwrap(),
            "storages-tmp.x.png"
        );
        // Not the prefix, so kept as Django keeps it.
        assert_eq!(
            valid_file_name("...storages-tmp.x.png").unwrap(),
            "...storages-tmp.x.png"
        );
        // Cleaning can make the prefix out of characters it drops.
        assert_eq!(
            valid_file_name(" .storages(-)tmp.?x").unwrap(),
            "storages-tmp.x"
        );
        assert_eq!(valid_file_name(".storages-tmp.").unwrap(), "storages-tmp.");
    }

    /// For any input, the cleaned name is one valid segment that is no backend's temporary file, or an error.
    #[test]
    fn any_uploaded_name_cleans_to_a_valid_unreserved_name_or_an_error() {
        const PIECES: &[&str] = &[
            crate::naming::TEMP_PREFIX,
            ".storages-tmp",
            "storages-tmp.",
            ".",
            "..",
            "/",
            "\\",
            " ",
            "\t",
            "\0",
            "\u{7f}",
            "-",
            "_",
            "C:",
            "x",
            "png",
            "é",
            "€",
            "(1)",
            "?",
        ];
        let mut rng = fastrand::Rng::with_seed(9);
        for _ in 0..20_000 {
            let input: String = (0..rng.usize(0..8))
                .map(|_| PIECES[rng.usize(..PIECES.len())])
                .collect();
            let Ok(cleaned) = valid_file_name(&input) else {
                continue;
            };
            let name = Name::with_max_len(cleaned.as_str(), usize::MAX)
                .unwrap_or_else(|e| panic!("{input:?} cleaned to an invalid name: {e}"));
            assert!(name.parent().is_none(), "{input:?} cleaned to {cleaned:?}");
            assert!(
                !crate::naming::is_temp(name.file_name()),
                "{input:?} cleaned to the reserved {cleaned:?}"
            );
        }
    }
}
