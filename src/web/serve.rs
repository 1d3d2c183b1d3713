//! Serving a stored file over HTTP from any [`Storage`]: validators, preconditions, ranges, safe headers,
//! precompressed siblings, and the choice between proxying the bytes and redirecting to the storage's URL.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use percent_encoding::percent_decode_str;
use storages_core::{
    ByteRange, Error, GetResult, Metadata, Name, Storage, UrlOptions, guess_content_type,
};

use super::Body;
use super::encoding;
use super::failure;
use super::handoff::HandOff;
use super::preconditions::{Outcome, Validators};
use super::range::{self, RangeRequest};
use crate::statics::{Encoding, IMMUTABLE, is_hashed_name};

/// How the bytes reach the client. Parsed from text (`proxy`, `redirect[:SECONDS]`, `x-accel:/PREFIX/`,
/// `x-sendfile`) for settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Delivery {
    /// Stream them through this server (every backend).
    #[default]
    Proxy,
    /// Answer `302 Found` to the storage's own URL ([`Storage::url`]): a public URL, or a signed one valid for
    /// `expires` (object storage with `presign` signs even without it). The name is checked with one `stat` first,
    /// so a missing file is this server's plain `404`, never a redirect to an error.
    Redirect {
        /// Ask for a signed URL valid this long.
        expires: Option<Duration>,
    },
    /// Answer with an empty body and a header that hands the file to the front server (nginx's
    /// `X-Accel-Redirect`, Apache's and lighttpd's `X-Sendfile`), which sends the bytes itself with its own
    /// validators, preconditions and ranges. The name is checked with one `stat` first (a hostile or missing name
    /// is this server's plain `404`, and no header is sent); `Content-Type`, `Content-Disposition` (attachments
    /// for active media), `Cache-Control` and `nosniff` are decided here as for proxied bytes. Only storages with
    /// local paths (`file:`, `nfs:`) can do it: [`HandOff::check`] refuses the others up front, and serving from
    /// one answers `500` with the cause logged.
    HandOff(HandOff),
}

type NamePredicate = Arc<dyn Fn(&Name) -> bool + Send + Sync>;

/// How [`serve`] answers: build one per mounted storage, usually from [`ServeOptions::media`] or
/// [`ServeOptions::static_files`].
#[derive(Clone, Default)]
pub struct ServeOptions {
    inline_active: bool,
    immutable: Option<NamePredicate>,
    precompressed: Vec<Encoding>,
    delivery: Delivery,
    cache_control: Option<String>,
}

impl ServeOptions {
    /// For user uploads: active content (HTML, SVG, XML, JavaScript) is sent as an attachment so that an upload
    /// never runs in the site's origin; no immutable caching, no precompressed siblings; bytes proxied.
    pub fn media() -> Self {
        Self::default()
    }

    /// For the app's own assets: everything inline, names hashed as Django's `ManifestStaticFilesStorage` makes
    /// them ([`is_hashed_name`](crate::statics::is_hashed_name)) cached for a year as immutable, and `.br`/`.gz`
    /// siblings sent to clients that accept them.
    pub fn static_files() -> Self {
        Self::default()
            .inline_active(true)
            .immutable_if(is_hashed_name)
            .precompressed(&[Encoding::Brotli, Encoding::Gzip])
    }

    /// Whether active content is sent inline (`true`) or as `Content-Disposition: attachment` (`false`, the
    /// default).
    pub fn inline_active(mut self, inline: bool) -> Self {
        self.inline_active = inline;
        self
    }

    /// Sends [`IMMUTABLE`](crate::statics::IMMUTABLE) as `Cache-Control` for the names `predicate` accepts.
    pub fn immutable_if(
        mut self,
        predicate: impl Fn(&Name) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.immutable = Some(Arc::new(predicate));
        self
    }

    /// Sends [`IMMUTABLE`](crate::statics::IMMUTABLE) for exactly these names (the hashed names of a static
    /// manifest).
    pub fn immutable_names(self, names: impl IntoIterator<Item = Name>) -> Self {
        let names: HashSet<Name> = names.into_iter().collect();
        self.immutable_if(move |name| names.contains(name))
    }

    /// Looks for these precompressed siblings, in this order of preference, for clients that accept them (empty:
    /// none). Responses then carry `Vary: Accept-Encoding`.
    pub fn precompressed(mut self, encodings: &[Encoding]) -> Self {
        self.precompressed = encodings.to_vec();
        self
    }

