//! Telling operators what failed. Every server-side failure of the web core (a storage error answered with `500`,
//! a file that broke off while being sent, an upload the storage could not take) is logged here, once, as a
//! `tracing` event at `ERROR` with the operation, the backend, the name and the whole chain of causes. Adapters and
//! apps do not log these again; refused requests (`4xx`) are only `DEBUG` events.
//!
//! The messages are the storages' own errors, which never carry a secret.

use std::error::Error as StdError;
use std::fmt;

/// Logs a failure of `backend` while doing `operation` (`serve`, `upload`, `direct_upload`) on `name`.
pub(crate) fn storage_failed(
    operation: &'static str,
    backend: &'static str,
    name: &str,
    error: &(dyn StdError + 'static),
) {
    tracing::error!(
        operation,
        backend,
        name,
        cause = %Chain(error),
        "storage failed"
    );
}

/// Logs a request refused as the client's fault: worth a line when debugging a client, not an operator's concern.
pub(crate) fn refused(operation: &'static str, backend: &'static str, error: &dyn fmt::Display) {
    tracing::debug!(operation, backend, reason = %error, "request refused");
}

/// An error's message followed by each of its sources that the message does not already include, joined by `: `
/// (the storages' errors often repeat their source's text, which would otherwise be logged twice).
struct Chain<'a>(&'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !shown.contains(&text) {
                shown.push_str(": ");
                shown.push_str(&text);
            }
            source = cause.source();
        }
        f.write_str(&shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[derive(Debug, thiserror::Error)]
    #[error("{message}")]
    struct Wrapper {
        message: &'static str,
        #[source]
        source: io::Error,
    }

    fn chain(message: &'static str, source: &str) -> String {
        let error = Wrapper {
            message,
            source: io::Error::other(source.to_owned()),
        };
        Chain(&error).to_string()
    }

    #[test]
    fn the_chain_shows_every_cause_once() {
        let disk_full = "No space left on device";
        assert_eq!(
            chain("write `a.png`: No space left on device", disk_full),
            "write `a.png`: No space left on device"
        );
        assert_eq!(
            chain("storing a.png failed", "disk on fire"),
            "storing a.png failed: disk on fire"
        );
    }
}
