//! Reads and listings, every name resolved beneath the root (see `root.rs`).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use rustix::fs::{FileType, OFlags, RawDir};
use rustix::io::Errno;
use storages_core::{ByteRange, Error, GetResult, Listing, Md5, Metadata, Name, Result};

use crate::chunks::{Chunks, ReadOn};
use crate::hooks::retry_stale;
use crate::paths::is_temp;
use crate::root::{Kind, Root, kind_of, metadata_of, recorded_md5, stat_at, stat_fd};

/// Opens `name` (a regular file; a directory is `NotFound`) for the span `range` asks for, and reads its first
/// chunk, so that a failing read is an error of `get` rather than a response cut short. An `ESTALE` until the
/// stream is handed out is retried `retries` times; once bytes flow, a stale handle is an error, never a silent
/// switch to another version of the file. Runs on the blocking pool.
pub(crate) fn open(
    root: &Root,
    name: &Name,
    range: Option<ByteRange>,
    retries: u32,
    read_on: ReadOn,
) -> Result<GetResult> {
    retry_stale(retries, || {
        let handle = root
            .handle()
            .map_err(|e| Error::io("open", name.as_str(), e))?;
        let fd = root.beneath(handle.as_fd(), name.as_str(), READ_FLAGS, name.as_str())?;
        let (meta, mut chunks) = prepare(fd, name, range, read_on)?;
        chunks
            .read_first_blocking()
            .map_err(|e| Error::io("read", name.as_str(), e))?;
        Ok(meta.into_result(chunks))
    })
}

/// [`open`] on the calling task, for a held root on a local disk, when the kernel has the name's directories and
/// the first chunk cached: `None` when any of it would wait for the disk (the caller then uses [`open`]).
pub(crate) fn open_cached(
    root: &Root,
    name: &Name,
    range: Option<ByteRange>,
) -> Option<Result<GetResult>> {
    let fd = match root.beneath_cached(name.as_str(), READ_FLAGS, name.as_str())? {
        Ok(fd) => fd,
        Err(e) => return Some(Err(e)),
    };
    let (meta, mut chunks) = match prepare(fd, name, range, ReadOn::CacheFirst) {
        Ok(prepared) => prepared,
        Err(e) => return Some(Err(e)),
    };
    match chunks.read_first_cached() {
        Ok(true) => Some(Ok(meta.into_result(chunks))),
        Ok(false) => None,
        Err(e) => Some(Err(Error::io("read", name.as_str(), e))),
    }
}

/// O_NONBLOCK: a FIFO planted under the root must not hang the reader; regular files ignore it.
const READ_FLAGS: OFlags = OFlags::RDONLY.union(OFlags::NONBLOCK);

/// What an open file tells before its bytes are read.
struct Opened {
    meta: Metadata,
    span: std::ops::Range<u64>,
}

impl Opened {
    fn into_result(self, chunks: Chunks) -> GetResult {
        GetResult {
            meta: self.meta,
            range: self.span,
            stream: chunks.boxed(),
        }
    }
}

/// The metadata of the open file `fd` (a regular file, else `NotFound`), and a stream of the span `range` asks for.
fn prepare(
    fd: OwnedFd,
    name: &Name,
    range: Option<ByteRange>,
    read_on: ReadOn,
) -> Result<(Opened, Chunks)> {
    let stat = stat_fd(fd.as_fd()).map_err(|e| Error::io("stat", name.as_str(), e.into()))?;
    let meta = file_metadata(name, &stat, None)?;
    let size = meta.size;
    let span = ByteRange::span_of(range, name, size)?;
    let chunks = Chunks::new(File::from(fd), span.clone(), read_on);
    Ok((Opened { meta, span }, chunks))
}

/// The metadata of `name`, a regular file.
pub(crate) fn stat(root: &Root, name: &Name, retries: u32) -> Result<Metadata> {
    retry_stale(retries, || {
        let handle = root
            .handle()
            .map_err(|e| Error::io("stat", name.as_str(), e))?;
        // Opened for reading (a FIFO must not block it) so the recorded MD5 can be read too; a file this process
        // may not read is still stat-ed.
        let opened = root.beneath(handle.as_fd(), name.as_str(), READ_FLAGS, name.as_str());
        let (fd, readable) = match opened {
            Err(Error::Io { ref source, .. })
                if source.kind() == io::ErrorKind::PermissionDenied =>
            {
                let fd =
                    root.beneath(handle.as_fd(), name.as_str(), OFlags::PATH, name.as_str())?;
                (fd, false)
            }
            other => (other?, true),
        };
        opened_metadata(fd.as_fd(), name, readable)
    })
}

/// [`stat`] on the calling task when the kernel has the name's directories cached (see [`open_cached`]). A file
/// this process may not read is left to [`stat`].
pub(crate) fn stat_cached(root: &Root, name: &Name) -> Option<Result<Metadata>> {
    let opened = root.beneath_cached(name.as_str(), READ_FLAGS, name.as_str())?;
    if let Err(Error::Io { source, .. }) = &opened {
        if source.kind() == io::ErrorKind::PermissionDenied {
            return None;
        }
    }
    Some(opened.and_then(|fd| opened_metadata(fd.as_fd(), name, true)))
}

