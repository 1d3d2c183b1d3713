//! The photo app: upload images into the `media` storage and show them in a gallery, with the page's CSS
//! published to the `static` storage at start.
//!
//! Run it with `cargo run --example photos` (then open http://127.0.0.1:8000); `PORT=9000` or `--port 9000` picks
//! another port. Storages come from the environment, so the same binary runs on a local directory (the default:
//! `./media` and `./static`), an NFS share or S3: `STORAGES_MEDIA_URL=file:///srv/media?base_url=/media/`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures_util::TryStreamExt;
use storages::{
    Content, Error, Metadata, Name, SaveOptions, Storage, StorageExt, Storages, valid_file_name,
};

/// The largest upload accepted, in bytes.
const UPLOAD_LIMIT: usize = 1 << 30;
/// Uploads are kept under this directory of the media storage.
const PHOTOS: &str = "photos";
/// The stylesheet published to the static storage.
const CSS_NAME: &str = "photos/app.css";
const CSS: &str = include_str!("photos/app.css");

#[derive(Clone)]
struct App {
    media: Arc<dyn Storage>,
    statics: Arc<dyn Storage>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = port()?;
    let storages = Storages::from_env()?;
    let app = App {
        media: storages.media()?,
        statics: storages.static_files()?,
    };
    app.statics
        .save_with(CSS_NAME, CSS, SaveOptions::overwrite())
        .await?;

    let router = Router::new()
        .route("/", get(gallery))
        .route("/upload", post(upload))
        .route("/media/{*name}", get(serve_media))
        .route("/static/{*name}", get(serve_static))
        .layer(DefaultBodyLimit::max(UPLOAD_LIMIT))
        .with_state(app);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("photos: listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router)
        .with_graceful_shutdown(async { drop(tokio::signal::ctrl_c().await) })
        .await?;
    Ok(())
}

/// `--port N`, else `PORT`, else 8000.
fn port() -> Result<u16, Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let given = match args.iter().position(|a| a == "--port") {
        Some(i) => Some(args.get(i + 1).ok_or("--port needs a number")?.clone()),
        None => std::env::var("PORT").ok(),
    };
    Ok(match given {
        Some(p) => p.parse().map_err(|_| format!("invalid port `{p}`"))?,
        None => 8000,
    })
}

async fn gallery(State(app): State<App>) -> Result<Html<String>, Response> {
    let mut photos: Vec<Metadata> = app
        .media
        .list_all(PHOTOS)
        .await
        .map_err(internal)?
        .into_iter()
        .filter(|m| m.content_type.as_deref().is_some_and(is_image))
        .collect();
    photos.sort_by(|a, b| {
        b.modified
            .cmp(&a.modified)
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut figures = String::new();
    for photo in &photos {
        let url = app
            .media
            .url(&photo.name, &Default::default())
            .await
            .map_err(internal)?;
        figures.push_str(&format!(
            "<figure><img src=\"{}\" alt=\"{}\" loading=\"lazy\"><figcaption>{}</figcaption></figure>\n",
            escape(&url),
            escape(photo.name.file_name()),
            escape(photo.name.file_name()),
        ));
    }
    if photos.is_empty() {
        figures.push_str("<p class=\"empty\">No photos yet: upload the first one.</p>");
    }
    let css = app.statics.public_url(CSS_NAME).await.map_err(internal)?;
    Ok(Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Photos</title>\
         <link rel=\"stylesheet\" href=\"{}\"></head><body>\n<h1>Photos</h1>\n\
         <form action=\"/upload\" method=\"post\" enctype=\"multipart/form-data\">\
         <input type=\"file\" name=\"file\" accept=\"image/*\" required> <button type=\"submit\">Upload</button></form>\n\
         <section class=\"gallery\">\n{figures}</section>\n</body></html>\n",
        escape(&css)
    )))
}

/// Streams the `file` field of a multipart form into media, part by part, under its cleaned file name.
async fn upload(
    State(app): State<App>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<Response, Response> {
    let bad = |status: StatusCode, message: String| (status, message).into_response();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| bad(e.status(), e.body_text()))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let uploaded = field.file_name().unwrap_or_default().to_owned();
        let file_name =
            valid_file_name(&uploaded).map_err(|e| bad(StatusCode::BAD_REQUEST, e.to_string()))?;
        let name = Name::new(format!("{PHOTOS}/{file_name}"))
            .map_err(|e| bad(StatusCode::BAD_REQUEST, e.to_string()))?;
        let content_type = storages::guess_content_type(&name);
        if !is_image(&content_type) {
            let message = format!(
                "{file_name} is not an image this gallery shows (JPEG, PNG, GIF, WebP, AVIF)"
            );
            return Err(bad(StatusCode::UNSUPPORTED_MEDIA_TYPE, message));
        }
        let body = field.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.body_text()));
        let stored = app
            .media
            .save(name, Content::from_stream(body))
            .await
            .map_err(|e| match e {
                Error::Io { source, .. } if source.kind() == io::ErrorKind::InvalidData => bad(
                    StatusCode::BAD_REQUEST,
                    format!("the upload broke off: {source}"),
                ),
                other => internal(other),
            })?;
        let wants_json = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"));
        if wants_json {
            let url = app
                .media
                .url(&stored, &Default::default())
                .await
                .map_err(internal)?;
            let body = serde_json::json!({ "name": stored.as_str(), "url": url });
            return Ok((StatusCode::CREATED, axum::Json(body)).into_response());
        }
        return Ok(Redirect::to("/").into_response());
    }
    Err(bad(
        StatusCode::BAD_REQUEST,
        "the form has no `file` field".into(),
    ))
}

async fn serve_media(State(app): State<App>, Path(name): Path<String>) -> Response {
    serve(&*app.media, &name).await
}

async fn serve_static(State(app): State<App>, Path(name): Path<String>) -> Response {
    serve(&*app.statics, &name).await
}

/// Streams a stored file with its type. A hostile or missing name is a plain 404 that does not echo it; active
/// content (HTML, SVG, XML, scripts) is sent as an attachment so an upload can never run in this site's origin.
async fn serve(storage: &dyn Storage, name: &str) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "not found").into_response();
    let Ok(got) = storage.open(name).await.inspect_err(log_unless_not_found) else {
        return not_found();
    };
    let content_type = got
        .meta
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    let mut response = Response::new(Body::from_stream(got.stream));
    let headers = response.headers_mut();
    let value = |s: &str| {
        HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static("application/octet-stream"))
    };
    headers.insert(header::CONTENT_TYPE, value(&content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(got.meta.size));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(etag) = got
        .meta
        .etag
        .as_deref()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        headers.insert(header::ETAG, etag);
    }
    if is_active(&content_type) {
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    response
}

fn log_unless_not_found(e: &Error) {
    if !matches!(e, Error::NotFound { .. } | Error::InvalidName(_)) {
        eprintln!("photos: serving failed: {e}");
    }
}

fn internal(e: Error) -> Response {
    eprintln!("photos: {e}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "the storage failed; see the server log",
    )
        .into_response()
}

fn is_image(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/jpeg" | "image/png" | "image/gif" | "image/webp" | "image/avif"
    )
}

fn is_active(content_type: &str) -> bool {
    content_type.contains("html")
        || content_type.contains("xml")
        || content_type.contains("javascript")
        || content_type == "image/svg+xml"
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
