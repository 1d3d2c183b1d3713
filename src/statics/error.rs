//! What can go wrong reading static assets' conventions, each naming the value concerned.

/// Why a manifest could not be read or a name not linked, or an encoding not recognised.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StaticsError {
    /// A `staticfiles.json` that cannot be read as Django's manifest format.
    #[error("manifest `{name}`: {reason}")]
    InvalidManifest {
        /// The manifest's name in the storage.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// `static_url` for a name the manifest does not list (Django's `manifest_strict`).
    #[error(
        "no entry for `{0}` in the staticfiles manifest: collect with --manifest, or check the name"
    )]
    MissingEntry(String),

    /// A compression that has no precompressed sibling convention.
    #[error("unknown encoding `{0}`: expected gzip or br")]
    UnknownEncoding(String),

    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] storages_core::Error),
}