    /// Proxies the bytes or redirects to the storage's URL.
    pub fn delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = delivery;
        self
    }

    /// `Cache-Control` for names that are not immutable (default: the storage's `cache_control` setting).
    pub fn cache_control(mut self, value: impl Into<String>) -> Self {
        self.cache_control = Some(value.into());
        self
    }

    fn cache_control_for(&self, storage: &dyn Storage, name: &Name) -> Option<HeaderValue> {
        if self
            .immutable
            .as_ref()
            .is_some_and(|immutable| immutable(name))
        {
            return Some(HeaderValue::from_static(IMMUTABLE));
        }
        let value = self
            .cache_control
            .as_deref()
            .or(storage.options().cache_control.as_deref())?;
        HeaderValue::from_str(value).ok()
    }
}

impl fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeOptions")
            .field("inline_active", &self.inline_active)
            .field("immutable", &self.immutable.is_some())
            .field("precompressed", &self.precompressed)
            .field("delivery", &self.delivery)
            .field("cache_control", &self.cache_control)
            .finish_non_exhaustive()
    }
}

/// Whether a content type can run script in a browser that renders it: HTML, XML (SVG included) and JavaScript.
pub fn is_active_content(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.contains("html")
        || essence.contains("xml")
        || essence.contains("javascript")
        || essence.contains("ecmascript")
}

/// Answers a `GET` or `HEAD` of the file `encoded_name` (the request path after the mount point, still
/// percent-encoded; one leading `/` is ignored) from `storage`.
///
/// - A name that is not a valid [`Name`] (traversal, absolute, control characters, invalid UTF-8), a backend's
///   temporary file, or a missing file: `404` with a fixed body that never repeats the path.
/// - Other methods: `405` with `Allow: GET, HEAD`.
/// - Preconditions in RFC 9110 §13.2.2's order: `If-Match`, else `If-Unmodified-Since` (`412`); `If-None-Match`,
///   else `If-Modified-Since` (`304`); then `If-Range`.
/// - `Range` (for `GET`): one `bytes` range gives `206` with `Content-Range`; a malformed or unsatisfiable one
///   `416` with `Content-Range: bytes */size`; several ranges or another unit are ignored (`200`, whole file).
/// - Always `X-Content-Type-Options: nosniff` and `Accept-Ranges: bytes`; a strong `ETag`, `Last-Modified`,
///   `Content-Length` and `Content-Type` with every representation.
///
/// An unconditional `GET` costs the storage one `get`; a conditional or ranged one a `stat` first (so a `304`
/// never opens the content), and each precompressed sibling tried one `stat`.
pub async fn serve(
    storage: &dyn Storage,
    method: &Method,
    headers: &HeaderMap,
    encoded_name: &str,
    options: &ServeOptions,
) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let Some(name) = decode_name(storage, encoded_name) else {
        return not_found();
    };
    match &options.delivery {
        Delivery::Proxy => {}
        Delivery::Redirect { expires } => return redirect(storage, &name, *expires).await,
        Delivery::HandOff(hand_off) => return handed_off(storage, &name, hand_off, options).await,
    }
    let head = method == Method::HEAD;
    // RFC 9110 §14.2: a server must ignore `Range` on methods other than GET.
    let range_header = headers
        .get(header::RANGE)
        .filter(|_| !head)
        .map(|v| v.to_str().unwrap_or_default());
    let conditional = range_header.is_some()
        || [
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
            header::IF_UNMODIFIED_SINCE,
        ]
        .iter()
        .any(|h| headers.contains_key(h));

    let mut variant = Variant {
        name: name.clone(),
        encoding: None,
        meta: None,
    };
    for encoding in encoding::acceptable(headers, &options.precompressed) {
        match sibling(storage, &name, encoding).await {
            Ok(Some(found)) => {
                variant = found;
                break;
            }
            Ok(None) => {}
            Err(e) => return failed(storage, &name, e),
        }
    }
    if variant.meta.is_none() && (head || conditional) {
        match storage.stat(&variant.name).await {
            Ok(meta) => variant.meta = Some(meta),
            Err(e) => return failed(storage, &name, e),
        }
    }
    let parts = Parts {
        storage,
        requested: &name,
        options,
    };

    let Some(meta) = variant.meta.take() else {
        // Unconditional GET: one read gives the metadata and the bytes.
        return match storage.get(&variant.name, None).await {
            Ok(got) => parts.respond(got, None, variant.encoding),
            Err(e) => failed(storage, &name, e),
        };
    };
    let validators = Validators::new(meta.etag.as_deref(), meta.modified);
    match validators.evaluate(headers) {
        Outcome::Proceed => {}
        Outcome::NotModified => return parts.not_modified(&validators),
        Outcome::Failed => return plain(StatusCode::PRECONDITION_FAILED, "precondition failed\n"),
    }
    let range = match range_header {
        Some(value) if validators.if_range_holds(headers) => match range::parse(value, meta.size) {
            RangeRequest::Whole => None,
            RangeRequest::Single(r) => Some(r),
            RangeRequest::Unsatisfiable => return range_not_satisfiable(meta.size),
        },
        _ => None,
    };
    if head {
        return parts.head(&meta, &validators, variant.encoding);
    }
    // Should the file be replaced between the `stat` and this `get`, the preconditions were decided on the old
    // version but every header sent (ETag, Content-Range, length) describes the bytes sent.
    match storage.get(&variant.name, range).await {
        Ok(got) => parts.respond(got, range, variant.encoding),
        Err(e) => failed(storage, &name, e),
    }
}

