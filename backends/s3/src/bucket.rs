//! The bucket itself: checked once before the first request that needs it (created with `auto_create`, given a
//! public-read policy with `public`), and asked again by `check`.

use http::Method;
use object_store::ObjectStore;
use storages_core::{Error, Result};

use crate::admin::{bucket_request, create_bucket_body, public_read_policy, short};
use crate::error::{missing_bucket, no_such_bucket};
use crate::storage::S3Storage;

impl S3Storage {
    /// Checks the bucket once (creating it with `auto_create`, applying `public`), before the first request that
    /// needs it. A failure is not remembered, so a bucket created later is found.
    pub(crate) async fn ready(&self) -> Result<()> {
        self.ready_listed().await.map(|_| ())
    }

    /// [`ready`](Self::ready), also saying whether this very call checked the bucket and its listing of the
    /// prefix succeeded: the list [`health`](Self::health) would make again. `false` when the bucket was ready
    /// already, was checked by another call meanwhile, or had to be created.
    pub(crate) async fn ready_listed(&self) -> Result<bool> {
        let mut listed = false;
        self.bucket_ready
            .get_or_try_init(|| self.prepare_bucket(&mut listed))
            .await?;
        Ok(listed)
    }

    /// Sets `listed` once the probe's list of the prefix has succeeded.
    async fn prepare_bucket(&self, listed: &mut bool) -> Result<()> {
        let config = self.config();
        let probe = self
            .store
            .list_with_delimiter(self.prefix_path(None).as_ref())
            .await;
        match probe {
            Ok(_) => *listed = true,
            Err(e) if no_such_bucket(&e) || matches!(e, object_store::Error::NotFound { .. }) => {
                if !config.auto_create {
                    return Err(missing_bucket(config));
                }
                let body = create_bucket_body(config.region.as_deref());
                let answer =
                    bucket_request(&self.store, &self.http, config, Method::PUT, "", body).await?;
                // 409: created meanwhile by another server, which is what was wanted.
                if !answer.is_success() && answer.status != 409 {
                    return Err(answer.refused(config, "create"));
                }
            }
            Err(e) => return Err(self.error("list", "", e)),
        }
        if config.public {
            let policy = public_read_policy(&config.bucket, &config.prefix);
            let answer = bucket_request(
                &self.store,
                &self.http,
                config,
                Method::PUT,
                "policy",
                policy.into(),
            )
            .await?;
            if !answer.is_success() {
                return Err(Error::Backend {
                    backend: "s3",
                    message: format!(
                        "public=true: the server at {} refused a public-read policy for bucket `{}` (HTTP {}: {}); \
                         it may not support bucket policies (Garage does not: publish with `garage bucket website \
                         --allow {}` instead, and leave public unset)",
                        config.endpoint_shown(),
                        config.bucket,
                        answer.status,
                        short(&answer.body),
                        config.bucket
                    ),
                    source: None,
                });
            }
        }
        Ok(())
    }

    /// Asks the server again whether the bucket answers (readiness is remembered once reached, and a storage that
    /// has been in use must say whether its server answers now), and says how create-only writes are made.
    /// `listed`: the caller has just made that list, successfully (see [`ready_listed`](Self::ready_listed)), so it
    /// is not sent again.
    pub(crate) async fn health(&self, listed: bool) -> Result<String> {
        if !listed {
            self.store
                .list_with_delimiter(self.prefix_path(None).as_ref())
                .await
                .map_err(|e| self.error("list", "", e))?;
        }
        let conditional = match self.conditional_supported().await {
            Ok(true) => "conditional writes: supported (create-only is atomic)",
            Ok(false) => {
                "conditional writes: not supported (create-only is exact within one process only)"
            }
            Err(_) => "conditional writes: unknown (no write permission to probe)",
        };
        Ok(format!(
            "bucket `{}` at {} is reachable; {conditional}",
            self.config().bucket,
            self.config().endpoint_shown()
        ))
    }
}
