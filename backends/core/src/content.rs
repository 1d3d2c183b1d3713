//! What is written: bytes, strings, files, readers or streams, with an optional length and content type.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use tokio::io::AsyncRead;
use tokio_util::io::ReaderStream;

use crate::Name;

/// A stream of byte chunks, as every read returns and every write accepts.
pub type ByteStream<'a> = BoxStream<'a, io::Result<Bytes>>;

/// How large the chunks read from files and readers are.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// Content to write. Build it with `From` (bytes, `Vec<u8>`, strings) or the `from_*` constructors, and add a
/// content type with [`Content::with_content_type`] when the name's extension does not tell it.
///
/// A declared length (given, or known from bytes and files) is checked while writing: content that ends early or
/// runs long fails the write and nothing is stored.
pub struct Content<'a> {
    body: Body<'a>,
    length: Option<u64>,
    content_type: Option<String>,
    cache_control: Option<String>,
    md5: Option<crate::Md5>,
}

enum Body<'a> {
    Bytes(Bytes),
    File(PathBuf),
    Reader(Pin<Box<dyn AsyncRead + Send + 'a>>),
    Stream(ByteStream<'a>),
}

impl<'a> Content<'a> {
    /// In-memory content.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        let length = Some(bytes.len() as u64);
        Self {
            body: Body::Bytes(bytes),
            length,
            content_type: None,
            cache_control: None,
            md5: None,
        }
    }

    /// The content of a file, read in chunks when written.
    pub fn from_file(path: impl Into<PathBuf>) -> Self {
        Self {
            body: Body::File(path.into()),
            length: None,
            content_type: None,
            cache_control: None,
            md5: None,
        }
    }

    /// Whatever `reader` yields until its end.
    pub fn from_reader(reader: impl AsyncRead + Send + 'a) -> Self {
        Self {
            body: Body::Reader(Box::pin(reader)),
            length: None,
            content_type: None,
            cache_control: None,
            md5: None,
        }
    }

    /// Whatever `stream` yields until its end; an error item fails the write.
    pub fn from_stream(stream: impl Stream<Item = io::Result<Bytes>> + Send + 'a) -> Self {
        Self {
            body: Body::Stream(stream.boxed()),
            length: None,
            content_type: None,
            cache_control: None,
            md5: None,
        }
    }

    /// Declares the length in bytes (checked while writing).
    pub fn with_length(mut self, length: u64) -> Self {
        self.length = Some(length);
        self
    }

    /// Sets the content type instead of guessing it from the name.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Sets this file's `Cache-Control` (where the medium keeps one), instead of the storage's `cache_control`.
    pub fn with_cache_control(mut self, cache_control: impl Into<String>) -> Self {
        self.cache_control = Some(cache_control.into());
        self
    }

    /// Declares the MD5 of the content, which the caller computed from these very bytes (collectstatic and `sync`
    /// know it before they write). A backend that keeps content hashes records it without hashing again (`file:` in
    /// an extended attribute), so a later comparison need not read the file back. Not checked: a wrong value makes
    /// later comparisons wrong.
    pub fn with_md5(mut self, md5: crate::Md5) -> Self {
        self.md5 = Some(md5);
        self
    }

    /// The MD5 declared with [`Content::with_md5`], if any.
    pub fn md5(&self) -> Option<crate::Md5> {
        self.md5
    }

    /// The `Cache-Control` given for this file, if any.
    pub fn cache_control(&self) -> Option<&str> {
        self.cache_control.as_deref()
    }

    /// The declared length, when known before reading.
    pub fn length(&self) -> Option<u64> {
        self.length
    }

    /// The content type given, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The content type given, or else the one guessed from `name`'s extension.
    pub fn content_type_for(&self, name: &Name) -> String {
        match &self.content_type {
            Some(given) => given.clone(),
            None => guess_content_type(name),
        }
    }

    /// The bytes, when the content is already in memory (so a backend can write it in one go).
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match &self.body {
            Body::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// Opens the content as a stream whose end is checked against the declared length: a shorter or longer
    /// stream ends with an error item of kind `InvalidData` naming both numbers.
    pub async fn into_stream(self) -> io::Result<(ByteStream<'a>, Option<u64>)> {
        let (stream, length): (ByteStream<'a>, Option<u64>) = match self.body {
            Body::Bytes(b) => (
                futures_util::stream::once(async move { Ok(b) }).boxed(),
                self.length,
            ),
            Body::File(path) => {
                let file = tokio::fs::File::open(&path).await?;
                let on_disk = file.metadata().await?.len();
                if let Some(declared) = self.length.filter(|d| *d != on_disk) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{} holds {on_disk} bytes, declared {declared}",
                            path.display()
                        ),
                    ));
                }
                (
                    ReaderStream::with_capacity(file, CHUNK_SIZE).boxed(),
                    Some(on_disk),
                )
            }
            Body::Reader(r) => (
                ReaderStream::with_capacity(r, CHUNK_SIZE).boxed(),
                self.length,
            ),
            Body::Stream(s) => (s, self.length),
        };
        let stream = match length {
            Some(declared) => LengthChecked {
                inner: stream,
                declared,
                seen: 0,
                done: false,
            }
            .boxed(),
            None => stream,
        };
        Ok((stream, length))
    }
}

