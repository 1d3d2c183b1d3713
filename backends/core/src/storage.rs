//! The `Storage` trait: one required method per primitive, implemented by every backend.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::BoxStream;

use crate::{
    ByteRange, ByteStream, Content, Metadata, Name, NameError, Result, naming::Alternatives,
};

/// Options every backend shares, parsed once by the facade and handed to the backend's constructor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommonOptions {
    /// The public URL prefix (a path such as `/media/` or a CDN origin) names are appended to.
    pub base_url: Option<String>,
    /// Whether `save` replaces an existing file instead of choosing a new name.
    pub overwrite: bool,
    /// The `Cache-Control` value given to stored files where the medium keeps one, and used when serving.
    pub cache_control: Option<String>,
    /// The longest name accepted, in bytes.
    pub max_name_len: usize,
}

impl Default for CommonOptions {
    fn default() -> Self {
        Self {
            base_url: None,
            overwrite: false,
            cache_control: None,
            max_name_len: crate::DEFAULT_MAX_NAME_LEN,
        }
    }
}

impl CommonOptions {
    /// Validates `name` against this storage's length limit.
    pub fn name(&self, name: impl crate::IntoName) -> Result<Name, NameError> {
        name.into_name(self.max_name_len)
    }
}

/// How `put` treats a name that is already taken. Exhaustive on purpose: a new mode must be handled by every
/// backend, and the compiler finds each one.
#[derive(Debug, Clone)]
pub enum PutMode {
    /// Replace it atomically: readers see the old content or the new, never a mix.
    Overwrite,
    /// Fail with [`crate::Error::AlreadyExists`] and store nothing.
    Create,
    /// Store under the first free name of the sequence (the name itself first), decided atomically for each
    /// candidate, and report the name used in the returned metadata. The content is sent once.
    CreateUnique(Alternatives),
}

/// What a backend can do, so callers and the conformance suite can pick behaviour without guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Capabilities {
    /// Create-only writes are atomic: two writers of one name never both succeed.
    pub atomic_create: bool,
    /// `url` can build public URLs (a base URL is configured).
    pub public_urls: bool,
    /// `url` can build expiring signed URLs.
    pub signed_urls: bool,
    /// `local_path` gives a path on this machine.
    pub local_paths: bool,
    /// Each file keeps the `Cache-Control` it was stored with (`Content::with_cache_control`) and reads, `stat`
    /// and listings return it: a copy made by [`Storage::copy_within`] would not carry a different one.
    pub cache_control: bool,
    /// Every operation is a request over the network, which waits on round trips more than on this machine: work
    /// over many files goes faster with many operations in flight (transfers run 32 at once by default, instead
    /// of twice the cores).
    pub remote: bool,
}

/// How `url` should link to a name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UrlOptions {
    /// Return a signed URL valid for this long instead of a public one.
    pub expires: Option<Duration>,
}

impl UrlOptions {
    /// A signed URL valid for `expires`.
    pub fn expiring(expires: Duration) -> Self {
        Self {
            expires: Some(expires),
        }
    }
}

/// A request a browser can make to upload straight into the storage (a presigned PUT): send the body with exactly
/// these headers to `url`, before the URL expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectUpload {
    /// The HTTP method (`PUT`).
    pub method: String,
    /// Where to send it (it carries its signature).
    pub url: String,
    /// Headers the request must carry, signed into the URL.
    pub headers: Vec<(String, String)>,
}

/// An open read: the stored file's metadata, the byte span being sent and the bytes themselves.
pub struct GetResult {
    /// The whole file's metadata (`size` is the full size, not the span's).
    pub meta: Metadata,
    /// The bytes of the file this stream holds.
    pub range: Range<u64>,
    /// The content, streamed.
    pub stream: ByteStream<'static>,
}

impl fmt::Debug for GetResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetResult")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// One level of a listing: the directories (last segment only) and the files directly under a prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Sub-directory names, without the prefix, sorted.
    pub dirs: Vec<String>,
    /// Files directly under the prefix, sorted by name.
    pub files: Vec<Metadata>,
}

