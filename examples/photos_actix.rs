//! The photo app on actix-web: the twin of `photos.rs` (axum), with the same routes and behaviour, sharing
//! `photos/page.rs`; only the wiring differs.
//!
//! Run it with `cargo run --features actix --example photos_actix` (then open http://127.0.0.1:8000); `PORT`,
//! `--port`, `PHOTOS_UPLOAD_LIMIT`, `PHOTOS_IDLE_TIMEOUT_SECS`, `PHOTOS_MEDIA_DELIVERY`, `RUST_LOG` and the
//! `STORAGES_*` variables work as for `photos`.

#[path = "photos/page.rs"]
mod page;

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use storages::Storage;
use storages::web::actix::{Upload, direct_upload, into_response, serve_storage};
use storages::web::{UploadTarget, failure_response};

#[derive(Clone)]
struct Photos {
    media: Arc<dyn Storage>,
    statics: Arc<dyn Storage>,
    uploads: UploadTarget,
}

#[actix_web::main]
async fn main() -> Result<(), page::StartError> {
    page::install_logging();
    let metrics = web::Data::new(page::Metrics::install()?);
    let port = page::port()?;
    let page::AppStorages { media, statics } = page::storages()?;
    page::publish_css(&*statics).await?;
    let uploads = UploadTarget::new(media.clone(), page::upload_options()?);
    let media_serving = page::media_serving(&*media)?;
    let photos = Photos {
        media,
        statics,
        uploads: uploads.clone(),
    };

    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(photos.clone()))
            .app_data(uploads.clone())
            .app_data(metrics.clone())
            .route("/", web::get().to(gallery))
            .route("/metrics", web::get().to(serve_metrics))
            .route("/upload", web::post().to(upload))
            .service(direct_upload("/upload/direct", uploads.clone()))
            .service(serve_storage(
                "/media",
                photos.media.clone(),
                media_serving.clone(),
            ))
            .service(serve_storage(
                "/static",
                photos.statics.clone(),
                page::static_serving(),
            ))
    })
    .workers(2)
    .bind(("127.0.0.1", port))?;
    for addr in server.addrs() {
        println!("photos: listening on http://{addr}");
    }
    server.run().await?;
    Ok(())
}

async fn serve_metrics(metrics: web::Data<page::Metrics>) -> HttpResponse {
    match metrics.render() {
        Some(text) => HttpResponse::Ok()
            .content_type(page::METRICS_CONTENT_TYPE)
            .body(text),
        None => HttpResponse::NotFound().finish(),
    }
}

async fn gallery(photos: web::Data<Photos>) -> HttpResponse {
    match page::gallery(&photos.media, &photos.statics).await {
        Ok(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => into_response(failure_response("gallery", &*photos.media, &e)),
    }
}

/// The photo is already stored when this runs: the extractor streamed it into media (and an answer that cannot be
/// made removes it again).
async fn upload(
    photos: web::Data<Photos>,
    request: HttpRequest,
    Upload(received): Upload,
) -> HttpResponse {
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    if !page::wants_json(accept) {
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/"))
            .finish();
    }
    match page::uploaded_json(&photos.uploads, &received).await {
        Ok(json) => HttpResponse::Created().json(json),
        Err(e) => into_response(failure_response("upload answer", &*photos.media, &e)),
    }
}
