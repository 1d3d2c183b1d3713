//! Deciding what to copy: every file checked against the one listing of the target taken before any copy. A file
//! is skipped only when its size and content MD5 match what is stored; modification times never decide.
//!
//! Hashes come from where they are cheapest: a listing (an S3 ETag, memory), else one `stat` (the MD5 an S3 write
//! records in object metadata, which listings do not return), else reading the file, on this machine only (a
//! remote target whose hash is unknown gets the file again: reading it would cost about as much). Each is looked
//! up only when the sizes match, and the source is hashed only when the target's hash is known.

use std::collections::HashMap;

use futures_util::{StreamExt, TryStreamExt};
use storages_core::{Md5, Metadata, Result, Storage};

use super::{Body, Item, Planned, Progress, join_error};

/// The files split into those to copy and those already stored (these with their MD5 filled in), in input order.
#[derive(Debug)]
pub(crate) struct Decided<T> {
    pub upload: Vec<T>,
    pub unchanged: Vec<T>,
}

impl<T> Default for Decided<T> {
    fn default() -> Self {
        Self {
            upload: Vec::new(),
            unchanged: Vec::new(),
        }
    }
}

/// Compares every file with the listing of `target`, `jobs` at a time (the caller sets the stage).
pub(crate) async fn decide<T: Planned>(
    items: Vec<T>,
    listing: &HashMap<String, Metadata>,
    target: &dyn Storage,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Decided<T>> {
    let checks = futures_util::stream::iter(items.into_iter().map(|mut planned| async move {
        let stored = listing.get(planned.item().name.as_str());
        let same = holds(target, stored, planned.item_mut()).await?;
        progress.file_done();
        Ok::<_, storages_core::Error>((planned, same))
    }))
    .buffered(jobs.max(1));
    let mut decided = Decided::default();
    let mut checks = std::pin::pin!(checks);
    while let Some((planned, same)) = checks.try_next().await? {
        if same {
            decided.unchanged.push(planned);
        } else {
            decided.upload.push(planned);
        }
    }
    Ok(decided)
}

/// Whether `stored` (the target's listing entry) holds `item`'s content; fills in `item.md5` when it is read.
async fn holds(target: &dyn Storage, stored: Option<&Metadata>, item: &mut Item) -> Result<bool> {
    let Some(stored) = stored else {
        return Ok(false);
    };
    if stored.size != item.size {
        return Ok(false);
    }
    let local = target.capabilities().local_paths;
    let theirs = match stored.content_md5 {
        Some(md5) => md5,
        // Its name says what it holds: no request needed.
        None if item.content_addressed && !local => return Ok(true),
        None => match stored_md5(target, stored, local).await {
            Some(md5) => md5,
            // Unreadable on this machine means gone or broken: copied again.
            None => return Ok(item.content_addressed && !local),
        },
    };
    let ours = match item.md5 {
        Some(md5) => md5,
        None => match source_md5(item).await {
            Ok(md5) => {
                item.md5 = Some(md5);
                md5
            }
            // Removed from the source since the listing: the copy finds out and says so.
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) => return Err(e),
        },
    };
    Ok(ours == theirs)
}

/// The MD5 of a stored file the listing gave none for: asked for with one `stat` (an S3 write records it in the
/// object's metadata; a `file:` write records a declared one in an extended attribute), else read from the file
/// where it is on this machine. A file that vanished or cannot be read has none (it is simply copied again).
async fn stored_md5(target: &dyn Storage, stored: &Metadata, local: bool) -> Option<Md5> {
    let stat = target.stat(&stored.name).await.ok()?;
    if let Some(md5) = stat.content_md5.filter(|_| stat.size == stored.size) {
        return Some(md5);
    }
    if local {
        let got = target.get(&stored.name, None).await.ok()?;
        let (size, md5) = Md5::of_stream(got.stream).await.ok()?;
        return (size == stored.size).then_some(md5);
    }
    None
}

/// The MD5 of what `item` would copy, read from its body: asked for first where the source has no files on this
/// machine (one `stat` finds the MD5 an S3 write records, or memory keeps), read otherwise.
async fn source_md5(item: &Item) -> Result<Md5> {
    match &item.body {
        Body::Bytes(bytes) => Ok(Md5::of(bytes)),
        Body::File(path) => {
            let path = path.clone();
            let shown = path.display().to_string();
            tokio::task::spawn_blocking(move || {
                std::fs::File::open(&path).and_then(|mut f| Md5::of_reader(&mut f))
            })
            .await
            .map_err(|e| join_error(&shown, e))?
            .map(|(_, md5)| md5)
            .map_err(|e| storages_core::Error::io("read", shown, e))
        }
        Body::Copy(_) => Err(storages_core::Error::Backend {
            backend: "transfer",
            message: format!(
                "the copy `{}` was planned without the MD5 of its source",
                item.name
            ),
            source: None,
        }),
        Body::Stored(source) => {
            if !source.capabilities().local_paths {
                if let Some(md5) = source.stat(&item.name).await?.content_md5 {
                    return Ok(md5);
                }
            }
            let got = source.get(&item.name, None).await?;
            let (_, md5) = Md5::of_stream(got.stream)
                .await
                .map_err(|e| storages_core::Error::io("read", item.name.as_str(), e))?;
            Ok(md5)
        }
    }
}
