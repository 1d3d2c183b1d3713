//! An S3 storage without credentials never asks EC2 instance metadata (IMDS) for a server that is not AWS unless
//! `imds=true`: it fails at once, sending nothing, with an error naming the options and variables to set.
//!
//! Each test runs itself again as a child process with a cleared environment (no AWS variable of this machine
//! leaks in), where `AWS_METADATA_ENDPOINT` (object_store's name for it) and `AWS_EC2_METADATA_SERVICE_ENDPOINT`
//! (the AWS SDKs') point at a loopback listener the test owns, so any request for instance metadata is seen, and
//! none leaves this machine. The storage's own endpoint is a second such listener.

mod support;

use std::time::{Duration, Instant};

use storages_core::{Name, Storage};
use storages_s3::MissingCredentials;
use storages_testkit::run_test_in_child;
use support::Listener;

/// What the instance metadata service that is not there answers (as a server refusing the request would).
const FORBIDDEN: &str = "403 Forbidden";

/// Set in the child: the options to build the storage `s3://media` from.
const CHILD_OPTIONS: &str = "STORAGES_TEST_S3_OPTIONS";

/// Options that make a request to a listener that answers `403` fail without retries.
const QUICK: &str = "region=garage&retries=0&connect_timeout=1&read_timeout=2";

/// What the parent saw of the child's `stat` of a storage without credentials.
struct Seen {
    /// The error, on one line.
    message: String,
    /// Whether it was [`MissingCredentials`].
    missing_credentials: bool,
    took: Duration,
    /// Connections to the instance metadata listener.
    metadata: usize,
    /// Connections to the listener standing as the storage's own server (`{server}` in the options).
    server: usize,
    /// That listener's URL.
    server_url: String,
}

/// In the child (`CHILD_OPTIONS` set): builds `s3://media` with those options, prints the outcome of one `stat`
/// and returns `None`. In the parent: starts the two listeners, runs `test` as a child with a cleared
/// environment but for the metadata endpoint variables and `options` (where `{server}` is the server listener's
/// URL), and returns what it saw.
fn stat_without_credentials(test: &str, options: &str) -> Option<Seen> {
    if let Ok(options) = std::env::var(CHILD_OPTIONS) {
        child(&options);
        return None;
    }
    let (metadata, server) = (Listener::start(FORBIDDEN), Listener::start(FORBIDDEN));
    let options = options.replace("{server}", &server.url());
    let stdout = run_test_in_child(test, |child| {
        child
            .env_clear()
            .env("AWS_METADATA_ENDPOINT", metadata.url())
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", metadata.url())
            .env(CHILD_OPTIONS, &options);
    });
    // The harness may print `test NAME ... ` before the child's first line: each value is read after its key.
    let value = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.split_once(key).map(|(_, value)| value.to_owned()))
            .unwrap_or_else(|| panic!("the child printed no `{key}`:\n{stdout}"))
    };
    Some(Seen {
        message: value("child-error: "),
        missing_credentials: value("child-missing-credentials: ") == "true",
        took: Duration::from_millis(value("child-took-ms: ").parse().expect("milliseconds")),
        metadata: metadata.connections(),
        server: server.connections(),
        server_url: server.url(),
    })
}

fn child(options: &str) {
    let storage = support::media(options);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let error = runtime
        .block_on(storage.stat(&Name::new("a.txt").expect("name")))
        .expect_err("no credentials anywhere");
    let took = started.elapsed();
    let missing = std::error::Error::source(&error)
        .is_some_and(|s| s.downcast_ref::<MissingCredentials>().is_some());
    println!("child-error: {}", error.to_string().replace('\n', " "));
    println!("child-missing-credentials: {missing}");
    println!("child-took-ms: {}", took.as_millis());
}

#[test]
fn without_credentials_a_custom_endpoint_fails_at_once_naming_them_and_asks_no_instance_metadata() {
    let Some(seen) = stat_without_credentials(
        "without_credentials_a_custom_endpoint_fails_at_once_naming_them_and_asks_no_instance_metadata",
        &format!("endpoint={{server}}&{QUICK}"),
    ) else {
        return;
    };
    assert!(seen.missing_credentials, "{}", seen.message);
    for named in [
        "access_key_id",
        "secret_access_key",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "imds=true",
        "`media`",
        &seen.server_url,
    ] {
        assert!(
            seen.message.contains(named),
            "the error does not name {named}: {}",
            seen.message
        );
    }
    assert!(
        seen.took < Duration::from_millis(500),
        "took {:?}",
        seen.took
    );
    assert_eq!(seen.metadata, 0, "instance metadata was asked");
    assert_eq!(seen.server, 0, "a request was sent without credentials");
}

#[test]
fn imds_false_keeps_even_aws_from_asking_instance_metadata() {
    let Some(seen) = stat_without_credentials(
        "imds_false_keeps_even_aws_from_asking_instance_metadata",
        &format!("imds=false&{QUICK}"),
    ) else {
        return;
    };
    assert!(seen.missing_credentials, "{}", seen.message);
    assert!(seen.message.contains("imds=false"), "{}", seen.message);
    assert_eq!(seen.metadata, 0, "instance metadata was asked");
}

/// The control: the same child does reach the listener when told to ask, so the silence above is the setting's.
#[test]
fn imds_true_asks_instance_metadata_for_a_custom_endpoint() {
    let Some(seen) = stat_without_credentials(
        "imds_true_asks_instance_metadata_for_a_custom_endpoint",
        &format!("endpoint={{server}}&imds=true&{QUICK}"),
    ) else {
        return;
    };
    assert!(!seen.missing_credentials, "{}", seen.message);
    assert!(seen.metadata >= 1, "{}", seen.message);
    assert_eq!(seen.server, 0, "{}", seen.message);
}

/// Without an endpoint (AWS itself) instance metadata stays the last source, as in AWS's own SDKs. The listener
/// gives no credentials, so nothing is sent to AWS.
#[test]
fn without_an_endpoint_instance_metadata_is_asked_by_default() {
    let Some(seen) = stat_without_credentials(
        "without_an_endpoint_instance_metadata_is_asked_by_default",
        QUICK,
    ) else {
        return;
    };
    assert!(!seen.missing_credentials, "{}", seen.message);
    assert!(seen.metadata >= 1, "{}", seen.message);
}
