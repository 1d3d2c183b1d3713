//! The conveniences Django users know, built once on the primitives so every backend behaves the same.

use std::time::SystemTime;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt;

use crate::{
    ByteRange, Content, Error, GetResult, IntoName, Metadata, Name, PutMode, Result, Storage,
    UrlOptions, naming::Alternatives,
};

/// How `save_with` stores content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaveOptions {
    /// Replace an existing file instead of choosing a new name (`None`: the storage's `overwrite` setting).
    pub overwrite: Option<bool>,
    /// The longest final name, in bytes, as Django's `max_length` (`None`: the storage's limit).
    pub max_length: Option<usize>,
}

impl SaveOptions {
    /// Replace an existing file.
    pub fn overwrite() -> Self {
        Self {
            overwrite: Some(true),
            ..Self::default()
        }
    }

    /// Never replace; choose a new name on a clash, at most `max_length` bytes long.
    pub fn max_length(max_length: usize) -> Self {
        Self {
            max_length: Some(max_length),
            ..Self::default()
        }
    }
}

/// Django's storage API on top of any [`Storage`]; implemented for every storage, `dyn Storage` included.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> storages_core::Result<()> {
/// use storages_core::{MemoryStorage, StorageExt};
/// let storage = MemoryStorage::new();
/// let first = storage.save("notes/todo.txt", "milk").await?;
/// let second = storage.save("notes/todo.txt", "eggs").await?;
/// assert_eq!(first.as_str(), "notes/todo.txt");
/// assert_ne!(second, first); // notes/todo_XXXXXXX.txt: nothing is overwritten
/// assert_eq!(storage.read_to_bytes(&first).await?, "milk");
/// # Ok(()) }
/// ```
#[async_trait]
pub trait StorageExt: Storage {
    /// Stores `content` and returns the name it got: `name` itself when free, otherwise `stem_<random>.ext`
    /// (or `name` replaced when the storage is set to overwrite).
    async fn save<'a>(
        &self,
        name: impl IntoName + Send + 'a,
        content: impl Into<Content<'a>> + Send + 'a,
    ) -> Result<Name> {
        self.save_with(name, content, SaveOptions::default()).await
    }

    /// `save` with explicit options.
    async fn save_with<'a>(
        &self,
        name: impl IntoName + Send + 'a,
        content: impl Into<Content<'a>> + Send + 'a,
        options: SaveOptions,
    ) -> Result<Name> {
        let name = self.options().name(name)?;
        let overwrite = options.overwrite.unwrap_or(self.options().overwrite);
        let mode = if overwrite {
            PutMode::Overwrite
        } else {
            let max_len = options.max_length.unwrap_or(self.options().max_name_len);
            PutMode::CreateUnique(Alternatives::new(name.clone(), max_len))
        };
        Ok(self.put(&name, content.into(), mode).await?.name)
    }

    /// Opens the whole of `name` as a stream.
    async fn open(&self, name: impl IntoName + Send) -> Result<GetResult> {
        let name = self.options().name(name)?;
        self.get(&name, None).await
    }

    /// Opens a part of `name`.
    async fn open_range(&self, name: impl IntoName + Send, range: ByteRange) -> Result<GetResult> {
        let name = self.options().name(name)?;
        self.get(&name, Some(range)).await
    }

    /// Whether something is stored under `name`.
    async fn exists(&self, name: impl IntoName + Send) -> Result<bool> {
        let name = self.options().name(name)?;
        match self.stat(&name).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The metadata of `name`.
    async fn metadata(&self, name: impl IntoName + Send) -> Result<Metadata> {
        let name = self.options().name(name)?;
        self.stat(&name).await
    }

    /// The size of `name` in bytes.
    async fn size(&self, name: impl IntoName + Send) -> Result<u64> {
        Ok(self.metadata(name).await?.size)
    }

    /// When `name` was last written.
    async fn modified(&self, name: impl IntoName + Send) -> Result<SystemTime> {
        let meta = self.metadata(name).await?;
        meta.modified.ok_or(Error::Unsupported {
            backend: self.backend(),
            operation: "modification times",
        })
    }

    /// The whole content of `name` in memory: only for files the caller knows to be small.
    async fn read_to_bytes(&self, name: impl IntoName + Send) -> Result<Bytes> {
        let got = self.open(name).await?;
        let mut buf = BytesMut::with_capacity(usize::try_from(got.meta.size).unwrap_or(0));
        let mut stream = got.stream;
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| Error::io("read", got.meta.name.as_str(), e))?
        {
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    /// Removes `name`; a missing name is not an error.
    async fn remove(&self, name: impl IntoName + Send) -> Result<()> {
        let name = self.options().name(name)?;
        self.delete(&name).await
    }

    /// Django's `listdir`: the sub-directory names and file names directly under `prefix` (`""` for the top).
    async fn listdir(&self, prefix: &str) -> Result<(Vec<String>, Vec<String>)> {
        let prefix = match prefix.trim_end_matches('/') {
            "" => None,
            p => Some(self.options().name(p)?),
        };
        let listing = self.list_dir(prefix.as_ref()).await?;
        let files = listing
            .files
            .iter()
            .map(|m| m.name.file_name().to_owned())
            .collect();
        Ok((listing.dirs, files))
    }

    /// Every file under `prefix` (`""` for all), collected: for listings known to be modest.
    async fn list_all(&self, prefix: &str) -> Result<Vec<Metadata>> {
        let prefix = match prefix.trim_end_matches('/') {
            "" => None,
            p => Some(self.options().name(p)?),
        };
        self.list(prefix.as_ref()).try_collect().await
    }

    /// Copies `from` to `to` (replacing `to`) with [`Storage::copy_within`]: without moving the bytes where the
    /// backend can, streamed otherwise, never held in memory.
    async fn copy(&self, from: impl IntoName + Send, to: impl IntoName + Send) -> Result<Metadata> {
        let from = self.options().name(from)?;
        let to = self.options().name(to)?;
        self.copy_within(&from, &to).await
    }

    /// The public URL of `name`.
    async fn public_url(&self, name: impl IntoName + Send) -> Result<String> {
        let name = self.options().name(name)?;
        self.url(&name, &UrlOptions::default()).await
    }
}

impl<T: Storage + ?Sized> StorageExt for T {}
