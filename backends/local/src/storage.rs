//! `LocalStorage`: the `Storage` primitives on a local directory.

use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use storages_core::{
    ByteRange, Capabilities, CommonOptions, Content, Error, GetResult, Listing, Metadata, Name,
    PutMode, Result, Storage,
};

use crate::blocking::lost;
use crate::chunks::ReadOn;
use crate::clean::CleanReport;
use crate::paths::{TEMP_PREFIX, path_of};
use crate::read;
use crate::root::Root;
use crate::write::WriteJob;
use crate::{Hooks, LocalConfig};

/// Files in a directory of this machine (`file://`).
///
/// Writes are atomic (temporary file, then rename or hard link), create-only is decided by `link(2)` so it holds
/// across threads and processes, and listings never show unfinished writes.
#[derive(Debug, Clone)]
pub struct LocalStorage {
    config: LocalConfig,
    /// The root every name is resolved beneath.
    root: Arc<Root>,
    /// What a backend built on this one changes (plain `file://`: nothing).
    hooks: Hooks,
}

/// Messages from the async side feeding a blocking writer: chunks, then `Done`. A channel closed without `Done`
/// (the content failed or the caller went away) makes the writer discard everything.
enum Feed {
    Chunk(Bytes),
    Done,
}

impl LocalStorage {
    /// Opens the directory `config.root`, creating it when missing unless `config.create_root` is off; a relative
    /// root is taken from the current directory now, so later changes of directory do not move the storage.
    pub fn new(config: LocalConfig) -> Result<Self> {
        Self::with_hooks(config, Hooks::default())
    }

    /// For backends built on this one: their name in errors and a tag for temporary file names (with a tag, every
    /// write goes through a named temporary file).
    pub fn with_backend(
        config: LocalConfig,
        backend: &'static str,
        temp_tag: String,
    ) -> Result<Self> {
        // A tag asks for temporary files that say who left them: named ones, never anonymous.
        let hooks = Hooks {
            backend,
            anonymous_temp: temp_tag.is_empty(),
            temp_tag,
            ..Hooks::default()
        };
        Self::with_hooks(config, hooks)
    }

    /// For backends built on this one, with every [`Hooks`] they may set. With `config.create_root` off, a missing
    /// root is refused and nothing is created.
    pub fn with_hooks(mut config: LocalConfig, hooks: Hooks) -> Result<Self> {
        let shown = config.root.display().to_string();
        let fail = |e: io::Error| Error::io("open the storage root", shown.clone(), e);
        if !config.root.is_dir() {
            if !config.create_root {
                return Err(Error::Backend {
                    backend: hooks.backend,
                    message: format!(
                        "the root {shown} is not an existing directory, and this {} storage does not create it",
                        hooks.backend
                    ),
                    source: None,
                });
            }
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, config.dir_mode.unwrap_or(0o777));
            builder.create(&config.root).map_err(fail)?;
        }
        config.root = config.root.canonicalize().map_err(fail)?;
        let root = Root::open(config.root.clone(), !hooks.reopen_root).map_err(fail)?;
        Ok(Self {
            config,
            root: Arc::new(root),
            hooks,
        })
    }

    /// The directory holding the files (absolute).
    pub fn root(&self) -> &Path {
        &self.config.root
    }

    /// The settings in force.
    pub fn config(&self) -> &LocalConfig {
        &self.config
    }

    /// Removes the temporary files that writers which never finished (killed, crashed, cut off) left anywhere
    /// under the root, once they were last written at least `older_than` ago, and nothing else: no stored file,
    /// directory or file of another name is touched, and symbolic links are not followed. Choose an age longer
    /// than any upload can take (a live writer's file is written to all along, so it stays young) and, on a share,
    /// longer than the clocks of its clients may disagree.
    pub async fn clean_temp_files(&self, older_than: std::time::Duration) -> Result<CleanReport> {
        let (root, hooks) = (Arc::clone(&self.root), self.hooks.clone());
        self.blocking(move || {
            let shown = root.path().display().to_string();
            let handle = root
                .handle()
                .map_err(|e| Error::io("open the storage root", shown, e))?;
            hooks.check_change(root.path(), handle.as_fd())?;
            crate::clean::clean(handle.as_fd(), older_than, hooks.stale_retries)
        })
        .await
    }
    fn job(&self, name: &Name, mode: PutMode, content_type: String) -> WriteJob {
        WriteJob {
            root: Arc::clone(&self.root),
            name: name.clone(),
            mode,
            file_mode: self.config.file_mode,
            dir_mode: self.config.dir_mode,
            fsync: self.config.fsync,
            content_type,
            md5: None,
            hooks: self.hooks.clone(),
        }
    }

    /// Whether reads may run on the calling task when the kernel has what they need cached (see `chunks.rs`): on
    /// a local disk, not on a share, whose stale handles are retried on the blocking pool.
    fn reads_cache_first(&self) -> bool {
        self.hooks.stale_retries == 0 && !self.hooks.reopen_root
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        crate::blocking(self.hooks.backend, f).await
    }
}

