//! The actix-web adapter (feature `actix`): a [`Scope`] that serves a storage under a path, an upload extractor and
//! a direct-upload [`Resource`]. Everything they do is the core's ([`crate::web`]); this only converts types
//! (actix-web 4 speaks `http` 0.2, the core `http` 1) and bridges actix's single-threaded request body to the
//! `Send` stream a storage writes from.
//!
//! ```
//! use actix_web::{App, HttpResponse, web};
//! use storages::web::actix::{Upload, serve_storage};
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
//! let app = App::new()
//!     .app_data(uploads)
//!     .route("/upload", web::post().to(|Upload(received): Upload| async move {
//!         HttpResponse::Created().body(received.files[0].name.to_string())
//!     }))
//!     .service(serve_storage("/media", media, ServeOptions::media()))
//!     .service(serve_storage("/static", statics, ServeOptions::static_files()));
//! # drop(app);
//! # Ok(()) }
//! ```
//! The upload extractor finds its [`UploadTarget`] in the app data, as itself or as `web::Data<UploadTarget>`.

use std::io;
use std::sync::Arc;

use actix_web::body::{BoxBody, SizedStream};
use actix_web::dev::Payload;
use actix_web::http::StatusCode as ActixStatus;
use actix_web::http::header::{CONTENT_TYPE, HeaderName as ActixName, HeaderValue as ActixValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, Resource, ResponseError, Scope, web};
use bytes::Bytes;
use futures_util::future::LocalBoxFuture;
use futures_util::{Stream, StreamExt};
use storages_core::Storage;

use super::body::Kind;
use super::{
    Body, Received, ServeOptions, UploadError, UploadTarget, direct_upload_response, serve,
};

/// A scope that serves `storage`'s files under `path`: `serve_storage("/media", ...)` serves the name
/// `photos/cat.png` at `/media/photos/cat.png` ([`serve`] says how).
pub fn serve_storage(path: &str, storage: Arc<dyn Storage>, options: ServeOptions) -> Scope {
    let shared = Arc::new((storage, options));
    web::scope(path).route(
        "/{name:.*}",
        web::route().to(move |request: HttpRequest| {
            let shared = Arc::clone(&shared);
            async move { serve_request(&*shared.0, &shared.1, &request).await }
        }),
    )
}

/// Serves the `name` match of `request`'s path from `storage`, for apps that route by hand (the route must
/// capture the rest of the path as `{name:.*}`).
pub async fn serve_request(
    storage: &dyn Storage,
    options: &ServeOptions,
    request: &HttpRequest,
) -> HttpResponse {
    // actix decodes the path except `%`, `/` and `+`, which stay encoded; the core's decoding finishes the job.
    let name = request.match_info().get("name").unwrap_or_default();
    let method = http::Method::from_bytes(request.method().as_str().as_bytes())
        .unwrap_or(http::Method::CONNECT);
    let headers = headers_of(request);
    into_response(serve(storage, &method, &headers, name, options).await)
}

/// The request's headers as the core's type.
fn headers_of(request: &HttpRequest) -> http::HeaderMap {
    let mut headers = http::HeaderMap::with_capacity(request.headers().len());
    for (name, value) in request.headers() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

/// The core's response as actix's: streams keep their exact length, so actix sends `Content-Length`.
pub fn into_response(response: http::Response<Body>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let status =
        ActixStatus::from_u16(parts.status.as_u16()).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR);
    let body = match body.into_kind() {
        Kind::Empty => BoxBody::new(()),
        // actix takes `Content-Length` from the body's size and sends no bytes for HEAD.
        Kind::Head(length) => BoxBody::new(SizedStream::new(
            length,
            futures_util::stream::empty::<Result<Bytes, io::Error>>(),
        )),
        Kind::Bytes(bytes) => BoxBody::new(bytes),
        Kind::Stream { stream, length } => BoxBody::new(SizedStream::new(length, stream)),
    };
    let mut response = HttpResponse::with_body(status, body);
    for (name, value) in &parts.headers {
        if let (Ok(name), Ok(value)) = (
            ActixName::from_bytes(name.as_str().as_bytes()),
            ActixValue::from_bytes(value.as_bytes()),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// Extracts a multipart upload, streaming each file into the app's [`UploadTarget`] before the handler runs
/// ([`super::receive_multipart`] says how). A refused upload answers with the error's status and message.
#[derive(Debug, Clone)]
pub struct Upload(pub Received);

impl FromRequest for Upload {
    type Error = UploadError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let target = request.app_data::<UploadTarget>().cloned().or_else(|| {
            request
                .app_data::<web::Data<UploadTarget>>()
                .map(|data| data.get_ref().clone())
        });
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let payload = payload.take();
        Box::pin(async move {
            let target = target.ok_or_else(UploadError::no_target)?;
            target
                .receive(content_type.as_deref(), forward(payload))
                .await
                .map(Upload)
        })
    }
}

/// actix's request body lives on its worker thread (it is not `Send`); storages write from `Send` streams. A task
/// on the worker forwards the chunks through a small channel, which keeps the reading paced by the writing.
fn forward(mut payload: Payload) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let (sender, receiver) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
    actix_web::rt::spawn(async move {
        while let Some(item) = payload.next().await {
            let item =
                item.map_err(|e| io::Error::new(io::ErrorKind::UnexpectedEof, e.to_string()));
            let failed = item.is_err();
            if sender.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}

impl ResponseError for UploadError {
    fn status_code(&self) -> ActixStatus {
        ActixStatus::from_u16(self.status().as_u16()).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        into_response(self.to_response())
    }
}

/// A `POST` resource at `path` that answers a JSON [`super::DirectUploadRequest`] with a presigned `PUT` into
/// `target`'s storage ([`super::direct_upload`]), or `501` where the storage cannot sign one.
pub fn direct_upload(path: &str, target: UploadTarget) -> Resource {
    web::resource(path).route(web::post().to(move |body: Bytes| {
        let target = target.clone();
        async move {
            match direct_upload_response(&**target.storage(), &body, target.options()).await {
                Ok(response) => into_response(response),
                Err(error) => into_response(error.to_response()),
            }
        }
    }))
}
