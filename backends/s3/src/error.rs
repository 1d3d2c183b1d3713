//! object_store's errors (and the server's answers behind them) as ours: the operation, name, bucket and endpoint
//! they concern, never a credential; `NotFound` and `AlreadyExists` kept meaningful; a missing bucket, missing
//! credentials and a server that cannot be reached told apart from the rest.
//!
//! Typed first: object_store's variants (`NotFound`, `AlreadyExists`, `Precondition`) and the error types in the
//! source chain ([`MissingCredentials`]; in `reach.rs`: its `HttpError` and `io::Error`s). The status of any other
//! answer (`416`, `502`, ...) and S3's error code (`NoSuchBucket`) are held by object_store's retry error, whose
//! `status()` and `body()` cannot be called from here: its type lives in a private module
//! (`object_store::client::retry`) and is re-exported nowhere, and nothing else in the chain carries a status.
//! [`ServerAnswer::of`] is therefore the one place that reads them from text: the message object_store gives a
//! failed status, `Server returned non-2xx status code: 404 Not Found: <body>`.

use std::error::Error as StdError;

use http::StatusCode;
use storages_core::{BoxError, Error, Name};

use crate::credentials::MissingCredentials;
use crate::storage::S3Storage;
use crate::upload::{Failed, UploadError};
use crate::{S3Config, reach};

/// What the server answered to a request that failed: its status, and S3's error code when the body held one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerAnswer {
    pub(crate) status: StatusCode,
    /// S3's `<Code>` (`NoSuchBucket`, `InvalidRange`, ...).
    pub(crate) code: Option<String>,
}

/// How object_store's `RequestError::Status` starts its message (`object_store/src/client/retry.rs`).
const STATUS_MESSAGE: &str = "Server returned non-2xx status code: ";

impl ServerAnswer {
    /// The server's answer in `error` or in one of its sources, when object_store reports a failed status there.
    pub(crate) fn of(error: &(dyn StdError + 'static)) -> Option<Self> {
        chain(error).find_map(|error| Self::read(&error.to_string()))
    }

    /// Reads one error's own message: `Server returned non-2xx status code: 416 Range Not Satisfiable: <?xml
    /// ...><Error><Code>InvalidRange</Code>...`. Only a message that starts so is read, so no name, key or body
    /// quoted elsewhere in a message can pass for a status.
    fn read(message: &str) -> Option<Self> {
        let rest = message.strip_prefix(STATUS_MESSAGE)?;
        let status = StatusCode::from_bytes(rest.get(..3)?.as_bytes()).ok()?;
        let code = rest
            .split_once("<Code>")
            .and_then(|(_, after)| after.split_once("</Code>"))
            .map(|(code, _)| code.trim())
            .filter(|code| !code.is_empty())
            .map(str::to_owned);
        Some(Self { status, code })
    }

    /// Whether the server says the bucket does not exist.
    pub(crate) fn no_such_bucket(&self) -> bool {
        self.code.as_deref() == Some("NoSuchBucket")
    }

    /// Whether the server says it cannot serve for now (`502`, `503`, `504`).
    pub(crate) fn unavailable(&self) -> bool {
        matches!(
            self.status,
            StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
        )
    }

    /// Whether the server refused a read's byte range (`416`, S3's `InvalidRange`).
    pub(crate) fn range_refused(&self) -> bool {
        self.status == StatusCode::RANGE_NOT_SATISFIABLE
            || self.code.as_deref() == Some("InvalidRange")
    }
}

/// Whether the server says the bucket does not exist.
pub(crate) fn no_such_bucket(e: &object_store::Error) -> bool {
    ServerAnswer::of(e).is_some_and(|answer| answer.no_such_bucket())
}

/// `e` and then its sources, one after another, to the end of the chain.
pub(crate) fn chain<'e>(
    e: &'e (dyn StdError + 'static),
) -> impl Iterator<Item = &'e (dyn StdError + 'static)> {
    std::iter::successors(Some(e), |&e| e.source())
}

/// The first error of type `T` in `error`'s chain of sources (itself included).
fn find<'e, T: StdError + 'static>(error: &'e (dyn StdError + 'static)) -> Option<&'e T> {
    chain(error).find_map(|error| error.downcast_ref::<T>())
}

/// The error of `what` when `e` says the storage has no credentials ([`MissingCredentials`]).
pub(crate) fn missing_credentials(
    config: &S3Config,
    what: &str,
    e: &object_store::Error,
) -> Option<Error> {
    let missing = find::<MissingCredentials>(e)?;
    Some(Error::Backend {
        backend: "s3",
        message: format!("{what} at {}: {missing}", config.endpoint_shown()),
        source: Some(Box::new(missing.clone())),
    })
}

