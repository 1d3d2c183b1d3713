//! `NfsStorage`: the `file://` primitives on a shared directory, behind the mount guard.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use storages_core::{
    ByteRange, Capabilities, CommonOptions, Content, Error, GetResult, Listing, Metadata, Name,
    PutMode, Result, Storage, UrlOptions,
};
use storages_local::{CleanReport, Hooks, LocalStorage, Warnings, WriteCheck};

use crate::guard::MountGuard;
use crate::{MountError, NfsConfig, Share};

/// How many more times an operation that met a stale file handle is tried.
const STALE_RETRIES: u32 = 3;

/// Files in a directory on an NFS share that many app servers mount (`nfs://`).
///
/// Opening it verifies the share (see the crate documentation) and never creates anything: a root that is missing,
/// not on a mount, or without its sentinel is refused with an [`Error::Backend`] whose source is a
/// [`MountError`] naming the path and the reason.
#[derive(Debug, Clone)]
pub struct NfsStorage {
    local: LocalStorage,
    guard: Arc<MountGuard>,
    warnings: Arc<Warnings>,
    sentinel: Option<Name>,
}

impl NfsStorage {
    /// Opens the share at `config.local.root` after verifying it; nothing is created or written.
    pub fn new(config: NfsConfig) -> Result<Self> {
        let NfsConfig {
            local: mut local_config,
            require_mount,
            sentinel,
        } = config;
        let configured = local_config.root.clone();
        let root = configured.canonicalize().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => MountError::RootMissing { root: configured },
            _ => MountError::Inspect {
                path: configured,
                source: e,
            },
        })?;
        let guard = Arc::new(MountGuard::new(
            root.clone(),
            require_mount,
            sentinel.clone(),
            STALE_RETRIES,
        ));
        guard.verify()?;
        let warnings = Arc::new(Warnings::new());
        let mut hooks = Hooks::default();
        hooks.backend = "nfs";
        hooks.temp_tag = crate::host::temp_tag();
        hooks.reopen_root = true;
        hooks.anonymous_temp = false;
        hooks.stale_retries = STALE_RETRIES;
        hooks.permission_warnings = Some(Arc::clone(&warnings));
        hooks.before_change = Some(Arc::clone(&guard) as Arc<dyn WriteCheck>);
        local_config.root = root;
        local_config.create_root = false;
        Ok(Self {
            local: LocalStorage::with_hooks(local_config, hooks)?,
            guard,
            warnings,
            sentinel,
        })
    }

    /// The directory holding the files (absolute, canonical).
    pub fn root(&self) -> &Path {
        self.local.root()
    }

    /// Verifies the share now, in full, and says what it is: the mount the root lies on and the sentinel found.
    pub async fn share(&self) -> Result<Share> {
        let guard = Arc::clone(&self.guard);
        storages_local::blocking("nfs", move || Ok(guard.verify()?)).await
    }

    /// What was reported instead of failing, each kind once (an `EPERM` when applying `file_mode`/`dir_mode` on
    /// a root-squashed share). Each is also printed to standard error the first time.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.all()
    }

    /// Removes the temporary files that writers on any server left when they crashed, once last written at least
    /// `older_than` ago, and nothing else (see [`LocalStorage::clean_temp_files`]). The share is verified first.
    pub async fn clean_temp_files(&self, older_than: Duration) -> Result<CleanReport> {
        self.local.clean_temp_files(older_than).await
    }

    /// Refuses changes to the sentinel: removing it through the storage would make every server refuse the share.
    fn not_the_sentinel(&self, name: &Name, op: &str) -> Result<()> {
        match &self.sentinel {
            Some(s) if s == name => Err(Error::Backend {
                backend: "nfs",
                message: format!(
                    "cannot {op} `{name}`: it is the share's sentinel file (sentinel={name}), kept by the operator"
                ),
                source: None,
            }),
            _ => Ok(()),
        }
    }

    fn is_sentinel(&self, name: &Name) -> bool {
        self.sentinel.as_ref() == Some(name)
    }
}

#[async_trait]
impl Storage for NfsStorage {
    fn backend(&self) -> &'static str {
        "nfs"
    }

    fn options(&self) -> &CommonOptions {
        self.local.options()
    }

    fn capabilities(&self) -> Capabilities {
        self.local.capabilities()
    }

    async fn put(&self, name: &Name, content: Content<'_>, mode: PutMode) -> Result<Metadata> {
        self.not_the_sentinel(name, "write")?;
        self.local.put(name, content, mode).await
    }

    async fn get(&self, name: &Name, range: Option<ByteRange>) -> Result<GetResult> {
        self.local.get(name, range).await
    }

    async fn stat(&self, name: &Name) -> Result<Metadata> {
        self.local.stat(name).await
    }

    async fn delete(&self, name: &Name) -> Result<()> {
        self.not_the_sentinel(name, "delete")?;
        self.local.delete(name).await
    }

    async fn copy_within(&self, from: &Name, to: &Name) -> Result<Metadata> {
        self.not_the_sentinel(to, "write")?;
        self.local.copy_within(from, to).await
    }

    fn list(&self, prefix: Option<&Name>) -> BoxStream<'_, Result<Metadata>> {
        self.local
            .list(prefix)
            .filter(|item| {
                let hidden = matches!(item, Ok(meta) if self.is_sentinel(&meta.name));
                std::future::ready(!hidden)
            })
            .boxed()
    }

    async fn list_dir(&self, prefix: Option<&Name>) -> Result<Listing> {
        let mut listing = self.local.list_dir(prefix).await?;
        listing.files.retain(|meta| !self.is_sentinel(&meta.name));
        Ok(listing)
    }

    async fn url(&self, name: &Name, options: &UrlOptions) -> Result<String> {
        self.local.url(name, options).await
    }

    fn local_path(&self, name: &Name) -> Option<PathBuf> {
        self.local.local_path(name)
    }

    /// Verifies the share in full, writes and removes a probe file, and reports the filesystem type it saw.
    async fn check(&self) -> Result<String> {
        let share = self.share().await?;
        self.local.check().await?;
        let mut report = format!("nfs root {}", share.root.display());
        match &share.mount {
            Some(m) => report.push_str(&format!(
                " on {} ({} mounted at {})",
                m.fstype,
                m.source,
                m.mount_point.display()
            )),
            None => report.push_str(" on an unknown filesystem"),
        }
        if !share.require_mount {
            report.push_str(", mount check off");
        }
        if let Some(sentinel) = &share.sentinel {
            report.push_str(&format!(", sentinel {} present", sentinel.display()));
        }
        report.push_str(", writable");
        for warning in self.warnings() {
            report.push_str(&format!("; warning: {warning}"));
        }
        Ok(report)
    }
}
