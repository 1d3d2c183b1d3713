//! The options that bound how long a request may take on a server that cannot be reached: `connect_timeout`,
//! `read_timeout` (seconds, fractions allowed), `retries` and `retry_timeout`, with defaults that fail a request to
//! a refused or unreachable endpoint within 5 seconds.

use std::time::Duration;

use storages_core::{BackendConfig, ConfigError};
use storages_s3::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, DEFAULT_RETRIES, DEFAULT_RETRY_TIMEOUT, S3Config,
};

fn parse(query: &str) -> Result<S3Config, ConfigError> {
    S3Config::from_url_str(&format!("s3://media?{query}"))
}

#[test]
fn the_defaults_fail_a_request_to_an_unreachable_endpoint_within_5_s() {
    let config = parse("").expect("parse");
    assert_eq!(config.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(config.read_timeout, DEFAULT_READ_TIMEOUT);
    assert_eq!(config.retries, DEFAULT_RETRIES);
    assert_eq!(config.retry_timeout, DEFAULT_RETRY_TIMEOUT);
    // Every attempt may spend the connect timeout; the backoff before retry k is at most 100 ms * 2^k (at most 1 s).
    let attempts = u32::try_from(config.retries + 1).expect("a few attempts");
    let backoffs: Duration = (0..attempts - 1)
        .map(|k| (Duration::from_millis(100) * 2u32.pow(k)).min(Duration::from_secs(1)))
        .sum();
    let worst = config.connect_timeout * attempts + backoffs;
    assert!(worst < Duration::from_secs(5), "{worst:?}");
}

#[test]
fn timeouts_and_retries_are_read_from_the_url() {
    let config =
        parse("connect_timeout=0.25&read_timeout=120&retries=0&retry_timeout=3").expect("parse");
    assert_eq!(config.connect_timeout, Duration::from_millis(250));
    assert_eq!(config.read_timeout, Duration::from_secs(120));
    assert_eq!(config.retries, 0);
    assert_eq!(config.retry_timeout, Duration::from_secs(3));
}

#[test]
fn bad_timeouts_and_retries_are_refused_naming_option_and_value() {
    for (option, value) in [
        ("connect_timeout", "0"),
        ("connect_timeout", "-1"),
        ("read_timeout", "soon"),
        ("read_timeout", "NaN"),
        ("retry_timeout", "86401"),
        ("retries", "11"),
        ("retries", "-1"),
    ] {
        match parse(&format!("{option}={value}")) {
            Err(ConfigError::InvalidValue {
                option: named,
                value: shown,
                ..
            }) => {
                assert_eq!((named.as_str(), shown.as_str()), (option, value));
            }
            other => panic!("{option}={value}: {other:?}"),
        }
    }
}

#[test]
fn a_misspelt_option_is_refused_listing_the_right_one() {
    let error = parse("conect_timeout=2").expect_err("unknown option");
    let message = error.to_string();
    assert!(message.contains("conect_timeout"), "{message}");
    for option in [
        "connect_timeout",
        "read_timeout",
        "retries",
        "retry_timeout",
    ] {
        assert!(message.contains(option), "{message}");
    }
}
