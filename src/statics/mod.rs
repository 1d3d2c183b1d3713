//! What a static asset's name and headers mean, shared by whoever publishes assets (`storages::collect`, feature
//! `collect`) and whoever serves or links them (`storages::web`, feature `web`, or an app's own pages): always
//! compiled, with no dependency beyond the core, so an app that only serves and links collected files builds none
//! of collect's regex, gzip or brotli code.
//!
//! - [`Manifest`]: `staticfiles.json`, Django's manifest format, read from a storage; [`Manifest::static_url`] links
//!   a name through its hashed copy.
//! - [`hashed_name`] and [`is_hashed_name`]: the rule that names a copy by its content (`css/app.css` ->
//!   `css/app.3f2a9c1b4d5e.css`), in both directions ([`unhashed_name`]).
//! - [`IMMUTABLE`]: the `Cache-Control` such copies are stored and served with.
//! - [`Encoding`]: the precompressed siblings beside a file (`app.css.br`, `app.css.gz`).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use storages::statics::{Encoding, Manifest, hashed_name, is_hashed_name};
//! use storages::{Md5, Name, Storages};
//!
//! let storages = Storages::from_urls([("static", "memory://?base_url=/static/")])?;
//! let statics = storages.static_files()?;
//! // No staticfiles.json yet: names are linked as they are.
//! assert_eq!(Manifest::load(&statics).await?.static_url("app.css").await?, "/static/app.css");
//!
//! let hashed = hashed_name("css/app.css", &Md5::of(b"body {}"));
//! assert!(is_hashed_name(&Name::new(hashed.as_str())?));
//! let css = Name::new("app.css")?;
//! assert_eq!(Encoding::Brotli.sibling(&css, 1024)?.as_str(), "app.css.br");
//! # Ok(()) }
//! ```

mod encoding;
mod error;
mod hashed;
mod manifest;

pub use self::encoding::Encoding;
pub use self::error::StaticsError;
pub use self::hashed::{HASH_LEN, hashed_name, is_hashed_name, unhashed_name};
pub use self::manifest::{
    MANIFEST_NAME, MANIFEST_VERSION, Manifest, parse_manifest, render_manifest,
};

#[cfg(feature = "collect")]
pub(crate) use self::hashed::{insert_hash, short_hash};

/// `Cache-Control` for names that change whenever their content does (hashed copies): stored with them by
/// collectstatic where the medium keeps it, and sent by the web core when it serves them.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
