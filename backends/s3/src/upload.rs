//! Streaming uploads: content up to one part in a single PUT, anything larger as a multipart upload holding at
//! most `concurrency` parts in memory, aborted on the server when it fails or is abandoned.
//!
//! Multipart uploads go through object_store's low-level `MultipartStore`, so that the upload id is known: an
//! upload that cannot be aborted is named in the error, and a cancelled one can be aborted after its save is gone.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::StreamExt;
use object_store::aws::AmazonS3;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{PutMultipartOptions, PutPayload, PutResult};
use storages_core::ByteStream;
use tokio::task::JoinError;

use crate::aborts::{self, Parts, UploadRef};

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
    /// Starting the multipart upload failed: its id is unknown, though the server may have made it before its
    /// answer was lost.
    Create(object_store::Error),
    Store(object_store::Error),
}

/// A failed multipart upload: why, and the upload left on the server when aborting it failed too.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) cause: UploadError,
    pub(crate) left: Option<(String, object_store::Error)>,
}

impl From<UploadError> for Failed {
    fn from(cause: UploadError) -> Self {
        Self { cause, left: None }
    }
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

/// Where a multipart upload goes and how it is cut.
pub(crate) struct Plan<'a> {
    pub(crate) store: &'a Arc<AmazonS3>,
    pub(crate) bucket: &'a str,
    pub(crate) path: &'a Path,
    pub(crate) options: PutMultipartOptions,
    pub(crate) part_size: usize,
    pub(crate) concurrency: usize,
}

/// Uploads `first` and then the rest of `rest` in parts of at least `part_size` bytes, with at most `concurrency`
/// parts in flight. Any failure aborts the upload on the server before returning; so does dropping the returned
/// future, in a task of its own (see [`crate::settle_aborts`]).
pub(crate) async fn multipart(
    plan: Plan<'_>,
    first: PutPayload,
    rest: ByteStream<'_>,
) -> Result<PutResult, Failed> {
    let upload_ref = crate::aborts::create(
        Arc::clone(plan.store),
        plan.path.clone(),
        plan.options,
        plan.bucket,
    )
    .await
    .map_err(UploadError::Create)?;
    let mut upload = Upload {
        store: Arc::clone(plan.store),
        path: plan.path.clone(),
        upload: Some(upload_ref),
        parts: Parts::new(),
        done: Vec::new(),
    };
    match upload
        .send(first, rest, plan.part_size, plan.concurrency)
        .await
    {
        Ok(result) => Ok(result),
        Err(cause) => Err(Failed {
            cause,
            left: upload.abort().await,
        }),
    }
}

/// A multipart upload under way: aborted on the server unless completed, also when dropped mid-way.
struct Upload {
    store: Arc<AmazonS3>,
    path: Path,
    /// `None` once completed or aborted.
    upload: Option<UploadRef>,
    parts: Parts,
    /// Ids of the parts uploaded so far, by index.
    done: Vec<Option<PartId>>,
}

impl Upload {
    async fn send(
        &mut self,
        first: PutPayload,
        mut rest: ByteStream<'_>,
        part_size: usize,
        concurrency: usize,
    ) -> Result<PutResult, UploadError> {
        let id = self.id()?.to_owned();
        // Parts run as tasks, so they progress while the next part is read from a slow source (a client's
        // upload) and their checksums use every core.
        self.spawn_part(&id, first);
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
                while self.parts.len() >= concurrency {
                    if let Some(finished) = self.parts.join_next().await {
                        self.record(finished)?;
                    }
                }
                self.spawn_part(&id, PutPayload::from_iter(std::mem::take(&mut chunks)));
                len = 0;
            }
            // A part that failed stops the upload now, not after the source is read to its end.
            while let Some(finished) = self.parts.try_join_next() {
                self.record(finished)?;
            }
            if ended {
                break;
            }
        }
        while let Some(finished) = self.parts.join_next().await {
            self.record(finished)?;
        }
        let parts = std::mem::take(&mut self.done)
            .into_iter()
            .collect::<Option<Vec<PartId>>>()
            .ok_or_else(|| UploadError::Content(io::Error::other("a part was never uploaded")))?;
        let result = self
            .store
            .complete_multipart(&self.path, &id, parts)
            .await
            .map_err(UploadError::Store)?;
        self.upload = None;
        Ok(result)
    }

    fn id(&self) -> Result<&str, UploadError> {
        self.upload
            .as_ref()
            .map(|u| u.upload_id.as_str())
            .ok_or_else(|| UploadError::Content(io::Error::other("the upload is over")))
    }

    fn spawn_part(&mut self, id: &str, payload: PutPayload) {
        let index = self.done.len();
        self.done.push(None);
        let (store, path, id) = (Arc::clone(&self.store), self.path.clone(), id.to_owned());
        self.parts.spawn(async move {
            let part = store.put_part(&path, &id, index, payload).await;
            (index, part)
        });
    }

    /// Keeps the id of a finished part, or says why it failed.
    fn record(
        &mut self,
        finished: Result<(usize, object_store::Result<PartId>), JoinError>,
    ) -> Result<(), UploadError> {
        match finished {
            Ok((index, Ok(part))) => {
                self.done[index] = Some(part);
                Ok(())
            }
            Ok((_, Err(e))) => Err(UploadError::Store(e)),
            Err(e) => Err(UploadError::Content(io::Error::other(format!(
                "a part upload failed: {e}"
            )))),
        }
    }

    /// Aborts the upload and waits for the answer: `None` when nothing is left on the server, else the upload id
    /// and why the abort failed.
    async fn abort(&mut self) -> Option<(String, object_store::Error)> {
        let upload = self.upload.take()?;
        let id = upload.upload_id.clone();
        let parts = std::mem::take(&mut self.parts);
        let answer = aborts::start(Arc::clone(&self.store), self.path.clone(), upload, parts);
        match answer.await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some((id, e)),
            Err(_) => Some((
                id,
                object_store::Error::Generic {
                    store: "S3",
                    source: "the runtime ended before the abort finished".into(),
                },
            )),
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // A cancelled save: abort in a task of its own, which `settle_aborts` waits for.
        if let Some(upload) = self.upload.take() {
            let parts = std::mem::take(&mut self.parts);
            drop(aborts::start(
                Arc::clone(&self.store),
                self.path.clone(),
                upload,
                parts,
            ));
        }
    }
}
