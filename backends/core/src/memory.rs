//! `memory://`: files in a map, for tests and single-process tools. Each keeps its content type, its
//! `Cache-Control` and the MD5 of its content, computed when it is stored.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt;
use futures_util::stream::{self, BoxStream, StreamExt};

use crate::naming::{Alternatives, Claim};
use crate::{
    BackendConfig, ByteRange, Capabilities, CommonOptions, ConfigError, Content, Error, GetResult,
    Listing, Md5, Metadata, Name, PutMode, Result, SettingsUrl, Storage, UrlRules, unknown_option,
};

/// A storage held in this process's memory. Writes are atomic and create-only is exact; everything is lost when
/// the last handle is dropped.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    options: CommonOptions,
    files: RwLock<BTreeMap<Name, Stored>>,
    versions: AtomicU64,
}

/// `memory://?OPTIONS`: a memory storage takes the common options and nothing else, so they are its settings.
impl BackendConfig for CommonOptions {
    const URL: UrlRules = UrlRules::new(&["memory"], &[]);

    fn from_url(url: &SettingsUrl<'_>) -> Result<Self, ConfigError> {
        if !url.is_bare() {
            return Err(url.invalid("memory: takes no host or path, only options"));
        }
        let mut common = CommonOptions::default();
        for (option, value) in url.options() {
            if !common.set(option, value)? {
                return Err(unknown_option("memory", option, &[]));
            }
        }
        Ok(common)
    }

    fn common(&self) -> &CommonOptions {
        self
    }

    fn common_mut(&mut self) -> &mut CommonOptions {
        self
    }

    fn open(&self) -> Result<Arc<dyn Storage>> {
        Ok(Arc::new(MemoryStorage::with_options(self.clone())))
    }
}

#[derive(Debug, Clone)]
struct Stored {
    data: Bytes,
    meta: Metadata,
}

impl MemoryStorage {
    /// An empty storage with default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty storage with `options`.
    pub fn with_options(options: CommonOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// An empty storage behind an `Arc`.
    pub fn shared(options: CommonOptions) -> Arc<Self> {
        Arc::new(Self::with_options(options))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Name, Stored>> {
        // A panic while holding the lock cannot leave the map half-updated (every update is one insert).
        self.files
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lookup(&self, name: &Name) -> Result<Stored> {
        self.read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                name: name.to_string(),
            })
    }

    /// The stored names under the directory `prefix`, in order.
    fn under(&self, prefix: Option<&Name>) -> Vec<Metadata> {
        let files = self.read();
        match prefix {
            None => files.values().map(|s| s.meta.clone()).collect(),
            Some(prefix) => {
                let dir = prefix.as_dir_prefix();
                // Names under `a/` sort after `a` and form one run; walk from `a` while the prefix holds.
                files
                    .range((Bound::Excluded(prefix), Bound::Unbounded))
                    .skip_while(|(n, _)| !n.as_str().starts_with(&dir))
                    .take_while(|(n, _)| n.as_str().starts_with(&dir))
                    .map(|(_, s)| s.meta.clone())
                    .collect()
            }
        }
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn options(&self) -> &CommonOptions {
        &self.options
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            atomic_create: true,
            public_urls: self.options.base_url.is_some(),
            cache_control: true,
            ..Capabilities::default()
        }
    }

    async fn put(&self, name: &Name, content: Content<'_>, mode: PutMode) -> Result<Metadata> {
        let content_type = content.content_type_for(name);
        let cache_control = content
            .cache_control()
            .or(self.options.cache_control.as_deref())
            .map(str::to_owned);
        let data = match content.as_bytes() {
            Some(b) => b.clone(),
            None => {
                let (stream, length) = content
                    .into_stream()
                    .await
                    .map_err(|e| Error::io("read content for", name.as_str(), e))?;
                let mut buf =
                    BytesMut::with_capacity(usize::try_from(length.unwrap_or(0)).unwrap_or(0));
                stream
                    .try_for_each(|chunk| {
                        buf.extend_from_slice(&chunk);
                        futures_util::future::ready(Ok(()))
                    })
                    .await
                    .map_err(|e| Error::io("write", name.as_str(), e))?;
                buf.freeze()
            }
        };
        // Hashed before the lock is taken: the map is never held while a large file is read.
        let md5 = Md5::of(&data);
        let version = self.versions.fetch_add(1, Ordering::Relaxed);
        let mut files = self
            .files
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let claim = |candidate: Name| {
            Ok(match files.contains_key(&candidate) {
                true => Claim::Taken,
                false => Claim::Done(candidate),
            })
        };
        let final_name = match &mode {
            PutMode::Overwrite => name.clone(),
            // Taken: `AlreadyExists` naming `name`.
            PutMode::Create => Alternatives::exactly(name.clone()).first_free(claim)?,
            PutMode::CreateUnique(alternatives) => alternatives.first_free(claim)?,
        };
        let meta = Metadata {
            name: final_name.clone(),
            size: data.len() as u64,
            modified: Some(SystemTime::now()),
            etag: Some(format!("\"m{version:x}-{:x}\"", data.len())),
            content_type: Some(content_type),
            cache_control,
            content_md5: Some(md5),
        };
        files.insert(
            final_name,
            Stored {
                data,
                meta: meta.clone(),
            },
        );
        Ok(meta)
    }

    async fn get(&self, name: &Name, range: Option<ByteRange>) -> Result<GetResult> {
        let stored = self.lookup(name)?;
        let size = stored.meta.size;
        let span = ByteRange::span_of(range, name, size)?;
        // Spans are within the data, so these conversions cannot truncate.
        let data = stored.data.slice(span.start as usize..span.end as usize);
        let stream = stream::once(async move { Ok(data) }).boxed();
        Ok(GetResult {
            meta: stored.meta,
            range: span,
            stream,
        })
    }

    async fn stat(&self, name: &Name) -> Result<Metadata> {
        Ok(self.lookup(name)?.meta)
    }

    async fn delete(&self, name: &Name) -> Result<()> {
        self.files
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(name);
        Ok(())
    }

    fn list(&self, prefix: Option<&Name>) -> BoxStream<'_, Result<Metadata>> {
        stream::iter(self.under(prefix).into_iter().map(Ok)).boxed()
    }

    async fn list_dir(&self, prefix: Option<&Name>) -> Result<Listing> {
        let skip = prefix.map_or(0, |p| p.as_str().len() + 1);
        let mut listing = Listing::default();
        for meta in self.under(prefix) {
            match meta.name.as_str()[skip..].split_once('/') {
                Some((dir, _)) => {
                    if listing.dirs.last().map(String::as_str) != Some(dir) {
                        listing.dirs.push(dir.to_owned());
                    }
                }
                None => listing.files.push(meta),
            }
        }
        listing.dirs.sort();
        listing.dirs.dedup();
        Ok(listing)
    }

    async fn check(&self) -> Result<String> {
        Ok(format!(
            "in-memory storage holding {} files",
            self.read().len()
        ))
    }
}
