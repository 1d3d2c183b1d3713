//! `s3://` and `minio://` settings, from text (URL and query options) or code.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use object_store::ClientConfigKey;
use object_store::aws::AmazonS3ConfigKey;
use storages_core::{
    BackendConfig, Cleaned, CommonOptions, ConfigError, Leftover, LeftoverKind, SettingsUrl,
    Storage, UrlRules, async_trait, check_http_url, endpoint_origin, invalid_value, mask_userinfo,
    parse_bool, parse_endpoint, parse_header_value, parse_number, unknown_option,
};

use crate::S3Storage;

/// The options only S3 storages take (besides object_store's own `aws_*` keys, passed through).
pub const S3_OPTIONS: &[&str] = &[
    "endpoint",
    "region",
    "path_style",
    "virtual_hosted",
    "presign",
    "public_endpoint",
    "auto_create",
    "public",
    "conditional_put",
    "part_size",
    "upload_concurrency",
    "connect_timeout",
    "read_timeout",
    "retries",
    "retry_timeout",
    "secure",
    "imds",
    "aws_*",
];

/// The smallest part S3 accepts in a multipart upload (but the last).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// The largest part S3 accepts (and the largest single PUT): a part is held in memory while it is sent.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// The default part size: content up to this size is sent in one PUT.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts of one upload in flight by default. An upload holds these and the part it is filling: 24 MiB with the
/// default part size, which keeps a photo app receiving a 1 GiB file within 64 MiB of memory (four in flight took
/// it to 66-70 MiB, glibc's per-thread arenas holding freed parts for a while). Raise it for throughput to a distant
/// server where memory allows.
pub const DEFAULT_UPLOAD_CONCURRENCY: usize = 2;
/// The longest a SigV4 signature can stay valid: 7 days.
pub const MAX_PRESIGN: Duration = Duration::from_secs(604_800);

/// How long connecting to the server may take (`connect_timeout`) by default: far longer than a connection to a
/// reachable server takes (loopback or LAN: a millisecond; another continent: a few hundred), short enough that
/// `1 + retries` attempts on a server that cannot be reached fail a request within 5 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the server may send nothing while a request waits for it (`read_timeout`) by default. It is an idle
/// time, not a limit on the whole request, so a large upload or a download to a slow client is never cut off.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Retries of a failed request (`retries`) by default: three attempts, as AWS's own SDKs make.
pub const DEFAULT_RETRIES: usize = 2;
/// How long after a request's first attempt a retry may still start (`retry_timeout`) by default.
pub const DEFAULT_RETRY_TIMEOUT: Duration = Duration::from_secs(10);

/// A secret string: kept for use, never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for the code that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Whether create-only writes can rely on the server's conditional PUT (`If-None-Match: *`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConditionalPut {
    /// Find out with a probe before the first create-only write (two PUTs and a DELETE of a hidden object).
    #[default]
    Auto,
    /// The server honours `If-None-Match: *` (AWS, MinIO, moto).
    Enabled,
    /// It does not (Garage): create-only is a check then a write, exact only within this process.
    Disabled,
}

