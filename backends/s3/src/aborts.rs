//! Aborting multipart uploads that did not complete, in a way that survives the end of the process.
//!
//! A failed save awaits its abort and reports the outcome. A *cancelled* save (its future dropped: a client that
//! went away, a command stopped by Ctrl-C) cannot await anything, so its abort runs as a task of its own. Such a
//! task dies with the runtime, and a process that simply returns from `main` after cancelling its work would leave
//! the upload behind. Every abort task is therefore counted here, process-wide, and [`settle_aborts`] waits for
//! them: call it after cancelling in-flight saves and before the runtime ends.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use object_store::aws::AmazonS3;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinSet;

/// Part tasks of an upload: each answers with its index and the part's id.
pub(crate) type Parts = JoinSet<(usize, object_store::Result<PartId>)>;

/// One multipart upload on the server: where it is and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRef {
    /// The bucket.
    pub bucket: String,
    /// The object key the upload would have created (the storage's prefix included).
    pub key: String,
    /// The id the server gave the upload.
    pub upload_id: String,
}

impl fmt::Display for UploadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "multipart upload {} of `{}` in bucket `{}`",
            self.upload_id, self.key, self.bucket
        )
    }
}

/// Why an upload whose save was cancelled may still be on the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AbortError {
    /// The server did not accept the abort (unreachable, refused, ...).
    #[error("aborting {upload} failed: {source}")]
    Failed {
        /// The upload.
        upload: UploadRef,
        /// What the client reported.
        #[source]
        source: object_store::Error,
    },
    /// The abort had not finished when [`settle_aborts`] stopped waiting.
    #[error("aborting {upload} did not finish in time")]
    Unfinished {
        /// The upload.
        upload: UploadRef,
    },
    /// The save was dropped outside a runtime, or the runtime ended before the abort finished.
    #[error("{upload} was not aborted: the async runtime ended before the abort finished")]
    NoRuntime {
        /// The upload.
        upload: UploadRef,
    },
}

impl AbortError {
    /// The upload that may still be on the server.
    pub fn upload(&self) -> &UploadRef {
        match self {
            Self::Failed { upload, .. }
            | Self::Unfinished { upload }
            | Self::NoRuntime { upload } => upload,
        }
    }
}

/// What became of the aborts of cancelled saves since the last [`settle_aborts`].
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct SettledAborts {
    /// Uploads aborted (or found already gone) on the server.
    pub aborted: Vec<UploadRef>,
    /// Uploads that may still be on the server, each with the reason: `storages clean` (or the bucket's lifecycle
    /// rule) removes them.
    pub left: Vec<AbortError>,
}

/// Waits until the aborts of cancelled saves have finished, at most `within`, and reports what became of those
/// finished since the last call (aborts still running are reported as [`AbortError::Unfinished`] and keep
/// running). The outcomes are the process's, not the caller's: each is reported once, to the call that collects
/// it first, so a process settles in one place (its shutdown), not in several tasks at once.
///
/// A process that cancels its work on shutdown (dropping the futures of in-flight saves, for example when a
/// signal arrives) calls this before its runtime ends, so that no multipart upload outlives it:
///
/// ```no_run
/// # async fn serve() {}
/// # async fn example() {
/// use std::time::Duration;
/// // However serving stops (here after an hour; in an app on a signal), dropping `serve()` cancels its saves.
/// let _ = tokio::time::timeout(Duration::from_secs(3600), serve()).await;
/// let settled = storages_s3::settle_aborts(Duration::from_secs(5)).await;
/// for left in &settled.left {
///     eprintln!("{left}");
/// }
/// # }
/// ```
pub async fn settle_aborts(within: Duration) -> SettledAborts {
    let tracker = &*TRACKER;
    let _ = tokio::time::timeout(within, async {
        loop {
            let idle = tracker.idle.notified();
            if tracker.lock().running.is_empty() {
                return;
            }
            idle.await;
        }
    })
    .await;
    let mut state = tracker.lock();
    let mut settled = std::mem::take(&mut state.settled);
    settled
        .left
        .extend(state.running.values().map(|upload| AbortError::Unfinished {
            upload: upload.clone(),
        }));
    settled
}

/// Starts aborting `upload` (at `path`): its part tasks are cancelled and awaited first (so that no part lands
/// after the abort), then the server is asked to abort. The outcome is the returned future's; when nobody awaits
/// it to the end (a cancelled save, even one cancelled after the outcome arrived), it is kept for
/// [`settle_aborts`]. Without a runtime it is recorded as left at once.
pub(crate) fn start(
    store: Arc<AmazonS3>,
    path: Path,
    upload: UploadRef,
    mut parts: Parts,
) -> Outcome {
    let (tx, rx) = oneshot::channel();
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        TRACKER.lock().record(upload, Err(Unheard::NoRuntime));
        return Outcome { rx, upload: None };
    };
    let ticket = TRACKER.begin(upload.clone());
    let outcome = Outcome {
        rx,
        upload: Some(upload.clone()),
    };
    runtime.spawn(async move {
        let ticket = ticket;
        parts.abort_all();
        while parts.join_next().await.is_some() {}
        let outcome = match store.abort_multipart(&path, &upload.upload_id).await {
            // Gone already: completed after all, or aborted by someone else. Nothing is left either way.
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        };
        let unheard = match tx.send(outcome) {
            Ok(()) => None,
            Err(outcome) => Some(outcome.map_err(Unheard::Failed)),
        };
        ticket.finish(unheard);
    });
    outcome
}

