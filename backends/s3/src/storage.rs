//! `S3Storage`: the `Storage` primitives on an S3 bucket. Each method cleans the name, makes one call and maps
//! the errors; uploads live in `upload.rs`, bucket requests in `admin.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use base64::Engine as _;
use futures_util::stream::{BoxStream, StreamExt};
use http::{HeaderValue, Method, header};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::signer::{SignedUrlOptions, Signer};
use object_store::{
    Attribute, Attributes, GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt,
    PutMode as StorePutMode, PutMultipartOptions, PutOptions, PutPayload,
};
use object_store::{ClientConfigKey, ClientOptions};
use storages_core::naming::TEMP_PREFIX;
use storages_core::{
    ByteRange, Capabilities, CommonOptions, ConfigError, Content, DirectUpload, Error, GetResult,
    Listing, Md5, Md5Hasher, Metadata, Name, PutMode, Result, Storage, UrlOptions,
    parse_header_value, public_url,
};
use tokio::sync::OnceCell;

use crate::admin::{
    bucket_request, create_bucket_body, public_read_policy, replace_metadata, short,
};
use crate::checks::check_client_values;
use crate::config::{ConditionalPut, MAX_PRESIGN, S3Config};
use crate::locks::NameLocks;
use crate::reach;
use crate::upload::{Failed, Head, Plan, UploadError, multipart, read_head};
use crate::uploads::{self, AbortedUpload, UploadsCleaned};

/// What a write stored.
struct Written {
    name: Name,
    size: u64,
    etag: Option<String>,
    /// The MD5 of what was sent (`None` only if it could not be known).
    md5: Option<Md5>,
}

/// The user metadata key (`x-amz-meta-md5chksum`) holding the base64 MD5 of an object's content, written with every
/// object, so that multipart objects (whose ETag is no MD5) compare by content too. rclone's key and encoding:
/// each tool reads what the other wrote.
pub(crate) const MD5_RECORD: &str = "md5chksum";

/// CopyObject's limit: larger objects cannot get their MD5 record by a copy onto themselves.
const COPY_LIMIT: u64 = 5 << 30;

/// Aborts in flight at once when cleaning incomplete uploads.
const CLEAN_CONCURRENCY: usize = 8;

const UNKNOWN: u8 = 0;
const SUPPORTED: u8 = 1;
const UNSUPPORTED: u8 = 2;

/// Files as objects in an S3-compatible bucket (`s3://`, `minio://`): AWS S3, MinIO, Garage, Ceph, R2, ...
///
/// Create-only writes use the server's conditional PUT (`If-None-Match: *`) for content of at most one part when
/// the server honours it (probed on first use unless `conditional_put` says). Otherwise, and for larger content,
/// the name is checked and then written while holding an in-process lock on it: exact for every save made
/// through this process, but two *processes* saving one name in the same instant can both win, and the later
/// write replaces the earlier. Use distinct names across processes (or a server with conditional writes and
/// content under the part size) where that matters.
pub struct S3Storage {
    config: S3Config,
    store: Arc<AmazonS3>,
    /// Signs URLs for the endpoint browsers reach (`public_endpoint`); the main store when not set.
    signer: Arc<AmazonS3>,
    http: reqwest::Client,
    bucket_ready: OnceCell<()>,
    conditional: AtomicU8,
    locks: NameLocks,
}

