//! Blocking file system calls, run off the async threads: one helper for `file://` and for the backends built on
//! it (`nfs://`), so a panicked or cancelled call reads the same everywhere.

use storages_core::{Error, Result};
use tokio::task::JoinError;

/// Runs `f` on tokio's blocking threads; `backend` names the storage in the error if the call panicked or its
/// task was cancelled.
pub async fn blocking<T: Send + 'static>(
    backend: &'static str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        lost(
            backend,
            "a blocking file operation panicked or was cancelled".into(),
            e,
        )
    })?
}

/// The error for a blocking task of `backend` that never returned: `message` says which.
pub(crate) fn lost(backend: &'static str, message: String, e: JoinError) -> Error {
    Error::Backend {
        backend,
        message,
        source: Some(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_call_is_a_backend_error_naming_the_backend() {
        let err = blocking("nfs", || -> Result<()> { panic!("boom") })
            .await
            .expect_err("a panic is an error");
        match err {
            Error::Backend {
                backend, message, ..
            } => {
                assert_eq!(backend, "nfs");
                assert!(message.contains("panicked"), "{message}");
            }
            other => panic!("expected a backend error, got {other:?}"),
        }
        assert_eq!(blocking("local", || Ok(7)).await.expect("value"), 7);
    }
}