/// The file actually sent: the name asked for, or a precompressed sibling of it.
struct Variant {
    name: Name,
    encoding: Option<Encoding>,
    meta: Option<Metadata>,
}

/// The sibling `name.br`/`name.gz` when it is stored. A name that is itself such a sibling gets none. A storage
/// whose server cannot be reached is an error: the original would not be reached either.
async fn sibling(
    storage: &dyn Storage,
    name: &Name,
    encoding: Encoding,
) -> Result<Option<Variant>, Error> {
    if Encoding::of_sibling(name).is_some() {
        return Ok(None);
    }
    let Ok(sibling) = encoding.sibling(name, storage.options().max_name_len) else {
        return Ok(None);
    };
    match storage.stat(&sibling).await {
        Ok(meta) => Ok(Some(Variant {
            name: sibling,
            encoding: Some(encoding),
            meta: Some(meta),
        })),
        Err(e) if e.is_unavailable() => Err(e),
        Err(e) => {
            // The original is still served; an error other than "not there" is still a failing storage.
            if !e.is_not_found() {
                failure::storage_failed("serve", storage.backend(), sibling.as_str(), &e);
            }
            Ok(None)
        }
    }
}

/// Percent-decodes and validates a request path: `None` for anything that is not a servable [`Name`].
fn decode_name(storage: &dyn Storage, encoded: &str) -> Option<Name> {
    let encoded = encoded.strip_prefix('/').unwrap_or(encoded);
    let decoded = percent_decode_str(encoded).decode_utf8().ok()?;
    // `Name` refuses the backends' temporary names too: nobody can ask for one.
    Name::with_max_len(decoded.into_owned(), storage.options().max_name_len).ok()
}

/// What every answer about one file shares.
struct Parts<'a> {
    storage: &'a dyn Storage,
    requested: &'a Name,
    options: &'a ServeOptions,
}

impl Parts<'_> {
    /// `200` or `206` with the bytes.
    fn respond(
        &self,
        got: GetResult,
        range: Option<ByteRange>,
        encoding: Option<Encoding>,
    ) -> Response<Body> {
        let validators = Validators::new(got.meta.etag.as_deref(), got.meta.modified);
        let span = got.range.clone();
        let length = span.end - span.start;
        // Past this point the status is sent: a read that fails now cuts the response short, and only the log
        // tells why.
        let (backend, name) = (self.storage.backend(), got.meta.name.clone());
        let stream = got
            .stream
            .inspect_err(move |e| failure::storage_failed("serve", backend, name.as_str(), e))
            .boxed();
        let mut response = Response::new(Body::from_stream(stream, length));
        self.representation_headers(response.headers_mut(), &got.meta, &validators, encoding);
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        if range.is_some() {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            if let Ok(value) = HeaderValue::from_str(&range::content_range(&span, got.meta.size)) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
        }
        response
    }

    /// `200` to a `HEAD`: the headers a `GET` would get, no bytes.
    fn head(
        &self,
        meta: &Metadata,
        validators: &Validators,
        encoding: Option<Encoding>,
    ) -> Response<Body> {
        let mut response = Response::new(Body::head(meta.size));
        self.representation_headers(response.headers_mut(), meta, validators, encoding);
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(meta.size));
        response
    }

    /// `304`: the validators and caching headers a `200` would carry (RFC 9110 §15.4.5), no content headers.
    fn not_modified(&self, validators: &Validators) -> Response<Body> {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        self.validator_headers(response.headers_mut(), validators);
        response
    }

    fn validator_headers(&self, headers: &mut HeaderMap, validators: &Validators) {
        if let Some(etag) = validators.etag.as_ref().and_then(|e| e.header()) {
            headers.insert(header::ETAG, etag);
        }
        if let Some(last_modified) = validators.last_modified_header() {
            headers.insert(header::LAST_MODIFIED, last_modified);
        }
        self.policy_headers(headers);
        if !self.options.precompressed.is_empty() {
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }

    /// What every answer about the file says, a handed-off one included: how long it may be cached, and that its
    /// type is not to be guessed.
    fn policy_headers(&self, headers: &mut HeaderMap) {
        if let Some(cache_control) = self.options.cache_control_for(self.storage, self.requested) {
            headers.insert(header::CACHE_CONTROL, cache_control);
        }
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }

    fn representation_headers(
        &self,
        headers: &mut HeaderMap,
        meta: &Metadata,
        validators: &Validators,
        encoding: Option<Encoding>,
    ) {
        self.validator_headers(headers, validators);
        self.content_type_headers(headers, meta, encoding);
        if let Some(encoding) = encoding {
            headers.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(encoding.token()),
            );
        }
    }

    /// `Content-Type`, and `Content-Disposition: attachment` for active content unless it may be inline.
    fn content_type_headers(
        &self,
        headers: &mut HeaderMap,
        meta: &Metadata,
        encoding: Option<Encoding>,
    ) {
        // A sibling's own type is that of its compression; the type sent is the original's.
        let content_type = match (encoding, &meta.content_type) {
            (None, Some(stored)) => stored.clone(),
            _ => guess_content_type(self.requested),
        };
        let value = HeaderValue::from_str(&content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream"));
        if !self.options.inline_active && is_active_content(&content_type) {
            headers.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment"),
            );
        }
        headers.insert(header::CONTENT_TYPE, value);
    }
}

