//! Requests object_store does not make: create a bucket, set its policy, list and abort multipart uploads by key,
//! replace an object's metadata.
//! Signed with the same credentials and SigV4 code as every other request.

use bytes::Bytes;
use object_store::aws::{AmazonS3, AwsAuthorizer};
use object_store::client::HttpRequestBody;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use storages_core::{Error, Result};

use crate::S3Config;

/// What the server answered to a bucket request.
pub(crate) struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// A 2xx status.
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The error for `what` (`create`, `list uploads of`) the server refused, with the status and the start of
    /// the answer.
    pub(crate) fn refused(&self, config: &S3Config, what: &str) -> Error {
        Error::Backend {
            backend: "s3",
            message: format!(
                "cannot {what} bucket `{}` at {}: HTTP {} {}",
                config.bucket,
                config.endpoint_shown(),
                self.status,
                short(&self.body)
            ),
            source: None,
        }
    }
}

/// Sends a signed `method` request for the bucket itself (`query` such as `policy`, or empty) with `body`.
pub(crate) async fn bucket_request(
    store: &AmazonS3,
    http: &reqwest::Client,
    config: &S3Config,
    method: http::Method,
    query: &str,
    body: Bytes,
) -> Result<Answer> {
    let mut url = format!("{}/", config.bucket_url(None));
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    signed_request(store, http, config, method, &url, body).await
}

/// Sends a signed bodiless `method` request for the object `key` (the full key, prefix included) with `query`.
pub(crate) async fn object_request(
    store: &AmazonS3,
    http: &reqwest::Client,
    config: &S3Config,
    method: http::Method,
    key: &str,
    query: &[(&str, &str)],
) -> Result<Answer> {
    let url = format!(
        "{}/{}?{}",
        config.bucket_url(None),
        encoded_key(key),
        query_string(query)
    );
    signed_request(store, http, config, method, &url, Bytes::new()).await
}

/// Replaces the metadata of the object `key` (the full key, prefix included) with `headers` (content type,
/// `Cache-Control`, `x-amz-meta-*`) by copying it onto itself, server-side, provided its ETag is still `etag`:
/// S3 sets an object's metadata when the object is created and never changes it in place.
pub(crate) async fn replace_metadata(
    store: &AmazonS3,
    http: &reqwest::Client,
    config: &S3Config,
    key: &str,
    etag: &str,
    headers: &[(&str, &str)],
) -> Result<Answer> {
    let path = encoded_key(key);
    let url = format!("{}/{path}", config.bucket_url(None));
    let source = format!(
        "/{}/{path}",
        utf8_percent_encode(&config.bucket, UNRESERVED)
    );
    let mut all = vec![
        ("x-amz-copy-source", source.as_str()),
        ("x-amz-copy-source-if-match", etag),
        ("x-amz-metadata-directive", "REPLACE"),
    ];
    all.extend_from_slice(headers);
    signed_request_with(
        store,
        http,
        config,
        http::Method::PUT,
        &url,
        &all,
        Bytes::new(),
    )
    .await
}

/// Each segment of `key` encoded as SigV4 wants it for S3: the signature covers the path exactly as sent.
fn encoded_key(key: &str) -> String {
    key.split('/')
        .map(|segment| utf8_percent_encode(segment, UNRESERVED).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// `key=value&...` with every byte but the unreserved ones percent-encoded, as SigV4 canonicalises them.
pub(crate) fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, UNRESERVED),
                utf8_percent_encode(v, UNRESERVED)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Everything but the characters RFC 3986 leaves unreserved (`A-Z a-z 0-9 - . _ ~`).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

async fn signed_request(
    store: &AmazonS3,
    http: &reqwest::Client,
    config: &S3Config,
    method: http::Method,
    url: &str,
    body: Bytes,
) -> Result<Answer> {
    signed_request_with(store, http, config, method, url, &[], body).await
}

/// A signed request with `headers` (signed too).
async fn signed_request_with(
    store: &AmazonS3,
    http: &reqwest::Client,
    config: &S3Config,
    method: http::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Answer> {
    let fail = |what: String| Error::Backend {
        backend: "s3",
        message: what,
        source: None,
    };
    let credential = store.credentials().get_credential().await.map_err(|e| {
        let what = format!("sign a request for bucket `{}`", config.bucket);
        crate::error::missing_credentials(config, &what, &e).unwrap_or_else(|| {
            fail(format!(
                "no credentials for bucket `{}`: {e}",
                config.bucket
            ))
        })
    })?;
    let mut request = headers
        .iter()
        .fold(http::Request::builder(), |request, (name, value)| {
            request.header(*name, *value)
        })
        .method(method.clone())
        .uri(url)
        .body(HttpRequestBody::from(body.clone()))
        .map_err(|e| fail(format!("bad request for bucket `{}`: {e}", config.bucket)))?;
    let region = config.region.as_deref().unwrap_or("us-east-1");
    AwsAuthorizer::new(&credential, "s3", region)
        .try_authorize(&mut request, None)
        .map_err(|e| {
            fail(format!(
                "cannot sign a request for bucket `{}`: {e}",
                config.bucket
            ))
        })?;
    let response = http
        .request(method, url)
        .headers(request.headers().clone())
        .body(body)
        .send()
        .await
        .map_err(|e| {
            if crate::reach::unreachable(&e) {
                return crate::error::unavailable(config, Box::new(e));
            }
            fail(format!(
                "bucket `{}` at {}: {e}",
                config.bucket,
                config.endpoint_shown()
            ))
        })?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    Ok(Answer { status, body })
}

/// The start of a server's answer on one line, for messages.
pub(crate) fn short(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(300).collect()
}

/// The public-read policy for the objects under `prefix` (GET only: no listing, no writes).
pub(crate) fn public_read_policy(bucket: &str, prefix: &str) -> String {
    let resource = if prefix.is_empty() {
        format!("{bucket}/*")
    } else {
        format!("{bucket}/{prefix}/*")
    };
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"StoragesPublicRead","Effect":"Allow","Principal":{{"AWS":["*"]}},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::{resource}"]}}]}}"#
    )
}

/// The body of CreateBucket: a location constraint outside us-east-1.
pub(crate) fn create_bucket_body(region: Option<&str>) -> Bytes {
    match region {
        Some(r) if r != "us-east-1" => Bytes::from(format!(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{r}</LocationConstraint></CreateBucketConfiguration>"
        )),
        _ => Bytes::new(),
    }
}
