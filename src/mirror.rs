//! `mirror:`: one storage answers, every write is repeated on others under the same name.
//!
//! The primary picks the final name (Django's rule, atomically, as always) and answers every read, `stat`, listing
//! and URL. Each mirror then receives the stored bytes under that same name, read back from the primary so the
//! mirror holds exactly what the primary committed. Deletes go to every storage, mirrors first.
//!
//! It is how a live site moves its files from one storage to another (an NFS share to S3, say) without downtime:
//! run the apps on `mirror:?primary=old&mirrors=new`, copy what was there before with `storages sync old new
//! --verify`, then switch the apps to the new storage (the README's "Moving media from NFS to S3 without
//! downtime").
//!
//! # When a mirror write fails
//! The save fails, and a new file is taken back off the primary (and off the mirrors that took it): an
//! acknowledged save is on every storage, and a failed one is on none. The other choice, acknowledging after the
//! primary and recording the miss for `sync` to repair, keeps uploads working while a mirror is down, but then an
//! acknowledged upload exists in one place only until the repair runs, which is exactly what a migration must
//! not allow: the day the apps switch to the mirror, such a file would be missing. A mirror that is down therefore
//! costs availability (its saves fail, clearly, naming the mirror) and never a file.
//!
//! Two cases cannot be taken back, and `storages sync PRIMARY MIRROR` repairs both: an overwrite of an existing
//! name (the primary's old content is gone once replaced; the error says the mirror still holds the old one), and
//! a process killed between the primary's commit and the mirrors' (that save was never acknowledged).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::BoxStream;
use storages_core::async_trait;
use storages_core::{
    ByteRange, Capabilities, CommonOptions, Content, DirectUpload, Error, GetResult, Listing,
    Metadata, Name, PutMode, Result, Storage, UrlOptions,
};

/// A primary storage and the mirrors that receive every write made through it.
pub struct MirrorStorage {
    primary: Labelled,
    mirrors: Vec<Labelled>,
}

/// A storage and the label errors and `check` name it by (its alias).
struct Labelled {
    label: String,
    storage: Arc<dyn Storage>,
}

impl MirrorStorage {
    /// `primary` answers and names; every write is repeated on each of `mirrors`. Each comes with the label that
    /// errors and `check` show (an alias such as `nfs` or `s3`).
    pub fn new(
        primary: (impl Into<String>, Arc<dyn Storage>),
        mirrors: impl IntoIterator<Item = (String, Arc<dyn Storage>)>,
    ) -> Self {
        Self {
            primary: Labelled {
                label: primary.0.into(),
                storage: primary.1,
            },
            mirrors: mirrors
                .into_iter()
                .map(|(label, storage)| Labelled { label, storage })
                .collect(),
        }
    }

    /// The storage that answers.
    pub fn primary(&self) -> &Arc<dyn Storage> {
        &self.primary.storage
    }

    /// The storages every write is repeated on, in order.
    pub fn mirrors(&self) -> impl Iterator<Item = &Arc<dyn Storage>> {
        self.mirrors.iter().map(|m| &m.storage)
    }

    /// Copies `meta.name` as the primary stores it to `mirror`, replacing whatever the mirror held under it.
    async fn repeat(
        &self,
        mirror: &Labelled,
        meta: &Metadata,
        cache_control: Option<&str>,
    ) -> Result<()> {
        let got = self.primary.storage.get(&meta.name, None).await?;
        let mut content = Content::from_stream(got.stream).with_length(got.meta.size);
        if let Some(content_type) = got.meta.content_type.or_else(|| meta.content_type.clone()) {
            content = content.with_content_type(content_type);
        }
        if let Some(cache_control) = cache_control {
            content = content.with_cache_control(cache_control);
        }
        mirror
            .storage
            .put(&meta.name, content, PutMode::Overwrite)
            .await
            .map(drop)
    }

    fn mirror_failed(
        &self,
        mirror: &Labelled,
        name: &Name,
        taken_back: bool,
        source: Error,
    ) -> Error {
        let outcome = if taken_back {
            format!(
                "the save failed and `{name}` was taken back off `{}`",
                self.primary.label
            )
        } else {
            format!(
                "`{}` holds the new content of `{name}` and `{}` may still hold the old: run `storages sync {} {}` \
                 to repair",
                self.primary.label, mirror.label, self.primary.label, mirror.label
            )
        };
        Error::Backend {
            backend: "mirror",
            message: format!(
                "writing `{name}` to mirror `{}` failed: {outcome}",
                mirror.label
            ),
            source: Some(Box::new(source)),
        }
    }
}