/// [`Delivery::HandOff`]: the checks and headers of a response, and the front server's header instead of bytes.
async fn handed_off(
    storage: &dyn Storage,
    name: &Name,
    hand_off: &HandOff,
    options: &ServeOptions,
) -> Response<Body> {
    // The stat resolves the name beneath the root as a read would, so a link leading out is refused here, before
    // the front server (which follows links) ever sees the name.
    let meta = match storage.stat(name).await {
        Ok(meta) => meta,
        Err(e) => return failed(storage, name, e),
    };
    let (header, value) = match hand_off.header(storage, name) {
        Ok(header) => header,
        Err(e) => {
            failure::storage_failed("serve", storage.backend(), name.as_str(), &e);
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the storage cannot hand files to the front server\n",
            );
        }
    };
    let parts = Parts {
        storage,
        requested: name,
        options,
    };
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    parts.content_type_headers(headers, &meta, None);
    parts.policy_headers(headers);
    headers.insert(header, value);
    response
}

async fn redirect(storage: &dyn Storage, name: &Name, expires: Option<Duration>) -> Response<Body> {
    if let Err(e) = storage.stat(name).await {
        return failed(storage, name, e);
    }
    let url_options = match expires {
        Some(expires) => UrlOptions::expiring(expires),
        None => UrlOptions::default(),
    };
    let location = match storage.url(name, &url_options).await {
        Ok(url) => url,
        Err(e) => return failed(storage, name, e),
    };
    let Ok(location) = HeaderValue::from_str(&location) else {
        // The URL itself is not logged: a signed one is a credential for this file.
        tracing::error!(
            operation = "serve",
            backend = storage.backend(),
            name = name.as_str(),
            "the storage gave a URL that is no valid Location header"
        );
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the storage gave no usable URL\n",
        );
    };
    let mut response = plain(StatusCode::FOUND, "");
    response.headers_mut().insert(header::LOCATION, location);
    response
}

fn range_not_satisfiable(size: u64) -> Response<Body> {
    let mut response = plain(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n");
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&range::unsatisfied_range(size)) {
        headers.insert(header::CONTENT_RANGE, value);
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response
}

/// The answer to a storage error: `404` for a missing or invalid name, `416` for a range that stopped fitting
/// between `stat` and `get`, `503` when the storage's server cannot be reached, else `500` (the cause logged, never
/// told to the client).
fn failed(storage: &dyn Storage, name: &Name, error: Error) -> Response<Body> {
    match error {
        Error::NotFound { .. } | Error::InvalidName(_) | Error::OutsideRoot { .. } => not_found(),
        Error::RangeNotSatisfiable { size, .. } => range_not_satisfiable(size),
        other => failure::answer("serve", storage.backend(), name.as_str(), &other),
    }
}

/// `404 Not Found` with a fixed body.
pub fn not_found() -> Response<Body> {
    plain(StatusCode::NOT_FOUND, "not found\n")
}

/// A short message as `text/plain`.
pub(crate) fn plain(status: StatusCode, message: impl Into<Body>) -> Response<Body> {
    let mut response = Response::new(message.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_types_are_html_xml_and_script() {
        for active in [
            "text/html",
            "text/html; charset=utf-8",
            "image/svg+xml",
            "application/xml",
            "text/xml",
            "text/javascript",
            "application/xhtml+xml",
            "application/ecmascript",
        ] {
            assert!(is_active_content(active), "{active}");
        }
        for passive in [
            "image/png",
            "text/css",
            "text/plain",
            "application/json",
            "application/pdf",
        ] {
            assert!(!is_active_content(passive), "{passive}");
        }
    }
}
