//! `s3://` and `minio://` for `storages`: files as objects in an S3-compatible bucket (AWS S3, MinIO, Garage, ...),
//! on object_store's S3 client.
//!
//! Writes stream: content up to one part (`part_size`, 8 MiB by default) goes in one PUT, anything larger as a
//! multipart upload holding at most `upload_concurrency` parts in memory, aborted on the server if it fails or is
//! cancelled (a process that cancels saves on shutdown awaits those aborts with [`settle_aborts`]). Uploads left
//! by processes that died mid-way are removed by [`S3Storage::clean_incomplete_uploads`].
//! Content-Type and Cache-Control are stored with each object. See [`S3Storage`] for what create-only
//! guarantees on servers with and without conditional writes.

mod aborts;
mod admin;
mod bucket;
mod checks;
mod client;
mod config;
mod create;
mod credentials;
mod error;
mod keys;
mod locks;
mod reach;
mod read;
mod storage;
mod upload;
mod uploads;
mod write;

pub use crate::aborts::{AbortError, SettledAborts, UploadRef, settle_aborts};
pub use crate::config::{
    ConditionalPut, DEFAULT_CONNECT_TIMEOUT, DEFAULT_PART_SIZE, DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES, DEFAULT_RETRY_TIMEOUT, DEFAULT_UPLOAD_CONCURRENCY, MIN_PART_SIZE, S3_OPTIONS,
    S3Config, Secret,
};
pub use crate::credentials::MissingCredentials;
pub use crate::storage::S3Storage;
pub use crate::uploads::{AbortedUpload, UploadsCleaned};