/// The content type for `name`'s extension, `application/octet-stream` when unknown.
pub fn guess_content_type(name: &Name) -> String {
    mime_guess::from_path(name.file_name())
        .first_or_octet_stream()
        .essence_str()
        .to_owned()
}

struct LengthChecked<'a> {
    inner: ByteStream<'a>,
    declared: u64,
    seen: u64,
    done: bool,
}

impl Stream for LengthChecked<'_> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = std::task::ready!(self.inner.poll_next_unpin(cx));
        let this = &mut *self;
        match item {
            Some(Ok(chunk)) => {
                this.seen += chunk.len() as u64;
                if this.seen > this.declared {
                    this.done = true;
                    return Poll::Ready(Some(Err(mismatch(this.declared, this.seen))));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Some(Err(e)) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
            None => {
                this.done = true;
                if this.seen == this.declared {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Err(mismatch(this.declared, this.seen))))
                }
            }
        }
    }
}

fn mismatch(declared: u64, seen: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("content was declared as {declared} bytes but {seen} arrived"),
    )
}

impl fmt::Debug for Content<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = match &self.body {
            Body::Bytes(b) => format!("bytes({})", b.len()),
            Body::File(p) => format!("file({})", p.display()),
            Body::Reader(_) => "reader".to_owned(),
            Body::Stream(_) => "stream".to_owned(),
        };
        f.debug_struct("Content")
            .field("body", &body)
            .field("length", &self.length)
            .field("content_type", &self.content_type)
            .field("cache_control", &self.cache_control)
            .finish()
    }
}

impl From<Bytes> for Content<'_> {
    fn from(b: Bytes) -> Self {
        Self::from_bytes(b)
    }
}

impl From<Vec<u8>> for Content<'_> {
    fn from(v: Vec<u8>) -> Self {
        Self::from_bytes(v)
    }
}

impl From<&'static [u8]> for Content<'_> {
    fn from(v: &'static [u8]) -> Self {
        Self::from_bytes(Bytes::from_static(v))
    }
}

impl<const N: usize> From<&'static [u8; N]> for Content<'_> {
    fn from(v: &'static [u8; N]) -> Self {
        Self::from_bytes(Bytes::from_static(v))
    }
}

impl From<String> for Content<'_> {
    fn from(s: String) -> Self {
        Self::from_bytes(s)
    }
}

impl From<&str> for Content<'_> {
    fn from(s: &str) -> Self {
        Self::from_bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    async fn collect(content: Content<'_>) -> io::Result<Vec<u8>> {
        let (stream, _) = content.into_stream().await?;
        let chunks: Vec<Bytes> = stream.try_collect().await?;
        Ok(chunks.concat())
    }

    #[tokio::test]
    async fn declared_length_is_enforced_both_ways() {
        let chunks = || {
            futures_util::stream::iter(vec![
                Ok(Bytes::from_static(b"abc")),
                Ok(Bytes::from_static(b"de")),
            ])
        };
        assert_eq!(
            collect(Content::from_stream(chunks()).with_length(5))
                .await
                .unwrap(),
            b"abcde"
        );
        let short = collect(Content::from_stream(chunks()).with_length(6))
            .await
            .unwrap_err();
        assert!(
            short.to_string().contains("declared as 6 bytes but 5"),
            "{short}"
        );
        let long = collect(Content::from_stream(chunks()).with_length(4))
            .await
            .unwrap_err();
        assert_eq!(long.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn readers_and_strings_are_content() {
        assert_eq!(
            collect(Content::from_reader(&b"hello"[..])).await.unwrap(),
            b"hello"
        );
        assert_eq!(collect("text".into()).await.unwrap(), b"text");
    }

    #[test]
    fn content_type_is_guessed_from_the_name_unless_given() {
        let name = Name::new("a/b.css").unwrap();
        assert_eq!(Content::from("x").content_type_for(&name), "text/css");
        assert_eq!(
            Content::from("x")
                .with_content_type("text/plain")
                .content_type_for(&name),
            "text/plain"
        );
        assert_eq!(
            guess_content_type(&Name::new("noext").unwrap()),
            "application/octet-stream"
        );
    }
}
