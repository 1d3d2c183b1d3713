//! `S3Storage`: the `Storage` primitives on an S3 bucket, each one cleaning the name, making one call and mapping
//! its errors (django-storages' `s3.py` is the model). What the calls do lives where its name says: `write.rs`
//! and `create.rs` (writes, create-only writes), `read.rs` (reads and URLs), `bucket.rs` (the bucket's
//! readiness), `error.rs` (error mapping), `client.rs` (object_store's client for the settings).

use std::sync::Arc;
use std::sync::atomic::AtomicU8;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use object_store::aws::AmazonS3;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt};
use storages_core::naming::Alternatives;
use storages_core::{
    ByteRange, Capabilities, CommonOptions, Content, DirectUpload, Error, GetResult, Listing,
    Metadata, Name, PutMode, Result, Storage, UrlOptions,
};
use tokio::sync::OnceCell;

use crate::config::S3Config;
use crate::locks::NameLocks;
use crate::read::{asks_nothing, get_options, range_refused};

/// Files as objects in an S3-compatible bucket (`s3://`, `minio://`): AWS S3, MinIO, Garage, Ceph, R2, ...
///
/// Create-only writes use the server's conditional PUT (`If-None-Match: *`) for content of at most one part when
/// the server honours it (probed on first use unless `conditional_put` says). Otherwise, and for larger content,
/// the name is checked and then written while holding an in-process lock on it: exact for every save made
/// through this process, but two *processes* saving one name in the same instant can both win, and the later
/// write replaces the earlier. Use distinct names across processes (or a server with conditional writes and
/// content under the part size) where that matters.
///
/// Credentials come from the settings or the standard AWS variables; EC2 instance metadata is asked only for
/// AWS itself (no endpoint set) or with `imds=true` (see [`crate::MissingCredentials`]).
pub struct S3Storage {
    config: S3Config,
    pub(crate) store: Arc<AmazonS3>,
    /// Signs URLs for the endpoint browsers reach (`public_endpoint`); the main store when not set.
    pub(crate) signer: Arc<AmazonS3>,
    /// Bucket and upload requests object_store does not make.
    pub(crate) http: reqwest::Client,
    pub(crate) bucket_ready: OnceCell<()>,
    /// What is known of the server's conditional PUT (`create.rs`).
    pub(crate) conditional: AtomicU8,
    pub(crate) locks: NameLocks,
}

impl std::fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Storage")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl S3Storage {
    /// Builds the client for `config` (no request is made: the bucket is checked on first use and by `check`).
    pub fn new(config: S3Config) -> Result<Self> {
        // reqwest is built without a default crypto provider so that ring, not a C library, signs TLS handshakes.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (store, signer) = crate::client::build_clients(&config)?;
        let store = Arc::new(store);
        let signer = signer.map_or_else(|| Arc::clone(&store), Arc::new);
        // Bucket and upload requests object_store does not make: bounded like the others.
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .build()
            .map_err(|e| Error::Backend {
                backend: "s3",
                message: format!("cannot build an HTTP client: {e}"),
                source: None,
            })?;
        Ok(Self {
            conditional: AtomicU8::new(crate::create::known_from(config.conditional_put)),
            config,
            store,
            signer,
            http,
            bucket_ready: OnceCell::new(),
            locks: NameLocks::default(),
        })
    }

    /// The settings in force.
    pub fn config(&self) -> &S3Config {
        &self.config
    }

    /// The object_store client, for what this crate does not wrap.
    pub fn object_store(&self) -> &Arc<AmazonS3> {
        &self.store
    }
}

#[async_trait]
impl Storage for S3Storage {
    fn backend(&self) -> &'static str {
        "s3"
    }

    fn options(&self) -> &CommonOptions {
        &self.config.common
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.atomic_create = self.conditional_put() == Some(true);
        caps.public_urls = true;
        caps.signed_urls = true;
        caps.cache_control = true;
        caps.remote = true;
        caps
    }

    async fn put(&self, name: &Name, content: Content<'_>, mode: PutMode) -> Result<Metadata> {
        self.ready().await?;
        let (head, attributes) = self.outgoing(name, content).await?;
        let written = match mode {
            PutMode::Overwrite => self.write(name, head, &attributes).await?,
            PutMode::Create => {
                let only = Alternatives::exactly(name.clone());
                self.create(&only, head, &attributes).await?
            }
            PutMode::CreateUnique(alternatives) => {
                self.create(&alternatives, head, &attributes).await?
            }
        };
        Ok(written.metadata(&attributes))
    }

    async fn get(&self, name: &Name, range: Option<ByteRange>) -> Result<GetResult> {
        self.ready().await?;
        if let Some(range) = range.filter(|r| asks_nothing(*r)) {
            return Err(self.unsatisfiable(name, range).await);
        }
        let key = self.key(name.as_str());
        match self.store.get_opts(&key, get_options(range)).await {
            Ok(got) => Ok(self.opened(name, got)),
            Err(e) => match range {
                Some(range) if range_refused(&e) => Err(self.unsatisfiable(name, range).await),
                _ => Err(self.error("read", name.as_str(), e)),
            },
        }
    }

    async fn stat(&self, name: &Name) -> Result<Metadata> {
        self.ready().await?;
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        let got = self
            .store
            .get_opts(&self.key(name.as_str()), options)
            .await
            .map_err(|e| self.error("stat", name.as_str(), e))?;
        Ok(self.metadata(name.clone(), &got.meta, Some(&got.attributes)))
    }

    async fn delete(&self, name: &Name) -> Result<()> {
        self.ready().await?;
        match self.store.delete(&self.key(name.as_str())).await {
            Ok(()) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("delete", name.as_str(), e)),
        }
    }

    /// A server-side copy (CopyObject): the bytes never leave the server, and the object's metadata (content
    /// type, Cache-Control, the MD5 record) comes along.
    async fn copy_within(&self, from: &Name, to: &Name) -> Result<Metadata> {
        if from == to {
            // S3 refuses a copy onto itself that changes nothing; it holds the bytes already.
            return self.stat(from).await;
        }
        self.ready().await?;
        let copied = self
            .store
            .copy(&self.key(from.as_str()), &self.key(to.as_str()))
            .await;
        match copied {
            Ok(()) => self.stat(to).await,
            Err(object_store::Error::NotFound { .. }) => Err(Error::NotFound {
                name: from.to_string(),
            }),
            Err(e) => Err(self.error("copy to", to.as_str(), e)),
        }
    }

    fn list(&self, prefix: Option<&Name>) -> BoxStream<'_, Result<Metadata>> {
        self.listing_stream(prefix)
    }

    async fn list_dir(&self, prefix: Option<&Name>) -> Result<Listing> {
        self.ready().await?;
        let result = self
            .store
            .list_with_delimiter(self.prefix_path(prefix).as_ref())
            .await
            .map_err(|e| self.error("list", prefix.map_or("", Name::as_str), e))?;
        Ok(self.listing(&result))
    }

    async fn url(&self, name: &Name, options: &UrlOptions) -> Result<String> {
        match options.expires.or(self.config.presign) {
            Some(expires) => self.signed_url(name, expires).await,
            None => self.unsigned_url(name),
        }
    }

    async fn direct_upload(
        &self,
        name: &Name,
        content_type: &str,
        expires: Duration,
    ) -> Result<DirectUpload> {
        self.signed_put(name, content_type, expires).await
    }

    async fn check(&self) -> Result<String> {
        // A first check has listed the prefix already while checking the bucket: not listed twice.
        let listed = self.ready_listed().await?;
        self.health(listed).await
    }
}
