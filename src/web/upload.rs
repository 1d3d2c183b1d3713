//! Receiving uploads: a `multipart/form-data` body streamed file by file into a storage with `save`, never holding
//! a whole file in memory.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderValue, Response, StatusCode, header};
use storages_core::{
    BoxError, Content, Error, Name, NameError, Storage, StorageExt, guess_content_type,
    valid_file_name,
};

use super::Body;

/// What an upload accepts and where it stores files. Build it with [`UploadOptions::new`] and the setters.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    pub(crate) field: Option<String>,
    pub(crate) directory: Option<Name>,
    pub(crate) max_file_size: u64,
    pub(crate) max_files: usize,
    pub(crate) allowed_types: Vec<String>,
    pub(crate) allowed_extensions: Vec<String>,
    pub(crate) max_text_fields: usize,
    pub(crate) max_text_field_size: usize,
    pub(crate) drain_limit: u64,
    pub(crate) direct_expires: Duration,
    pub(crate) idle_timeout: Duration,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            field: None,
            directory: None,
            max_file_size: 10 << 20,
            max_files: 16,
            allowed_types: Vec::new(),
            allowed_extensions: Vec::new(),
            max_text_fields: 64,
            max_text_field_size: 64 << 10,
            drain_limit: 64 << 20,
            direct_expires: Duration::from_secs(600),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

impl UploadOptions {
    /// Any file field, at most 16 files of 10 MiB each, any type, stored at the top of the storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes files from this form field only; files in other fields are skipped unread.
    pub fn field(mut self, name: impl Into<String>) -> Self {
        self.field = Some(name.into());
        self
    }

    /// Stores files under this directory of the storage.
    pub fn directory(mut self, directory: Name) -> Self {
        self.directory = Some(directory);
        self
    }

    /// The largest file accepted, in bytes: a larger one fails with `413` and nothing of the request is stored.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// The most files one request may carry.
    pub fn max_files(mut self, files: usize) -> Self {
        self.max_files = files;
        self
    }

    /// Accepts only these content types (`image/png`, or a whole family as `image/*`), as guessed from the cleaned
    /// file name: the type the file is stored and later served with, not the one the client declared.
    pub fn allow_types<S: Into<String>>(mut self, types: impl IntoIterator<Item = S>) -> Self {
        self.allowed_types = types
            .into_iter()
            .map(|t| t.into().to_ascii_lowercase())
            .collect();
        self
    }

    /// Accepts only file names with these extensions (`png`, `jpg`; compared without case).
    pub fn allow_extensions<S: Into<String>>(
        mut self,
        extensions: impl IntoIterator<Item = S>,
    ) -> Self {
        self.allowed_extensions = extensions
            .into_iter()
            .map(|e| e.into().trim_start_matches('.').to_ascii_lowercase())
            .collect();
        self
    }

    /// How much of the rest of a refused request is read and discarded (default 64 MiB) so that the client gets
    /// the error instead of a reset connection; a larger rest is cut off.
    pub fn drain_limit(mut self, bytes: u64) -> Self {
        self.drain_limit = bytes;
        self
    }

    /// How long the body may send nothing while the upload waits for it (default 60 s): a client that stalls longer
    /// is answered `408 Request Timeout`, its unfinished file is removed and nothing of the request is stored, so a
    /// stalled client does not hold a temporary file and a connection for as long as it likes. Time the storage
    /// takes to write what arrived does not count. A duration too long for the clock means no timeout.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// How long a direct upload's signed request stays valid (default 10 minutes).
    pub fn direct_upload_expiry(mut self, expires: Duration) -> Self {
        self.direct_expires = expires;
        self
    }

