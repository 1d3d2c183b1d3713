//! `Traced`: one wrapper that puts every operation of any storage in a `tracing` span and, with the `metrics`
//! feature, in metrics. [`crate::Storages`] applies it to every storage it builds, so backends stay free of
//! logging, as object_store keeps limits and prefixes in wrappers rather than in each store.
//!
//! # The span
//! Each primitive (`put`, `get`, `stat`, `delete`, `list`, `list_dir`, `url`, `direct_upload`, `check`) runs in a
//! `DEBUG` span named `storage`, target `storages::traced`, with the fields:
//! - `backend` (`local`, `nfs`, `s3`, `memory`, `mirror`) and `operation`;
//! - `name` (the name asked for) or `prefix` (listings); `stored`, for a `put` that chose another name;
//! - `bytes`: for `put` the size stored; for `get` the bytes actually streamed to the caller, counted until the
//!   stream ends or is dropped; `files` for listings;
//! - `duration_ms` (for `get` and `list`: until the stream ends or is dropped) and `outcome`: `ok`, `not_found`,
//!   another error's kind (`invalid_name`, `already_exists`, `io`, `backend`, ...) or, for a stream dropped before
//!   its end, `incomplete`.
//!
//! When the operation ends, one `DEBUG` event in the span says so (with the error's message on failure). Nothing
//! is logged above `DEBUG`: whoever handles a failure reports it once (the web core logs server-side failures at
//! `ERROR`, the CLI prints its errors), so a failure is never logged twice. Settings URLs, credentials and signed
//! URLs are never recorded: only names, which are not secrets.
//!
//! # Metrics (feature `metrics`)
//! Through the `metrics` facade, labelled by `backend`, `operation` and `outcome` and never by name (names are
//! unbounded): `storages_operations_total` (a counter), `storages_operation_duration_seconds` (a histogram) and
//! `storages_bytes_total` (a counter of the bytes of `put` and `get`, labelled by `backend` and `operation`).
//! The application installs the recorder; [`describe_metrics`] gives them their help texts.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::stream::{BoxStream, Stream, StreamExt};
use storages_core::{
    ByteRange, Capabilities, CommonOptions, Content, DirectUpload, Error, GetResult, Listing,
    Metadata, Name, PutMode, Result, Storage, UrlOptions, async_trait,
};
use tracing::Instrument;
use tracing::field::Empty;

/// A storage whose every operation is traced (and measured, with the `metrics` feature). Everything else
/// (`backend`, `options`, `capabilities`, `local_path`, the answers themselves) is the inner storage's.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> storages::Result<()> {
/// use std::sync::Arc;
/// use storages::traced::Traced;
/// use storages::{MemoryStorage, Storage, StorageExt};
/// let storage = Traced::wrap(Arc::new(MemoryStorage::new()));
/// storage.save("a.txt", "hello").await?; // a `storage` span with backend="memory" operation="put" ...
/// assert_eq!(storage.backend(), "memory");
/// # Ok(()) }
/// ```
pub struct Traced {
    inner: Arc<dyn Storage>,
}

impl Traced {
    /// Traces `inner`.
    pub fn new(inner: Arc<dyn Storage>) -> Self {
        Self { inner }
    }

    /// Traces `inner`, as the shared handle applications pass around.
    pub fn wrap(inner: Arc<dyn Storage>) -> Arc<dyn Storage> {
        Arc::new(Self::new(inner))
    }

    /// The storage being traced.
    pub fn inner(&self) -> &Arc<dyn Storage> {
        &self.inner
    }

    fn start(&self, operation: &'static str, name: Option<&Name>) -> Op {
        Op::start(
            self.inner.backend(),
            operation,
            name.map(Name::as_str),
            None,
        )
    }

    fn start_listing(&self, operation: &'static str, prefix: Option<&Name>) -> Op {
        Op::start(
            self.inner.backend(),
            operation,
            None,
            prefix.map(Name::as_str),
        )
    }

    /// Runs `work` in the span of `op` and ends `op` with its result; `describe` records what an answer tells.
    async fn traced<T>(
        op: Op,
        work: impl Future<Output = Result<T>>,
        describe: impl FnOnce(&T, &Op),
    ) -> Result<T> {
        let result = work.instrument(op.span.clone()).await;
        match &result {
            Ok(value) => {
                describe(value, &op);
                op.finish(OK, None);
            }
            Err(e) => op.finish(outcome(e), Some(e)),
        }
        result
    }
}

/// The inner storage's own `Debug`, which never shows a secret.
impl fmt::Debug for Traced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Traced").field(&self.inner).finish()
    }
}