/// [`Storage::copy_within`] the plain way: `from`'s bytes read and written back under `to` (replacing it), streamed,
/// with its content type and `Cache-Control`. For backends whose own way does not apply to a case.
pub async fn copy_by_streaming<S: Storage + ?Sized>(
    storage: &S,
    from: &Name,
    to: &Name,
) -> Result<Metadata> {
    let got = storage.get(from, None).await?;
    let mut content = Content::from_stream(got.stream).with_length(got.meta.size);
    if let Some(content_type) = got.meta.content_type {
        content = content.with_content_type(content_type);
    }
    if let Some(cache_control) = got.meta.cache_control {
        content = content.with_cache_control(cache_control);
    }
    storage.put(to, content, PutMode::Overwrite).await
}

/// A place to keep files: the primitives each backend implements. Use it as `Arc<dyn Storage>`; the
/// Django-style conveniences (`save`, `open`, `exists`, ...) come from [`crate::StorageExt`], built once on top.
///
/// Contract for implementors, checked by the conformance suite:
/// - names are already validated; map them to the medium without reinterpreting them;
/// - `put` either stores all of the content under one name or nothing, and readers never see partial content;
/// - `get` and `stat` answer [`crate::Error::NotFound`] for a missing name, `delete` answers `Ok`;
/// - `list` and `list_dir` take a directory prefix: `a/b` lists names under `a/b/`, never `a/bc`.
#[async_trait]
pub trait Storage: fmt::Debug + Send + Sync + 'static {
    /// The backend's short name (`local`, `memory`, `nfs`, `s3`).
    fn backend(&self) -> &'static str;

    /// The options shared by every backend.
    fn options(&self) -> &CommonOptions;

    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// Stores `content` under `name` (or an alternative, per `mode`) and returns the stored file's metadata.
    async fn put(&self, name: &Name, content: Content<'_>, mode: PutMode) -> Result<Metadata>;

    /// Opens `name` for reading, all of it or `range` of it.
    async fn get(&self, name: &Name, range: Option<ByteRange>) -> Result<GetResult>;

    /// The metadata of `name`.
    async fn stat(&self, name: &Name) -> Result<Metadata>;

    /// Removes `name`; a missing name is not an error.
    async fn delete(&self, name: &Name) -> Result<()>;

    /// Every file under `prefix` (all files when `None`), recursively, in no particular order.
    fn list(&self, prefix: Option<&Name>) -> BoxStream<'_, Result<Metadata>>;

    /// The directories and files directly under `prefix`.
    async fn list_dir(&self, prefix: Option<&Name>) -> Result<Listing>;

    /// A URL a browser can fetch `name` from: public by default (the base URL and the percent-encoded name, built
    /// without any I/O), signed when `options.expires` is set and the backend signs.
    async fn url(&self, name: &Name, options: &UrlOptions) -> Result<String> {
        if options.expires.is_some() {
            return Err(crate::Error::Unsupported {
                backend: self.backend(),
                operation: "signed URLs",
            });
        }
        match &self.options().base_url {
            Some(base) => Ok(crate::public_url(base, name)),
            None => Err(crate::Error::Unsupported {
                backend: self.backend(),
                operation: "URLs without a base_url",
            }),
        }
    }

    /// A presigned request a browser can upload `name` with, bound to `content_type` where the server allows.
    async fn direct_upload(
        &self,
        _name: &Name,
        _content_type: &str,
        _expires: Duration,
    ) -> Result<DirectUpload> {
        Err(crate::Error::Unsupported {
            backend: self.backend(),
            operation: "direct uploads",
        })
    }

    /// The path of `name` on this machine, where the backend keeps files on a local or mounted filesystem.
    fn local_path(&self, _name: &Name) -> Option<PathBuf> {
        None
    }

    /// Replaces `to` with a copy of what `from` holds now (its bytes and content type), atomically, and returns the
    /// copy's metadata. The default streams the bytes through this process; a backend that can copies without
    /// moving them (a hard link on a filesystem, a server-side copy on S3). Copies stay independent: every write
    /// replaces a name, never the bytes under another one.
    async fn copy_within(&self, from: &Name, to: &Name) -> Result<Metadata> {
        copy_by_streaming(self, from, to).await
    }

    /// Checks that the storage is reachable and usable, and says what was checked.
    async fn check(&self) -> Result<String>;
}
