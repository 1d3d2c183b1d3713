//! Create-only writes (`PutMode::Create`, `CreateUnique`): the server's conditional PUT (`If-None-Match: *`) for
//! content of one part where the server honours it, found out once by a probe unless `conditional_put` says;
//! otherwise a check then a write under an in-process lock on the name.

use std::sync::atomic::Ordering;

use object_store::{
    Attributes, ObjectStore, ObjectStoreExt, PutMode as StorePutMode, PutOptions, PutPayload,
};
use storages_core::naming::{Alternatives, Claim, TEMP_PREFIX};
use storages_core::{Result, Storage};

use crate::config::ConditionalPut;
use crate::storage::S3Storage;
use crate::upload::Head;
use crate::write::{Written, recorded_md5};

/// What is known of the server's conditional PUT, kept in an atomic.
const UNKNOWN: u8 = 0;
const SUPPORTED: u8 = 1;
const UNSUPPORTED: u8 = 2;

/// The first value of what is known, from the settings.
pub(crate) fn known_from(setting: ConditionalPut) -> u8 {
    match setting {
        ConditionalPut::Auto => UNKNOWN,
        ConditionalPut::Enabled => SUPPORTED,
        ConditionalPut::Disabled => UNSUPPORTED,
    }
}

impl S3Storage {
    /// Whether create-only writes use the server's conditional PUT: `None` until probed.
    pub fn conditional_put(&self) -> Option<bool> {
        match self.conditional.load(Ordering::Relaxed) {
            SUPPORTED => Some(true),
            UNSUPPORTED => Some(false),
            _ => None,
        }
    }

    /// Create-only under the first free candidate, by the safest means the server and the content allow.
    pub(crate) async fn create(
        &self,
        candidates: &Alternatives,
        head: Head<'_>,
        attributes: &Attributes,
    ) -> Result<Written> {
        match head {
            Head::Whole(payload) if self.conditional_supported().await? => {
                self.write_conditional(candidates, payload, attributes)
                    .await
            }
            head => self.write_checked(candidates, head, attributes).await,
        }
    }

    /// Finds out once whether the server honours `If-None-Match: *`: create a hidden object twice.
    pub(crate) async fn conditional_supported(&self) -> Result<bool> {
        if let Some(known) = self.conditional_put() {
            return Ok(known);
        }
        let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(12)
            .collect();
        let probe = self.key(&format!("{TEMP_PREFIX}probe-{suffix}"));
        let create = || {
            self.store.put_opts(
                &probe,
                PutPayload::from_static(b"probe"),
                StorePutMode::Create.into(),
            )
        };
        create()
            .await
            .map_err(|e| self.error("probe conditional writes with", probe.as_ref(), e))?;
        let supported = match create().await {
            Ok(_) => false,
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => true,
            Err(e) => {
                let _ = self.store.delete(&probe).await;
                return Err(self.error("probe conditional writes with", probe.as_ref(), e));
            }
        };
        let _ = self.store.delete(&probe).await;
        self.conditional.store(
            if supported { SUPPORTED } else { UNSUPPORTED },
            Ordering::Relaxed,
        );
        Ok(supported)
    }

    /// Create-only for the first free candidate, by checking and writing under an in-process lock.
    async fn write_checked(
        &self,
        candidates: &Alternatives,
        head: Head<'_>,
        attributes: &Attributes,
    ) -> Result<Written> {
        let (name, _guard) = candidates
            .first_free_async(|candidate| async move {
                // Held until the write is over: no save through this process takes the name meanwhile.
                let guard = self.locks.lock(candidate.as_str()).await;
                match self.stat(&candidate).await {
                    Ok(_) => Ok(Claim::Taken),
                    Err(e) if e.is_not_found() => Ok(Claim::Done((candidate, guard))),
                    Err(e) => Err(e),
                }
            })
            .await?;
        self.write(&name, head, attributes).await
    }

    /// Create-only for the first free candidate with the server's conditional PUT (content of one part).
    async fn write_conditional(
        &self,
        candidates: &Alternatives,
        payload: PutPayload,
        attributes: &Attributes,
    ) -> Result<Written> {
        let size = payload.content_length() as u64;
        candidates
            .first_free_async(|candidate| {
                let payload = payload.clone();
                async move {
                    let options = PutOptions {
                        mode: StorePutMode::Create,
                        attributes: attributes.clone(),
                        ..PutOptions::default()
                    };
                    let path = self.key(candidate.as_str());
                    match self.store.put_opts(&path, payload, options).await {
                        Ok(done) => Ok(Claim::Done(Written {
                            name: candidate,
                            size,
                            etag: done.e_tag,
                            md5: recorded_md5(attributes),
                        })),
                        Err(
                            object_store::Error::AlreadyExists { .. }
                            | object_store::Error::Precondition { .. },
                        ) => Ok(Claim::Taken),
                        Err(e) => Err(self.error("write", candidate.as_str(), e)),
                    }
                }
            })
            .await
    }
}
