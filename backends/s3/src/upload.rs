//! Streaming uploads: content up to one part in a single PUT, anything larger as a multipart upload holding at
//! most `concurrency` parts in memory, aborted on the server when it fails or is abandoned.

use std::io;

use bytes::Bytes;
use futures_util::stream::StreamExt;
use object_store::path::Path;
use object_store::{MultipartUpload, ObjectStore, PutMultipartOptions, PutPayload, PutResult};
use storages_core::ByteStream;
use tokio::task::JoinSet;

/// Content read up to the first part boundary: all of it, or the first part and the rest still to come.
pub(crate) enum Head<'a> {
    /// The whole content, at most one part long.
    Whole(PutPayload),
    /// The first part (at least one part long) and the rest of the stream.
    Partial(PutPayload, ByteStream<'a>),
}

/// Why an upload failed: the content itself, or the server.
#[derive(Debug)]
pub(crate) enum UploadError {
    Content(io::Error),
    Store(object_store::Error),
}

/// Reads `stream` until it ends or holds `part_size` bytes, keeping its chunks as they are (no copy).
pub(crate) async fn read_head(
    mut stream: ByteStream<'_>,
    part_size: usize,
) -> io::Result<Head<'_>> {
    let mut chunks = Vec::new();
    let mut len = 0;
    while len < part_size {
        match stream.next().await {
            Some(chunk) => {
                let chunk = chunk?;
                len += chunk.len();
                chunks.push(chunk);
            }
            None => return Ok(Head::Whole(PutPayload::from_iter(chunks))),
        }
    }
    Ok(Head::Partial(PutPayload::from_iter(chunks), stream))
}

/// The outcome of a part task: its own error, or a panic turned into one.
fn joined(
    done: Result<object_store::Result<()>, tokio::task::JoinError>,
) -> Result<(), UploadError> {
    match done {
        Ok(result) => result.map_err(UploadError::Store),
        Err(e) => Err(UploadError::Content(io::Error::other(format!(
            "a part upload failed: {e}"
        )))),
    }
}

/// Aborts a multipart upload that was neither completed nor aborted, when dropped (a failed or cancelled save).
struct AbortOnDrop(Option<Box<dyn MultipartUpload>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let (Some(mut upload), Ok(runtime)) =
            (self.0.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                // Best effort: a server that cannot be reached now expires the parts by its lifecycle rules.
                let _ = upload.abort().await;
            });
        }
    }
}

/// Uploads `first` and then the rest of `rest` in parts of at least `part_size` bytes, with at most `concurrency`
/// parts in flight. Any failure aborts the upload on the server before returning.
pub(crate) async fn multipart(
    store: &dyn ObjectStore,
    path: &Path,
    options: PutMultipartOptions,
    first: PutPayload,
    mut rest: ByteStream<'_>,
    part_size: usize,
    concurrency: usize,
) -> Result<PutResult, UploadError> {
    let upload = store
        .put_multipart_opts(path, options)
        .await
        .map_err(UploadError::Store)?;
    let mut guard = AbortOnDrop(Some(upload));
    let result = async {
        let upload = guard
            .0
            .as_mut()
            .ok_or_else(|| UploadError::Content(io::Error::other("upload gone")))?;
        // Parts run as tasks, so they progress while the next part is read from a slow source (a client's
        // upload) and their checksums use every core.
        let mut in_flight = JoinSet::new();
        in_flight.spawn(upload.put_part(first));
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut len = 0;
        loop {
            let next = rest.next().await;
            let ended = next.is_none();
            if let Some(chunk) = next {
                let chunk = chunk.map_err(UploadError::Content)?;
                len += chunk.len();
                chunks.push(chunk);
            }
            if len >= part_size || (ended && len > 0) {
                while in_flight.len() >= concurrency {
                    if let Some(done) = in_flight.join_next().await {
                        joined(done)?;
                    }
                }
                in_flight
                    .spawn(upload.put_part(PutPayload::from_iter(std::mem::take(&mut chunks))));
                len = 0;
            }
            if ended {
                break;
            }
        }
        while let Some(done) = in_flight.join_next().await {
            joined(done)?;
        }
        upload.complete().await.map_err(UploadError::Store)
    }
    .await;
    match result {
        Ok(done) => {
            guard.0 = None;
            Ok(done)
        }
        Err(e) => {
            if let Some(mut upload) = guard.0.take() {
                let _ = upload.abort().await;
            }
            Err(e)
        }
    }
}