#[async_trait]
impl Storage for Traced {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn options(&self) -> &CommonOptions {
        self.inner.options()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn put(&self, name: &Name, content: Content<'_>, mode: PutMode) -> Result<Metadata> {
        let op = self.start("put", Some(name));
        let work = self.inner.put(name, content, mode);
        Self::traced(op, work, |meta, op| {
            op.amount(meta.size);
            if meta.name != *name {
                op.span.record("stored", meta.name.as_str());
            }
        })
        .await
    }

    async fn get(&self, name: &Name, range: Option<ByteRange>) -> Result<GetResult> {
        let op = self.start("get", Some(name));
        match self
            .inner
            .get(name, range)
            .instrument(op.span.clone())
            .await
        {
            Ok(got) => Ok(GetResult {
                stream: Watched::new(got.stream, op).boxed(),
                ..got
            }),
            Err(e) => {
                op.finish(outcome(&e), Some(&e));
                Err(e)
            }
        }
    }

    async fn stat(&self, name: &Name) -> Result<Metadata> {
        let op = self.start("stat", Some(name));
        Self::traced(op, self.inner.stat(name), |_, _| {}).await
    }

    /// The backend's own copy (a hard link, a server-side copy), recorded under the source's name with the copy's
    /// name as `stored`.
    async fn copy_within(&self, from: &Name, to: &Name) -> Result<Metadata> {
        let op = self.start("copy", Some(from));
        Self::traced(op, self.inner.copy_within(from, to), |meta, op| {
            op.span.record("bytes", meta.size);
            op.span.record("stored", meta.name.as_str());
        })
        .await
    }

    async fn delete(&self, name: &Name) -> Result<()> {
        let op = self.start("delete", Some(name));
        Self::traced(op, self.inner.delete(name), |_, _| {}).await
    }

    fn list(&self, prefix: Option<&Name>) -> BoxStream<'_, Result<Metadata>> {
        let op = self.start_listing("list", prefix);
        let stream = {
            let _entered = op.span.enter();
            self.inner.list(prefix)
        };
        Watched::new(stream, op).boxed()
    }

    async fn list_dir(&self, prefix: Option<&Name>) -> Result<Listing> {
        let op = self.start_listing("list_dir", prefix);
        Self::traced(op, self.inner.list_dir(prefix), |listing, op| {
            op.amount(listing.files.len() as u64);
        })
        .await
    }

    async fn url(&self, name: &Name, options: &UrlOptions) -> Result<String> {
        // The URL itself is never recorded: a signed one is a credential until it expires.
        let op = self.start("url", Some(name));
        Self::traced(op, self.inner.url(name, options), |_, _| {}).await
    }

    async fn direct_upload(
        &self,
        name: &Name,
        content_type: &str,
        expires: Duration,
    ) -> Result<DirectUpload> {
        let op = self.start("direct_upload", Some(name));
        let work = self.inner.direct_upload(name, content_type, expires);
        Self::traced(op, work, |_, _| {}).await
    }

    fn local_path(&self, name: &Name) -> Option<PathBuf> {
        self.inner.local_path(name)
    }

    async fn check(&self) -> Result<String> {
        let op = self.start("check", None);
        Self::traced(op, self.inner.check(), |_, _| {}).await
    }
}

const OK: &str = "ok";
/// The outcome of a read or listing dropped before its end.
const INCOMPLETE: &str = "incomplete";

/// An error's kind, as the `outcome` field and label: short, stable and free of names and secrets.
fn outcome(e: &Error) -> &'static str {
    match e {
        Error::NotFound { .. } => "not_found",
        Error::InvalidName(_) => "invalid_name",
        Error::OutsideRoot { .. } => "outside_root",
        Error::AlreadyExists { .. } => "already_exists",
        Error::RangeNotSatisfiable { .. } => "range_not_satisfiable",
        Error::NoAvailableName { .. } => "no_available_name",
        Error::LengthMismatch { .. } => "length_mismatch",
        Error::Config(_) => "config",
        Error::Unsupported { .. } => "unsupported",
        Error::Io { .. } => "io",
        Error::Backend { .. } => "backend",
        _ => "error",
    }
}

/// One operation under way: its span, and what its end records.
struct Op {
    span: tracing::Span,
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))] // the span has it too
    backend: &'static str,
    operation: &'static str,
    started: Instant,
}