    /// The stored name for an uploaded file name: cleaned with [`valid_file_name`], under the directory, with an
    /// allowed type and extension; and its content type.
    pub(crate) fn name_for(
        &self,
        uploaded: &str,
        max_len: usize,
    ) -> Result<(Name, String), UploadError> {
        let cleaned = valid_file_name(uploaded)?;
        let name = match &self.directory {
            Some(dir) => Name::with_max_len(format!("{dir}/{cleaned}"), max_len)?,
            None => Name::with_max_len(cleaned, max_len)?,
        };
        let content_type = guess_content_type(&name);
        let extension = name
            .file_name()
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .unwrap_or_default();
        let type_ok = self.allowed_types.is_empty()
            || self
                .allowed_types
                .iter()
                .any(|allowed| match allowed.strip_suffix("/*") {
                    Some(family) => content_type
                        .split_once('/')
                        .is_some_and(|(f, _)| f.eq_ignore_ascii_case(family)),
                    None => allowed.eq_ignore_ascii_case(&content_type),
                });
        let extension_ok =
            self.allowed_extensions.is_empty() || self.allowed_extensions.contains(&extension);
        if type_ok && extension_ok {
            Ok((name, content_type))
        } else {
            Err(UploadError::NotAllowed {
                file: name.file_name().to_owned(),
                content_type,
            })
        }
    }
}

/// A storage and the rules for uploading into it: what an app registers for the upload extractors.
#[derive(Clone)]
pub struct UploadTarget {
    storage: Arc<dyn Storage>,
    options: Arc<UploadOptions>,
}

impl UploadTarget {
    /// Uploads into `storage` under `options`.
    pub fn new(storage: Arc<dyn Storage>, options: UploadOptions) -> Self {
        Self {
            storage,
            options: Arc::new(options),
        }
    }

    /// The storage files go to.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The rules.
    pub fn options(&self) -> &UploadOptions {
        &self.options
    }

    /// Receives a multipart body into the storage ([`receive_multipart`]).
    pub async fn receive<S, E>(
        &self,
        content_type: Option<&str>,
        body: S,
    ) -> Result<Received, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        receive_multipart(&*self.storage, content_type, body, &self.options).await
    }

    /// Removes every file `received` stored. The extractors store an upload before the handler runs: a handler that
    /// then fails (its answer cannot be made, its own bookkeeping fails) calls this before answering with its
    /// error, so that a request answered with an error leaves nothing behind, as a refused upload does. A file that
    /// cannot be removed is logged, as every storage failure is.
    pub async fn discard(&self, received: &Received) {
        remove_stored(&*self.storage, &received.files).await;
    }
}

impl fmt::Debug for UploadTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadTarget")
            .field("storage", &self.storage.backend())
            .field("options", &self.options)
            .finish()
    }
}

/// One stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// The form field it came in.
    pub field: String,
    /// The file name the client sent.
    pub file_name: String,
    /// The name it was stored under (the cleaned name, or `stem_XXXXXXX.ext` when that was taken).
    pub name: Name,
    /// Its size in bytes.
    pub size: u64,
    /// Its content type, as guessed from the cleaned name.
    pub content_type: String,
}

/// What a multipart request brought: its stored files (at least one) and its text fields, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    /// The stored files.
    pub files: Vec<Uploaded>,
    /// The other fields, as text (invalid UTF-8 replaced).
    pub fields: Vec<(String, String)>,
}

