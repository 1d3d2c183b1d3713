//! Web integration: serve files from any [`Storage`](crate::Storage) and stream uploads into one, written once
//! for every framework (feature `web`), with thin adapters for [axum] (feature `axum`) and
//! [actix-web](self::actix) (feature `actix`).
//!
//! The core speaks the `http` crate's types: [`serve`] takes a method, the request headers and the
//! percent-encoded name after the mount point, and answers an [`http::Response`] whose [`Body`] each adapter turns
//! into its framework's body; [`receive_multipart`] takes the request's `Content-Type` and its body as a stream of
//! `Bytes`. So preconditions, ranges, caching and safety headers, and every upload rule, behave the same in every
//! framework.
//!
//! - Serving ([`serve`], [`ServeOptions`]): strong `ETag`, `Last-Modified`, RFC 9110 preconditions in order,
//!   one byte range (`206`/`416`), `HEAD`, `X-Content-Type-Options: nosniff`, active content as an attachment
//!   for media, immutable caching of hashed static names, precompressed `.br`/`.gz` siblings, plain `404`s that
//!   never echo the path, and a choice between proxying, a `302` to the storage's URL and handing the file to
//!   the front server (nginx's `X-Accel-Redirect`, Apache's `X-Sendfile`) ([`Delivery`], [`HandOff`]).
//! - Uploads ([`receive_multipart`], [`UploadOptions`], [`UploadTarget`]): each file streamed into `save` as it
//!   arrives, a per-file size limit (`413`, nothing stored), an idle timeout on the body (`408`, nothing stored),
//!   allowed types and extensions, names cleaned with
//!   [`valid_file_name`](crate::valid_file_name); and [`direct_upload`], which answers a browser with a presigned
//!   `PUT` into object storage.
//! - Failures: every server-side failure (a storage error answered with `500`, a response cut short by a failing
//!   read) is logged once by the core as a `tracing` event at `ERROR`, with the operation, the backend, the name and
//!   the chain of causes; install a subscriber (such as `tracing-subscriber`'s `fmt`) to see them. A storage whose
//!   server cannot be reached is answered `503 Service Unavailable` with `Retry-After` instead of `500`, for reads
//!   and uploads alike; [`failure_response`] answers an app's own storage failures the same way.

mod body;
mod direct;
mod encoding;
mod failure;
mod handoff;
mod preconditions;
mod range;
mod serve;
mod upload;

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;

pub use self::body::Body;
pub use self::direct::{
    DirectUploadRequest, DirectUploadTicket, direct_upload, direct_upload_response,
};
pub use self::failure::{RETRY_AFTER_SECS, failure_response};
pub use self::handoff::{DeliveryError, HandOff};
pub use self::serve::{Delivery, ServeOptions, is_active_content, not_found, serve};
pub use self::upload::{
    Received, UploadError, UploadOptions, UploadTarget, Uploaded, receive_multipart,
};