impl std::fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Storage")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl S3Storage {
    /// Builds the client for `config` (no request is made: the bucket is checked on first use and by `check`).
    pub fn new(config: S3Config) -> Result<Self> {
        // reqwest is built without a default crypto provider so that ring, not a C library, signs TLS handshakes.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = Arc::new(build_store(
            &config,
            config.endpoint.as_deref(),
            "endpoint",
        )?);
        let signer = match &config.public_endpoint {
            Some(endpoint) => Arc::new(build_store(&config, Some(endpoint), "public_endpoint")?),
            None => Arc::clone(&store),
        };
        // Bucket and upload requests object_store does not make: bounded like the others.
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .build()
            .map_err(|e| Error::Backend {
                backend: "s3",
                message: format!("cannot build an HTTP client: {e}"),
                source: None,
            })?;
        let conditional = match config.conditional_put {
            ConditionalPut::Auto => UNKNOWN,
            ConditionalPut::Enabled => SUPPORTED,
            ConditionalPut::Disabled => UNSUPPORTED,
        };
        Ok(Self {
            config,
            store,
            signer,
            http,
            bucket_ready: OnceCell::new(),
            conditional: AtomicU8::new(conditional),
            locks: NameLocks::default(),
        })
    }

    /// The settings in force.
    pub fn config(&self) -> &S3Config {
        &self.config
    }

    /// The object_store client, for what this crate does not wrap.
    pub fn object_store(&self) -> &Arc<AmazonS3> {
        &self.store
    }

    /// Whether create-only writes use the server's conditional PUT: `None` until probed.
    pub fn conditional_put(&self) -> Option<bool> {
        match self.conditional.load(Ordering::Relaxed) {
            SUPPORTED => Some(true),
            UNSUPPORTED => Some(false),
            _ => None,
        }
    }

    fn key(&self, name: &str) -> Path {
        let key = if self.config.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.config.prefix)
        };
        // Names and the prefix are validated `Name`s, which object_store's path rules accept as they are.
        Path::parse(&key).unwrap_or_else(|_| Path::from(key.as_str()))
    }

    fn prefix_path(&self, prefix: Option<&Name>) -> Option<Path> {
        match (self.config.prefix.is_empty(), prefix) {
            (true, None) => None,
            (false, None) => Path::parse(&self.config.prefix).ok(),
            (_, Some(p)) => Some(self.key(p.as_str())),
        }
    }

    /// The name of an object key under the prefix, or `None` for keys that are not valid names or are hidden.
    fn name_of(&self, location: &Path) -> Option<Name> {
        let key = location.as_ref();
        let rest = if self.config.prefix.is_empty() {
            key
        } else {
            key.strip_prefix(self.config.prefix.as_str())?
                .strip_prefix('/')?
        };
        // Temporary objects and probes are not names: refused here, so hidden.
        Name::with_max_len(rest, usize::MAX).ok()
    }

    /// Our metadata from the server's. A listing has no attributes: there the MD5 is known only from a
    /// single-part object's ETag; `stat` and `get` also read the MD5 record (preferred: it is written from the
    /// bytes sent, where a bucket's encryption can make the ETag something else).
    fn metadata(&self, name: Name, meta: &ObjectMeta, attributes: Option<&Attributes>) -> Metadata {
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

    /// Maps an object_store error on `name` to ours, naming bucket and endpoint (never a credential).
    fn error(&self, op: &str, name: &str, e: object_store::Error) -> Error {
        let text = e.to_string();
        if text.contains("NoSuchBucket") {
            return self.missing_bucket();
        }
        if reach::unreachable(&e) {
            let what = match name {
                "" => format!("{op} in bucket `{}`", self.config.bucket),
                name => format!("{op} `{name}` in bucket `{}`", self.config.bucket),
            };
            return self.unavailable(Box::new(reach::Failed { what, source: e }));
        }
        match e {
            object_store::Error::NotFound { .. } => Error::NotFound {
                name: name.to_owned(),
            },
            object_store::Error::AlreadyExists { .. }
            | object_store::Error::Precondition { .. } => Error::AlreadyExists {
                name: name.to_owned(),
            },
            other => Error::Backend {
                backend: "s3",
                message: format!(
                    "{op} `{name}` in bucket `{}` at {}: {text}",
                    self.config.bucket,
                    self.config.endpoint_shown()
                ),
                source: Some(Box::new(other)),
            },
        }
    }

    /// The server could not be reached, as `source` tells.
    fn unavailable(&self, source: storages_core::BoxError) -> Error {
        Error::Unavailable {
            backend: "s3",
            endpoint: self.config.endpoint_shown(),
            source,
        }
    }

    fn missing_bucket(&self) -> Error {
        Error::Backend {
            backend: "s3",
            message: format!(
                "bucket `{}` does not exist at {} (create it, or set auto_create=true)",
                self.config.bucket,
                self.config.endpoint_shown()
            ),
            source: None,
        }
    }

    /// The error of a failed multipart upload of `name`, naming the upload when aborting it failed too (it stays
    /// on the server, holding its parts, until cleaned).
    fn upload_error(&self, name: &Name, failed: Failed) -> Error {
        let cause = match failed.cause {
            UploadError::Content(e) => Error::io("read the content for", name.as_str(), e),
            UploadError::Store(e) => self.error("upload", name.as_str(), e),
        };
        match failed.left {
            None => cause,
            Some((upload_id, abort)) => {
                let why = match &cause {
                    Error::Backend { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                Error::Backend {
                    backend: "s3",
                    message: format!(
                        "{why}; aborting multipart upload {upload_id} also failed: {abort}; its parts stay in \
                         bucket `{}` until `storages clean STORAGE --older-than AGE` or the bucket's lifecycle rule \
                         removes them",
                        self.config.bucket
                    ),
                    source: Some(Box::new(cause)),
                }
            }
        }
    }

    /// Checks the bucket once (creating it with `auto_create`, applying `public`), before the first request that
    /// needs it. A failure is not remembered, so a bucket created later is found.
    async fn ready(&self) -> Result<()> {
        self.bucket_ready
            .get_or_try_init(|| self.prepare_bucket())
            .await
            .map(|_| ())
    }

    async fn prepare_bucket(&self) -> Result<()> {
        let probe = self
            .store
            .list_with_delimiter(self.prefix_path(None).as_ref())
            .await;
        match probe {
            Ok(_) => {}
            Err(e)
                if e.to_string().contains("NoSuchBucket")
                    || matches!(e, object_store::Error::NotFound { .. }) =>
            {
                if !self.config.auto_create {
                    return Err(self.missing_bucket());
                }
                let body = create_bucket_body(self.config.region.as_deref());
                let answer =
                    bucket_request(&self.store, &self.http, &self.config, Method::PUT, "", body)
                        .await?;
                // 409: created meanwhile by another server, which is what was wanted.
                if !(200..300).contains(&answer.status) && answer.status != 409 {
                    return Err(Error::Backend {
                        backend: "s3",
                        message: format!(
                            "cannot create bucket `{}` at {}: HTTP {} {}",
                            self.config.bucket,
                            self.config.endpoint_shown(),
                            answer.status,
                            short(&answer.body)
                        ),
                        source: None,
                    });
                }
            }
            Err(e) => return Err(self.error("list", "", e)),
        }
        if self.config.public {
            let policy = public_read_policy(&self.config.bucket, &self.config.prefix);
            let answer = bucket_request(
                &self.store,
                &self.http,
                &self.config,
                Method::PUT,
                "policy",
                policy.into(),
            )
            .await?;
            if !(200..300).contains(&answer.status) {
                return Err(Error::Backend {
                    backend: "s3",
                    message: format!(
                        "public=true: the server at {} refused a public-read policy for bucket `{}` (HTTP {}: {}); \
                         it may not support bucket policies (Garage does not: publish with `garage bucket website \
                         --allow {}` instead, and leave public unset)",
                        self.config.endpoint_shown(),
                        self.config.bucket,
                        answer.status,
                        short(&answer.body),
                        self.config.bucket
                    ),
                    source: None,
                });
            }
        }
        Ok(())
    }

    /// Finds out once whether the server honours `If-None-Match: *`: create a hidden object twice.
    async fn conditional_supported(&self) -> Result<bool> {
        if let Some(known) = self.conditional_put() {
            return Ok(known);
        }
        let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(12)
            .collect();
        let probe = self.key(&format!("{TEMP_PREFIX}probe-{suffix}"));
        let create = || {
            self.store.put_opts(
                &probe,
                PutPayload::from_static(b"probe"),
                StorePutMode::Create.into(),
            )
        };
        create()
            .await
            .map_err(|e| self.error("probe conditional writes with", probe.as_ref(), e))?;
        let supported = match create().await {
            Ok(_) => false,
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => true,
            Err(e) => {
                let _ = self.store.delete(&probe).await;
                return Err(self.error("probe conditional writes with", probe.as_ref(), e));
            }
        };
        let _ = self.store.delete(&probe).await;
        self.conditional.store(
            if supported { SUPPORTED } else { UNSUPPORTED },
            Ordering::Relaxed,
        );
        Ok(supported)
    }

    /// The object's attributes: its content type, and the content's own `Cache-Control` before the storage's.
    /// The attributes are sent as headers: a value no header can carry is refused here, as object_store would
    /// panic on it.
    fn attributes(&self, content_type: String, cache_control: Option<&str>) -> Result<Attributes> {
        let mut attributes = Attributes::new();
        parse_header_value(
            "content_type",
            &content_type,
            "a content type such as image/png",
        )?;
        attributes.insert(Attribute::ContentType, content_type.into());
        if let Some(cc) = cache_control.or(self.config.common.cache_control.as_deref()) {
            parse_header_value("cache_control", cc, "a Cache-Control value")?;
            attributes.insert(Attribute::CacheControl, cc.to_owned().into());
        }
        Ok(attributes)
    }

    /// Writes the whole `head` (and `rest`) under `name`, replacing what is there.
    async fn write(&self, name: &Name, head: Head<'_>, attributes: &Attributes) -> Result<Written> {
        let path = self.key(name.as_str());
        match head {
            Head::Whole(payload) => {
                let size = payload.content_length() as u64;
                let options = PutOptions {
                    attributes: attributes.clone(),
                    ..PutOptions::default()
                };
                let done = self
                    .store
                    .put_opts(&path, payload, options)
                    .await
                    .map_err(|e| self.error("write", name.as_str(), e))?;
                Ok(Written {
                    name: name.clone(),
                    size,
                    etag: done.e_tag,
                    md5: recorded_md5(attributes),
                })
            }
            Head::Partial(first, rest) => {
                // Hashed as the parts are cut, in order: the MD5 is known when the upload completes.
                let hasher = Arc::new(std::sync::Mutex::new(hash_payload(&first)));
                let hashing = Arc::clone(&hasher);
                let rest = rest
                    .inspect(move |chunk| {
                        if let Ok(c) = chunk {
                            lock(&hashing).update(c);
                        }
                    })
                    .boxed();
                let options = PutMultipartOptions {
                    attributes: attributes.clone(),
                    ..PutMultipartOptions::default()
                };
                let plan = Plan {
                    store: &self.store,
                    bucket: &self.config.bucket,
                    path: &path,
                    options,
                    part_size: self.config.part_size,
                    concurrency: self.config.upload_concurrency,
                };
                let done = multipart(plan, first, rest)
                    .await
                    .map_err(|failed| self.upload_error(name, failed))?;
                let hasher = std::mem::take(&mut *lock(&hasher));
                let (size, md5) = (hasher.len(), hasher.finish());
                let etag = self
                    .record_md5(&path, size, done.e_tag, md5, attributes)
                    .await;
                Ok(Written {
                    name: name.clone(),
                    size,
                    etag,
                    md5: Some(md5),
                })
            }
        }
    }

    /// Gives a completed multipart object its MD5 record, which could not be sent when the upload began (the
    /// content had not been read yet): a server-side copy onto itself with the object's attributes and the record,
    /// made only while the object still has the ETag the upload got, so a concurrent write is never given our
    /// hash. The upload is stored either way: when the copy fails (or the object is over CopyObject's 5 GiB), it
    /// stays without a record, and a comparison by content reads it or sends it again. Returns the object's ETag
    /// afterwards.
    async fn record_md5(
        &self,
        path: &Path,
        size: u64,
        etag: Option<String>,
        md5: Md5,
        attributes: &Attributes,
    ) -> Option<String> {
        let uploaded = etag.clone()?;
        if size > COPY_LIMIT {
            return etag;
        }
        let record = md5_record(md5);
        let key = format!("x-amz-meta-{MD5_RECORD}");
        let mut headers: Vec<(&str, &str)> = vec![(key.as_str(), record.as_str())];
        for (key, value) in attributes {
            match key {
                Attribute::ContentType => headers.push(("content-type", value.as_ref())),
                Attribute::CacheControl => headers.push(("cache-control", value.as_ref())),
                _ => {}
            }
        }
        let answer = replace_metadata(
            &self.store,
            &self.http,
            &self.config,
            path.as_ref(),
            &uploaded,
            &headers,
        )
        .await;
        match answer {
            // A copy can fail after its 200 has been sent: the body then holds an <Error>.
            Ok(answer)
                if (200..300).contains(&answer.status) && !answer.body.contains("<Error>") =>
            {
                copied_etag(&answer.body).or(etag)
            }
            _ => etag,
        }
    }

    /// Create-only for the first free candidate, by checking and writing under an in-process lock.
    async fn write_checked(
        &self,
        candidates: &(dyn Fn(u32) -> Result<Name> + Sync),
        head: Head<'_>,
        attributes: &Attributes,
    ) -> Result<Written> {
        let mut attempt = 0;
        loop {
            let candidate = candidates(attempt)?;
            let _guard = self.locks.lock(candidate.as_str()).await;
            match self.stat(&candidate).await {
                Ok(_) => attempt += 1,
                Err(e) if e.is_not_found() => {
                    return self.write(&candidate, head, attributes).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Create-only for the first free candidate with the server's conditional PUT (content of one part).
    async fn write_conditional(
        &self,
        candidates: &(dyn Fn(u32) -> Result<Name> + Sync),
        payload: PutPayload,
        attributes: &Attributes,
    ) -> Result<Written> {
        let size = payload.content_length() as u64;
        let mut attempt = 0;
        loop {
            let candidate = candidates(attempt)?;
            let options = PutOptions {
                mode: StorePutMode::Create,
                attributes: attributes.clone(),
                ..PutOptions::default()
            };
            match self
                .store
                .put_opts(&self.key(candidate.as_str()), payload.clone(), options)
                .await
            {
                Ok(done) => {
                    return Ok(Written {
                        name: candidate,
                        size,
                        etag: done.e_tag,
                        md5: recorded_md5(attributes),
                    });
                }
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. },
                ) => attempt += 1,
                Err(e) => return Err(self.error("write", candidate.as_str(), e)),
            }
        }
    }
}

/// The MD5 of a payload read whole, and the hasher to go on with.
fn hash_payload(payload: &PutPayload) -> Md5Hasher {
    let mut hasher = Md5Hasher::new();
    for chunk in payload {
        hasher.update(chunk);
    }
    hasher
}

fn lock(hasher: &std::sync::Mutex<Md5Hasher>) -> std::sync::MutexGuard<'_, Md5Hasher> {
    // A panic while hashing leaves a hasher of no use, and the upload it belongs to fails anyway.
    hasher
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The MD5 record's value: base64 of the 16 bytes, as rclone writes it.
fn md5_record(md5: Md5) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5.as_bytes())
}

fn md5_from_record(value: &str) -> Option<Md5> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    Some(Md5::from_bytes(bytes.try_into().ok()?))
}

/// The MD5 record among the attributes a write sends.
fn recorded_md5(attributes: &Attributes) -> Option<Md5> {
    md5_from_record(
        attributes
            .get(&Attribute::Metadata(MD5_RECORD.into()))?
            .as_ref(),
    )
}

/// The ETag in a CopyObject answer (`<CopyObjectResult><ETag>"..."</ETag>...`).
fn copied_etag(body: &str) -> Option<String> {
    let start = body.find("<ETag>")? + "<ETag>".len();
    let end = start + body[start..].find("</ETag>")?;
    Some(body[start..end].replace("&quot;", "\""))
}

fn builder(config: &S3Config, endpoint: Option<&str>) -> AmazonS3Builder {
    // object_store's default client gives every request 30 s in all, which cuts off a large upload's parts on a
    // slow link and a download streamed to a slow client. Without it, time is bounded per attempt by the connect
    // and idle (read) timeouts, and the attempts by the retry budget. `from_env` cannot start from such a client,
    // so the environment is applied as it would: the standard AWS variables first, then what the settings say
    // (their timeouts, defaults included, win over `AWS_CONNECT_TIMEOUT` and `AWS_READ_TIMEOUT`).
    let mut b =
        AmazonS3Builder::new().with_client_options(ClientOptions::new().with_timeout_disabled());
    for (key, value) in std::env::vars() {
        if !key.starts_with("AWS_") {
            continue;
        }
        if let Ok(key) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
            b = b.with_config(key, value);
        }
    }
    let millis = |d: Duration| format!("{}ms", d.as_millis().max(1));
    b = b
        .with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
            millis(config.connect_timeout),
        )
        .with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::ReadTimeout),
            millis(config.read_timeout),
        );
    // A server that is down fails a request after `retries` quick retries: backoffs start at 100 ms and stay
    // under a second, so a refused connection fails within a second and an unreachable host within about
    // (1 + retries) * connect_timeout.
    let retry = object_store::RetryConfig {
        max_retries: config.retries,
        retry_timeout: config.retry_timeout,
        backoff: object_store::BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
        },
    };
    b = b.with_bucket_name(&config.bucket).with_retry(retry);
    if let Some(endpoint) = endpoint {
        // AWS_ENDPOINT_URL_S3 would win over `with_endpoint` in object_store: the settings win over both.
        b = b
            .with_endpoint(endpoint)
            .with_config(AmazonS3ConfigKey::S3Endpoint, endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    if let Some(region) = &config.region {
        b = b.with_region(region);
    }
    b = b.with_virtual_hosted_style_request(config.virtual_hosted);
    if let Some(id) = &config.access_key_id {
        b = b.with_access_key_id(id);
    }
    if let Some(secret) = &config.secret_access_key {
        b = b.with_secret_access_key(secret.expose());
    }
    for (key, value) in &config.passthrough {
        b = b.with_config(*key, value.expose());
    }
    b
}

/// object_store's client for `endpoint` (the setting `option`), once every value it will put into a URL or a
/// header is known to be usable: object_store parses those only when it sends a request, and panics there on
/// what it cannot parse. The values are read back from the builder, so the AWS variables it took are checked too.
fn build_store(config: &S3Config, endpoint: Option<&str>, option: &str) -> Result<AmazonS3> {
    let b = builder(config, endpoint);
    check_client_values(&b, config, option)?;
    b.build().map_err(|e| invalid_config(&e))
}

fn invalid_config(e: &object_store::Error) -> Error {
    Error::Config(ConfigError::InvalidValue {
        option: "s3 settings".into(),
        value: String::new(),
        expected: format!("settings object_store accepts ({e})"),
    })
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

#[async_trait]
impl Storage for S3Storage {
    fn backend(&self) -> &'static str {
        "s3"
    }

    fn options(&self) -> &CommonOptions {
        &self.config.common
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.atomic_create = self.conditional_put() == Some(true);
        caps.public_urls = true;
        caps.signed_urls = true;
        caps.remote = true;
        caps
    }

    async fn put(&self, name: &Name, content: Content<'_>, mode: PutMode) -> Result<Metadata> {
        self.ready().await?;
        let content_type = content.content_type_for(name);
        let mut attributes = self.attributes(content_type.clone(), content.cache_control())?;
        let cache_control = attributes
            .get(&Attribute::CacheControl)
            .map(|v| v.as_ref().to_owned());
        let part_size = self.config.part_size;
        let head = match content.as_bytes() {
            Some(bytes) if bytes.len() <= part_size => Head::Whole(PutPayload::from(bytes.clone())),
            _ => {
                let (stream, _) = content
                    .into_stream()
                    .await
                    .map_err(|e| Error::io("read the content for", name.as_str(), e))?;
                read_head(stream, part_size)
                    .await
                    .map_err(|e| Error::io("read the content for", name.as_str(), e))?
            }
        };
        if let Head::Whole(payload) = &head {
            // All of it is here before the request: its MD5 goes with it.
            attributes.insert(
                Attribute::Metadata(MD5_RECORD.into()),
                md5_record(hash_payload(payload).finish()).into(),
            );
        }
        let written = match mode {
            PutMode::Overwrite => self.write(name, head, &attributes).await?,
            PutMode::Create => {
                let only = |attempt: u32| {
                    if attempt == 0 {
                        Ok(name.clone())
                    } else {
                        Err(Error::AlreadyExists {
                            name: name.to_string(),
                        })
                    }
                };
                self.create(&only, head, &attributes).await?
            }
            PutMode::CreateUnique(alternatives) => {
                self.create(&|a| alternatives.candidate(a), head, &attributes)
                    .await?
            }
            other => {
                return Err(Error::Backend {
                    backend: "s3",
                    message: format!("put mode {other:?} is not supported"),
                    source: None,
                });
            }
        };
        // Built from what was sent and what the server answered: no second request.
        Ok(Metadata {
            name: written.name,
            size: written.size,
            modified: Some(SystemTime::now()),
            etag: written.etag,
            content_type: Some(content_type),
            cache_control,
            content_md5: written.md5,
        })
    }

    async fn get(&self, name: &Name, range: Option<ByteRange>) -> Result<GetResult> {
        self.ready().await?;
        let options = GetOptions {
            range: range.map(|r| match r {
                ByteRange::Bounded { start, end } => GetRange::Bounded(start..end.max(start)),
                ByteRange::From(start) => GetRange::Offset(start),
                ByteRange::Last(n) => GetRange::Suffix(n),
            }),
            ..GetOptions::default()
        };
        // Ranges S3 would answer oddly (empty, or of nothing) are refused here with the size in hand.
        if let Some(r) = range {
            let empty_request = matches!(r, ByteRange::Last(0))
                || matches!(r, ByteRange::Bounded { start, end } if end <= start);
            if empty_request {
                let size = self.stat(name).await?.size;
                return Err(Error::RangeNotSatisfiable {
                    name: name.to_string(),
                    range: r,
                    size,
                });
            }
        }
        let got = match self.store.get_opts(&self.key(name.as_str()), options).await {
            Ok(got) => got,
            Err(e) => {
                let text = e.to_string();
                if let (Some(r), true) = (
                    range,
                    text.contains("416")
                        || text.contains("InvalidRange")
                        || text.contains("not satisf"),
                ) {
                    let size = self.stat(name).await?.size;
                    return Err(Error::RangeNotSatisfiable {
                        name: name.to_string(),
                        range: r,
                        size,
                    });
                }
                return Err(self.error("read", name.as_str(), e));
            }
        };
        let meta = self.metadata(name.clone(), &got.meta, Some(&got.attributes));
        let span = got.range.clone();
        let shown = name.to_string();
        let stream = got
            .into_stream()
            .map(move |chunk| {
                chunk.map_err(|e| std::io::Error::other(format!("read `{shown}`: {e}")))
            })
            .boxed();
        Ok(GetResult {
            meta,
            range: span,
            stream,
        })
    }

    async fn stat(&self, name: &Name) -> Result<Metadata> {
        self.ready().await?;
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        let got = self
            .store
            .get_opts(&self.key(name.as_str()), options)
            .await
            .map_err(|e| self.error("stat", name.as_str(), e))?;
        Ok(self.metadata(name.clone(), &got.meta, Some(&got.attributes)))
    }

    async fn delete(&self, name: &Name) -> Result<()> {
        self.ready().await?;
        match self.store.delete(&self.key(name.as_str())).await {
            Ok(()) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("delete", name.as_str(), e)),
        }
    }

    /// A server-side copy (CopyObject): the bytes never leave the server, and the object's metadata (content
    /// type, Cache-Control, the MD5 record) comes along.
    async fn copy_within(&self, from: &Name, to: &Name) -> Result<Metadata> {
        if from == to {
            // S3 refuses a copy onto itself that changes nothing; it holds the bytes already.
            return self.stat(from).await;
        }
        self.ready().await?;
        self.store
            .copy(&self.key(from.as_str()), &self.key(to.as_str()))
            .await
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => Error::NotFound {
                    name: from.to_string(),
                },
                e => self.error("copy to", to.as_str(), e),
            })?;
        self.stat(to).await
    }

    fn list(&self, prefix: Option<&Name>) -> BoxStream<'_, Result<Metadata>> {
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

    async fn list_dir(&self, prefix: Option<&Name>) -> Result<Listing> {
        self.ready().await?;
        let label = prefix.map_or("", Name::as_str);
        let result = self
            .store
            .list_with_delimiter(self.prefix_path(prefix).as_ref())
            .await
            .map_err(|e| self.error("list", label, e))?;
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
        Ok(listing)
    }

    async fn url(&self, name: &Name, options: &UrlOptions) -> Result<String> {
        if let Some(expires) = options.expires.or(self.config.presign) {
            check_expiry(expires)?;
            let url = self
                .signer
                .signed_url(Method::GET, &self.key(name.as_str()), expires)
                .await
                .map_err(|e| self.error("sign a URL for", name.as_str(), e))?;
            return Ok(url.into());
        }
        Ok(match &self.config.common.base_url {
            Some(base) => public_url(base, name),
            None => {
                let endpoint = self.config.public_endpoint.as_deref();
                let root = match self.config.prefix.as_str() {
                    "" => format!("{}/", self.config.bucket_url(endpoint)),
                    prefix => format!(
                        "{}/{}/",
                        self.config.bucket_url(endpoint),
                        storages_core::encode_name(&Name::new(prefix)?)
                    ),
                };
                public_url(&root, name)
            }
        })
    }

    async fn direct_upload(
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

    async fn check(&self) -> Result<String> {
        self.ready().await?;
        // Readiness is remembered once reached: the check asks the server again, so that a storage that has been
        // in use says whether its server answers now.
        self.store
            .list_with_delimiter(self.prefix_path(None).as_ref())
            .await
            .map_err(|e| self.error("list", "", e))?;
        let conditional = match self.conditional_supported().await {
            Ok(true) => "conditional writes: supported (create-only is atomic)",
            Ok(false) => {
                "conditional writes: not supported (create-only is exact within one process only)"
            }
            Err(_) => "conditional writes: unknown (no write permission to probe)",
        };
        Ok(format!(
            "bucket `{}` at {} is reachable; {conditional}",
            self.config.bucket,
            self.config.endpoint_shown()
        ))
    }
}

