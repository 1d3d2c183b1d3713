//! The idle timeout of upload bodies, in the web core itself: a body that stops sending is refused with `408` and
//! leaves nothing behind; a body that keeps sending, however slowly, is not cut off. The photo apps' tests show
//! the same over real connections (`tests/apps/photos.rs`).
#![cfg(all(feature = "web", feature = "local"))]

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use http::StatusCode;
use storages::web::{UploadError, UploadOptions, receive_multipart};
use storages::{LocalConfig, LocalStorage, MemoryStorage, Storage, StorageExt};
use support::files_under;

const BOUNDARY: &str = "XBOUNDARYX";
const CONTENT_TYPE: &str = "multipart/form-data; boundary=XBOUNDARYX";

fn file_head(file_name: &str) -> Bytes {
    Bytes::from(format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: image/png\r\n\r\n"
    ))
}

fn form_end() -> Bytes {
    Bytes::from(format!("\r\n--{BOUNDARY}--\r\n"))
}

/// `chunks`, then nothing ever again (the client stalls with its connection open).
fn stalling(
    chunks: Vec<Bytes>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    stream::iter(chunks.into_iter().map(Ok)).chain(stream::pending())
}

/// A local storage on a temporary directory: the stalled upload streams into a real temporary file, which must be
/// gone once the upload is refused.
#[tokio::test]
async fn a_stalled_body_is_408_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage: Arc<dyn Storage> =
        Arc::new(LocalStorage::new(LocalConfig::new(dir.path())).expect("local storage"));
    let idle = Duration::from_millis(300);
    let options = UploadOptions::new().idle_timeout(idle);
    let body = stalling(vec![
        file_head("slow.png"),
        Bytes::from(vec![0x42; 200_000]),
    ]);
    let started = std::time::Instant::now();
    let upload = {
        let storage = Arc::clone(&storage);
        tokio::spawn(async move {
            receive_multipart(&*storage, Some(CONTENT_TYPE), body, &options).await
        })
    };
    support::expect_one_file_being_written(std::process::id(), dir.path()).await;

    let error = tokio::time::timeout(Duration::from_secs(10), upload)
        .await
        .expect("the stalled upload ends")
        .expect("no panic")
        .expect_err("a stalled upload is refused");
    let waited = started.elapsed();
    assert!(
        matches!(error, UploadError::TimedOut { idle: i } if i == idle),
        "{error:?}"
    );
    assert_eq!(error.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(error.to_response().headers()["connection"], "close");
    assert!(
        waited >= idle,
        "refused after {waited:?}, before the timeout"
    );
    let left = files_under(dir.path());
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Time paused: the clock jumps to the next timer, so the default's full 60 s are checked exactly.
#[tokio::test(start_paused = true)]
async fn by_default_a_body_may_rest_60_seconds_and_no_longer() {
    let storage = MemoryStorage::new();
    let started = tokio::time::Instant::now();
    let body = stalling(vec![file_head("slow.png"), Bytes::from_static(b"abc")]);
    let options = UploadOptions::new();
    let upload = receive_multipart(&storage, Some(CONTENT_TYPE), body, &options);
    let error = tokio::time::timeout(Duration::from_secs(61), upload)
        .await
        .expect("refused within 61 s")
        .expect_err("a stalled upload is refused");
    assert!(
        matches!(error, UploadError::TimedOut { idle } if idle == Duration::from_secs(60)),
        "{error:?}"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(60));
    assert!(
        storage.list_all("").await.expect("list").is_empty(),
        "nothing is stored"
    );
}

/// The timeout is of silence, not of the whole upload: a byte every 59 s keeps a five-minute upload going.
#[tokio::test(start_paused = true)]
async fn a_slow_body_that_keeps_sending_is_not_cut_off() {
    let storage = MemoryStorage::new();
    let chunks: Vec<Bytes> = std::iter::once(file_head("slow.png"))
        .chain((0..5).map(|_| Bytes::from_static(b"x")))
        .chain(std::iter::once(form_end()))
        .collect();
    let body = stream::iter(chunks).then(|chunk| async move {
        tokio::time::sleep(Duration::from_secs(59)).await;
        Ok::<_, std::io::Error>(chunk)
    });
    let started = tokio::time::Instant::now();
    let received = receive_multipart(&storage, Some(CONTENT_TYPE), body, &UploadOptions::new())
        .await
        .expect("a slow but steady upload is stored");
    assert_eq!(started.elapsed(), Duration::from_secs(7 * 59));
    assert_eq!(received.files.len(), 1);
    let stored = storage
        .read_to_bytes(&received.files[0].name)
        .await
        .expect("stored");
    assert_eq!(stored, Bytes::from_static(b"xxxxx"));
}
