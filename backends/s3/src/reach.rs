//! Telling "the server cannot be reached" apart from every other failure of a request, so that callers get
//! [`Error::Unavailable`](storages_core::Error::Unavailable) (a web app answers `503`, an operator reads which
//! endpoint is down) instead of a generic backend error.
//!
//! Unreachable means: the connection was refused, reset, closed or timed out (object_store's
//! `HttpErrorKind::Connect`, `Request`, `Timeout`, `Interrupted`; reqwest's connect and timeout errors; the
//! equivalent `io::ErrorKind`s), or the server said it cannot serve for now (`502`, `503`, `504`). Both clients
//! have already retried when these reach us.

use std::error::Error as StdError;
use std::io;

use object_store::client::{HttpError, HttpErrorKind};

use crate::error::{ServerAnswer, chain};

/// A request that could not reach the server: what it was for (the operation, the name, the bucket), and why.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub(crate) struct Failed {
    pub(crate) what: String,
    #[source]
    pub(crate) source: object_store::Error,
}

/// Whether `error`, or an error in its chain of sources, says the server cannot be reached.
pub(crate) fn unreachable(error: &(dyn StdError + 'static)) -> bool {
    chain(error).any(says_unreachable)
        || ServerAnswer::of(error).is_some_and(|answer| answer.unavailable())
}

fn says_unreachable(error: &(dyn StdError + 'static)) -> bool {
    if let Some(http) = error.downcast_ref::<HttpError>() {
        return matches!(
            http.kind(),
            HttpErrorKind::Connect
                | HttpErrorKind::Request
                | HttpErrorKind::Timeout
                | HttpErrorKind::Interrupted
        );
    }
    if let Some(http) = error.downcast_ref::<reqwest::Error>() {
        return http.is_connect() || http.is_timeout();
    }
    if let Some(io) = error.downcast_ref::<io::Error>() {
        return matches!(
            io.kind(),
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::NotConnected
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::TimedOut
        );
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_error(source: impl StdError + Send + Sync + 'static) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: Box::new(source),
        }
    }

    #[test]
    fn transport_failures_are_unreachable_and_decoding_failures_are_not() {
        let refused = || io::Error::from(io::ErrorKind::ConnectionRefused);
        for kind in [
            HttpErrorKind::Connect,
            HttpErrorKind::Request,
            HttpErrorKind::Timeout,
            HttpErrorKind::Interrupted,
        ] {
            let error = store_error(HttpError::new(kind, refused()));
            assert!(unreachable(&error), "{kind:?}");
        }
        let garbled = store_error(HttpError::new(
            HttpErrorKind::Decode,
            io::Error::other("garbled"),
        ));
        assert!(!unreachable(&garbled));
    }

    #[test]
    fn only_the_unavailable_statuses_count() {
        // As object_store reports a failed status: its status error is a source of its retry error.
        #[derive(Debug, thiserror::Error)]
        #[error("Error performing GET http://127.0.0.1:1/b/k in 2ms - {0}")]
        struct Retry(#[source] io::Error);
        let answer = |status: &str| {
            store_error(Retry(io::Error::other(format!(
                "Server returned non-2xx status code: {status}: <Error/>"
            ))))
        };
        for status in [
            "502 Bad Gateway",
            "503 Service Unavailable",
            "504 Gateway Timeout",
        ] {
            assert!(unreachable(&answer(status)), "{status}");
        }
        for status in [
            "500 Internal Server Error",
            "403 Forbidden",
            "404 Not Found",
        ] {
            assert!(!unreachable(&answer(status)), "{status}");
        }
    }
}
