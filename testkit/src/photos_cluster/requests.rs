//! The client side: one upload to a photo app, or one read through it checked byte for byte against the pattern
//! as it streams (a 20 MiB photo is never held whole), each recorded with its status, latency and phase.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, RETRY_AFTER};
use reqwest::multipart::{Form, Part};
use storages_core::conformance::{pattern, pattern_stream};

use super::workload::Upload;

/// The load a request belongs to: the one during which node 3 fails, or the one during which node 2 (the
/// endpoint of apps 3 and 4) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Load {
    /// Node 3, which serves no app, is killed and restarted.
    NodeFailure,
    /// Node 2, the S3 endpoint of apps 3 and 4, is killed and restarted.
    EndpointOutage,
    /// Every node up again: each acknowledged upload read through each app.
    Verification,
}

/// When a request started, relative to its load's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Every node up.
    Before,
    /// The node killed.
    Down,
    /// The node started again (rejoining, then healthy).
    Back,
}

/// What a request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A new photo sent to `POST /upload`.
    Upload,
    /// An earlier photo read through `GET /media/...`.
    Read,
}

/// One request and what came of it.
#[derive(Debug, Clone)]
pub struct Record {
    /// Its load.
    pub load: Load,
    /// When it started.
    pub phase: Phase,
    /// Upload or read.
    pub kind: Kind,
    /// The app (1 to 4) it went to.
    pub app: usize,
    /// The photo sent or read.
    pub upload: Upload,
    /// The answer's status; `None` when none came.
    pub status: Option<u16>,
    /// The answer's `Retry-After`.
    pub retry_after: Option<String>,
    /// What went wrong besides the status: no answer, a body cut short, bytes that differ, an unexpected name.
    pub error: Option<String>,
    /// The stored name the app answered an upload with.
    pub stored: Option<String>,
    /// When it was sent.
    pub started: Instant,
    /// When its answer was complete.
    pub ended: Instant,
}

impl Record {
    /// A request of `kind` for `upload` to `target`, sent at `started`, with no answer yet.
    fn starting(target: Target<'_>, kind: Kind, upload: &Upload, started: Instant) -> Self {
        Self {
            load: target.load,
            phase: target.phase,
            kind,
            app: target.app,
            upload: upload.clone(),
            status: None,
            retry_after: None,
            error: None,
            stored: None,
            started,
            ended: started,
        }
    }

    /// Whether it did what was asked: `201` with the name for an upload, `200` with every byte for a read.
    pub fn ok(&self) -> bool {
        let wanted = match self.kind {
            Kind::Upload => 201,
            Kind::Read => 200,
        };
        self.status == Some(wanted) && self.error.is_none()
    }

    /// From sending to the end of the answer.
    pub fn latency(&self) -> Duration {
        self.ended - self.started
    }
}

/// The name a photo app stores an upload under.
pub fn stored_name(upload: &Upload) -> String {
    format!("photos/{}", upload.file_name)
}

/// A client for the apps, with a bound far above any request's time so that a hang is recorded, not waited out.
/// Idle connections are dropped after 2 s, before any app's keep-alive closes them (actix-web's default is 5 s):
/// an upload sent on a connection the server is closing at that moment fails with "error sending request", a race of
/// HTTP/1.1 keep-alive that browsers retry and that says nothing about the storage.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .expect("build the HTTP client")
}

/// Where a request goes and when it counts.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The app's number (1 to 4).
    pub app: usize,
    /// The app's base URL.
    pub base: &'a str,
    /// The load.
    pub load: Load,
    /// The phase at the start.
    pub phase: Phase,
}

/// Sends `upload` to the app at `base` as the photo app's form does, its body streamed from the pattern, asking
/// for a JSON answer.
pub async fn post_photo(
    client: &reqwest::Client,
    base: &str,
    upload: &Upload,
) -> reqwest::Result<reqwest::Response> {
    let body = reqwest::Body::wrap_stream(pattern_stream(upload.seed, upload.size, 64 * 1024));
    let part = Part::stream_with_length(body, upload.size)
        .file_name(upload.file_name.clone())
        .mime_str("image/png")
        .expect("a valid MIME type");
    client
        .post(format!("{base}/upload"))
        .header(ACCEPT, "application/json")
        .multipart(Form::new().part("file", part))
        .send()
        .await
}

/// Asks the app at `base` for `upload` under the name the app stores it.
pub async fn get_photo(
    client: &reqwest::Client,
    base: &str,
    upload: &Upload,
) -> reqwest::Result<reqwest::Response> {
    client
        .get(format!("{base}/media/{}", stored_name(upload)))
        .send()
        .await
}

/// Uploads `upload` as the photo app's form does, asking for a JSON answer.
pub async fn send(client: &reqwest::Client, target: Target<'_>, upload: &Upload) -> Record {
    let started = Instant::now();
    let sent = post_photo(client, target.base, upload).await;
    let mut record = Record::starting(target, Kind::Upload, upload, started);
    match sent {
        Err(e) => record.error = Some(format!("no answer: {e}")),
        Ok(answer) => {
            record.status = Some(answer.status().as_u16());
            record.retry_after = retry_after(&answer);
            let created = answer.status() == reqwest::StatusCode::CREATED;
            match answer.text().await {
                Err(e) => record.error = Some(format!("the answer broke off: {e}")),
                Ok(text) if created => {
                    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                    let stored = json["name"].as_str().unwrap_or_default().to_owned();
                    if stored != stored_name(upload) {
                        record.error = Some(format!("stored as {stored:?}: {text}"));
                    }
                    record.stored = Some(stored);
                }
                Ok(_) => {}
            }
        }
    }
    record.ended = Instant::now();
    record
}

/// Reads `upload` back through the app and compares every byte with its pattern as it arrives.
pub async fn read(client: &reqwest::Client, target: Target<'_>, upload: &Upload) -> Record {
    let started = Instant::now();
    let mut record = Record::starting(target, Kind::Read, upload, started);
    match get_photo(client, target.base, upload).await {
        Err(e) => record.error = Some(format!("no answer: {e}")),
        Ok(answer) => {
            record.status = Some(answer.status().as_u16());
            record.retry_after = retry_after(&answer);
            if answer.status() == reqwest::StatusCode::OK {
                record.error = same_bytes(answer, upload).await.err();
            } else {
                // The body of a refusal is short text; read it so the connection can be reused.
                let _ = answer.bytes().await;
            }
        }
    }
    record.ended = Instant::now();
    record
}

/// Checks that `answer`'s body is exactly `upload`'s pattern, chunk by chunk.
pub async fn same_bytes(answer: reqwest::Response, upload: &Upload) -> Result<(), String> {
    let mut offset = 0u64;
    let mut body = answer.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("the body broke off at byte {offset}: {e}"))?;
        if offset + chunk.len() as u64 > upload.size {
            return Err(format!("more than {} bytes", upload.size));
        }
        if chunk != pattern(upload.seed, offset, chunk.len()) {
            return Err(format!("bytes differ in the chunk at offset {offset}"));
        }
        offset += chunk.len() as u64;
    }
    if offset == upload.size {
        Ok(())
    } else {
        Err(format!("{offset} bytes of {}", upload.size))
    }
}

fn retry_after(answer: &reqwest::Response) -> Option<String> {
    answer
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
