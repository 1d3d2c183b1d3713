//! Reads and links: what `get`, `stat`, `list`, `list_dir`, `url` and `direct_upload` turn the server's answers
//! into (metadata with the MD5 record, byte streams, one-level listings, signed and public URLs).

use std::time::{Duration, SystemTime};

use futures_util::stream::{BoxStream, StreamExt};
use http::{HeaderValue, Method, header};
use object_store::signer::{SignedUrlOptions, Signer};
use object_store::{
    Attribute, Attributes, GetOptions, GetRange, ListResult, ObjectMeta, ObjectStore,
};
use storages_core::{
    ByteRange, ConfigError, DirectUpload, Error, GetResult, Listing, Md5, Metadata, Name, Result,
    Storage, public_url,
};

use crate::config::MAX_PRESIGN;
use crate::error::ServerAnswer;
use crate::storage::S3Storage;
use crate::write::{MD5_RECORD, md5_from_record};

impl S3Storage {
    /// Our metadata from the server's. A listing has no attributes: there the MD5 is known only from a
    /// single-part object's ETag; `stat` and `get` also read the MD5 record (preferred: it is written from the
    /// bytes sent, where a bucket's encryption can make the ETag something else).
    pub(crate) fn metadata(
        &self,
        name: Name,
        meta: &ObjectMeta,
        attributes: Option<&Attributes>,
    ) -> Metadata {
        let attribute = |key: &Attribute| {
            attributes
                .and_then(|a| a.get(key))
                .map(|v| v.as_ref().to_owned())
        };
        let recorded = attribute(&Attribute::Metadata(MD5_RECORD.into()))
            .and_then(|value| md5_from_record(&value));
        Metadata {
            name,
            size: meta.size,
            modified: Some(SystemTime::from(meta.last_modified)),
            content_md5: recorded.or_else(|| meta.e_tag.as_deref().and_then(Md5::from_etag)),
            etag: meta.e_tag.clone(),
            content_type: attribute(&Attribute::ContentType),
            cache_control: attribute(&Attribute::CacheControl),
        }
    }

    /// `range` of `name` cannot be served: the error says how large the object is (or why that is unknown).
    pub(crate) async fn unsatisfiable(&self, name: &Name, range: ByteRange) -> Error {
        match self.stat(name).await {
            Ok(meta) => Error::RangeNotSatisfiable {
                name: name.to_string(),
                range,
                size: meta.size,
            },
            Err(e) => e,
        }
    }

    /// The byte stream and metadata of an object read.
    pub(crate) fn opened(&self, name: &Name, got: object_store::GetResult) -> GetResult {
        let meta = self.metadata(name.clone(), &got.meta, Some(&got.attributes));
        let span = got.range.clone();
        let shown = name.to_string();
        let stream = got
            .into_stream()
            .map(move |chunk| {
                chunk.map_err(|e| std::io::Error::other(format!("read `{shown}`: {e}")))
            })
            .boxed();
        GetResult {
            meta,
            range: span,
            stream,
        }
    }

