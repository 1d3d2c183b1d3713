//! Changing the target: copies and deletions, `jobs` at a time. The first failure stops the rest; in-flight writes
//! are dropped, which every backend turns into "nothing stored" (each `put` is atomic), so a stopped run leaves
//! whole files or none, and the next run copies what is missing.

use std::sync::{Arc, Mutex, PoisonError};

use futures_util::{StreamExt, TryStreamExt};
use storages_core::{Content, Md5, Md5Hasher, Name, PutMode, Result, Storage};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::{Body, Planned, Progress};

/// The memory that copies in flight may hold at once, shared by every copy of a run. A target may hold a file's
/// content up to a part before sending it (S3 sends content of one part in one request, and keeps a few parts in
/// flight for larger ones), so without a bound `jobs` copies of large files would hold `jobs` parts: 32 jobs of
/// 8 MiB photos, 256 MiB. Each copy reserves its size, at most [`FILE_SHARE`], before it starts: small files run
/// `jobs` at a time as before, large ones fewer.
#[derive(Debug)]
pub(crate) struct Budget(Semaphore);

/// What the copies of one run may hold in all: 128 MiB, in units of 64 KiB.
const BUDGET_UNITS: u32 = 2048;
const UNIT: u64 = 64 << 10;
/// The most one copy reserves: what S3 holds for one upload with its default part size and parts in flight.
const FILE_SHARE: u64 = 32 << 20;

impl Budget {
    /// The whole budget, free.
    pub(crate) fn new() -> Self {
        Self(Semaphore::new(BUDGET_UNITS as usize))
    }

    async fn reserve(&self, size: u64) -> Option<SemaphorePermit<'_>> {
        let units = size.clamp(1, FILE_SHARE).div_ceil(UNIT);
        // At most FILE_SHARE / UNIT = 512 units, so it fits.
        self.0
            .acquire_many(u32::try_from(units).unwrap_or(BUDGET_UNITS))
            .await
            .ok()
    }
}

impl Default for Budget {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`upload`] did with the files it was given.
#[derive(Debug)]
pub(crate) struct Uploaded<T> {
    /// Stored in the target.
    pub copied: Vec<T>,
    /// Files of a source storage that were gone by the time they were to be read (removed since the listing):
    /// nothing to copy.
    pub vanished: Vec<T>,
}

/// Stores every file, replacing what is there; with `hash`, each one's `md5` is set to the MD5 of the bytes that
/// were sent (what a listing said may be older). Bytes in memory go as they are; files and stored files are
/// streamed, within `budget`.
pub(crate) async fn upload<T: Planned>(
    target: &dyn Storage,
    items: Vec<T>,
    jobs: usize,
    hash: bool,
    budget: &Budget,
    progress: &dyn Progress,
) -> Result<Uploaded<T>> {
    let mut done = Uploaded {
        copied: Vec::new(),
        vanished: Vec::new(),
    };
    let copies = futures_util::stream::iter(items.into_iter().map(|mut planned| async move {
        let _reserved = budget.reserve(planned.item().size).await;
        let copied = copy(target, &mut planned, hash, progress).await?;
        progress.file_done();
        Ok::<_, storages_core::Error>((planned, copied))
    }))
    .buffer_unordered(jobs.max(1));
    let mut copies = std::pin::pin!(copies);
    while let Some((planned, copied)) = copies.try_next().await? {
        if copied {
            done.copied.push(planned);
        } else {
            done.vanished.push(planned);
        }
    }
    Ok(done)
}

/// Copies one file: `false` when it came from a source storage that no longer has it.
async fn copy<T: Planned>(
    target: &dyn Storage,
    planned: &mut T,
    hash: bool,
    progress: &dyn Progress,
) -> Result<bool> {
    let item = planned.item();
    let (mut content, content_type, cache_control) = match &item.body {
        Body::Bytes(bytes) => {
            progress.bytes(bytes.len() as u64);
            (Content::from_bytes(bytes.clone()), None, None)
        }
        Body::File(path) => (
            Content::from_file(path.clone()).with_length(item.size),
            None,
            None,
        ),
        Body::Copy(from) => {
            target.copy_within(from, &item.name).await?;
            progress.bytes(item.size);
            return Ok(true);
        }
        Body::Stored(source) => {
            let got = match source.get(&item.name, None).await {
                Ok(got) => got,
                Err(e) if e.is_not_found() => return Ok(false),
                Err(e) => return Err(e),
            };
            // The size now, not as listed: a file replaced since is copied whole, as it is now.
            let content = Content::from_stream(got.stream).with_length(got.meta.size);
            (content, got.meta.content_type, got.meta.cache_control)
        }
    };
    let hasher = match &item.body {
        Body::Bytes(_) => None,
        _ => hash.then(|| Arc::new(Mutex::new(Md5Hasher::new()))),
    };
    if !matches!(item.body, Body::Bytes(_)) {
        content = measured(content, hasher.clone(), progress)
            .await
            .map_err(|e| storages_core::Error::io("read the content for", item.name.as_str(), e))?;
    }
    if let Some(content_type) = item.content_type.clone().or(content_type) {
        content = content.with_content_type(content_type);
    }
    if let Some(cache_control) = item.cache_control.clone().or(cache_control) {
        content = content.with_cache_control(cache_control);
    }
    // The MD5 of bytes made or read here is known before they are sent: a target that keeps hashes records it.
    if let (Some(md5), Body::Bytes(_) | Body::File(_)) = (item.md5, &item.body) {
        content = content.with_md5(md5);
    }
    target.put(&item.name, content, PutMode::Overwrite).await?;
    let item = planned.item_mut();
    if let Some(hasher) = hasher {
        let hasher = std::mem::take(&mut *hasher.lock().unwrap_or_else(PoisonError::into_inner));
        item.md5 = Some(hasher.finish());
    } else if let (true, Body::Bytes(bytes)) = (hash, &item.body) {
        item.md5 = Some(Md5::of(bytes));
    }
    Ok(true)
}

/// `content` (with no type or `Cache-Control` set yet) as a stream that reports the bytes going through it and
/// hashes them when asked.
async fn measured<'a>(
    content: Content<'a>,
    hasher: Option<Arc<Mutex<Md5Hasher>>>,
    progress: &'a dyn Progress,
) -> std::io::Result<Content<'a>> {
    let (stream, length) = content.into_stream().await?;
    let stream = stream.inspect(move |chunk| {
        if let Ok(chunk) = chunk {
            progress.bytes(chunk.len() as u64);
            if let Some(hasher) = &hasher {
                hasher
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .update(chunk);
            }
        }
    });
    let mut content = Content::from_stream(stream);
    if let Some(length) = length {
        content = content.with_length(length);
    }
    Ok(content)
}

/// Removes every name.
pub(crate) async fn delete(
    target: &dyn Storage,
    names: &[Name],
    jobs: usize,
    progress: &dyn Progress,
) -> Result<()> {
    futures_util::stream::iter(names.iter().map(|name| async move {
        target.delete(name).await?;
        progress.file_done();
        Ok::<(), storages_core::Error>(())
    }))
    .buffer_unordered(jobs.max(1))
    .try_collect::<()>()
    .await
}