/// What became of an abort, for the save that started it: `Err` when the runtime ended first. Dropped before it
/// was read to the end, it closes the channel and keeps an outcome already sent for [`settle_aborts`]; once closed,
/// the outcome is either here or back with the task, which keeps it.
pub(crate) struct Outcome {
    rx: oneshot::Receiver<object_store::Result<()>>,
    /// The upload, until its outcome is read.
    upload: Option<UploadRef>,
}

impl Future for Outcome {
    type Output = Result<object_store::Result<()>, oneshot::error::RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let read = std::task::ready!(Pin::new(&mut this.rx).poll(cx));
        this.upload = None;
        Poll::Ready(read)
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        let Some(upload) = self.upload.take() else {
            return;
        };
        self.rx.close();
        if let Ok(outcome) = self.rx.try_recv() {
            TRACKER
                .lock()
                .record(upload, outcome.map_err(Unheard::Failed));
        }
    }
}

/// Creates a multipart upload of `path` (in `bucket`) in a task of its own, counted by [`settle_aborts`] from the
/// start, and returns it with the id the server gave it. A save cancelled while the server is creating the upload
/// (the request sent, its answer not yet read) would otherwise never learn the id, and leave the upload behind:
/// whichever side is left holding the id when the other is gone, the task or the dropped save, aborts it. Without
/// a runtime it creates in place.
pub(crate) async fn create(
    store: Arc<AmazonS3>,
    path: Path,
    options: object_store::PutMultipartOptions,
    bucket: &str,
) -> object_store::Result<UploadRef> {
    let mut upload = UploadRef {
        bucket: bucket.to_owned(),
        key: path.to_string(),
        upload_id: "(being created)".to_owned(),
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        upload.upload_id = store.create_multipart_opts(&path, options).await?;
        return Ok(upload);
    };
    let (tx, rx) = oneshot::channel();
    let ticket = TRACKER.begin(upload.clone());
    let mut waiting = Waiting {
        rx,
        orphan: Some((Arc::clone(&store), path.clone(), upload.clone())),
    };
    runtime.spawn(async move {
        let ticket = ticket;
        let created = store.create_multipart_opts(&path, options).await;
        if let Err(Ok(id)) = tx.send(created) {
            // Nobody waits for the id any more: abort what was created (a ticket of its own, begun before this
            // one ends, keeps `settle_aborts` waiting).
            upload.upload_id = id;
            drop(start(store, path, upload, Parts::new()));
        }
        ticket.finish(None);
    });
    let created = (&mut waiting.rx).await;
    let (_, _, mut upload) = waiting.orphan.take().expect("taken once, here");
    upload.upload_id = created.unwrap_or_else(|_| {
        Err(object_store::Error::Generic {
            store: "S3",
            source: "the task creating the multipart upload was dropped".into(),
        })
    })?;
    Ok(upload)
}

/// The save's end of a creation. Dropped before it received the id (the save cancelled, even after the task had
/// handed the id over), it closes the channel and aborts the upload whose id arrived, if one did: once closed,
/// the id is either in the channel, for this guard, or back with the task, which aborts it.
struct Waiting {
    rx: oneshot::Receiver<object_store::Result<String>>,
    /// Where the upload is, until the id is received.
    orphan: Option<(Arc<AmazonS3>, Path, UploadRef)>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let Some((store, path, mut upload)) = self.orphan.take() else {
            return;
        };
        self.rx.close();
        if let Ok(Ok(id)) = self.rx.try_recv() {
            upload.upload_id = id;
            drop(start(store, path, upload, Parts::new()));
        }
    }
}

/// Why an abort that no save waited for did not happen.
enum Unheard {
    Failed(object_store::Error),
    NoRuntime,
}

/// The aborts running and the outcomes nobody has collected yet, for the whole process.
static TRACKER: LazyLock<Tracker> = LazyLock::new(Tracker::default);

/// Outcomes kept for [`settle_aborts`] at most: a long-running process that never settles keeps the latest.
const KEPT: usize = 1000;

#[derive(Default)]
struct Tracker {
    state: Mutex<State>,
    idle: Notify,
}

#[derive(Default)]
struct State {
    next: u64,
    running: BTreeMap<u64, UploadRef>,
    settled: SettledAborts,
}

