//! object_store's S3 client for the settings: the environment applied as object_store would, bounded requests,
//! every value it will put into a URL or header checked first, and credentials that never come from instance
//! metadata by surprise (`credentials.rs`).

use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::{ClientConfigKey, ClientOptions};
use storages_core::{ConfigError, Error, Result};

use crate::S3Config;
use crate::checks::check_client_values;
use crate::credentials::guard_instance_metadata;

/// The builder of the client for `endpoint` (`None`: AWS, or what the environment names).
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

/// The endpoint requests go to: the settings', else the environment's (`AWS_ENDPOINT_URL`), else `None` (AWS).
fn endpoint_of(b: &AmazonS3Builder) -> Option<String> {
    b.get_config_value(&AmazonS3ConfigKey::S3Endpoint)
        .or_else(|| b.get_config_value(&AmazonS3ConfigKey::Endpoint))
}

/// The clients of a storage: the one requests go to, and the one that signs URLs for the endpoint browsers reach
/// (`public_endpoint`; the same client when not set).
pub(crate) fn build_clients(config: &S3Config) -> Result<(AmazonS3, Option<AmazonS3>)> {
    let main = builder(config, config.endpoint.as_deref());
    // Whether instance metadata may be asked follows the server requests go to, for the signer too.
    let imds = crate::credentials::may_ask_instance_metadata(config, endpoint_of(&main).as_deref());
    let store = build_store(main, config, "endpoint", imds)?;
    let signer = match &config.public_endpoint {
        Some(endpoint) => Some(build_store(
            builder(config, Some(endpoint)),
            config,
            "public_endpoint",
            imds,
        )?),
        None => None,
    };
    Ok((store, signer))
}

/// object_store's client from `b` (for the endpoint setting `option`), once every value it will put into a URL or
/// a header is known to be usable: object_store parses those only when it sends a request, and panics there on
/// what it cannot parse. The values are read back from the builder, so the AWS variables it took are checked too.
fn build_store(
    b: AmazonS3Builder,
    config: &S3Config,
    option: &str,
    imds: bool,
) -> Result<AmazonS3> {
    check_client_values(&b, config, option)?;
    guard_instance_metadata(b, config, imds)
        .build()
        .map_err(|e| invalid_config(&e))
}

fn invalid_config(e: &object_store::Error) -> Error {
    Error::Config(ConfigError::InvalidValue {
        option: "s3 settings".into(),
        value: String::new(),
        expected: format!("settings object_store accepts ({e})"),
    })
}
