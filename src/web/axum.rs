//! The axum adapter (feature `axum`): a router that serves a storage where it is nested, an upload extractor and a
//! direct-upload route. Everything they do is the core's ([`crate::web`]); this only converts types.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Json, Router, routing::post};
//! use storages::web::axum::{Upload, serve_storage};
//! use storages::web::{ServeOptions, UploadOptions, UploadTarget};
//! use storages::{Name, Storages};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let storages = Storages::from_urls([("media", "memory://?base_url=/media/"), ("static", "memory://")])?;
//! let (media, statics) = (storages.media()?, storages.static_files()?);
//! let uploads = UploadTarget::new(
//!     media.clone(),
//!     UploadOptions::new().field("file").directory(Name::new("photos")?).allow_types(["image/*"]),
//! );
//! let app: Router = Router::new()
//!     .route("/upload", post(|Upload(received): Upload| async move { Json(received.files[0].name.to_string()) }))
//!     .nest("/media", serve_storage(media, ServeOptions::media()))
//!     .nest("/static", serve_storage(statics, ServeOptions::static_files()))
//!     .with_state(uploads);
//! # drop(app);
//! # Ok(()) }
//! ```
//! The upload extractor finds its [`UploadTarget`] in the router's state, directly (as above) or through
//! [`FromRef`] from an app state that holds one.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, FromRequest, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, post};
use bytes::Bytes;
use http::header;
use storages_core::Storage;

use super::{
    Body, Received, ServeOptions, UploadError, UploadTarget, direct_upload_response, serve,
};

/// A router that serves `storage`'s files: nest it where they live, `.nest("/media", serve_storage(...))`, and
/// `GET /media/photos/cat.png` serves the name `photos/cat.png` ([`serve`] says how).
pub fn serve_storage<S>(storage: Arc<dyn Storage>, options: ServeOptions) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let shared = Arc::new((storage, options));
    Router::new().route(
        "/{*name}",
        any(move |request: Request| {
            let shared = Arc::clone(&shared);
            async move { serve_request(&*shared.0, &shared.1, request).await }
        }),
    )
}

/// Serves the name in `request`'s path (relative to where the router is nested) from `storage`, for apps that
/// route by hand.
pub async fn serve_request(
    storage: &dyn Storage,
    options: &ServeOptions,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    into_response(
        serve(
            storage,
            &parts.method,
            &parts.headers,
            parts.uri.path(),
            options,
        )
        .await,
    )
}

/// The core's response as axum's.
pub fn into_response(response: http::Response<Body>) -> Response {
    response.map(axum::body::Body::new)
}

/// Extracts a multipart upload, streaming each file into the [`UploadTarget`] of the state before the handler runs
/// ([`super::receive_multipart`] says how). A refused upload answers with the error's status and message.
#[derive(Debug, Clone)]
pub struct Upload(pub Received);

impl<S> FromRequest<S> for Upload
where
    S: Send + Sync,
    UploadTarget: FromRef<S>,
{
    type Rejection = UploadError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let target = UploadTarget::from_ref(state);
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = request.into_body().into_data_stream();
        target
            .receive(content_type.as_deref(), body)
            .await
            .map(Upload)
    }
}

impl IntoResponse for UploadError {
    fn into_response(self) -> Response {
        into_response(self.to_response())
    }
}

/// A `POST` route that answers a JSON [`super::DirectUploadRequest`] with a presigned `PUT` into `target`'s storage
/// ([`super::direct_upload`]), or `501` where the storage cannot sign one.
pub fn direct_upload<S>(target: UploadTarget) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    post(move |body: Bytes| {
        let target = target.clone();
        async move {
            match direct_upload_response(&**target.storage(), &body, target.options()).await {
                Ok(response) => into_response(response),
                Err(error) => error.into_response(),
            }
        }
    })
}
