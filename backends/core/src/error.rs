//! The one error type every backend returns.

use std::io;

use crate::{ByteRange, NameError};

/// A boxed error from a backend's own client library.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in a storage operation, with the name (never a secret) it concerned.
///
/// `NotFound` and `AlreadyExists` keep their meaning across every backend so callers can match on them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A name was refused before anything was touched.
    #[error(transparent)]
    InvalidName(#[from] NameError),

    /// Nothing is stored under the name.
    #[error("`{name}` not found")]
    NotFound {
        /// The name looked up.
        name: String,
    },

    /// The name resolves through a symbolic link that leads outside the storage's root (on systems that cannot
    /// check where links lead: through any symbolic link). Nothing was read, written or removed.
    #[error("`{name}` leads outside the storage root through a symbolic link: refused")]
    OutsideRoot {
        /// The name refused.
        name: String,
    },

    /// A create-only write found the name taken.
    #[error("`{name}` already exists")]
    AlreadyExists {
        /// The taken name.
        name: String,
    },

    /// The requested range starts past the end of the content.
    #[error("range {range} of `{name}` is not satisfiable: it holds {size} bytes")]
    RangeNotSatisfiable {
        /// The name read.
        name: String,
        /// The range asked for.
        range: ByteRange,
        /// The content's size.
        size: u64,
    },

    /// `save` found no free name after its attempts.
    #[error("no free name like `{name}` after {attempts} attempts")]
    NoAvailableName {
        /// The name asked for.
        name: String,
        /// How many alternatives were tried.
        attempts: u32,
    },

    /// The content did not match its declared length; nothing was stored.
    #[error("content for `{name}` was declared as {declared} bytes but {actual} arrived")]
    LengthMismatch {
        /// The name written.
        name: String,
        /// The declared length.
        declared: u64,
        /// The bytes received (at least this many).
        actual: u64,
    },

    /// Settings that do not describe a usable storage.
    #[error(transparent)]
    Config(#[from] crate::ConfigError),

    /// The backend cannot do this.
    #[error("the {backend} backend does not support {operation}")]
    Unsupported {
        /// The backend's name (`local`, `memory`, ...).
        backend: &'static str,
        /// What was asked for.
        operation: &'static str,
    },

    /// An I/O error while doing `op` on `name`.
    #[error("{op} `{name}`: {source}")]
    Io {
        /// What was being done (`write`, `open`, `list`, ...).
        op: &'static str,
        /// The name (or directory prefix) concerned.
        name: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The storage's server cannot be reached: the connection was refused, reset or timed out, or the server
    /// answered that it is unavailable (`502`, `503`, `504`), after the backend's own retries. Nothing was
    /// stored by the failed operation, and the same request may succeed once the server is back: web
    /// integrations answer `503 Service Unavailable` with `Retry-After`.
    #[error("the {backend} endpoint {endpoint} is unreachable: {source}")]
    Unavailable {
        /// The backend's name.
        backend: &'static str,
        /// The server the backend talks to (`http://127.0.0.1:3900`), never with credentials.
        endpoint: String,
        /// What the client library reported: the refused connection, the timeout, the server's answer.
        #[source]
        source: BoxError,
    },

    /// The backend's medium failed in a way the other variants do not describe.
    #[error("{backend}: {message}")]
    Backend {
        /// The backend's name.
        backend: &'static str,
        /// What went wrong, with the names concerned.
        message: String,
        /// The client library's error, if any.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// An I/O error during `op` on `name`, keeping `NotFound`/`AlreadyExists` meaningful.
    pub fn io(op: &'static str, name: impl Into<String>, source: io::Error) -> Self {
        let name = name.into();
        match source.kind() {
            io::ErrorKind::NotFound => Self::NotFound { name },
            io::ErrorKind::AlreadyExists => Self::AlreadyExists { name },
            _ => Self::Io { op, name, source },
        }
    }

    /// Whether this says nothing is stored under the name.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// Whether this says the name is taken.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Self::AlreadyExists { .. })
    }

    /// The [`Error::Unavailable`] this error is, or wraps among its sources (a failed upload whose abort could not
    /// reach the server either is reported as such, caused by it): whether the storage's server cannot be reached
    /// for now, and which.
    pub fn unavailable(&self) -> Option<&Self> {
        let mut current: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(error) = current {
            if let Some(found @ Self::Unavailable { .. }) = error.downcast_ref::<Self>() {
                return Some(found);
            }
            current = error.source();
        }
        None
    }

    /// Whether the storage's server cannot be reached for now ([`Error::unavailable`]).
    pub fn is_unavailable(&self) -> bool {
        self.unavailable().is_some()
    }
}

/// The result of storage operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
