//! An S3 storage without credentials never asks EC2 instance metadata (IMDS) for a server that is not AWS unless
//! `imds=true`: it fails at once, sending nothing, with an error naming the options and variables to set.
//!
//! Each test runs itself again as a child process with a cleared environment (no AWS variable of this machine
//! leaks in), where `AWS_METADATA_ENDPOINT` (object_store's name for it) and `AWS_EC2_METADATA_SERVICE_ENDPOINT`
//! (the AWS SDKs') point at a loopback listener the test owns, so any request for instance metadata is seen, and
//! none leaves this machine. The storage's own endpoint is a second such listener.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use storages_core::{Name, Storage};
use storages_s3::{MissingCredentials, S3Config, S3Storage};
use support::Listener;

/// What the instance metadata service that is not there answers (as a server refusing the request would).
const FORBIDDEN: &str = "403 Forbidden";

/// Set in the child: the settings URL's location and options to build the storage from.
const CHILD_LOCATION: &str = "STORAGES_TEST_S3_LOCATION";
const CHILD_OPTIONS: &str = "STORAGES_TEST_S3_OPTIONS";

/// What the child saw: the error of a `stat`, whether it was [`MissingCredentials`], and how long it took.
struct Outcome {
    message: String,
    missing_credentials: bool,
    took: Duration,
}

/// Runs the test `test` of this binary as a child with a cleared environment but for the metadata endpoint
/// variables (pointing at `metadata`) and the storage `location?options`, and reads what it printed.
fn run_child(test: &str, metadata: &Listener, location: &str, options: &str) -> Outcome {
    let output = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env_clear()
        .env("AWS_METADATA_ENDPOINT", metadata.url())
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", metadata.url())
        .env(CHILD_LOCATION, location)
        .env(CHILD_OPTIONS, options)
        .stdin(Stdio::null())
        .output()
        .expect("run the child test process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The harness prints `test NAME ... ` before the child's first line: each value is read after its key.
    let line = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.split_once(key).map(|(_, value)| value))
            .unwrap_or_else(|| panic!("the child printed no `{key}`:\n{stdout}"))
            .to_owned()
    };
    Outcome {
        message: line("child-error: "),
        missing_credentials: line("child-missing-credentials: ") == "true",
        took: Duration::from_millis(line("child-took-ms: ").parse().expect("milliseconds")),
    }
}

/// In the child: builds the storage from the variables and prints the outcome of one `stat`. Returns whether
/// this is the child.
fn child() -> bool {
    let (Ok(location), Ok(options)) = (std::env::var(CHILD_LOCATION), std::env::var(CHILD_OPTIONS))
    else {
        return false;
    };
    let options: Vec<(String, String)> = options
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let config = S3Config::from_url("s3", &location, &options, "s3:").expect("settings");
    let storage = S3Storage::new(config).expect("storage");
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
    true
}

/// Options that make a request to a listener that answers `403` fail without retries.
const QUICK: &str = "region=garage&retries=0&connect_timeout=1&read_timeout=2";

#[test]
fn without_credentials_a_custom_endpoint_fails_at_once_naming_them_and_asks_no_instance_metadata() {
    if child() {
        return;
    }
    let (metadata, server) = (Listener::start(FORBIDDEN), Listener::start(FORBIDDEN));
    let outcome = run_child(
        "without_credentials_a_custom_endpoint_fails_at_once_naming_them_and_asks_no_instance_metadata",
        &metadata,
        "//media",
        &format!("endpoint={}&{QUICK}", server.url()),
    );
    assert!(outcome.missing_credentials, "{}", outcome.message);
    for named in [
        "access_key_id",
        "secret_access_key",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "imds=true",
        "`media`",
        &server.url(),
    ] {
        assert!(
            outcome.message.contains(named),
            "the error does not name {named}: {}",
            outcome.message
        );
    }
    assert!(
        outcome.took < Duration::from_millis(500),
        "took {:?}",
        outcome.took
    );
    assert_eq!(metadata.connections(), 0, "instance metadata was asked");
    assert_eq!(
        server.connections(),
        0,
        "a request was sent without credentials"
    );
}

#[test]
fn imds_false_keeps_even_aws_from_asking_instance_metadata() {
    if child() {
        return;
    }
    let metadata = Listener::start(FORBIDDEN);
    let outcome = run_child(
        "imds_false_keeps_even_aws_from_asking_instance_metadata",
        &metadata,
        "//media",
        &format!("imds=false&{QUICK}"),
    );
    assert!(outcome.missing_credentials, "{}", outcome.message);
    assert!(
        outcome.message.contains("imds=false"),
        "{}",
        outcome.message
    );
    assert_eq!(metadata.connections(), 0, "instance metadata was asked");
}

/// The control: the same child does reach the listener when told to ask, so the silence above is the setting's.
#[test]
fn imds_true_asks_instance_metadata_for_a_custom_endpoint() {
    if child() {
        return;
    }
    let (metadata, server) = (Listener::start(FORBIDDEN), Listener::start(FORBIDDEN));
    let outcome = run_child(
        "imds_true_asks_instance_metadata_for_a_custom_endpoint",
        &metadata,
        "//media",
        &format!("endpoint={}&imds=true&{QUICK}", server.url()),
    );
    assert!(!outcome.missing_credentials, "{}", outcome.message);
    assert!(metadata.connections() >= 1, "{}", outcome.message);
    assert_eq!(server.connections(), 0, "{}", outcome.message);
}

/// Without an endpoint (AWS itself) instance metadata stays the last source, as in AWS's own SDKs. The listener
/// gives no credentials, so nothing is sent to AWS.
#[test]
fn without_an_endpoint_instance_metadata_is_asked_by_default() {
    if child() {
        return;
    }
    let metadata = Listener::start(FORBIDDEN);
    let outcome = run_child(
        "without_an_endpoint_instance_metadata_is_asked_by_default",
        &metadata,
        "//media",
        QUICK,
    );
    assert!(!outcome.missing_credentials, "{}", outcome.message);
    assert!(metadata.connections() >= 1, "{}", outcome.message);
}