/// Settings of an S3-compatible storage.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// The key prefix every name is stored under (no leading or trailing `/`; empty for the whole bucket).
    pub prefix: String,
    /// The S3 API endpoint (`http://127.0.0.1:3900`); AWS's own when `None`.
    pub endpoint: Option<String>,
    /// The region used in signatures.
    pub region: Option<String>,
    /// Virtual-hosted-style requests (`https://BUCKET.host/KEY`) instead of path style (`https://host/BUCKET/KEY`).
    pub virtual_hosted: bool,
    /// Sign URLs for this long instead of returning public ones.
    pub presign: Option<Duration>,
    /// The endpoint browsers reach, when it differs from the one this server uses (MinIO behind a proxy):
    /// signed URLs are made for it, with no request to it.
    pub public_endpoint: Option<String>,
    /// Create the bucket when it is missing.
    pub auto_create: bool,
    /// Give the bucket (under the prefix) a public-read policy.
    pub public: bool,
    /// How create-only writes are made safe.
    pub conditional_put: ConditionalPut,
    /// Content up to this size goes in one PUT; larger or unknown-length content in parts of this size.
    pub part_size: usize,
    /// Parts of one upload sent at once (memory held: about `part_size` times this).
    pub upload_concurrency: usize,
    /// How long connecting to the server may take, per attempt.
    pub connect_timeout: Duration,
    /// How long the server may send nothing while a request waits for it, per attempt.
    pub read_timeout: Duration,
    /// How many times a request that failed to reach the server (or got a `5xx`) is tried again.
    pub retries: usize,
    /// How long after a request's first attempt a retry may still start.
    pub retry_timeout: Duration,
    /// The access key id, when not taken from the environment.
    pub access_key_id: Option<String>,
    /// The secret access key, when not taken from the environment.
    pub secret_access_key: Option<Secret>,
    /// Whether credentials may come from EC2 instance metadata (IMDS, `169.254.169.254`) when nothing else gives
    /// them. `None`: only when no endpoint is set, that is for AWS itself; a storage on another server without
    /// credentials fails with an error naming what to set instead of asking an address that is not its server.
    pub imds: Option<bool>,
    /// object_store's own `aws_*` options, passed through.
    pub passthrough: Vec<(AmazonS3ConfigKey, Secret)>,
    /// The options every backend shares.
    pub common: CommonOptions,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint.as_deref().map(mask_userinfo))
            .field("region", &self.region)
            .field("virtual_hosted", &self.virtual_hosted)
            .field("presign", &self.presign)
            .field(
                "public_endpoint",
                &self.public_endpoint.as_deref().map(mask_userinfo),
            )
            .field("auto_create", &self.auto_create)
            .field("public", &self.public)
            .field("conditional_put", &self.conditional_put)
            .field("part_size", &self.part_size)
            .field("upload_concurrency", &self.upload_concurrency)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("retries", &self.retries)
            .field("retry_timeout", &self.retry_timeout)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .field("imds", &self.imds)
            .field(
                "passthrough",
                &self
                    .passthrough
                    .iter()
                    .map(|(k, _)| k.as_ref())
                    .collect::<Vec<_>>(),
            )
            .field("common", &self.common)
            .finish()
    }
}

