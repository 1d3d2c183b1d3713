//! Telling operators what failed. Every server-side failure of the web core (a storage error answered with `500`,
//! a file that broke off while being sent, an upload the storage could not take) is logged here, once, as a
//! `tracing` event at `ERROR` with the operation, the backend, the name and the whole chain of causes. Adapters and
//! apps do not log these again; refused requests (`4xx`) are only `DEBUG` events.
//!
//! A storage whose server cannot be reached ([`Error::is_unavailable`]) is answered `503 Service Unavailable` with
//! `Retry-After` rather than `500`: the request was fine and will succeed once the server is back. It is logged the
//! same way, once per failed request, the cause naming the endpoint. A per-request line (rather than one line when
//! the endpoint goes down and one when it is back) keeps the core stateless and lets each failed request be found.
//!
//! The messages are the storages' own errors, which never carry a secret.

use std::error::Error as StdError;
use std::fmt;

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use storages_core::{Error, Storage};

use super::Body;
use super::serve::plain;

/// Seconds a client is asked to wait (`Retry-After`) when the storage's server cannot be reached: long enough not
/// to hammer a server on its way back, short enough that a retry soon gets through.
pub const RETRY_AFTER_SECS: u64 = 5;

/// The status a storage failure is answered with: `503` when the storage's server cannot be reached, else `500`.
pub(crate) fn status(error: &Error) -> StatusCode {
    if error.is_unavailable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// Tells the client when to try again, on a `503`.
pub(crate) fn retry_later(status: StatusCode, headers: &mut HeaderMap) {
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
}

/// Logs a storage failure of `operation` on `name` and answers it: `503` with `Retry-After` when the storage's
/// server cannot be reached, else `500`; the cause stays in the log.
pub(crate) fn answer(
    operation: &'static str,
    backend: &'static str,
    name: &str,
    error: &Error,
) -> Response<Body> {
    storage_failed(operation, backend, name, error);
    let status = status(error);
    let message = if status == StatusCode::SERVICE_UNAVAILABLE {
        "the storage is unavailable; try again later\n"
    } else {
        "the storage failed\n"
    };
    let mut response = plain(status, message);
    retry_later(status, response.headers_mut());
    response
}

/// The answer to a storage failure in an app's own handler (a page listing files, say), as the core answers its
/// own: `503 Service Unavailable` with `Retry-After` when the storage's server cannot be reached, else `500`, with
/// the cause logged once (the `operation` names what the app was doing) and never told to the client.
pub fn failure_response(
    operation: &'static str,
    storage: &dyn Storage,
    error: &Error,
) -> Response<Body> {
    answer(operation, storage.backend(), "", error)
}

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
