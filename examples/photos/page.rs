//! What the two photo apps (axum and actix-web) share: settings, the upload rules and the gallery page. Each app
//! only wires these to its framework.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use storages::named::{MEDIA, STATIC};
use storages::web::{Delivery, Received, ServeOptions, UploadOptions, UploadTarget};
use storages::{Error, Metadata, Name, Storage, StorageExt, Storages};

/// Uploads are kept under this directory of the media storage.
pub const PHOTOS: &str = "photos";
/// The stylesheet published to the static storage.
pub const CSS_NAME: &str = "photos/app.css";
pub const CSS: &str = include_str!("app.css");
/// The largest photo accepted by default, in bytes (`PHOTOS_UPLOAD_LIMIT` sets another).
const UPLOAD_LIMIT: u64 = 1 << 30;
/// The types the gallery shows.
pub const IMAGE_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/avif",
];

/// Sends log events to stderr, filtered by `RUST_LOG` (`info,object_store=warn` when unset): among them every
/// storage failure, which the web core logs once with its cause. object_store's own `INFO` line for each retry is
/// left out, so that a failed request is one line.
pub fn install_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,object_store=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Why the app could not start. `main` returns it, and a `main` that fails prints its error with `Debug`: this one
/// shows its message (the storages' errors say their causes in it), as a person reads it, not a struct dump.
pub struct StartError(Box<dyn std::error::Error>);

impl<E: Into<Box<dyn std::error::Error>>> From<E> for StartError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl fmt::Debug for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The two storages the app uses.
pub struct AppStorages {
    /// The photos.
    pub media: Arc<dyn Storage>,
    /// The stylesheet.
    pub statics: Arc<dyn Storage>,
}

/// The media and static storages the environment configures, each checked to make the URLs the gallery and the
/// upload answer link (a storage without them stops the app here, not at its first request).
pub fn storages() -> Result<AppStorages, Error> {
    let storages = Storages::from_env()?;
    Ok(AppStorages {
        media: storages.linkable(MEDIA)?,
        statics: storages.linkable(STATIC)?,
    })
}

/// `--port N`, else `PORT`, else 8000.
pub fn port() -> Result<u16, Box<dyn std::error::Error>> {
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

/// The upload rules: the form's `file` field, one image per request, into `photos/`; the size limit from
/// `PHOTOS_UPLOAD_LIMIT` (bytes) and the idle timeout from `PHOTOS_IDLE_TIMEOUT_SECS` (seconds, fractions allowed)
/// when set.
pub fn upload_options() -> Result<UploadOptions, Box<dyn std::error::Error>> {
    let limit = match std::env::var("PHOTOS_UPLOAD_LIMIT") {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("invalid PHOTOS_UPLOAD_LIMIT `{v}`"))?,
        Err(_) => UPLOAD_LIMIT,
    };
    let mut options = UploadOptions::new()
        .field("file")
        .directory(Name::new(PHOTOS)?)
        .max_files(1)
        .max_file_size(limit)
        .allow_types(IMAGE_TYPES.iter().copied());
    if let Ok(v) = std::env::var("PHOTOS_IDLE_TIMEOUT_SECS") {
        let idle = v
            .parse::<f64>()
            .ok()
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
            .filter(|idle| !idle.is_zero())
            .ok_or_else(|| {
                format!("invalid PHOTOS_IDLE_TIMEOUT_SECS `{v}`: not a positive number")
            })?;
        options = options.idle_timeout(idle);
    }
    Ok(options)
}

/// How media is served: uploads are never run as active content; the bytes go through the app unless
/// `PHOTOS_MEDIA_DELIVERY` says otherwise: `x-accel:/protected-media/` hands each file to nginx (an `internal`
/// location with that prefix, aliased to the media root), `x-sendfile` to Apache or lighttpd, `redirect` sends
/// browsers to the storage's URL. A hand-off needs a media storage with local paths (`file:`, `nfs:`).
pub fn media_serving(media: &dyn Storage) -> Result<ServeOptions, Box<dyn std::error::Error>> {
    let Ok(text) = std::env::var("PHOTOS_MEDIA_DELIVERY") else {
        return Ok(ServeOptions::media());
    };
    let delivery: Delivery = text
        .parse()
        .map_err(|e| format!("invalid PHOTOS_MEDIA_DELIVERY: {e}"))?;
    if let Delivery::HandOff(hand_off) = &delivery {
        hand_off
            .check(media)
            .map_err(|e| format!("PHOTOS_MEDIA_DELIVERY={text}: {e}"))?;
    }
    Ok(ServeOptions::media().delivery(delivery))
}

