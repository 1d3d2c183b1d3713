//! The body of a response from the web core: nothing, a few bytes, or a stored file's stream of known length.

use std::fmt;
use std::io;

use bytes::Bytes;
use storages_core::ByteStream;

/// A response body each adapter turns into its framework's body type. Streams always carry their exact length,
/// so a server sends `Content-Length` and never has to buffer or chunk.
pub struct Body {
    kind: Kind,
}

pub(crate) enum Kind {
    /// No bytes.
    Empty,
    /// No bytes, standing for a representation of this many (the answer to `HEAD`).
    Head(u64),
    /// Bytes in memory (messages, JSON).
    Bytes(Bytes),
    /// A stored file's bytes, exactly `length` of them.
    Stream {
        stream: ByteStream<'static>,
        length: u64,
    },
}

impl Body {
    /// No body.
    pub fn empty() -> Self {
        Self { kind: Kind::Empty }
    }

    /// No bytes, for a `HEAD` response whose `Content-Length` says `length`.
    pub fn head(length: u64) -> Self {
        Self {
            kind: Kind::Head(length),
        }
    }

    /// Bytes in memory.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        Self {
            kind: Kind::Bytes(bytes.into()),
        }
    }

    /// A stream of exactly `length` bytes.
    pub fn from_stream(stream: ByteStream<'static>, length: u64) -> Self {
        Self {
            kind: Kind::Stream { stream, length },
        }
    }

    /// The number of bytes the body sends (0 for `HEAD` bodies, which send none).
    pub fn len(&self) -> u64 {
        match &self.kind {
            Kind::Empty | Kind::Head(_) => 0,
            Kind::Bytes(b) => b.len() as u64,
            Kind::Stream { length, .. } => *length,
        }
    }

    /// Whether the body sends no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[cfg(feature = "actix")]
    pub(crate) fn into_kind(self) -> Kind {
        self.kind
    }

    /// The body as a stream of chunks (for adapters and tests that want one shape).
    pub fn into_stream(self) -> ByteStream<'static> {
        use futures_util::StreamExt;
        match self.kind {
            Kind::Empty | Kind::Head(_) => futures_util::stream::empty().boxed(),
            Kind::Bytes(b) => {
                futures_util::stream::once(async move { Ok::<_, io::Error>(b) }).boxed()
            }
            Kind::Stream { stream, .. } => stream,
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Self::empty()
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Self::from_bytes(bytes)
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Self::from_bytes(text)
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Self::from_bytes(Bytes::from_static(text.as_bytes()))
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Empty => f.write_str("Body::Empty"),
            Kind::Head(n) => write!(f, "Body::Head({n})"),
            Kind::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            Kind::Stream { length, .. } => write!(f, "Body::Stream({length} bytes)"),
        }
    }
}

/// For hyper-based servers (axum): the exact size hint lets hyper write `Content-Length` itself.
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl http_body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        use futures_util::StreamExt;
        use std::task::Poll;
        let this = &mut *self;
        match &mut this.kind {
            Kind::Empty | Kind::Head(_) => Poll::Ready(None),
            Kind::Bytes(_) => match std::mem::replace(&mut this.kind, Kind::Empty) {
                Kind::Bytes(b) => Poll::Ready(Some(Ok(http_body::Frame::data(b)))),
                _ => Poll::Ready(None),
            },
            Kind::Stream { stream, length } => {
                let item = std::task::ready!(stream.poll_next_unpin(cx));
                if let Some(Ok(chunk)) = &item {
                    // The hint is of what remains.
                    *length = length.saturating_sub(chunk.len() as u64);
                }
                Poll::Ready(item.map(|chunk| chunk.map(http_body::Frame::data)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.kind, Kind::Empty | Kind::Head(_))
            || matches!(&self.kind, Kind::Bytes(b) if b.is_empty())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len())
    }
}