impl S3Config {
    /// Settings for `bucket` with every option at its default.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            prefix: String::new(),
            endpoint: None,
            region: None,
            virtual_hosted: false,
            presign: None,
            public_endpoint: None,
            auto_create: false,
            public: false,
            conditional_put: ConditionalPut::Auto,
            part_size: DEFAULT_PART_SIZE,
            upload_concurrency: DEFAULT_UPLOAD_CONCURRENCY,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            retries: DEFAULT_RETRIES,
            retry_timeout: DEFAULT_RETRY_TIMEOUT,
            access_key_id: None,
            secret_access_key: None,
            imds: None,
            passthrough: Vec::new(),
            common: CommonOptions::default(),
        }
    }

    /// Sets an option from text; an unknown option is an error listing the valid ones.
    pub fn set(&mut self, option: &str, value: &str) -> Result<(), ConfigError> {
        if self.common.set(option, value)? {
            return Ok(());
        }
        let invalid = |expected: &str| invalid_value(option, value, expected);
        match option {
            "endpoint" => self.endpoint = Some(parse_endpoint(option, value)?),
            "public_endpoint" => self.public_endpoint = Some(parse_endpoint(option, value)?),
            "region" => {
                check_region(value).map_err(|reason| invalid(&reason))?;
                self.region = Some(value.to_owned());
            }
            "path_style" => self.virtual_hosted = !parse_bool(option, value)?,
            "virtual_hosted" => self.virtual_hosted = parse_bool(option, value)?,
            "presign" => {
                let secs = parse_number(option, value, 1)?;
                if secs > MAX_PRESIGN.as_secs() {
                    return Err(invalid("seconds, at most 604800 (7 days, the SigV4 limit)"));
                }
                self.presign = Some(Duration::from_secs(secs));
            }
            "auto_create" => self.auto_create = parse_bool(option, value)?,
            "public" => self.public = parse_bool(option, value)?,
            "conditional_put" => {
                self.conditional_put = match value.to_ascii_lowercase().as_str() {
                    "auto" => ConditionalPut::Auto,
                    v => match parse_bool(option, v) {
                        Ok(true) => ConditionalPut::Enabled,
                        Ok(false) => ConditionalPut::Disabled,
                        Err(_) => return Err(invalid("auto, true or false")),
                    },
                }
            }
            "part_size" => {
                let n = parse_number(option, value, MIN_PART_SIZE)?;
                if n > MAX_PART_SIZE {
                    return Err(invalid(
                        "bytes from 5242880 (5 MiB) to 5368709120 (5 GiB, S3's largest part)",
                    ));
                }
                self.part_size =
                    usize::try_from(n).map_err(|_| invalid("a smaller number of bytes"))?;
            }
            "upload_concurrency" => {
                let n = parse_number(option, value, 1)?;
                self.upload_concurrency = usize::try_from(n.min(64)).unwrap_or(64);
            }
            "connect_timeout" => self.connect_timeout = parse_seconds(option, value)?,
            "read_timeout" => self.read_timeout = parse_seconds(option, value)?,
            "retries" => {
                let n = parse_number(option, value, 0)?;
                if n > MAX_RETRIES {
                    return Err(invalid("a whole number from 0 to 10"));
                }
                self.retries = usize::try_from(n).unwrap_or(DEFAULT_RETRIES);
            }
            "retry_timeout" => self.retry_timeout = parse_seconds(option, value)?,
            "imds" => self.imds = Some(parse_bool(option, value)?),
            "aws_access_key_id" | "access_key_id" => {
                check_access_key_id(value).map_err(|reason| invalid(&reason))?;
                self.access_key_id = Some(value.to_owned());
            }
            "aws_secret_access_key" | "secret_access_key" => {
                self.secret_access_key = Some(Secret::new(value))
            }
            _ if option.starts_with("aws_") => {
                let key = AmazonS3ConfigKey::from_str(option)
                    .map_err(|_| unknown_option("s3", option, S3_OPTIONS))?;
                self.set_passthrough(option, key, value)?;
            }
            _ => return Err(unknown_option("s3", option, S3_OPTIONS)),
        }
        Ok(())
    }

    /// An object_store `aws_*` option. Those that repeat one of ours (endpoint, region, path style) go through
    /// ours, so they are checked alike and cannot bypass the checks; values sent in headers or used as URLs are
    /// checked here; booleans are read as every other boolean option and passed on as `true` or `false`.
    fn set_passthrough(
        &mut self,
        option: &str,
        key: AmazonS3ConfigKey,
        value: &str,
    ) -> Result<(), ConfigError> {
        use AmazonS3ConfigKey as K;
        let value = match key {
            K::Endpoint | K::S3Endpoint => {
                self.endpoint = Some(parse_endpoint(option, value)?);
                return Ok(());
            }
            K::Region | K::DefaultRegion => {
                check_region(value).map_err(|reason| invalid_value(option, value, &reason))?;
                self.region = Some(value.to_owned());
                return Ok(());
            }
            K::VirtualHostedStyleRequest => {
                self.virtual_hosted = parse_bool(option, value)?;
                return Ok(());
            }
            K::Bucket => {
                return Err(invalid_value(
                    option,
                    value,
                    "nothing: the bucket comes from the URL (s3://BUCKET/PREFIX)",
                ));
            }
            K::Token => parse_header_value(option, value, "a session token")?.to_owned(),
            K::MetadataEndpoint | K::StsEndpoint | K::ContainerCredentialsFullUri => {
                check_http_url(option, value, "an http:// or https:// URL")?;
                value.to_owned()
            }
            K::ImdsV1Fallback
            | K::UnsignedPayload
            | K::SkipSignature
            | K::DisableTagging
            | K::DisableBulkDelete
            | K::S3Express
            | K::RequestPayer
            | K::Client(
                ClientConfigKey::AllowHttp
                | ClientConfigKey::AllowInvalidCertificates
                | ClientConfigKey::NoSystemCertificates
                | ClientConfigKey::Http1Only
                | ClientConfigKey::Http2Only
                | ClientConfigKey::Http2KeepAliveWhileIdle
                | ClientConfigKey::RandomizeAddresses,
            ) => parse_bool(option, value)?.to_string(),
            // object_store does not export the encryption keys' type.
            K::Encryption(_) if key.as_ref() == "aws_sse_bucket_key_enabled" => {
                parse_bool(option, value)?.to_string()
            }
            _ => value.to_owned(),
        };
        self.passthrough.push((key, Secret::new(value)));
        Ok(())
    }

    /// The bucket's URL at `endpoint` (path style or virtual-hosted), without a trailing `/`.
    pub fn bucket_url(&self, endpoint: Option<&str>) -> String {
        let region = self.region.as_deref().unwrap_or("us-east-1");
        match (endpoint.or(self.endpoint.as_deref()), self.virtual_hosted) {
            (Some(ep), false) => format!("{ep}/{}", self.bucket),
            (Some(ep), true) => match ep.split_once("://") {
                Some((scheme, host)) => format!("{scheme}://{}.{host}", self.bucket),
                None => format!("{ep}/{}", self.bucket),
            },
            (None, _) => format!("https://{}.s3.{region}.amazonaws.com", self.bucket),
        }
    }

    /// The endpoint requests go to, for messages (user info masked, though parsed settings never hold any).
    pub fn endpoint_shown(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => mask_userinfo(endpoint).into_owned(),
            None => format!("AWS S3 ({})", self.region.as_deref().unwrap_or("us-east-1")),
        }
    }
}

