//! An S3 storage whose server cannot be reached fails fast and says so, on a real Garage that is killed or paused:
//! every operation gives `Error::Unavailable` naming the endpoint within 5 s, the web core answers `503` with
//! `Retry-After` (never `500`), `storages check` names the endpoint as unreachable, and the same storage works
//! again by itself once the server is back.
#![cfg(all(feature = "s3", feature = "web"))]

use crate::support;

use std::fmt::Debug;
use std::future::Future;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream;
use http::{HeaderMap, Method, StatusCode, header};
use storages::conformance::pattern_stream;
use storages::web::{RETRY_AFTER_SECS, ServeOptions, UploadOptions, receive_multipart, serve};
use storages::{Content, Error, Settings, Storage, StorageExt};
use support::s3::{Garage, unique};

/// The promise: a request to a server that is down fails within this.
const WITHIN: Duration = Duration::from_secs(5);
const PART: u64 = 5 * 1024 * 1024;

fn storage(url: &str) -> Arc<dyn Storage> {
    Settings::parse(url)
        .expect("parse the settings")
        .build()
        .expect("build the storage")
}

/// Runs `operation` and checks that it failed within [`WITHIN`] as unavailable, naming `endpoint`.
async fn assert_unavailable<T: Debug>(
    what: &str,
    endpoint: &str,
    operation: impl Future<Output = Result<T, Error>>,
) {
    let started = Instant::now();
    let outcome = operation.await;
    let took = started.elapsed();
    let error = outcome.expect_err(&format!("{what} succeeded on a server that is down"));
    assert!(
        error.is_unavailable(),
        "{what}: not reported as unavailable: {error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(endpoint) && message.contains("unreachable"),
        "{what}: the message does not name the unreachable endpoint {endpoint}: {message}"
    );
    assert!(took < WITHIN, "{what} took {took:?} to fail");
}

#[tokio::test]
async fn every_operation_on_a_killed_endpoint_is_unavailable_within_5_s_and_the_storage_recovers() {
    let mut garage = Garage::start();
    let endpoint = garage.endpoint();
    let url = format!(
        "{}&part_size={PART}",
        garage.settings_url(&unique("killed"))
    );
    let media = storage(&url);
    // Connections to the server are pooled by now: the next requests find them dead, not only refused.
    media
        .save("kept.txt", Content::from_bytes("kept"))
        .await
        .expect("save while the server is up");

    garage.kill();
    assert_unavailable("a small save", &endpoint, async {
        media.save("small.txt", Content::from_bytes("small")).await
    })
    .await;
    let big = Content::from_stream(pattern_stream(7, PART + 1024, 64 * 1024));
    assert_unavailable("a multipart save", &endpoint, media.save("big.bin", big)).await;
    assert_unavailable("a read", &endpoint, async {
        media.read_to_bytes("kept.txt").await
    })
    .await;
    assert_unavailable("a stat", &endpoint, media.metadata("kept.txt")).await;
    assert_unavailable("a listing", &endpoint, media.listdir("")).await;
    assert_unavailable("a full listing", &endpoint, media.list_all("")).await;
    assert_unavailable("a delete", &endpoint, media.remove("kept.txt")).await;
    assert_unavailable("the check", &endpoint, media.check()).await;

    garage.restart();
    assert_eq!(
        media.read_to_bytes("kept.txt").await.expect("read again"),
        "kept",
        "the same storage reads again once the server is back"
    );
    media
        .save("after.txt", Content::from_bytes("after"))
        .await
        .expect("save again once the server is back");
    assert!(
        !media.exists("big.bin").await.expect("exists"),
        "nothing of the failed save was stored"
    );
}

/// A paused server accepts connections (the kernel does) and answers nothing: the read timeout, not the total
/// time of a request, is what bounds the wait.
#[tokio::test]
async fn a_paused_endpoint_is_unavailable_after_the_read_timeout() {
    let mut garage = Garage::start();
    let endpoint = garage.endpoint();
    let url = format!(
        "{}&read_timeout=1&retries=1",
        garage.settings_url(&unique("paused"))
    );
    let media = storage(&url);
    media
        .save("kept.txt", Content::from_bytes("kept"))
        .await
        .expect("save while the server runs");

    garage.pause();
    assert_unavailable("a stat", &endpoint, media.metadata("kept.txt")).await;
    garage.resume();
    assert_eq!(
        media.read_to_bytes("kept.txt").await.expect("read again"),
        "kept"
    );
}

/// The web core answers a storage that cannot be reached with `503` and `Retry-After`, for reads and uploads, and
/// the upload leaves nothing once the server is back.
#[tokio::test]
async fn the_web_core_answers_503_with_retry_after_when_the_endpoint_is_down() {
    let mut garage = Garage::start();
    let media = storage(&garage.settings_url(&unique("web")));
    media
        .save("photos/kept.png", Content::from_bytes("kept"))
        .await
        .expect("save while the server is up");
    garage.kill();

    let served = serve(
        &*media,
        &Method::GET,
        &HeaderMap::new(),
        "photos/kept.png",
        &ServeOptions::media(),
    )
    .await;
    assert_eq!(served.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        served.headers()[header::RETRY_AFTER],
        RETRY_AFTER_SECS.to_string()
    );

    let body = stream::iter(
        [
            "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"new.png\"\r\n",
            "Content-Type: image/png\r\n\r\nnot really a png\r\n--B--\r\n",
        ]
        .map(|part| Ok::<_, std::io::Error>(Bytes::from(part))),
    );
    let refused = receive_multipart(
        &*media,
        Some("multipart/form-data; boundary=B"),
        body,
        &UploadOptions::new(),
    )
    .await
    .expect_err("an upload to a server that is down");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let response = refused.to_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.headers()[header::RETRY_AFTER],
        RETRY_AFTER_SECS.to_string()
    );

    garage.restart();
    assert!(!media.exists("new.png").await.expect("exists"));
    assert_eq!(media.listdir("photos").await.expect("list").1.len(), 1);
}

#[test]
fn storages_check_names_the_unreachable_endpoint_and_exits_1() {
    let mut garage = Garage::start();
    let url = garage.settings_url(&unique("check"));
    garage.kill();
    let started = Instant::now();
    let out = Command::new(support::storages_bin())
        .args(["check", &url])
        .output()
        .expect("run storages check");
    assert!(
        started.elapsed() < WITHIN,
        "the check took {:?}",
        started.elapsed()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let line = stdout
        .lines()
        .find(|line| line.starts_with("FAIL"))
        .unwrap_or_else(|| panic!("no FAIL line: {stdout}"));
    assert!(
        line.contains(&format!("endpoint {} is unreachable", garage.endpoint())),
        "{line}"
    );
    assert!(!line.contains(garage.secret_key()), "{line}");
}