/// The metadata of the open file `fd` named `name` (a regular file, else `NotFound`), with the MD5 recorded for it
/// when `readable` (opened for reading, so its record can be read).
fn opened_metadata(fd: BorrowedFd<'_>, name: &Name, readable: bool) -> Result<Metadata> {
    let stat = stat_fd(fd).map_err(|e| Error::io("stat", name.as_str(), e.into()))?;
    let md5 = readable.then(|| recorded_md5(fd, &stat)).flatten();
    file_metadata(name, &stat, md5)
}

fn file_metadata(name: &Name, stat: &rustix::fs::Statx, md5: Option<Md5>) -> Result<Metadata> {
    if kind_of(stat) != Kind::File {
        return Err(Error::NotFound {
            name: name.to_string(),
        });
    }
    let mut meta = metadata_of(name.clone(), stat);
    meta.content_md5 = md5;
    Ok(meta)
}

/// One directory's entries as (sub-directories, files), temporary files and unnamable entries left out; the whole
/// directory is read again (up to `retries` times) when its handle went stale meanwhile.
pub(crate) fn list_dir(root: &Root, prefix: Option<&Name>, retries: u32) -> Result<Listing> {
    retry_stale(retries, || {
        let label = prefix.map_or("", Name::as_str);
        let handle = root.handle().map_err(|e| Error::io("list", label, e))?;
        let Some(dir) = open_listed(root, handle.as_fd(), prefix, false)? else {
            return Ok(Listing::default());
        };
        let mut listing = Listing::default();
        for entry in entries(root, handle.as_fd(), dir, prefix)? {
            match entry {
                Entry::Dir(segment) => listing.dirs.push(segment),
                Entry::File(meta) => listing.files.push(meta),
            }
        }
        listing.dirs.sort();
        listing.files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(listing)
    })
}