#[async_trait]
impl BackendConfig for S3Config {
    const URL: UrlRules = UrlRules::new(&["s3", "minio"], S3_OPTIONS).with_credentials(&["minio"]);

    /// Reads `s3://BUCKET/PREFIX` or `minio://ACCESS:SECRET@HOST:PORT/BUCKET/PREFIX` and its options. Errors never
    /// contain the secret.
    fn from_url(url: &SettingsUrl<'_>) -> Result<Self, ConfigError> {
        let scheme = url.scheme();
        let authority = url
            .authority()
            .ok_or_else(|| url.invalid("expected //BUCKET after the scheme"))?;
        let path = url.path().strip_prefix('/').unwrap_or(url.path());
        let options = url.options();
        let mut config = match scheme {
            "s3" => {
                if authority.contains('@') {
                    return Err(url.invalid(
                        "s3: URLs take credentials from options or the AWS variables, not before the bucket",
                    ));
                }
                let mut config = Self::new(url.decode(authority, PART)?);
                config.prefix = clean_prefix(&url.decode(path, PART)?, url)?;
                config
            }
            "minio" => {
                let (userinfo, host) = authority.rsplit_once('@').unwrap_or(("", authority));
                if host.is_empty() {
                    return Err(url.invalid(
                        "minio: URLs need a host: minio://ACCESS:SECRET@HOST:PORT/BUCKET",
                    ));
                }
                let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
                let mut config = Self::new(url.decode(bucket, PART)?);
                config.prefix = clean_prefix(&url.decode(prefix, PART)?, url)?;
                if let Some((access, secret)) = userinfo.split_once(':') {
                    let access = url.decode(access, PART)?;
                    check_access_key_id(&access).map_err(|reason| url.invalid(&reason))?;
                    config.access_key_id = Some(access);
                    config.secret_access_key =
                        Some(Secret::new(url.decode(secret, "the secret key")?));
                } else if !userinfo.is_empty() {
                    return Err(url.invalid("minio: user info must be ACCESS:SECRET"));
                }
                let secure = match url.option("secure") {
                    Some(value) => parse_bool("secure", value)?,
                    None => false,
                };
                let scheme = if secure { "https" } else { "http" };
                let endpoint = endpoint_origin(&format!("{scheme}://{host}"))
                    .map_err(|reason| url.invalid(&format!("its host `{host}`: {reason}")))?;
                config.endpoint = Some(endpoint);
                config.region = Some("us-east-1".into());
                config
            }
            other => return Err(url.invalid(&format!("`{other}` is not an S3 scheme"))),
        };
        if config.bucket.is_empty() {
            return Err(url.invalid("it names no bucket"));
        }
        check_bucket(&config.bucket).map_err(|reason| url.invalid(&reason))?;
        for (option, value) in options {
            if option == "secure" {
                if scheme != "minio" {
                    return Err(invalid_value(
                        option,
                        value,
                        "nothing: `secure` is for minio: URLs; give s3: an https:// endpoint",
                    ));
                }
                continue;
            }
            config.set(option, value)?;
        }
        Ok(config)
    }

