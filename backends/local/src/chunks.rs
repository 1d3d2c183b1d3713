//! An open file's bytes as a stream of chunks, read with `pread` at explicit offsets into one buffer that is reused
//! once the consumer (a web server writing a response) has let go of the previous chunk.
//!
//! A storage whose root is on a local disk reads on the calling task when the bytes are already in the page cache:
//! `preadv2` with `RWF_NOWAIT` answers `EAGAIN` instead of waiting for the disk, and only then does the read go to
//! tokio's blocking pool. A hop to that pool costs two thread wake-ups per chunk, which for a small file served
//! from memory is most of the cost of the request. A share (NFS) always reads on the pool: its page cache is
//! revalidated over the network, which `RWF_NOWAIT` does not promise to avoid. Reads on the calling task count
//! against tokio's cooperative budget, as tokio's own I/O does.

use std::fs::File;
use std::io::{self, IoSliceMut};
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use rustix::io::{Errno, ReadWriteFlags};
use tokio::task::JoinHandle;

/// Bytes read per step. Large enough that a megabyte takes four reads (each read of the pool costs two thread
/// wake-ups), small enough that a slow client holds little memory: at most one chunk waits in the server's
/// write buffer while the next is read.
pub(crate) const READ_CHUNK: usize = 256 * 1024;

/// Where the reads of a stream run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadOn {
    /// On the polling task when the page cache has the bytes, else on the blocking pool (local disks).
    CacheFirst,
    /// Always on the blocking pool (shares).
    Pool,
}

type Pending = JoinHandle<(BytesMut, io::Result<()>)>;

/// The span `pos..end` of `file`, chunk by chunk.
pub(crate) struct Chunks {
    file: Arc<File>,
    pos: u64,
    end: u64,
    /// A chunk read before the stream was handed out (so a failing first read is an error of `get`).
    ready: Option<Bytes>,
    buf: BytesMut,
    read_on: ReadOn,
    pending: Option<Pending>,
}

impl Chunks {
    pub(crate) fn new(file: File, span: std::ops::Range<u64>, read_on: ReadOn) -> Self {
        Self {
            file: Arc::new(file),
            pos: span.start,
            end: span.end,
            ready: None,
            buf: BytesMut::new(),
            read_on,
            pending: None,
        }
    }

    /// Reads the first chunk now, on this thread, waiting for the disk (the caller is on the blocking pool).
    pub(crate) fn read_first_blocking(&mut self) -> io::Result<()> {
        let want = self.next_len();
        if want == 0 {
            return Ok(());
        }
        let mut buf = self.take_buffer(want);
        read_exact_at(&self.file, &mut buf, self.pos)?;
        self.buf = buf;
        self.ready = Some(self.advance(want));
        Ok(())
    }

    /// Reads the first chunk now when the page cache has it whole; `Ok(false)` when it would wait for the disk
    /// (nothing is consumed, the stream reads it later on the pool).
    pub(crate) fn read_first_cached(&mut self) -> io::Result<bool> {
        let want = self.next_len();
        if want == 0 {
            return Ok(true);
        }
        let mut buf = self.take_buffer(want);
        let got = read_cached(&self.file, &mut buf, self.pos)?;
        self.buf = buf;
        if matches!(got, Cached::Read(n) if n == want) {
            self.ready = Some(self.advance(want));
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn next_len(&self) -> usize {
        usize::try_from(self.end - self.pos).map_or(READ_CHUNK, |left| left.min(READ_CHUNK))
    }

    /// The buffer, `want` bytes long, reusing its allocation when the last chunk handed out was dropped.
    fn take_buffer(&mut self, want: usize) -> BytesMut {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.resize(want, 0);
        buf
    }

    /// Hands out the first `n` bytes of the buffer as a chunk and moves on.
    fn advance(&mut self, n: usize) -> Bytes {
        self.pos += n as u64;
        self.buf.split_to(n).freeze()
    }

    fn fail(&mut self, error: io::Error) -> Poll<Option<io::Result<Bytes>>> {
        // Nothing more after an error: a consumer that polls again gets the end.
        self.pos = self.end;
        Poll::Ready(Some(Err(error)))
    }
}

impl Stream for Chunks {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(chunk) = this.ready.take() {
            return Poll::Ready(Some(Ok(chunk)));
        }
        if let Some(pending) = &mut this.pending {
            let joined = ready!(Pin::new(pending).poll(cx));
            this.pending = None;
            return match joined {
                Ok((buf, Ok(()))) => {
                    let n = buf.len();
                    this.buf = buf;
                    Poll::Ready(Some(Ok(this.advance(n))))
                }
                Ok((_, Err(e))) => this.fail(e),
                Err(e) => this.fail(io::Error::other(e)),
            };
        }
        let want = this.next_len();
        if want == 0 {
            return Poll::Ready(None);
        }
        // A read from the cache never waits, so it takes from the task's budget: a task that reads a large cached
        // file with nothing else to wait for (hashing it) still gives its worker back now and then.
        let coop = if this.read_on == ReadOn::CacheFirst {
            Some(ready!(tokio::task::coop::poll_proceed(cx)))
        } else {
            None
        };
        let mut buf = this.take_buffer(want);
        if let Some(coop) = coop {
            match read_cached(&this.file, &mut buf, this.pos) {
                Ok(Cached::Read(got)) => {
                    coop.made_progress();
                    // A part of the chunk in the cache is sent now; the rest is asked for next.
                    buf.truncate(got);
                    this.buf = buf;
                    return Poll::Ready(Some(Ok(this.advance(got))));
                }
                Ok(Cached::No) => {}
                // Not asked again for the rest of this file.
                Ok(Cached::Unknown) => this.read_on = ReadOn::Pool,
                Err(e) => return this.fail(e),
            }
        }
        let (file, pos) = (Arc::clone(&this.file), this.pos);
        this.pending = Some(tokio::task::spawn_blocking(move || {
            let read = read_exact_at(&file, &mut buf, pos);
            (buf, read)
        }));
        // Polled again at once, so the waker is registered with the task just spawned.
        Pin::new(this).poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let chunks = (self.end - self.pos).div_ceil(READ_CHUNK as u64);
        let chunks = usize::try_from(chunks).unwrap_or(usize::MAX);
        (
            0,
            Some(chunks.saturating_add(usize::from(self.ready.is_some()))),
        )
    }
}

/// Fills `buf` from `offset`, waiting for the disk. A file that ends first was truncated while being read.
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    file.read_exact_at(buf, offset).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::new(e.kind(), "the file got shorter while it was being read")
        } else {
            e
        }
    })
}

