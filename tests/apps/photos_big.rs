//! A 1 GiB photo through each photo app (axum and actix-web) into a local directory and into Garage: the stored
//! bytes are exactly the bytes sent, and the app process's peak memory stays under 64 MiB while it receives (and
//! serves back) the gigabyte. Neither side ever holds the file: the test streams the request body from a
//! generator and checks both ends with a running checksum.
#![cfg(all(feature = "axum", feature = "actix", feature = "s3"))]

use crate::support;

use std::hash::Hasher;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use reqwest::StatusCode;
use storages::{Settings, StorageExt};
use support::s3::shared_garage;
use support::{Server, example};

const SIZE: u64 = 1 << 30;
const CHUNK: usize = 1 << 20;
/// The most the app process may ever have resident.
const PEAK_RSS_LIMIT_KIB: u64 = 64 * 1024;

/// A running checksum: SipHash from the standard library (optimized even in test builds), fed in any chunking.
#[derive(Default)]
struct Checksum {
    hasher: std::hash::DefaultHasher,
    len: u64,
}

impl Checksum {
    fn update(&mut self, bytes: &[u8]) {
        self.hasher.write(bytes);
        self.len += bytes.len() as u64;
    }

    fn finish(&self) -> (u64, u64) {
        (self.len, self.hasher.finish())
    }
}

/// A multipart body with one file of `SIZE` pseudo-random bytes, streamed: a random 1 MiB block, each copy
/// stamped with its index so that no two chunks are alike. The checksum of the file's bytes fills as it goes.
fn big_upload(file_name: &str) -> (String, reqwest::Body, Arc<Mutex<Checksum>>) {
    let boundary = "storages-big-upload-boundary";
    let head = Bytes::from(format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: image/png\r\n\r\n"
    ));
    let tail = Bytes::from(format!("\r\n--{boundary}--\r\n"));
    let mut block = vec![0u8; CHUNK];
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    rng.fill(&mut block);
    let checksum = Arc::new(Mutex::new(Checksum::default()));
    let sums = Arc::clone(&checksum);
    let chunks = (SIZE / CHUNK as u64) as usize;
    let file = futures_util::stream::iter(0..chunks).map(move |i| {
        let mut chunk = BytesMut::from(&block[..]);
        chunk[..8].copy_from_slice(&(i as u64).to_le_bytes());
        sums.lock().expect("checksum").update(&chunk);
        Ok::<Bytes, std::io::Error>(chunk.freeze())
    });
    let body = futures_util::stream::once(async move { Ok(head) })
        .chain(file)
        .chain(futures_util::stream::once(async move { Ok(tail) }));
    (
        format!("multipart/form-data; boundary={boundary}"),
        reqwest::Body::wrap_stream(body),
        checksum,
    )
}

/// `VmHWM` of a process: its peak resident set, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Uploads the gigabyte through `app`, returning the stored name and the checksum of what was sent.
async fn upload(app: &Server) -> (String, (u64, u64)) {
    let (content_type, body, checksum) = big_upload("big.png");
    let res = reqwest::Client::new()
        .post(app.url("/upload"))
        .header("content-type", content_type)
        .header("accept", "application/json")
        .body(body)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::CREATED);
    let answer: serde_json::Value = res.json().await.expect("json");
    let sent = checksum.lock().expect("checksum").finish();
    assert_eq!(sent.0, SIZE, "the whole file was sent");
    (answer["name"].as_str().expect("name").to_owned(), sent)
}

/// The checksum of what `app` serves at `path`.
async fn download(app: &Server, path: &str) -> (u64, u64) {
    let res = reqwest::get(app.url(path)).await.expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.content_length(), Some(SIZE));
    let mut checksum = Checksum::default();
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream.next().await {
        checksum.update(&chunk.expect("chunk"));
    }
    checksum.finish()
}

#[track_caller]
fn assert_peak_rss(app: &Server, when: &str) {
    let peak = peak_rss_kib(app.pid());
    assert!(
        peak < PEAK_RSS_LIMIT_KIB,
        "the app's peak RSS {when} was {peak} KiB, over {PEAK_RSS_LIMIT_KIB} KiB"
    );
    eprintln!("peak RSS {when}: {peak} KiB");
}

async fn into_a_local_directory(example_name: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = Server::start(&example(example_name), dir.path(), &[]);
    let (name, sent) = upload(&app).await;
    assert_eq!(name, "photos/big.png");
    assert_peak_rss(&app, "receiving 1 GiB into a directory");
    let mut stored = Checksum::default();
    let mut file = std::fs::File::open(dir.path().join("media").join(&name)).expect("stored file");
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = std::io::Read::read(&mut file, &mut buf).expect("read");
        if n == 0 {
            break;
        }
        stored.update(&buf[..n]);
    }
    assert_eq!(
        stored.finish(),
        sent,
        "the stored file differs from the upload"
    );
    assert_eq!(download(&app, &format!("/media/{name}")).await, sent);
    assert_peak_rss(&app, "receiving and serving 1 GiB through a directory");
}

async fn into_garage(example_name: &str) {
    let g = shared_garage();
    let prefix = format!("big-{example_name}-{}", fastrand::u32(..));
    // The defaults: the S3 backend holds up to `upload_concurrency` parts in flight plus the one it fills, and its
    // defaults are chosen to keep an app within 64 MiB.
    let url = g.settings_url(&prefix);
    let dir = tempfile::tempdir().expect("tempdir");
    let app = Server::start(
        &example(example_name),
        dir.path(),
        &[("STORAGES_MEDIA_URL", &url)],
    );
    let (name, sent) = upload(&app).await;
    assert_eq!(name, "photos/big.png");
    assert_peak_rss(&app, "receiving 1 GiB into Garage");
    assert_eq!(
        download(&app, &format!("/media/{name}")).await,
        sent,
        "the object differs from the upload"
    );
    assert_peak_rss(&app, "receiving and serving 1 GiB through Garage");
    let storage = Settings::parse(&url)
        .expect("url")
        .build()
        .expect("storage");
    assert_eq!(storage.size(&name).await.expect("stored"), SIZE);
    storage.remove(&name).await.expect("clean up");
}

#[tokio::test]
async fn axum_app_streams_a_gigabyte_into_a_directory() {
    into_a_local_directory("photos").await;
}

#[tokio::test]
async fn actix_app_streams_a_gigabyte_into_a_directory() {
    into_a_local_directory("photos_actix").await;
}

#[tokio::test]
async fn axum_app_streams_a_gigabyte_into_garage_and_back() {
    into_garage("photos").await;
}

#[tokio::test]
async fn actix_app_streams_a_gigabyte_into_garage_and_back() {
    into_garage("photos_actix").await;
}
