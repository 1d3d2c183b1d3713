//! The MD5 of a file's content: the hash S3 gives single-part objects as their ETag, the one S3 tools record for
//! the others, and so the one every backend can compare with. It identifies content for skipping identical files,
//! not against an adversary.

use std::fmt;
use std::io;

use futures_util::TryStreamExt;
use md5::Digest;

use crate::ByteStream;

/// An MD5 digest of a file's whole content. Shown (`Display`, `Debug`) as 32 lower-case hex digits.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Md5([u8; 16]);

impl Md5 {
    /// The digest with these bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// Its 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The MD5 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(md5::Md5::digest(bytes).into())
    }

    /// Reads 32 hex digits (either case); `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.as_bytes();
        if text.len() != 32 {
            return None;
        }
        let mut bytes = [0; 16];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            // Two hex digits make one byte.
            *byte = u8::try_from(high << 4 | low).ok()?;
        }
        Some(Self(bytes))
    }

    /// The MD5 an HTTP ETag stands for, when it is a bare one (quoted or not, weak or not): S3 gives single-part
    /// objects the MD5 of their content as ETag. Multipart ETags (`<md5 of the parts' md5s>-<parts>`) and other
    /// validators are not content MD5s: `None`.
    pub fn from_etag(etag: &str) -> Option<Self> {
        Self::from_hex(etag.trim_start_matches("W/").trim_matches('"'))
    }

    /// Reads `stream` to its end: its length and MD5.
    pub async fn of_stream(stream: ByteStream<'_>) -> io::Result<(u64, Self)> {
        let mut hasher = Md5Hasher::new();
        stream
            .try_for_each(|chunk| {
                hasher.update(&chunk);
                futures_util::future::ready(Ok(()))
            })
            .await?;
        Ok((hasher.len(), hasher.finish()))
    }

    /// Reads `reader` to its end (blocking): its length and MD5. Read in chunks (never whole) into a buffer each
    /// thread keeps, so hashing many files on the blocking pool allocates nothing per file.
    pub fn of_reader(reader: &mut impl io::Read) -> io::Result<(u64, Self)> {
        thread_local! {
            static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 256 * 1024]);
        }
        let mut hasher = Md5Hasher::new();
        BUFFER.with_borrow_mut(|buf| {
            loop {
                match reader.read(buf) {
                    Ok(0) => return Ok((hasher.len(), hasher.finish())),
                    Ok(n) => hasher.update(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        })
    }
}

impl fmt::Display for Md5 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Md5 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Md5({self})")
    }
}

/// An MD5 computed piece by piece, as content streams past, with the number of bytes seen.
#[derive(Clone, Default)]
pub struct Md5Hasher {
    state: md5::Md5,
    len: u64,
}

impl Md5Hasher {
    /// Nothing hashed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        self.state.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// The bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was hashed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The MD5 of everything added.
    pub fn finish(self) -> Md5 {
        Md5(self.state.finalize().into())
    }
}

impl fmt::Debug for Md5Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Md5Hasher")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_only_bare_md5_etags_are_content_hashes() {
        let md5 = Md5::of(b"hello");
        assert_eq!(md5.to_string(), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(Md5::from_hex("5D41402ABC4B2A76B9719D911017C592"), Some(md5));
        assert_eq!(
            Md5::from_etag("\"5d41402abc4b2a76b9719d911017c592\""),
            Some(md5)
        );
        assert_eq!(
            Md5::from_etag("W/\"5d41402abc4b2a76b9719d911017c592\""),
            Some(md5)
        );
        assert_eq!(
            Md5::from_etag("\"3858f62230ac3c915f300c664312c11f-2\""),
            None
        );
        assert_eq!(Md5::from_etag("\"1a2b-5f-10\""), None);
        assert_eq!(Md5::from_hex("5d41402abc4b2a76b9719d911017c59g"), None);
    }

    #[tokio::test]
    async fn streams_and_readers_hash_as_one_piece() {
        let chunks = futures_util::stream::iter(vec![
            Ok(bytes::Bytes::from_static(b"hel")),
            Ok(bytes::Bytes::from_static(b"lo")),
        ]);
        let streamed = Md5::of_stream(Box::pin(chunks)).await.expect("hash");
        assert_eq!(streamed, (5, Md5::of(b"hello")));
        assert_eq!(
            Md5::of_reader(&mut &b"hello"[..]).expect("hash"),
            (5, Md5::of(b"hello"))
        );
    }
}