impl fmt::Debug for MirrorStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MirrorStorage")
            .field("primary", &self.primary.label)
            .field(
                "mirrors",
                &self.mirrors.iter().map(|m| &m.label).collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[async_trait]
impl Storage for MirrorStorage {
    fn backend(&self) -> &'static str {
        "mirror"
    }

    fn options(&self) -> &CommonOptions {
        self.primary.storage.options()
    }

    /// The primary's, except that files keep their `Cache-Control` when any mirror keeps it: a caller choosing
    /// between a copy and a write must write.
    fn capabilities(&self) -> Capabilities {
        let mut caps = self.primary.storage.capabilities();
        caps.cache_control |= self
            .mirrors
            .iter()
            .any(|m| m.storage.capabilities().cache_control);
        caps
    }

    /// Stores on the primary (which picks the name), then the same bytes under that name on each mirror. A failed
    /// mirror write fails the save and takes a new file back off every storage that took it.
    async fn put(&self, name: &Name, content: Content<'_>, mode: PutMode) -> Result<Metadata> {
        let cache_control = content.cache_control().map(str::to_owned);
        let created = !matches!(mode, PutMode::Overwrite);
        let meta = self.primary.storage.put(name, content, mode).await?;
        for (done, mirror) in self.mirrors.iter().enumerate() {
            let Err(e) = self.repeat(mirror, &meta, cache_control.as_deref()).await else {
                continue;
            };
            if created {
                // Best effort, mirrors first: a file left behind by a failed take-back was never acknowledged, and
                // `sync` (or the next save of the name) replaces it.
                for earlier in &self.mirrors[..done] {
                    let _ = earlier.storage.delete(&meta.name).await;
                }
                let _ = self.primary.storage.delete(&meta.name).await;
            }
            return Err(self.mirror_failed(mirror, &meta.name, created, e));
        }
        Ok(meta)
    }

    /// Copies on the primary (its own way), then repeats the copy's bytes under the same name on each mirror; a
    /// failed mirror fails the copy (the primary's new name cannot be taken back: `sync` repairs it).
    async fn copy_within(&self, from: &Name, to: &Name) -> Result<Metadata> {
        let meta = self.primary.storage.copy_within(from, to).await?;
        for mirror in &self.mirrors {
            let cache_control = meta.cache_control.clone();
            if let Err(e) = self.repeat(mirror, &meta, cache_control.as_deref()).await {
                return Err(self.mirror_failed(mirror, &meta.name, false, e));
            }
        }
        Ok(meta)
    }

    async fn get(&self, name: &Name, range: Option<ByteRange>) -> Result<GetResult> {
        self.primary.storage.get(name, range).await
    }

    async fn stat(&self, name: &Name) -> Result<Metadata> {
        self.primary.storage.stat(name).await
    }

    /// Deletes from every mirror, then from the primary: a failure leaves the name readable where it was.
    async fn delete(&self, name: &Name) -> Result<()> {
        for mirror in &self.mirrors {
            mirror
                .storage
                .delete(name)
                .await
                .map_err(|e| Error::Backend {
                    backend: "mirror",
                    message: format!(
                        "deleting `{name}` from mirror `{}` failed; `{}` still holds it",
                        mirror.label, self.primary.label
                    ),
                    source: Some(Box::new(e)),
                })?;
        }
        self.primary.storage.delete(name).await
    }

    fn list(&self, prefix: Option<&Name>) -> BoxStream<'_, Result<Metadata>> {
        self.primary.storage.list(prefix)
    }

    async fn list_dir(&self, prefix: Option<&Name>) -> Result<Listing> {
        self.primary.storage.list_dir(prefix).await
    }

    async fn url(&self, name: &Name, options: &UrlOptions) -> Result<String> {
        self.primary.storage.url(name, options).await
    }

    /// Refused: a browser's upload straight into the primary would never reach the mirrors.
    async fn direct_upload(
        &self,
        _name: &Name,
        _content_type: &str,
        _expires: Duration,
    ) -> Result<DirectUpload> {
        Err(Error::Unsupported {
            backend: "mirror",
            operation: "direct uploads (they would bypass the mirrors)",
        })
    }

    fn local_path(&self, name: &Name) -> Option<PathBuf> {
        self.primary.storage.local_path(name)
    }

    /// Checks every storage; all must pass.
    async fn check(&self) -> Result<String> {
        let mut report = Vec::new();
        for (role, part) in std::iter::once(("primary", &self.primary))
            .chain(self.mirrors.iter().map(|m| ("mirror", m)))
        {
            let what = part.storage.check().await.map_err(|e| Error::Backend {
                backend: "mirror",
                message: format!("{role} `{}` failed its check", part.label),
                source: Some(Box::new(e)),
            })?;
            report.push(format!("{role} `{}`: {what}", part.label));
        }
        Ok(report.join("; "))
    }
}