impl Received {
    /// The value of text field `name`, if the form had one.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why an upload was refused. Each names the offending value and maps to an HTTP status ([`UploadError::status`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The request is not `multipart/form-data` with a boundary.
    #[error("the request is not a multipart form (Content-Type {content_type:?})")]
    NotMultipart {
        /// The Content-Type sent.
        content_type: String,
    },
    /// The body is not a well-formed multipart form.
    #[error("the multipart form is malformed: {0}")]
    Malformed(#[source] multer::Error),
    /// The body broke off (the client went away) before the form ended.
    #[error("the upload broke off before the form ended")]
    Interrupted,
    /// The body sent nothing for the idle timeout ([`UploadOptions::idle_timeout`]).
    #[error("the upload sent nothing for {idle:?}")]
    TimedOut {
        /// The idle timeout.
        idle: Duration,
    },
    /// No file was sent (in the expected field).
    #[error("the form has no file{}", .field.as_ref().map(|f| format!(" in field `{f}`")).unwrap_or_default())]
    NoFile {
        /// The field files are taken from, if only one.
        field: Option<String>,
    },
    /// A file was over the size limit.
    #[error("{file} is over the limit of {limit} bytes per file")]
    TooLarge {
        /// The file name sent (cleaned).
        file: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// More files than allowed.
    #[error("the form has more than {max} files")]
    TooManyFiles {
        /// The most files allowed.
        max: usize,
    },
    /// A text field was over the size limit of each text field.
    #[error("text field `{field}` is over the limit of {limit} bytes per text field")]
    FieldTooLarge {
        /// The field name.
        field: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// More text fields than allowed (files do not count).
    #[error("the form has more than {max} text fields (at `{field}`)")]
    TooManyFields {
        /// The first field over the limit.
        field: String,
        /// The most text fields allowed.
        max: usize,
    },
    /// The file's type or extension is not accepted.
    #[error("{file} is of type {content_type}, which this upload does not accept")]
    NotAllowed {
        /// The cleaned file name.
        file: String,
        /// Its type as guessed from the name.
        content_type: String,
    },
    /// The file name left nothing usable once cleaned, or too long a name.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// The storage cannot take direct uploads (only object storage signs them).
    #[error("this storage ({backend}) cannot take direct uploads")]
    DirectUnsupported {
        /// The backend's name.
        backend: &'static str,
    },
    /// The request for a direct upload is not the expected JSON.
    #[error("the direct upload request is not valid JSON with a file_name: {0}")]
    BadRequest(String),
    /// The app registered no [`UploadTarget`] for the extractor.
    #[error("no UploadTarget is registered for this route")]
    NoTarget,
    /// The storage failed: `503 Service Unavailable` (with `Retry-After`) when its server cannot be reached, else
    /// `500`.
    #[error("storing {file} failed: {source}")]
    Storage {
        /// The name being stored.
        file: String,
        /// The storage's error.
        #[source]
        source: Error,
    },
}

impl UploadError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotMultipart { .. } | Self::NotAllowed { .. } => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::TooLarge { .. }
            | Self::TooManyFiles { .. }
            | Self::FieldTooLarge { .. }
            | Self::TooManyFields { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Malformed(_)
            | Self::Interrupted
            | Self::NoFile { .. }
            | Self::InvalidName(_)
            | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TimedOut { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::DirectUnsupported { .. } => StatusCode::NOT_IMPLEMENTED,
            Self::Storage { source, .. } => super::failure::status(source),
            Self::NoTarget => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error as a `text/plain` response: its message, except for server-side failures, whose details stay in
    /// the server's log (the core logged them when the upload failed).
    pub fn to_response(&self) -> Response<Body> {
        let status = self.status();
        let text = if status == StatusCode::SERVICE_UNAVAILABLE {
            "the storage is unavailable; try again later\n".to_owned()
        } else if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
            "the upload could not be stored\n".to_owned()
        } else {
            format!("{self}\n")
        };
        let mut response = super::serve::plain(status, text);
        let headers = response.headers_mut();
        super::failure::retry_later(status, headers);
        if matches!(self, Self::TimedOut { .. }) {
            // RFC 9110 §15.5.9: the rest of the body will not be read, so the connection cannot carry another
            // request.
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }

    /// Logs the error once, where the core gives it: a storage failure as an operator's `ERROR` with its cause,
    /// a refused request as `DEBUG`.
    pub(crate) fn report(&self, operation: &'static str, backend: &'static str) {
        match self {
            Self::Storage { file, source } => {
                super::failure::storage_failed(operation, backend, file, source)
            }
            refused => super::failure::refused(operation, backend, refused),
        }
    }

    /// [`UploadError::NoTarget`], logged: the app forgot to register its [`UploadTarget`], a server-side fault.
    #[cfg(feature = "actix")]
    pub(crate) fn no_target() -> Self {
        let error = Self::NoTarget;
        tracing::error!(operation = "upload", "{error}");
        error
    }
}

/// Streams the files of a `multipart/form-data` `body` into `storage`, one `save` per file, as they arrive.
///
/// - Files are named by [`valid_file_name`] under the options' directory; `save` picks `stem_XXXXXXX.ext` when
///   the name is taken, so nothing is overwritten.
/// - A file over the size limit stops its own stream with an error, so `save` fails and stores nothing; its
///   request is refused with `413`.
/// - Any refusal (size, type, name, a broken body, a storage failure) removes the files this request already
///   stored: a request stores all of its files or none. The rest of a refused body is read and discarded, up to
///   the drain limit, so that the client can read the answer.
/// - A body that sends nothing for the idle timeout fails with `408` ([`UploadOptions::idle_timeout`]); what it
///   was writing is removed like any refused file's.
/// - Memory stays bounded: the body is read chunk by chunk as the storage writes, text fields are capped.
/// - A storage failure is logged once here, with its cause ([`UploadError::Storage`] answers `500` without it).
pub async fn receive_multipart<S, E>(
    storage: &dyn Storage,
    content_type: Option<&str>,
    body: S,
    options: &UploadOptions,
) -> Result<Received, UploadError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    let received = receive(storage, content_type, body, options).await;
    if let Err(error) = &received {
        error.report("upload", storage.backend());
    }
    received
}

async fn receive<S, E>(
    storage: &dyn Storage,
    content_type: Option<&str>,
    body: S,
    options: &UploadOptions,
) -> Result<Received, UploadError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    let content_type = content_type.unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| UploadError::NotMultipart {
        content_type: content_type.to_owned(),
    })?;
    let meter = Arc::new(Meter::default());
    let body = Metered {
        inner: Box::pin(body),
        meter: Arc::clone(&meter),
        ready_run: 0,
        idle: options.idle_timeout,
        idle_timer: None,
        waiting: false,
    };
    let mut multipart = multer::Multipart::new(body, boundary);
    let mut received = Received::default();
    let outcome = read_form(storage, &mut multipart, &meter, options, &mut received).await;
    match outcome {
        Ok(()) if received.files.is_empty() => Err(UploadError::NoFile {
            field: options.field.clone(),
        }),
        Ok(()) => Ok(received),
        Err(error) => {
            remove_stored(storage, &received.files).await;
            // A stalled or broken body has no rest worth waiting for.
            if !matches!(
                error,
                UploadError::Interrupted | UploadError::Malformed(_) | UploadError::TimedOut { .. }
            ) {
                drain(&mut multipart, &meter, options.drain_limit).await;
            }
            Err(error)
        }
    }
}

/// Removes the files a failed request stored. The request fails either way and answers with its own error; a file
/// that stays behind is still the operator's to know about, so a failed removal is logged.
async fn remove_stored(storage: &dyn Storage, files: &[Uploaded]) {
    for file in files {
        if let Err(e) = storage.delete(&file.name).await {
            super::failure::storage_failed(
                "upload cleanup",
                storage.backend(),
                file.name.as_str(),
                &e,
            );
        }
    }
}

async fn read_form(
    storage: &dyn Storage,
    multipart: &mut multer::Multipart<'static>,
    meter: &Meter,
    options: &UploadOptions,
    received: &mut Received,
) -> Result<(), UploadError> {
    let timed_out = || UploadError::TimedOut {
        idle: options.idle_timeout,
    };
    let form_error = |e: multer::Error| {
        if meter.timed_out.load(Ordering::Relaxed) {
            timed_out()
        } else if meter.broken.load(Ordering::Relaxed) {
            UploadError::Interrupted
        } else {
            UploadError::Malformed(e)
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(form_error)? {
        let field_name = field.name().unwrap_or_default().to_owned();
        let Some(file_name) = field.file_name().map(str::to_owned) else {
            if received.fields.len() >= options.max_text_fields {
                return Err(UploadError::TooManyFields {
                    field: field_name,
                    max: options.max_text_fields,
                });
            }
            let mut text = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(form_error)? {
                if text.len() + chunk.len() > options.max_text_field_size {
                    return Err(UploadError::FieldTooLarge {
                        field: field_name,
                        limit: options.max_text_field_size,
                    });
                }
                text.extend_from_slice(&chunk);
            }
            received
                .fields
                .push((field_name, String::from_utf8_lossy(&text).into_owned()));
            continue;
        };
        if options
            .field
            .as_ref()
            .is_some_and(|only| *only != field_name)
        {
            continue;
        }
        if received.files.len() >= options.max_files {
            return Err(UploadError::TooManyFiles {
                max: options.max_files,
            });
        }
        let (name, content_type) = options.name_for(&file_name, storage.options().max_name_len)?;
        let progress = Arc::new(Progress::default());
        let limited = Limited {
            field,
            limit: options.max_file_size,
            progress: Arc::clone(&progress),
            done: false,
        };
        let content = Content::from_stream(limited).with_content_type(content_type.clone());
        match storage.save(name.clone(), content).await {
            Ok(stored) => received.files.push(Uploaded {
                field: field_name,
                file_name,
                name: stored,
                size: progress.seen.load(Ordering::Relaxed),
                content_type,
            }),
            Err(_) if progress.tripped.load(Ordering::Relaxed) => {
                return Err(UploadError::TooLarge {
                    file: name.file_name().to_owned(),
                    limit: options.max_file_size,
                });
            }
            Err(_) if meter.timed_out.load(Ordering::Relaxed) => return Err(timed_out()),
            Err(_) if meter.broken.load(Ordering::Relaxed) => return Err(UploadError::Interrupted),
            Err(source) => match progress.take_form_error() {
                Some(e) => return Err(UploadError::Malformed(e)),
                None => {
                    return Err(UploadError::Storage {
                        file: name.to_string(),
                        source,
                    });
                }
            },
        }
    }
    Ok(())
}

/// Reads and discards the rest of a refused body, at most `limit` more bytes.
async fn drain(multipart: &mut multer::Multipart<'static>, meter: &Meter, limit: u64) {
    let read = meter.read.load(Ordering::Relaxed);
    meter
        .cap
        .store(read.saturating_add(limit), Ordering::Relaxed);
    while let Ok(Some(mut field)) = multipart.next_field().await {
        while let Ok(Some(_)) = field.chunk().await {}
    }
}

/// Byte counts of the request body, shared between the body stream (inside the multipart parser) and the reader.
#[derive(Debug)]
struct Meter {
    read: AtomicU64,
    /// The body fails once `read` passes this (set when draining).
    cap: AtomicU64,
    /// The body itself failed (the client went away).
    broken: AtomicBool,
    /// The body sent nothing for the idle timeout.
    timed_out: AtomicBool,
}

impl Default for Meter {
    fn default() -> Self {
        Self {
            read: AtomicU64::new(0),
            cap: AtomicU64::new(u64::MAX),
            broken: AtomicBool::new(false),
            timed_out: AtomicBool::new(false),
        }
    }
}

/// How many bytes the body hands over in one go before it lets the task yield: the multipart parser reads every
/// chunk that is ready into its buffer, so a fast client would otherwise fill memory faster than a storage writes.
const READY_RUN: usize = 256 << 10;

struct Metered<E> {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, E>> + Send>>,
    meter: Arc<Meter>,
    ready_run: usize,
    idle: Duration,
    /// Made at the first wait and reset at each later one, so a chunk costs no allocation.
    idle_timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Whether the last poll of the body found nothing: the timer runs only while the reader waits on the client.
    waiting: bool,
}

impl<E> Metered<E> {
    /// Whether the client has now sent nothing for the idle timeout, counted from the first poll that found
    /// nothing (time the reader spends writing is not the client's).
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.waiting {
            let Some(deadline) = tokio::time::Instant::now().checked_add(self.idle) else {
                return false;
            };
            self.waiting = true;
            match &mut self.idle_timer {
                Some(timer) => timer.as_mut().reset(deadline),
                None => self.idle_timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        self.idle_timer
            .as_mut()
            .is_some_and(|timer| timer.as_mut().poll(cx).is_ready())
    }
}

impl<E: Into<BoxError>> Stream for Metered<E> {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.meter.timed_out.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        if this.ready_run >= READY_RUN {
            this.ready_run = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let Poll::Ready(item) = this.inner.as_mut().poll_next(cx) else {
            if this.idle_expired(cx) {
                this.meter.timed_out.store(true, Ordering::Relaxed);
                let message = format!("the client sent nothing for {:?}", this.idle);
                return Poll::Ready(Some(Err(message.into())));
            }
            return Poll::Pending;
        };
        this.waiting = false;
        match item {
            Some(Ok(chunk)) => {
                this.ready_run += chunk.len();
                let read = this
                    .meter
                    .read
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed)
                    + chunk.len() as u64;
                if read > this.meter.cap.load(Ordering::Relaxed) {
                    return Poll::Ready(Some(Err(
                        "the refused request's body is too long to drain".into(),
                    )));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Some(Err(e)) => {
                this.meter.broken.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(e.into())))
            }
            None => {
                this.ready_run = 0;
                Poll::Ready(None)
            }
        }
    }
}

/// How far one file got: its bytes so far, whether it passed the limit, and the form's error if it broke.
#[derive(Debug, Default)]
struct Progress {
    seen: AtomicU64,
    tripped: AtomicBool,
    form_error: Mutex<Option<multer::Error>>,
}

impl Progress {
    fn take_form_error(&self) -> Option<multer::Error> {
        self.form_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// A file field's bytes, failing once they pass the limit: the failure makes `save` store nothing.
struct Limited {
    field: multer::Field<'static>,
    limit: u64,
    progress: Arc<Progress>,
    done: bool,
}

impl Stream for Limited {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match std::task::ready!(this.field.poll_next_unpin(cx)) {
            Some(Ok(chunk)) => {
                let seen = this
                    .progress
                    .seen
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed)
                    + chunk.len() as u64;
                if seen > this.limit {
                    this.done = true;
                    this.progress.tripped.store(true, Ordering::Relaxed);
                    let message = format!("the file is over the limit of {} bytes", this.limit);
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::FileTooLarge,
                        message,
                    ))));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Some(Err(e)) => {
                this.done = true;
                let error = io::Error::new(io::ErrorKind::InvalidData, e.to_string());
                *this
                    .progress
                    .form_error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                Poll::Ready(Some(Err(error)))
            }
            None => {
                this.done = true;
                Poll::Ready(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A form of text fields `name0=value0`, ... as one body chunk.
    fn text_form(values: &[Vec<u8>]) -> (String, Vec<Result<Bytes, io::Error>>) {
        let mut body = Vec::new();
        for (i, value) in values.iter().enumerate() {
            body.extend_from_slice(
                format!("--B\r\nContent-Disposition: form-data; name=\"name{i}\"\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--B--\r\n");
        (
            "multipart/form-data; boundary=B".to_owned(),
            vec![Ok(Bytes::from(body))],
        )
    }

    async fn refusal(values: &[Vec<u8>]) -> UploadError {
        let storage = storages_core::MemoryStorage::new();
        let (content_type, chunks) = text_form(values);
        let body = futures_util::stream::iter(chunks);
        receive_multipart(&storage, Some(&content_type), body, &UploadOptions::new())
            .await
            .expect_err("refused")
    }

    #[tokio::test]
    async fn too_many_text_fields_is_named_as_such() {
        let err = refusal(&vec![b"x".to_vec(); 65]).await;
        assert!(
            matches!(err, UploadError::TooManyFields { max: 64, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the form has more than 64 text fields (at `name64`)"
        );
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn a_text_field_over_its_size_is_named_as_such() {
        let err = refusal(&[b"short".to_vec(), vec![b'x'; (64 << 10) + 1]]).await;
        assert_eq!(
            err.to_string(),
            "text field `name1` is over the limit of 65536 bytes per text field"
        );
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