/// Maps an object_store error of `op` on `name` (empty: the bucket itself) to ours.
pub(crate) fn store_error(
    config: &S3Config,
    op: &str,
    name: &str,
    e: object_store::Error,
) -> Error {
    let what = match name {
        "" => format!("{op} in bucket `{}`", config.bucket),
        name => format!("{op} `{name}` in bucket `{}`", config.bucket),
    };
    if let Some(missing) = missing_credentials(config, &what, &e) {
        return missing;
    }
    if no_such_bucket(&e) {
        return missing_bucket(config);
    }
    if reach::unreachable(&e) {
        return unavailable(config, Box::new(reach::Failed { what, source: e }));
    }
    match e {
        object_store::Error::NotFound { .. } => Error::NotFound {
            name: name.to_owned(),
        },
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            Error::AlreadyExists {
                name: name.to_owned(),
            }
        }
        other => Error::Backend {
            backend: "s3",
            message: format!("{what} at {}: {other}", config.endpoint_shown()),
            source: Some(Box::new(other)),
        },
    }
}

/// The server could not be reached, as `source` tells.
pub(crate) fn unavailable(config: &S3Config, source: BoxError) -> Error {
    Error::Unavailable {
        backend: "s3",
        endpoint: config.endpoint_shown(),
        source,
    }
}

/// The bucket does not exist (and `auto_create` is off, or this is no place to create it).
pub(crate) fn missing_bucket(config: &S3Config) -> Error {
    Error::Backend {
        backend: "s3",
        message: format!(
            "bucket `{}` does not exist at {} (create it, or set auto_create=true)",
            config.bucket,
            config.endpoint_shown()
        ),
        source: None,
    }
}

impl S3Storage {
    /// Maps an object_store error of `op` on `name` to ours (see [`store_error`]).
    pub(crate) fn error(&self, op: &str, name: &str, e: object_store::Error) -> Error {
        store_error(self.config(), op, name, e)
    }

    /// The error of a failed multipart upload of `name`, naming the upload when aborting it failed too (it stays
    /// on the server, holding its parts, until cleaned).
    pub(crate) fn upload_error(&self, name: &Name, failed: Failed) -> Error {
        let cause = match failed.cause {
            UploadError::Content(e) => Error::io("read the content for", name.as_str(), e),
            UploadError::Store(e) => self.error("upload", name.as_str(), e),
            // A create whose answer was lost may still have made an upload that no client knows the id of.
            UploadError::Create(e) => self.error(
                "start the multipart upload (if the server made it before the answer was lost, `storages clean` \
                 removes it) of",
                name.as_str(),
                e,
            ),
        };
        match failed.left {
            None => cause,
            Some((upload_id, abort)) => {
                let why = match &cause {
                    Error::Backend { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                Error::Backend {
                    backend: "s3",
                    message: format!(
                        "{why}; aborting multipart upload {upload_id} also failed: {abort}; its parts stay in \
                         bucket `{}` until `storages clean STORAGE --older-than AGE` or the bucket's lifecycle rule \
                         removes them",
                        self.config().bucket
                    ),
                    source: Some(Box::new(cause)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    /// object_store's account of a failed status, as its retry error carries it: the status error is a source.
    #[derive(Debug, thiserror::Error)]
    #[error("Error performing GET http://127.0.0.1:1/b/k in 3ms - {inner}")]
    struct Retry {
        #[source]
        inner: io::Error,
    }

    fn answered(message: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: Box::new(Retry {
                inner: io::Error::other(message.to_owned()),
            }),
        }
    }

    #[test]
    fn the_status_and_code_are_read_from_the_status_error_in_the_chain() {
        let e = answered(
            "Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\"?><Error>\
             <Code>NoSuchBucket</Code><Message>gone</Message></Error>",
        );
        let answer = ServerAnswer::of(&e).expect("an answer");
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert!(answer.no_such_bucket());
        assert!(no_such_bucket(&e));

        let e = answered("Server returned non-2xx status code: 416 Range Not Satisfiable: ");
        let answer = ServerAnswer::of(&e).expect("an answer");
        assert!(answer.range_refused() && answer.code.is_none());

        let e = answered("Server returned non-2xx status code: 503 Service Unavailable: <Error/>");
        assert!(ServerAnswer::of(&e).expect("an answer").unavailable());
    }

    #[test]
    fn text_that_only_quotes_a_status_or_code_is_no_answer() {
        // A key or body that merely holds the words: not object_store's message for a failed status.
        for message in [
            "Generic S3 error: key `status code: 416 NoSuchBucket` is odd",
            "connection refused (416)",
            "Server returned error response: <Error><Code>NoSuchBucket</Code></Error>",
            "Server returned non-2xx status code: 4x",
        ] {
            let e = object_store::Error::Generic {
                store: "S3",
                source: message.into(),
            };
            assert_eq!(ServerAnswer::of(&e), None, "{message}");
            assert!(!no_such_bucket(&e), "{message}");
        }
    }

    #[test]
    fn missing_credentials_are_found_in_the_chain_and_named() {
        let config = S3Config::new("media");
        let e = object_store::Error::Generic {
            store: "S3",
            source: Box::new(MissingCredentials::new(None)),
        };
        let error = store_error(&config, "stat", "a.txt", e);
        let message = error.to_string();
        assert!(
            message.contains("`a.txt`")
                && message.contains("access_key_id")
                && message.contains("AWS_SECRET_ACCESS_KEY"),
            "{message}"
        );
        let source = StdError::source(&error).expect("a source");
        assert!(source.downcast_ref::<MissingCredentials>().is_some());
    }
}