impl Op {
    fn start(
        backend: &'static str,
        operation: &'static str,
        name: Option<&str>,
        prefix: Option<&str>,
    ) -> Self {
        let span = tracing::debug_span!(
            "storage",
            backend,
            operation,
            name,
            prefix,
            stored = Empty,
            bytes = Empty,
            files = Empty,
            duration_ms = Empty,
            outcome = Empty,
        );
        Self {
            span,
            backend,
            operation,
            started: Instant::now(),
        }
    }

    /// Whether this operation's amounts are bytes (reads and writes) rather than files (listings).
    fn moves_bytes(&self) -> bool {
        matches!(self.operation, "put" | "get")
    }

    /// Records the bytes moved or the files listed.
    fn amount(&self, amount: u64) {
        let field = if self.moves_bytes() { "bytes" } else { "files" };
        self.span.record(field, amount);
        #[cfg(feature = "metrics")]
        if self.moves_bytes() {
            metrics::counter!(
                "storages_bytes_total",
                "backend" => self.backend,
                "operation" => self.operation
            )
            .increment(amount);
        }
    }

    /// Records how it ended, says so in one `DEBUG` event and counts it.
    fn finish(self, outcome: &'static str, error: Option<&(dyn std::error::Error + 'static)>) {
        let elapsed = self.started.elapsed();
        self.span
            .record("duration_ms", elapsed.as_micros() as f64 / 1000.0)
            .record("outcome", outcome);
        match error {
            Some(error) => tracing::debug!(parent: &self.span, error, "storage operation failed"),
            None => tracing::debug!(parent: &self.span, "storage operation done"),
        }
        #[cfg(feature = "metrics")]
        {
            let labels = [
                ("backend", self.backend),
                ("operation", self.operation),
                ("outcome", outcome),
            ];
            metrics::counter!("storages_operations_total", &labels).increment(1);
            metrics::histogram!("storages_operation_duration_seconds", &labels)
                .record(elapsed.as_secs_f64());
        }
    }
}

/// What a watched stream counts per item.
trait Counted {
    fn amount(&self) -> u64;
}

impl Counted for bytes::Bytes {
    fn amount(&self) -> u64 {
        self.len() as u64
    }
}

impl Counted for Metadata {
    fn amount(&self) -> u64 {
        1
    }
}

/// The errors a watched stream can end with.
trait Failure: std::error::Error + 'static {
    fn outcome(&self) -> &'static str;
}

impl Failure for std::io::Error {
    fn outcome(&self) -> &'static str {
        "io"
    }
}

impl Failure for Error {
    fn outcome(&self) -> &'static str {
        outcome(self)
    }
}

/// A read's bytes or a listing's entries, passed on unchanged inside the operation's span, counted, and ending the
/// operation at its first error, at its end, or when dropped before either.
struct Watched<'a, T, E> {
    inner: BoxStream<'a, std::result::Result<T, E>>,
    op: Option<Op>,
    counted: u64,
}

impl<'a, T, E> Watched<'a, T, E> {
    fn new(inner: BoxStream<'a, std::result::Result<T, E>>, op: Op) -> Self {
        Self {
            inner,
            op: Some(op),
            counted: 0,
        }
    }

    fn finish(&mut self, outcome: &'static str, error: Option<&(dyn std::error::Error + 'static)>) {
        if let Some(op) = self.op.take() {
            op.amount(self.counted);
            op.finish(outcome, error);
        }
    }
}

impl<T: Counted, E: Failure> Stream for Watched<'_, T, E> {
    type Item = std::result::Result<T, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let polled = {
            let _entered = this.op.as_ref().map(|op| op.span.enter());
            this.inner.poll_next_unpin(cx)
        };
        match &polled {
            Poll::Ready(Some(Ok(item))) => this.counted += item.amount(),
            Poll::Ready(Some(Err(e))) => this.finish(e.outcome(), Some(e)),
            Poll::Ready(None) => this.finish(OK, None),
            Poll::Pending => {}
        }
        polled
    }
}

impl<T, E> Drop for Watched<'_, T, E> {
    fn drop(&mut self) {
        self.finish(INCOMPLETE, None);
    }
}

/// Gives the metrics their help texts and units, for a recorder that shows them (Prometheus' `# HELP`). Call it
/// once, after installing the recorder.
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub fn describe_metrics() {
    metrics::describe_counter!(
        "storages_operations_total",
        "Storage operations, by backend, operation and outcome."
    );
    metrics::describe_histogram!(
        "storages_operation_duration_seconds",
        metrics::Unit::Seconds,
        "How long storage operations took (reads and listings: until their stream ended)."
    );
    metrics::describe_counter!(
        "storages_bytes_total",
        metrics::Unit::Bytes,
        "Bytes stored (put) and streamed to readers (get), by backend."
    );
}