impl S3Storage {
    /// Aborts the incomplete multipart uploads under this storage's prefix that were started at least
    /// `older_than` ago, and nothing else: uploads under other prefixes of the bucket and objects are never
    /// touched. They are what a process killed mid-upload (or one whose abort could not reach the server) leaves;
    /// pick an age longer than your longest upload, or a live one is cut off. The bucket is neither created nor
    /// changed.
    pub async fn clean_incomplete_uploads(&self, older_than: Duration) -> Result<UploadsCleaned> {
        let prefix = match self.config.prefix.as_str() {
            "" => String::new(),
            prefix => format!("{prefix}/"),
        };
        let now = SystemTime::now();
        let found = uploads::list(&self.store, &self.http, &self.config, &prefix).await?;
        // The server filters by prefix already; checked again so that no answer makes us touch other keys.
        let old = found
            .into_iter()
            .filter(|u| u.key.starts_with(&prefix) && u.age(now) >= older_than);
        let outcomes: Vec<_> = futures_util::stream::iter(old)
            .map(|upload| async move {
                let outcome = uploads::abort(
                    &self.store,
                    &self.http,
                    &self.config,
                    &upload.key,
                    &upload.upload_id,
                )
                .await;
                (upload, outcome)
            })
            .buffer_unordered(CLEAN_CONCURRENCY)
            .collect()
            .await;
        let mut report = UploadsCleaned::default();
        for (upload, outcome) in outcomes {
            match outcome {
                Ok(true) => report.aborted.push(AbortedUpload {
                    age: upload.age(now),
                    key: upload.key,
                    upload_id: upload.upload_id,
                }),
                // Completed or aborted meanwhile by its own writer: nothing left to clean.
                Ok(false) => {}
                Err(e) => report.failed.push(e),
            }
        }
        report
            .aborted
            .sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
        Ok(report)
    }

    /// Create-only under the first free candidate, by the safest means the server and the content allow.
    async fn create(
        &self,
        candidates: &(dyn Fn(u32) -> Result<Name> + Sync),
        head: Head<'_>,
        attributes: &Attributes,
    ) -> Result<Written> {
        match head {
            Head::Whole(payload) if self.conditional_supported().await? => {
                self.write_conditional(candidates, payload, attributes)
                    .await
            }
            head => self.write_checked(candidates, head, attributes).await,
        }
    }
}
