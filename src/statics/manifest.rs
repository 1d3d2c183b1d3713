//! `staticfiles.json`, Django's manifest format: which hashed name each collected name was published under, so a
//! Django app can read what we publish (and we what Django publishes), and pages link the hashed URLs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use storages_core::{Md5, Storage, StorageExt, UrlOptions};

use super::StaticsError;
use super::hashed::short_hash;

/// The manifest's name in the static storage (Django's `manifest_name`).
pub const MANIFEST_NAME: &str = "staticfiles.json";
/// The format version written (Django's `manifest_version`); `1.0` is read too.
pub const MANIFEST_VERSION: &str = "1.1";

/// A published manifest and the storage it describes: turns names into the URLs of their hashed copies.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use storages::{MemoryStorage, StorageExt, Storage, CommonOptions};
/// use storages::statics::Manifest;
/// let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::with_options(CommonOptions {
///     base_url: Some("/static/".into()),
///     ..CommonOptions::default()
/// }));
/// storage.save("staticfiles.json", r#"{"paths": {"app.css": "app.0123456789ab.css"}, "version": "1.1", "hash": "x"}"#).await?;
/// let manifest = Manifest::load(&storage).await?;
/// assert_eq!(manifest.static_url("app.css").await?, "/static/app.0123456789ab.css");
/// assert!(manifest.static_url("other.css").await.is_err()); // strict, as Django
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Manifest {
    storage: Arc<dyn Storage>,
    paths: BTreeMap<String, String>,
    hash: String,
    found: bool,
}

impl Manifest {
    /// Reads `staticfiles.json` from `storage`. A storage without one gives an empty manifest whose `static_url`
    /// links names as they are (nothing was collected with `--manifest`); an unreadable one is an error.
    pub async fn load(storage: &Arc<dyn Storage>) -> Result<Self, StaticsError> {
        let (paths, hash, found) = match storage.read_to_bytes(MANIFEST_NAME).await {
            Ok(bytes) => {
                let (paths, hash) = parse_manifest(&bytes)?;
                (paths, hash, true)
            }
            Err(e) if e.is_not_found() => (BTreeMap::new(), String::new(), false),
            Err(e) => return Err(e.into()),
        };
        Ok(Self {
            storage: Arc::clone(storage),
            paths,
            hash,
            found,
        })
    }

    /// Every collected name and its hashed name.
    pub fn paths(&self) -> &BTreeMap<String, String> {
        &self.paths
    }

    /// The manifest's own hash (Django's `manifest_hash`), which changes whenever any hashed name does.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The hashed name of `name`, if the manifest lists it.
    pub fn hashed_name(&self, name: &str) -> Option<&str> {
        self.paths.get(name).map(String::as_str)
    }

    /// The URL of `name`'s hashed copy, keeping a query and fragment (`fonts/x.woff2?v=1#iefix`). A name the
    /// manifest does not list is an error, as with Django's `manifest_strict`; without a manifest in the storage,
    /// the URL of `name` itself.
    pub async fn static_url(&self, name: &str) -> Result<String, StaticsError> {
        let (rest, fragment) = match name.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment)),
            None => (name, None),
        };
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        let stored = match self.paths.get(path) {
            Some(hashed) => hashed.as_str(),
            None if !self.found => path,
            None => return Err(StaticsError::MissingEntry(path.to_owned())),
        };
        let stored = self
            .storage
            .options()
            .name(stored)
            .map_err(storages_core::Error::from)?;
        let mut url = self.storage.url(&stored, &UrlOptions::default()).await?;
        if let Some(query) = query {
            url.push('?');
            url.push_str(query);
        }
        if let Some(fragment) = fragment {
            url.push('#');
            url.push_str(fragment);
        }
        Ok(url)
    }
}

/// The `paths` and `hash` of a manifest's bytes, versions `1.0` and `1.1` (Django's `load_manifest`).
pub fn parse_manifest(bytes: &[u8]) -> Result<(BTreeMap<String, String>, String), StaticsError> {
    #[derive(serde::Deserialize)]
    struct Stored {
        version: Option<String>,
        #[serde(default)]
        paths: BTreeMap<String, String>,
        #[serde(default)]
        hash: String,
    }
    let invalid = |reason: String| StaticsError::InvalidManifest {
        name: MANIFEST_NAME.to_owned(),
        reason,
    };
    let stored: Stored = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    match stored.version.as_deref() {
        Some("1.0" | "1.1") => Ok((stored.paths, stored.hash)),
        other => Err(invalid(format!(
            "unsupported version {other:?} (expected 1.0 or 1.1)"
        ))),
    }
}

/// The manifest's bytes for `paths` (collected name -> hashed name), as Django's `save_manifest` writes them with
/// `json.dumps`, and its hash.
pub fn render_manifest(paths: &BTreeMap<String, String>) -> (Vec<u8>, String) {
    // `json.dumps(sorted(hashed_files.items()))`, hashed like a file.
    let mut items = String::from("[");
    for (i, (name, hashed)) in paths.iter().enumerate() {
        if i > 0 {
            items.push_str(", ");
        }
        let _ = write!(items, "[{}, {}]", json_string(name), json_string(hashed));
    }
    items.push(']');
    let hash = short_hash(&Md5::of(items.as_bytes()));
    let mut out = String::from("{\"paths\": {");
    for (i, (name, hashed)) in paths.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{}: {}", json_string(name), json_string(hashed));
    }
    let _ = write!(
        out,
        "}}, \"version\": \"{MANIFEST_VERSION}\", \"hash\": \"{hash}\"}}"
    );
    (out.into_bytes(), hash)
}

/// A JSON string as Python's `json.dumps` writes it (`ensure_ascii`: everything past ASCII as `\uXXXX`).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_as_python_json_dumps() {
        let paths: BTreeMap<String, String> = [
            ("b é.css".to_owned(), "b é.0123.css".to_owned()),
            ("a\"\n𝄞".to_owned(), "x".to_owned()),
        ]
        .into();
        let (bytes, hash) = render_manifest(&paths);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            format!(
                "{{\"paths\": {{\"a\\\"\\n\\ud834\\udd1e\": \"x\", \"b \\u00e9.css\": \"b \\u00e9.0123.css\"}}, \
                 \"version\": \"1.1\", \"hash\": \"{hash}\"}}"
            )
        );
        let (parsed, parsed_hash) = parse_manifest(text.as_bytes()).unwrap();
        assert_eq!((parsed, parsed_hash), (paths, hash));
        // json.dumps(sorted({}.items())) is "[]".
        assert_eq!(
            render_manifest(&BTreeMap::new()).1,
            Md5::of(b"[]").to_string()[..12]
        );
    }

    #[test]
    fn other_versions_are_refused() {
        let err = parse_manifest(br#"{"paths": {}, "version": "2.0"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unsupported version"), "{err}");
        assert!(parse_manifest(b"not json").is_err());
    }
}