#[async_trait]
impl Storage for LocalStorage {
    fn backend(&self) -> &'static str {
        self.hooks.backend
    }

    fn options(&self) -> &CommonOptions {
        &self.config.common
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.atomic_create = true;
        caps.local_paths = true;
        caps.public_urls = self.config.common.base_url.is_some();
        caps
    }

    async fn put(&self, name: &Name, content: Content<'_>, mode: PutMode) -> Result<Metadata> {
        let mut job = self.job(name, mode, content.content_type_for(name));
        job.md5 = content.md5();
        if let Some(bytes) = content.as_bytes() {
            let mut once = Some(Ok(bytes.clone()));
            return self.blocking(move || job.run(|| once.take())).await;
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Feed>(4);
        let writer = tokio::task::spawn_blocking(move || {
            let mut done = false;
            job.run(|| match rx.blocking_recv() {
                Some(Feed::Chunk(chunk)) => Some(Ok(chunk)),
                Some(Feed::Done) => {
                    done = true;
                    None
                }
                None if done => None,
                None => Some(Err(io::Error::new(
                    io::ErrorKind::Interrupted,
                    "the write was abandoned",
                ))),
            })
        });
        let read_error = |e: io::Error| Error::io("read the content for", name.as_str(), e);
        let fed: Result<()> = async {
            let (mut stream, _) = content.into_stream().await.map_err(read_error)?;
            while let Some(chunk) = stream.next().await {
                if tx
                    .send(Feed::Chunk(chunk.map_err(read_error)?))
                    .await
                    .is_err()
                {
                    return Ok(()); // the writer stopped: its own error says why
                }
            }
            // A send error here also means the writer stopped early and reports why.
            let _ = tx.send(Feed::Done).await;
            Ok(())
        }
        .await;
        drop(tx);
        let written = writer.await.map_err(|e| {
            lost(
                self.hooks.backend,
                format!("the writer of `{name}` panicked"),
                e,
            )
        })?;
        // The content's own error explains a failure better than the writer's "abandoned".
        fed?;
        written
    }

    async fn get(&self, name: &Name, range: Option<ByteRange>) -> Result<GetResult> {
        let read_on = if self.reads_cache_first() {
            ReadOn::CacheFirst
        } else {
            ReadOn::Pool
        };
        if read_on == ReadOn::CacheFirst {
            if let Some(got) = read::open_cached(&self.root, name, range) {
                return got;
            }
        }
        let (root, name) = (Arc::clone(&self.root), name.clone());
        let retries = self.hooks.stale_retries;
        self.blocking(move || read::open(&root, &name, range, retries, read_on))
            .await
    }

    async fn stat(&self, name: &Name) -> Result<Metadata> {
        if self.reads_cache_first() {
            if let Some(stat) = read::stat_cached(&self.root, name) {
                return stat;
            }
        }
        let (root, name) = (Arc::clone(&self.root), name.clone());
        let retries = self.hooks.stale_retries;
        self.blocking(move || read::stat(&root, &name, retries))
            .await
    }

    async fn delete(&self, name: &Name) -> Result<()> {
        let (root, name, hooks) = (Arc::clone(&self.root), name.clone(), self.hooks.clone());
        self.blocking(move || crate::write::delete(&root, &name, &hooks))
            .await
    }

    fn list(&self, prefix: Option<&Name>) -> BoxStream<'_, Result<Metadata>> {
        read::walk(
            Arc::clone(&self.root),
            prefix.cloned(),
            self.hooks.stale_retries,
        )
    }

    async fn list_dir(&self, prefix: Option<&Name>) -> Result<Listing> {
        let (root, prefix) = (Arc::clone(&self.root), prefix.cloned());
        let retries = self.hooks.stale_retries;
        self.blocking(move || read::list_dir(&root, prefix.as_ref(), retries))
            .await
    }

    /// A hard link where one is possible (see the README: copies stay independent because every write replaces a
    /// name), the bytes copied otherwise.
    async fn copy_within(&self, from: &Name, to: &Name) -> Result<Metadata> {
        let content_type = storages_core::guess_content_type(to);
        let job = self.job(to, PutMode::Overwrite, content_type);
        let from_name = from.clone();
        match self.blocking(move || job.link_from(&from_name)).await? {
            Some(meta) => Ok(meta),
            None => storages_core::copy_by_streaming(self, from, to).await,
        }
    }

    fn local_path(&self, name: &Name) -> Option<PathBuf> {
        Some(path_of(&self.config.root, name))
    }

    async fn check(&self) -> Result<String> {
        let root = Arc::clone(&self.root);
        let tag = self.hooks.temp_tag.clone();
        self.blocking(move || {
            let shown = root.path().display().to_string();
            let fail = |e: io::Error| Error::io("write a probe file in", shown.clone(), e);
            let handle = root.handle().map_err(fail)?;
            // Named like a temporary file (host tag included on a share), so concurrent checks from many servers
            // never collide, listings hide it and cleaning removes it if the check is killed.
            let probe = format!("{TEMP_PREFIX}{tag}check.{}", std::process::id());
            crate::write::probe(handle.as_fd(), &probe).map_err(fail)?;
            Ok(format!("directory {shown} is writable"))
        })
        .await
    }
}