impl Tracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn begin(&'static self, upload: UploadRef) -> Ticket {
        let mut state = self.lock();
        let id = state.next;
        state.next += 1;
        state.running.insert(id, upload);
        Ticket {
            tracker: self,
            id: Some(id),
        }
    }
}

impl State {
    /// Keeps the outcome of an abort whose save is no longer there to hear it.
    fn record(&mut self, upload: UploadRef, outcome: Result<(), Unheard>) {
        let settled = &mut self.settled;
        match outcome {
            Ok(()) => keep(&mut settled.aborted, upload),
            Err(Unheard::Failed(source)) => {
                keep(&mut settled.left, AbortError::Failed { upload, source });
            }
            Err(Unheard::NoRuntime) => keep(&mut settled.left, AbortError::NoRuntime { upload }),
        }
    }
}

fn keep<T>(list: &mut Vec<T>, item: T) {
    if list.len() >= KEPT {
        list.remove(0);
    }
    list.push(item);
}

/// A running abort. Dropped without [`Ticket::finish`] (its task dropped unrun by a runtime shutting down), it
/// records the upload as left.
struct Ticket {
    tracker: &'static Tracker,
    id: Option<u64>,
}

impl Ticket {
    /// The abort is over; `unheard` is its outcome when the save did not receive it.
    fn finish(mut self, unheard: Option<Result<(), Unheard>>) {
        self.end(unheard);
    }

    fn end(&mut self, unheard: Option<Result<(), Unheard>>) {
        let Some(id) = self.id.take() else { return };
        let mut state = self.tracker.lock();
        if let (Some(upload), Some(outcome)) = (state.running.remove(&id), unheard) {
            state.record(upload, outcome);
        }
        let idle = state.running.is_empty();
        drop(state);
        if idle {
            self.tracker.idle.notify_waiters();
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.end(Some(Err(Unheard::NoRuntime)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test at a time: `settle_aborts` hands every outcome of the process to the call that collects it.
    async fn alone() -> tokio::sync::MutexGuard<'static, ()> {
        static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        ALONE.lock().await
    }

    fn upload(id: &str) -> (Path, UploadRef) {
        let path = Path::from(format!("media/{id}.bin"));
        let upload = UploadRef {
            bucket: "media".into(),
            key: path.to_string(),
            upload_id: id.into(),
        };
        (path, upload)
    }

    fn left_by_failure(settled: &SettledAborts, id: &str) -> bool {
        settled.left.iter().any(|e| {
            matches!(
                e,
                AbortError::Failed { upload, .. } if upload.upload_id == id
            )
        })
    }

    /// A client whose requests are refused at once: a loopback port nobody listens on, no retries.
    fn refused_client() -> Arc<AmazonS3> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(format!("http://127.0.0.1:{port}"))
            .with_allow_http(true)
            .with_bucket_name("media")
            .with_region("garage")
            .with_access_key_id("GKtest")
            .with_secret_access_key("not-a-secret")
            .with_retry(object_store::RetryConfig {
                max_retries: 0,
                retry_timeout: Duration::from_secs(5),
                ..object_store::RetryConfig::default()
            })
            .build()
            .expect("a client");
        Arc::new(store)
    }

    /// The creating task handed the id over, and the save was dropped before it read it: the save's dropped end
    /// aborts the upload. (The port refuses the abort, so the upload is reported as left, by its id.)
    #[tokio::test]
    async fn an_id_handed_to_a_save_dropped_before_reading_it_is_aborted() {
        let _alone = alone().await;
        let (path, mut upload) = upload("late-id");
        upload.upload_id = "(being created)".into();
        let (tx, rx) = oneshot::channel();
        let waiting = Waiting {
            rx,
            orphan: Some((refused_client(), path, upload)),
        };
        tx.send(Ok("late-id".to_owned()))
            .expect("the save still holds its end");
        drop(waiting);
        let settled = settle_aborts(Duration::from_secs(10)).await;
        assert!(left_by_failure(&settled, "late-id"), "{settled:?}");
    }

    /// The abort's outcome was sent, and the save was dropped before it read it: the outcome is kept for
    /// `settle_aborts`. (The port refuses the abort, so the upload is reported as left.)
    #[tokio::test]
    async fn an_outcome_sent_to_a_save_dropped_before_reading_it_is_kept() {
        let _alone = alone().await;
        let (path, upload) = upload("unread-id");
        let outcome = start(refused_client(), path, upload, Parts::new());
        // The task's ticket ends once the outcome is sent.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while TRACKER
            .lock()
            .running
            .values()
            .any(|u| u.upload_id == "unread-id")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the abort never ended"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(outcome);
        let settled = settle_aborts(Duration::from_secs(10)).await;
        assert!(left_by_failure(&settled, "unread-id"), "{settled:?}");
    }
}