/// How static files are served: inline, hashed names immutable, precompressed siblings.
pub fn static_serving() -> ServeOptions {
    ServeOptions::static_files()
}

/// Publishes the stylesheet to the static storage (at every start, replacing the last one).
pub async fn publish_css(statics: &dyn Storage) -> Result<(), Error> {
    statics
        .save_with(CSS_NAME, CSS, storages::SaveOptions::overwrite())
        .await
        .map(drop)
}

/// The gallery page: the newest photos first, linked by the media storage's URLs.
pub async fn gallery(
    media: &Arc<dyn Storage>,
    statics: &Arc<dyn Storage>,
) -> Result<String, Error> {
    let mut photos: Vec<Metadata> = media
        .list_all(PHOTOS)
        .await?
        .into_iter()
        .filter(|m| {
            // Object listings carry no content type: the name tells it as it did when the photo was saved.
            let content_type = m
                .content_type
                .clone()
                .unwrap_or_else(|| storages::guess_content_type(&m.name));
            IMAGE_TYPES.contains(&content_type.as_str())
        })
        .collect();
    photos.sort_by(|a, b| {
        b.modified
            .cmp(&a.modified)
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut figures = String::new();
    for photo in &photos {
        let url = media.url(&photo.name, &Default::default()).await?;
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
    // The hashed name when `storages collectstatic --manifest` published the assets, the plain one otherwise.
    let hashed = match storages::statics::Manifest::load(statics).await {
        Ok(manifest) => manifest.static_url(CSS_NAME).await.ok(),
        Err(_) => None,
    };
    let css = match hashed {
        Some(url) => url,
        None => statics.public_url(CSS_NAME).await?,
    };
    Ok(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Photos</title>\
         <link rel=\"stylesheet\" href=\"{}\"></head><body>\n<h1>Photos</h1>\n\
         <form action=\"/upload\" method=\"post\" enctype=\"multipart/form-data\">\
         <input type=\"file\" name=\"file\" accept=\"image/*\" required> <button type=\"submit\">Upload</button></form>\n\
         <section class=\"gallery\">\n{figures}</section>\n</body></html>\n",
        escape(&css)
    ))
}

/// Whether the client asked for JSON (`Accept: application/json`) rather than a page.
pub fn wants_json(accept: Option<&str>) -> bool {
    accept.is_some_and(|v| v.contains("application/json"))
}

/// The JSON a JSON client gets for its stored upload (the form takes one file). When it cannot be made, the
/// upload is removed before the error is answered: a request answered with an error stores nothing.
pub async fn uploaded_json(
    uploads: &UploadTarget,
    received: &Received,
) -> Result<serde_json::Value, Error> {
    let name = &received.files[0].name;
    match uploads.storage().url(name, &Default::default()).await {
        Ok(url) => Ok(serde_json::json!({ "name": name.as_str(), "url": url })),
        Err(e) => {
            uploads.discard(received).await;
            Err(e)
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The storages' metrics in Prometheus' text format, served at `/metrics` when the app is built with the `metrics`
/// feature (`cargo run --features axum,metrics --example photos`); without it, `/metrics` is `404`.
#[derive(Clone)]
pub struct Metrics {
    #[cfg(feature = "metrics")]
    handle: metrics_exporter_prometheus::PrometheusHandle,
}

/// Prometheus' text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Metrics {
    /// Installs the process's metrics recorder (before any storage is used, so nothing goes uncounted). It renders
    /// into the app's own route: no listener of its own.
    #[cfg(feature = "metrics")]
    pub fn install() -> Result<Self, Box<dyn std::error::Error>> {
        use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
        // Latency buckets from a cached stat on a local disk to a slow upload to object storage.
        let buckets = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0];
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("storages_operation_duration_seconds".into()),
                &buckets,
            )?
            .install_recorder()?;
        storages::traced::describe_metrics();
        Ok(Self { handle })
    }

    /// Without the `metrics` feature there is nothing to install.
    #[cfg(not(feature = "metrics"))]
    pub fn install() -> Result<Self, Box<dyn std::error::Error>> {
        Ok(Self {})
    }

    /// The metrics now, or `None` without the `metrics` feature.
    pub fn render(&self) -> Option<String> {
        #[cfg(feature = "metrics")]
        {
            self.handle.run_upkeep();
            Some(self.handle.render())
        }
        #[cfg(not(feature = "metrics"))]
        None
    }
}