/// What the page cache had for a read.
enum Cached {
    /// This many bytes (more than 0), read.
    Read(usize),
    /// Not the first of them.
    No,
    /// The filesystem or kernel cannot say (no `RWF_NOWAIT`).
    Unknown,
}

/// Reads into `buf` from `offset` what the page cache holds, without waiting for the disk.
fn read_cached(file: &File, buf: &mut [u8], offset: u64) -> io::Result<Cached> {
    loop {
        match rustix::io::preadv2(
            file,
            &mut [IoSliceMut::new(buf)],
            offset,
            ReadWriteFlags::NOWAIT,
        ) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file got shorter while it was being read",
                ));
            }
            Ok(n) => return Ok(Cached::Read(n)),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Ok(Cached::No),
            Err(Errno::OPNOTSUPP | Errno::INVAL | Errno::NOSYS) => return Ok(Cached::Unknown),
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use futures_util::StreamExt;
    use rustix::fs::Advice;

    use super::*;

    /// A file of `len` bytes that are not all alike, and its content.
    fn file(dir: &std::path::Path, len: usize) -> (File, Vec<u8>) {
        let content: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let path = dir.join("f.bin");
        std::fs::write(&path, &content).expect("write");
        (File::open(&path).expect("open"), content)
    }

    async fn collect(mut chunks: Chunks) -> (Vec<u8>, Vec<usize>) {
        let (mut all, mut sizes) = (Vec::new(), Vec::new());
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.expect("chunk");
            sizes.push(chunk.len());
            all.extend_from_slice(&chunk);
        }
        (all, sizes)
    }

    #[tokio::test]
    async fn a_span_over_several_chunks_arrives_exact_in_chunk_sized_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let len = 2 * READ_CHUNK + 1000;
        let (f, content) = file(dir.path(), len);
        let span = 10..len as u64 - 7;
        for read_on in [ReadOn::CacheFirst, ReadOn::Pool] {
            let f = f.try_clone().expect("clone");
            let (got, sizes) = collect(Chunks::new(f, span.clone(), read_on)).await;
            assert!(got == content[10..len - 7], "{read_on:?}");
            assert!(sizes.iter().all(|&n| n <= READ_CHUNK), "{sizes:?}");
            assert_eq!(sizes.len(), 3, "{read_on:?}: {sizes:?}");
        }
    }

    #[tokio::test]
    async fn bytes_the_page_cache_lacks_are_read_on_the_pool() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (f, content) = file(dir.path(), READ_CHUNK + 5);
        f.sync_all().expect("fsync");
        // Clean pages dropped from the cache: a read that must not wait says so.
        rustix::fs::fadvise(&f, 0, None, Advice::DontNeed).expect("fadvise");
        let mut probe = vec![0; 16];
        assert!(
            matches!(read_cached(&f, &mut probe, 0).expect("read"), Cached::No),
            "evicted pages are not read without waiting"
        );
        let mut chunks = Chunks::new(f, 0..content.len() as u64, ReadOn::CacheFirst);
        assert!(!chunks.read_first_cached().expect("read"), "nothing cached");
        let (got, _) = collect(chunks).await;
        assert!(got == content);
    }

    #[tokio::test]
    async fn a_file_cut_short_while_read_is_an_error_not_a_short_body() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (f, _) = file(dir.path(), READ_CHUNK + 100);
        for read_on in [ReadOn::CacheFirst, ReadOn::Pool] {
            let mut chunks = Chunks::new(
                f.try_clone().expect("clone"),
                0..READ_CHUNK as u64 + 100,
                read_on,
            );
            chunks.read_first_blocking().expect("first chunk");
            std::fs::OpenOptions::new()
                .write(true)
                .open(dir.path().join("f.bin"))
                .and_then(|w| w.set_len(READ_CHUNK as u64 + 10))
                .expect("truncate");
            // What is still there may come first; then the stream says the file ended early.
            let mut sent = 0;
            let error = loop {
                match chunks.next().await.expect("an error before the end") {
                    Ok(chunk) => sent += chunk.len(),
                    Err(e) => break e,
                }
            };
            assert!(sent <= READ_CHUNK + 10, "{read_on:?}: {sent}");
            assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{read_on:?}");
            assert!(chunks.next().await.is_none(), "nothing after the error");
            std::fs::File::create(dir.path().join("f.bin"))
                .and_then(|mut w| w.write_all(&vec![1; READ_CHUNK + 100]))
                .expect("restore");
        }
    }
}
