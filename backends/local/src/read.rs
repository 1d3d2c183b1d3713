//! Reads and listings.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use storages_core::{ByteRange, CHUNK_SIZE, Error, GetResult, Listing, Metadata, Name, Result};
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use crate::hooks::retry_stale;
use crate::paths::{is_temp, metadata_of, path_of};

/// Opens `name` (a regular file; a directory is `NotFound`) positioned at the start of `range`. Files of at most
/// one chunk are read right away, saving the stream a trip to the blocking pool. An `ESTALE` until the stream is
/// handed out is retried `retries` times; once bytes flow, a stale handle is an error, never a silent switch to
/// another version of the file.
pub(crate) fn open(
    root: &Path,
    name: &Name,
    range: Option<ByteRange>,
    retries: u32,
) -> Result<GetResult> {
    retry_stale(retries, || open_once(root, name, range))
}

fn open_once(root: &Path, name: &Name, range: Option<ByteRange>) -> Result<GetResult> {
    let path = path_of(root, name);
    let not_found = || Error::NotFound {
        name: name.to_string(),
    };
    let mut file = File::open(&path).map_err(|e| Error::io("open", name.as_str(), e))?;
    let stat = file
        .metadata()
        .map_err(|e| Error::io("stat", name.as_str(), e))?;
    if !stat.is_file() {
        return Err(not_found());
    }
    let meta = metadata_of(name.clone(), &stat);
    let size = meta.size;
    let span = match range {
        None => 0..size,
        Some(r) => r.resolve(size).ok_or_else(|| Error::RangeNotSatisfiable {
            name: name.to_string(),
            range: r,
            size,
        })?,
    };
    let len = span.end - span.start;
    let fail = |e: io::Error| Error::io("read", name.as_str(), e);
    if span.start > 0 {
        file.seek(SeekFrom::Start(span.start)).map_err(fail)?;
    }
    let stream = if len <= CHUNK_SIZE as u64 {
        let mut buf = BytesMut::zeroed(len as usize);
        file.read_exact(&mut buf).map_err(fail)?;
        let bytes: Bytes = buf.freeze();
        stream::once(async move { Ok(bytes) }).boxed()
    } else {
        let reader = tokio::fs::File::from_std(file).take(len);
        ReaderStream::with_capacity(reader, CHUNK_SIZE).boxed()
    };
    Ok(GetResult {
        meta,
        range: span,
        stream,
    })
}

/// The metadata of `name`, a regular file.
pub(crate) fn stat(root: &Path, name: &Name, retries: u32) -> Result<Metadata> {
    let stat = retry_stale(retries, || {
        fs::metadata(path_of(root, name)).map_err(|e| Error::io("stat", name.as_str(), e))
    })?;
    if !stat.is_file() {
        return Err(Error::NotFound {
            name: name.to_string(),
        });
    }
    Ok(metadata_of(name.clone(), &stat))
}

/// One directory's entries as (sub-directories, files), temporary files and unnamable entries left out; the whole
/// directory is read again (up to `retries` times) when its handle went stale meanwhile.
pub(crate) fn list_dir(root: &Path, prefix: Option<&Name>, retries: u32) -> Result<Listing> {
    retry_stale(retries, || list_dir_once(root, prefix))
}

fn list_dir_once(root: &Path, prefix: Option<&Name>) -> Result<Listing> {
    let dir = prefix.map_or_else(|| root.to_path_buf(), |p| path_of(root, p));
    let mut listing = Listing::default();
    let label = prefix.map_or("", Name::as_str);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(listing);
        }
        Err(e) => return Err(Error::io("list", label, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", label, e))?;
        match classify(prefix, &entry) {
            Some(Entry::Dir(segment)) => listing.dirs.push(segment),
            Some(Entry::File(meta)) => listing.files.push(meta),
            None => {}
        }
    }
    listing.dirs.sort();
    listing.files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(listing)
}

enum Entry {
    Dir(String),
    File(Metadata),
}

/// What a directory entry is to the storage: a directory, a file, or nothing (temporary files, names that are not
/// valid [`Name`]s, sockets and the like, entries that vanished meanwhile).
fn classify(prefix: Option<&Name>, entry: &fs::DirEntry) -> Option<Entry> {
    let segment = entry.file_name().into_string().ok()?;
    let name = match prefix {
        Some(p) => p.join(&segment).ok()?,
        None => Name::new(segment.clone()).ok()?,
    };
    let file_type = entry.file_type().ok()?;
    if file_type.is_dir() {
        return Some(Entry::Dir(segment));
    }
    if is_temp(&segment) {
        return None;
    }
    // `metadata` follows symlinks: a link to a file lists as that file.
    let stat = entry
        .metadata()
        .ok()
        .filter(|_| !file_type.is_symlink())
        .or_else(|| fs::metadata(entry.path()).ok())?;
    if stat.is_dir() {
        return Some(Entry::Dir(segment));
    }
    stat.is_file()
        .then(|| Entry::File(metadata_of(name, &stat)))
}

/// Every file under `prefix`, walked on a blocking thread and sent in batches, so a huge tree streams.
pub(crate) fn walk(
    root: PathBuf,
    prefix: Option<Name>,
    retries: u32,
) -> BoxStream<'static, Result<Metadata>> {
    const BATCH: usize = 256;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<Metadata>>>(4);
    tokio::task::spawn_blocking(move || {
        let mut stack = vec![prefix];
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(dir) = stack.pop() {
            let listing = match list_dir(&root, dir.as_ref(), retries) {
                Ok(l) => l,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            for sub in listing.dirs.into_iter().rev() {
                let name = match &dir {
                    Some(d) => d.join(&sub),
                    None => Name::new(sub),
                };
                stack.extend(name.ok().map(Some));
            }
            for file in listing.files {
                batch.push(file);
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    if tx.blocking_send(Ok(full)).is_err() {
                        return; // the listing was dropped
                    }
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(batch));
        }
    });
    stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|batch| (batch, rx))
    })
    .flat_map(|batch: Result<Vec<Metadata>>| match batch {
        Ok(files) => stream::iter(files.into_iter().map(Ok).collect::<Vec<_>>()),
        Err(e) => stream::iter(vec![Err(e)]),
    })
    .boxed()
}