    fn common(&self) -> &CommonOptions {
        &self.common
    }

    fn common_mut(&mut self) -> &mut CommonOptions {
        &mut self.common
    }

    /// The bucket's own URLs (or signed ones) link every object.
    fn has_own_urls(&self) -> bool {
        true
    }

    fn open(&self) -> storages_core::Result<Arc<dyn Storage>> {
        Ok(Arc::new(S3Storage::new(self.clone())?))
    }

    async fn clean(&self, older_than: Duration) -> storages_core::Result<Option<Cleaned>> {
        let report = S3Storage::new(self.clone())?
            .clean_incomplete_uploads(older_than)
            .await?;
        let removed = report.aborted.into_iter().map(|upload| Leftover::Upload {
            key: upload.key,
            upload_id: upload.upload_id,
            age: upload.age,
        });
        Ok(Some(Cleaned::new(
            LeftoverKind::Uploads,
            removed,
            report.failed,
        )))
    }
}

/// A bucket name that fits in a URL's host (virtual-hosted requests) and path alike: S3's rules, with the
/// uppercase letters and `_` of legacy buckets allowed and no minimum length.
pub(crate) fn check_bucket(bucket: &str) -> Result<(), String> {
    let edges_ok = bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    let chars_ok = bucket
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if bucket.len() <= 63
        && edges_ok
        && chars_ok
        && !bucket.contains("..")
        && !bucket.starts_with("xn--")
    {
        Ok(())
    } else {
        Err(format!(
            "the bucket `{bucket}` is not a bucket name (up to 63 letters, digits, `.`, `-` and `_`, a letter or \
             digit first and last)"
        ))
    }
}

/// A region as it goes into signatures and into AWS's host names (`s3.REGION.amazonaws.com`).
pub(crate) fn check_region(region: &str) -> Result<(), String> {
    if !region.is_empty()
        && region.len() <= 64
        && region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Ok(())
    } else {
        Err("a region such as us-east-1 or garage (letters, digits, `-`, `_` and `.`)".to_owned())
    }
}

/// An access key id as it goes into every request's `Authorization` header (`Credential=ID/...`).
pub(crate) fn check_access_key_id(id: &str) -> Result<(), String> {
    if !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '/' | ','))
    {
        Ok(())
    } else {
        Err("an access key id: printable ASCII without spaces, `/` or `,`".to_owned())
    }
}

/// What a part of an S3 URL that does not decode is called in the error (never quoted: it may hold a secret).
const PART: &str = "a part of it";

/// More retries than this only hold a request longer on a server that is down.
const MAX_RETRIES: u64 = 10;
/// The longest timeout an option takes: one day (longer is a mistake, or no timeout at all).
const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// Reads a positive number of seconds, fractions allowed (`2`, `0.5`), at most a day.
fn parse_seconds(option: &str, value: &str) -> Result<Duration, ConfigError> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .filter(|d| !d.is_zero() && *d <= MAX_TIMEOUT)
        .ok_or_else(|| ConfigError::InvalidValue {
            option: option.to_owned(),
            value: value.to_owned(),
            expected: "seconds, more than 0 and at most 86400 (fractions allowed: 0.5)".into(),
        })
}

/// A key prefix: no leading or trailing `/`, and a valid name when not empty.
fn clean_prefix(prefix: &str, url: &SettingsUrl<'_>) -> Result<String, ConfigError> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    storages_core::Name::new(trimmed)
        .map_err(|e| url.invalid(&format!("the key prefix is not a valid name: {}", e.kind())))?;
    Ok(trimmed.to_owned())
}
