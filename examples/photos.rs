//! The photo app: upload images into the `media` storage and show them in a gallery, with the page's CSS
//! published to the `static` storage at start. Its actix-web twin is `photos_actix.rs`; both share
//! `photos/page.rs` and differ only in the wiring.
//!
//! Run it with `cargo run --features axum --example photos` (then open http://127.0.0.1:8000); `PORT=9000` or
//! `--port 9000` picks another port, `PHOTOS_UPLOAD_LIMIT` the largest photo in bytes (1 GiB by default),
//! `PHOTOS_IDLE_TIMEOUT_SECS` how long an upload may send nothing before it gets `408` (60 by default), `RUST_LOG`
//! what is logged to stderr (`info,object_store=warn` by default: every storage failure, with its cause),
//! `PHOTOS_MEDIA_DELIVERY` who sends the media bytes (`x-accel:/protected-media/` behind nginx: see the README's
//! "Serving media through nginx").
//! Storages come from the environment, so the same binary runs on a local directory (the default: `./media` and
//! `./static`), an NFS share or S3: `STORAGES_MEDIA_URL=file:///srv/media?base_url=/media/`.
//!
//! Routes: `GET /` (the gallery), `POST /upload` (a form's `file`: `303` to the gallery, or `201` with
//! `{"name", "url"}` for `Accept: application/json`), `POST /upload/direct` (a presigned PUT for object
//! storage), `GET /media/...`, `GET /static/...` and, built with the `metrics` feature, `GET /metrics` (the storages'
//! operation counts, bytes and latencies in Prometheus' text format).

#[path = "photos/page.rs"]
mod page;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use storages::Storage;
use storages::web::axum::{Upload, direct_upload, into_response, serve_storage};
use storages::web::{UploadTarget, failure_response};

#[derive(Clone)]
struct App {
    media: Arc<dyn Storage>,
    statics: Arc<dyn Storage>,
    uploads: UploadTarget,
}

impl FromRef<App> for UploadTarget {
    fn from_ref(app: &App) -> Self {
        app.uploads.clone()
    }
}

#[tokio::main]
async fn main() -> Result<(), page::StartError> {
    page::install_logging();
    let metrics = page::Metrics::install()?;
    let port = page::port()?;
    let page::AppStorages { media, statics } = page::storages()?;
    page::publish_css(&*statics).await?;
    let uploads = UploadTarget::new(media.clone(), page::upload_options()?);

    let router = Router::new()
        .route("/", get(gallery))
        .route("/upload", post(upload))
        .route("/upload/direct", direct_upload(uploads.clone()))
        .route("/metrics", get(move || serve_metrics(metrics.clone())))
        .nest(
            "/media",
            serve_storage(media.clone(), page::media_serving(&*media)?),
        )
        .nest(
            "/static",
            serve_storage(statics.clone(), page::static_serving()),
        )
        .with_state(App {
            media,
            statics,
            uploads,
        });
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("photos: listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router)
        .with_graceful_shutdown(async { drop(tokio::signal::ctrl_c().await) })
        .await?;
    Ok(())
}

async fn serve_metrics(metrics: page::Metrics) -> Response {
    match metrics.render() {
        Some(text) => ([(header::CONTENT_TYPE, page::METRICS_CONTENT_TYPE)], text).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn gallery(State(app): State<App>) -> Response {
    match page::gallery(&app.media, &app.statics).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => into_response(failure_response("gallery", &*app.media, &e)),
    }
}

/// The photo is already stored when this runs: the extractor streamed it into media (and an answer that cannot be
/// made removes it again).
async fn upload(State(app): State<App>, headers: HeaderMap, Upload(received): Upload) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    if !page::wants_json(accept) {
        return Redirect::to("/").into_response();
    }
    match page::uploaded_json(&app.uploads, &received).await {
        Ok(json) => (StatusCode::CREATED, axum::Json(json)).into_response(),
        Err(e) => into_response(failure_response("upload answer", &*app.media, &e)),
    }
}