/// The directory `prefix` names (the root for `None`) opened for reading, or `None` when there is none. With
/// `no_follow`, a symbolic link in its last segment is not followed (and counts as no directory): a walk goes only
/// into the real directories it found.
fn open_listed(
    root: &Root,
    handle: BorrowedFd<'_>,
    prefix: Option<&Name>,
    no_follow: bool,
) -> Result<Option<OwnedFd>> {
    let (rel, label) = prefix.map_or((".", ""), |p| (p.as_str(), p.as_str()));
    let mut flags = OFlags::RDONLY | OFlags::DIRECTORY;
    if no_follow {
        flags |= OFlags::NOFOLLOW;
    }
    match root.beneath(handle, rel, flags, label) {
        Ok(fd) => Ok(Some(fd)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(Error::Io { source, .. })
            if matches!(
                Errno::from_io_error(&source),
                Some(Errno::NOTDIR | Errno::LOOP)
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

enum Entry {
    Dir(String),
    File(Metadata),
}

/// The entries of the open directory `dir` (named `prefix`) as the storage shows them: real sub-directories,
/// regular files, and links that resolve to a regular file beneath the root. Temporary files, names that are not
/// valid [`Name`]s, linked directories, links leading outside, sockets and the like, and entries that vanished
/// meanwhile are left out.
fn entries(
    root: &Root,
    handle: BorrowedFd<'_>,
    dir: OwnedFd,
    prefix: Option<&Name>,
) -> Result<Vec<Entry>> {
    let label = prefix.map_or("", Name::as_str);
    let mut found = Vec::new();
    let mut buf = Vec::with_capacity(LISTING_BUFFER);
    let mut reader = RawDir::new(dir.as_fd(), buf.spare_capacity_mut());
    while let Some(entry) = reader.next() {
        let entry = entry.map_err(|e| Error::io("list", label, e.into()))?;
        let Ok(segment) = entry.file_name().to_str() else {
            continue;
        };
        // Temporary files (and directories named like them) are skipped before building a name, which would
        // refuse them anyway, at the cost of an error.
        if segment == "." || segment == ".." || is_temp(segment) {
            continue;
        }
        let Ok(name) = (match prefix {
            Some(p) => p.join(segment),
            None => Name::new(segment),
        }) else {
            continue;
        };
        let kind = match entry.file_type() {
            FileType::Directory => Some(Kind::Dir),
            FileType::RegularFile => Some(Kind::File),
            FileType::Symlink => Some(Kind::Symlink),
            FileType::Unknown => None,
            _ => Some(Kind::Other),
        };
        if let Some(listed) = classify(root, handle, dir.as_fd(), segment, name, kind) {
            found.push(listed);
        }
    }
    Ok(found)
}

/// Bytes of directory entries read per `getdents64` call.
const LISTING_BUFFER: usize = 32 * 1024;

/// What an entry of `dir` is to the storage; `kind` comes from the directory itself where the filesystem says.
fn classify(
    root: &Root,
    handle: BorrowedFd<'_>,
    dir: BorrowedFd<'_>,
    segment: &str,
    name: Name,
    kind: Option<Kind>,
) -> Option<Entry> {
    if kind == Some(Kind::Dir) {
        return Some(Entry::Dir(segment.to_owned()));
    }
    if kind == Some(Kind::Other) {
        return None;
    }
    let stat = stat_at(dir, segment).ok()?;
    match kind_of(&stat) {
        Kind::Dir => Some(Entry::Dir(segment.to_owned())),
        Kind::File => Some(Entry::File(metadata_of(name, &stat))),
        Kind::Symlink => {
            // Followed beneath the root only; a linked directory is neither listed nor entered.
            let target = root
                .beneath(handle, name.as_str(), OFlags::PATH, name.as_str())
                .ok()?;
            let stat = stat_fd(target.as_fd()).ok()?;
            (kind_of(&stat) == Kind::File).then(|| Entry::File(metadata_of(name, &stat)))
        }
        Kind::Other => None,
    }
}

/// Every file under `prefix`, walked on a blocking thread and sent in batches, so a huge tree streams. The walk
/// enters only real directories, never a symbolic link to one, so links cannot make it loop or leave the root.
pub(crate) fn walk(
    root: Arc<Root>,
    prefix: Option<Name>,
    retries: u32,
) -> BoxStream<'static, Result<Metadata>> {
    const BATCH: usize = 256;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<Metadata>>>(4);
    tokio::task::spawn_blocking(move || {
        let mut stack = vec![prefix];
        let mut batch = Vec::with_capacity(BATCH);
        let mut first = true;
        while let Some(dir) = stack.pop() {
            // The prefix asked for may itself be a link beneath the root; what the walk finds is never followed.
            let listed = retry_stale(retries, || walk_one(&root, dir.as_ref(), !first));
            first = false;
            let entries = match listed {
                Ok(entries) => entries,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            let mut subdirs = Vec::new();
            for entry in entries {
                match entry {
                    Entry::Dir(sub) => subdirs.push(sub),
                    Entry::File(file) => {
                        batch.push(file);
                        if batch.len() == BATCH {
                            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                            if tx.blocking_send(Ok(full)).is_err() {
                                return; // the listing was dropped
                            }
                        }
                    }
                }
            }
            subdirs.sort();
            for sub in subdirs.into_iter().rev() {
                let name = match &dir {
                    Some(d) => d.join(&sub),
                    None => Name::new(sub),
                };
                stack.extend(name.ok().map(Some));
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

fn walk_one(root: &Root, dir: Option<&Name>, no_follow: bool) -> Result<Vec<Entry>> {
    let label = dir.map_or("", Name::as_str);
    let handle = root.handle().map_err(|e| Error::io("list", label, e))?;
    match open_listed(root, handle.as_fd(), dir, no_follow)? {
        Some(fd) => entries(root, handle.as_fd(), fd, dir),
        None => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use futures_util::TryStreamExt;
    use rustix::fs::Advice;

    use super::*;

    fn name(s: &str) -> Name {
        Name::new(s).expect("name")
    }

    async fn bytes(got: GetResult) -> Vec<u8> {
        got.stream
            .map_ok(|chunk| chunk.to_vec())
            .try_concat()
            .await
            .expect("stream")
    }

    #[tokio::test]
    async fn a_cached_file_is_opened_and_read_on_the_calling_task() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("a")).expect("mkdir");
        std::fs::write(dir.path().join("a/f.txt"), "cached").expect("write");
        let root = Root::open(dir.path().canonicalize().expect("root"), true).expect("root");
        let got = open_cached(&root, &name("a/f.txt"), None)
            .expect("everything is cached")
            .expect("open");
        assert_eq!(bytes(got).await, b"cached");
        // A name never looked up is not cached yet (the pool looks it up); once it was, its absence is.
        let missing = name("a/missing.txt");
        assert!(matches!(
            open_cached(&root, &missing, None),
            None | Some(Err(Error::NotFound { .. }))
        ));
        assert!(matches!(
            stat(&root, &missing, 0),
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            open_cached(&root, &missing, None),
            Some(Err(Error::NotFound { .. }))
        ));
        assert!(
            open_cached(
                &Root::open(dir.path().to_owned(), false).expect("root"),
                &name("a/f.txt"),
                None
            )
            .is_none(),
            "a root opened afresh for each operation (a share) never reads on the calling task"
        );
    }

    #[tokio::test]
    async fn a_file_out_of_the_page_cache_is_left_to_the_blocking_pool() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.bin");
        let content: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &content).expect("write");
        let file = File::open(&path).expect("open");
        file.sync_all().expect("fsync");
        rustix::fs::fadvise(&file, 0, None, Advice::DontNeed).expect("fadvise");
        let root = Root::open(dir.path().canonicalize().expect("root"), true).expect("root");
        assert!(
            open_cached(&root, &name("f.bin"), None).is_none(),
            "an evicted file would wait for the disk"
        );
        let got = open(&root, &name("f.bin"), None, 0, ReadOn::CacheFirst).expect("open");
        assert_eq!(bytes(got).await, content);
    }
}
