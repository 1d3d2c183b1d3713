//! A gateway in front of the S3 server (a load balancer, a reverse proxy) that answers `502`, `503` or `504`
//! because the server behind it is down makes the storage's requests fail as `Error::Unavailable` naming the
//! endpoint, so a web app answers `503` and retries later; its `500` is an error of the server, not unavailability.
//! The status is read from the answer as object_store reports it.

mod support;

use storages_core::{Name, Storage};
use storages_s3::S3Storage;
use support::Listener;

/// A storage whose endpoint is `gateway`, with credentials (they are sent to it alone) and no retries.
fn storage(gateway: &Listener) -> S3Storage {
    support::media(&format!(
        "endpoint={}&region=garage&access_key_id=GKtest&secret_access_key=not-a-secret&retries=0",
        gateway.url()
    ))
}

#[tokio::test]
async fn a_gateway_answering_that_the_server_is_down_makes_the_storage_unavailable() {
    for status in [
        "502 Bad Gateway",
        "503 Service Unavailable",
        "504 Gateway Timeout",
    ] {
        let gateway = Listener::start(status);
        let error = storage(&gateway)
            .stat(&Name::new("a.txt").expect("name"))
            .await
            .expect_err(status);
        let message = error.to_string();
        assert!(error.is_unavailable(), "{status}: {message}");
        assert!(message.contains(&gateway.url()), "{status}: {message}");
        assert!(gateway.connections() >= 1, "{status}");
    }
}

#[tokio::test]
async fn a_server_error_is_not_unavailability() {
    let gateway = Listener::start("500 Internal Server Error");
    let error = storage(&gateway)
        .stat(&Name::new("a.txt").expect("name"))
        .await
        .expect_err("500");
    assert!(!error.is_unavailable(), "{error}");
    assert!(error.to_string().contains("500"), "{error}");
}