    /// Every object under `prefix` as our metadata, hidden keys left out, once the bucket is ready.
    pub(crate) fn listing_stream(&self, prefix: Option<&Name>) -> BoxStream<'_, Result<Metadata>> {
        let path = self.prefix_path(prefix);
        let label = prefix.map_or_else(String::new, Name::to_string);
        futures_util::stream::once(self.ready())
            .flat_map(move |ready| match ready {
                Err(e) => futures_util::stream::iter([Err(e)]).boxed(),
                Ok(()) => {
                    let label = label.clone();
                    self.store
                        .list(path.as_ref())
                        .filter_map(move |item| {
                            let mapped = match item {
                                Ok(meta) => self
                                    .name_of(&meta.location)
                                    .map(|n| Ok(self.metadata(n, &meta, None))),
                                Err(e) => Some(Err(self.error("list", &label, e))),
                            };
                            futures_util::future::ready(mapped)
                        })
                        .boxed()
                }
            })
            .boxed()
    }

    /// One level of a listing: its directories and files, hidden keys left out, sorted.
    pub(crate) fn listing(&self, result: &ListResult) -> Listing {
        let mut listing = Listing::default();
        for dir in &result.common_prefixes {
            if let Some(segment) = dir.filename().filter(|s| Name::new(*s).is_ok()) {
                listing.dirs.push(segment.to_owned());
            }
        }
        for meta in &result.objects {
            if let Some(name) = self.name_of(&meta.location) {
                listing.files.push(self.metadata(name, meta, None));
            }
        }
        listing.dirs.sort();
        listing.files.sort_by(|a, b| a.name.cmp(&b.name));
        listing
    }

    /// A GET of `name` signed for `expires`, for the endpoint browsers reach.
    pub(crate) async fn signed_url(&self, name: &Name, expires: Duration) -> Result<String> {
        check_expiry(expires)?;
        let url = self
            .signer
            .signed_url(Method::GET, &self.key(name.as_str()), expires)
            .await
            .map_err(|e| self.error("sign a URL for", name.as_str(), e))?;
        Ok(url.into())
    }

    /// The public URL of `name`: under `base_url`, else the object's own URL at the endpoint browsers reach. No
    /// request, no signature.
    pub(crate) fn unsigned_url(&self, name: &Name) -> Result<String> {
        let config = self.config();
        if let Some(base) = &config.common.base_url {
            return Ok(public_url(base, name));
        }
        let bucket_url = config.bucket_url(config.public_endpoint.as_deref());
        let root = match config.prefix.as_str() {
            "" => format!("{bucket_url}/"),
            prefix => format!(
                "{bucket_url}/{}/",
                storages_core::encode_name(&Name::new(prefix)?)
            ),
        };
        Ok(public_url(&root, name))
    }

    /// A PUT of `name` signed for `expires`, bound to `content_type`.
    pub(crate) async fn signed_put(
        &self,
        name: &Name,
        content_type: &str,
        expires: Duration,
    ) -> Result<DirectUpload> {
        let value = HeaderValue::from_str(content_type).map_err(|_| {
            Error::Config(ConfigError::InvalidValue {
                option: "content_type".into(),
                value: content_type.to_owned(),
                expected: "a header value such as image/png".into(),
            })
        })?;
        check_expiry(expires)?;
        let options = SignedUrlOptions::new().with_signed_header(header::CONTENT_TYPE, value);
        let url = self
            .signer
            .signed_url_opts(Method::PUT, &self.key(name.as_str()), expires, &options)
            .await
            .map_err(|e| self.error("sign an upload for", name.as_str(), e))?;
        Ok(DirectUpload {
            method: "PUT".into(),
            url: url.into(),
            headers: vec![("content-type".into(), content_type.to_owned())],
        })
    }
}

/// object_store's options for a read of `range` (all of it when `None`).
pub(crate) fn get_options(range: Option<ByteRange>) -> GetOptions {
    GetOptions {
        range: range.map(|r| match r {
            ByteRange::Bounded { start, end } => GetRange::Bounded(start..end.max(start)),
            ByteRange::From(start) => GetRange::Offset(start),
            ByteRange::Last(n) => GetRange::Suffix(n),
        }),
        ..GetOptions::default()
    }
}

/// Whether `range` asks for nothing (empty, or the last 0 bytes): S3 would answer it oddly, so it is refused
/// before a request, with the size in hand.
pub(crate) fn asks_nothing(range: ByteRange) -> bool {
    matches!(range, ByteRange::Last(0))
        || matches!(range, ByteRange::Bounded { start, end } if end <= start)
}

/// Whether the server refused a read's range (`416`).
pub(crate) fn range_refused(e: &object_store::Error) -> bool {
    ServerAnswer::of(e).is_some_and(|answer| answer.range_refused())
}

/// A signature's validity as SigV4 allows it: from 1 second to 7 days.
fn check_expiry(expires: Duration) -> Result<()> {
    if expires < Duration::from_secs(1) || expires > MAX_PRESIGN {
        return Err(Error::Config(ConfigError::InvalidValue {
            option: "expires".into(),
            value: format!("{expires:?}"),
            expected: "1 to 604800 seconds (7 days, the longest a SigV4 signature is valid)".into(),
        }));
    }
    Ok(())
}
