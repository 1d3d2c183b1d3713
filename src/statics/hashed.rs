//! Content-hashed names, as Django's `ManifestStaticFilesStorage` makes them: `css/app.css` holding bytes whose MD5
//! starts `3f2a9c1b4d5e` gets a copy named `css/app.3f2a9c1b4d5e.css`. The name changes whenever the content does,
//! so such a copy can be cached for ever ([`super::IMMUTABLE`]).

use storages_core::{Md5, Name};

/// Hex digits of the MD5 in a hashed name.
pub const HASH_LEN: usize = 12;

/// The name of `name`'s copy for content with this MD5: `.<first 12 hex digits>` before the extension of its last
/// segment, the extension being what Python's `splitext` says (`a.tar.gz` -> `a.tar.<hash>.gz`, `.htaccess` ->
/// `.htaccess.<hash>`, `LICENSE` -> `LICENSE.<hash>`).
///
/// collectstatic applies this rule after Django's URL handling of a name (a file named `a%20b.css` is first
/// decoded, as Django does), so for names holding `%`, `?` or `#` the manifest, not this function, says what was
/// published.
pub fn hashed_name(name: &str, md5: &Md5) -> String {
    let (dir, file_name) = split_dir(name);
    format!("{dir}{}", insert_hash(file_name, &short_hash(md5)))
}

/// The name `name` is the hashed copy of (its [`hashed_name`] for some content), or `None` when it is not one:
/// `css/app.3f2a9c1b4d5e.css` -> `css/app.css`.
pub fn unhashed_name(name: &str) -> Option<String> {
    let (dir, file_name) = split_dir(name);
    let (root, ext) = splitext(file_name);
    // The hash before the extension (`app.<hash>.css`), or, for a name without one, as the extension itself
    // (`LICENSE.<hash>`).
    // Only a candidate whose hash looks like one is built (this runs for every static file served).
    let candidates = [
        root.rsplit_once('.')
            .filter(|(_, hash)| is_hash(hash))
            .map(|(original_root, hash)| (format!("{original_root}{ext}"), hash)),
        ext.strip_prefix('.')
            .filter(|hash| is_hash(hash))
            .map(|hash| (root.to_owned(), hash)),
    ];
    candidates
        .into_iter()
        .flatten()
        .find_map(|(original, hash)| {
            let made = insert_hash(&original, hash) == file_name;
            made.then(|| format!("{dir}{original}"))
        })
}

/// Whether `name` is a hashed copy's name ([`unhashed_name`] finds the name it was made from). The web core caches
/// such names as immutable.
pub fn is_hashed_name(name: &Name) -> bool {
    unhashed_name(name.as_str()).is_some()
}

/// `name` as its directory (with the `/`) and its last segment.
fn split_dir(name: &str) -> (&str, &str) {
    name.rfind('/').map_or(("", name), |i| name.split_at(i + 1))
}

fn is_hash(text: &str) -> bool {
    text.len() == HASH_LEN && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The hash a hashed name carries for content with this MD5.
pub(crate) fn short_hash(md5: &Md5) -> String {
    let mut hex = md5.to_string();
    hex.truncate(HASH_LEN);
    hex
}

/// `file_name` with `.<hash>` before its extension.
pub(crate) fn insert_hash(file_name: &str, hash: &str) -> String {
    let (root, ext) = splitext(file_name);
    format!("{root}.{hash}{ext}")
}

/// `posixpath.splitext(name)`: the extension starts at the last dot, unless only dots precede it.
pub(crate) fn splitext(name: &str) -> (&str, &str) {
    let sep = name.rfind('/').map_or(0, |i| i + 1);
    match name.rfind('.') {
        Some(dot) if dot > sep && name[sep..dot].chars().any(|c| c != '.') => name.split_at(dot),
        _ => (name, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789ab";

    fn md5_starting(hash: &str) -> Md5 {
        Md5::from_hex(&format!("{hash}{}", "0".repeat(32 - hash.len()))).unwrap()
    }

    #[test]
    fn the_hash_goes_before_the_extension_as_django_puts_it() {
        let md5 = md5_starting(HASH);
        for (name, hashed) in [
            ("css/app.css", "css/app.0123456789ab.css"),
            ("a.tar.gz", "a.tar.0123456789ab.gz"),
            (".htaccess", ".htaccess.0123456789ab"),
            ("LICENSE", "LICENSE.0123456789ab"),
            ("..css", "..css.0123456789ab"),
            ("d.v2/run", "d.v2/run.0123456789ab"),
        ] {
            assert_eq!(hashed_name(name, &md5), hashed, "{name}");
        }
    }

    #[test]
    fn recognising_a_hashed_name_is_the_inverse_of_making_one() {
        let names = [
            "css/app.css",
            "a.tar.gz",
            ".htaccess",
            "LICENSE",
            "..css",
            "img/logo.0123456789ab.png",
            "d.v2/run",
            "x.",
        ];
        for name in names {
            let hashed = hashed_name(name, &Md5::of(name.as_bytes()));
            assert_eq!(unhashed_name(&hashed).as_deref(), Some(name), "{hashed}");
            assert!(is_hashed_name(&Name::new(hashed.as_str()).unwrap()));
        }
    }

    #[test]
    fn extensions_split_as_python_splits_them() {
        assert_eq!(splitext("a.tar.gz"), ("a.tar", ".gz"));
        assert_eq!(splitext(".htaccess"), (".htaccess", ""));
        assert_eq!(splitext("..a.b"), ("..a", ".b"));
        assert_eq!(splitext("noext"), ("noext", ""));
        assert_eq!(splitext("d.v2/run"), ("d.v2/run", ""));
    }

    #[test]
    fn names_no_content_hash_could_make_are_not_hashed() {
        for name in [
            "css/app.css",
            "app.3F2A9C1B4D5E.css",
            "app.3f2a9c1b4d5.css",
            ".3f2a9c1b4d5e.css",
            "3f2a9c1b4d5e.css",
            "3f2a9c1b4d5e.0123456789ab/app.css",
        ] {
            assert_eq!(unhashed_name(name), None, "{name}");
        }
        assert!(is_hashed_name(
            &Name::new("lib.tar.0123456789ab.gz").unwrap()
        ));
    }
}
