//! The web core through both adapters, as a framework calls them: axum's router with `oneshot`, actix-web's app
//! with its test utilities. Every case runs on every storage (memory, local, S3 on Garage) and every adapter, so
//! each behaviour is written once and checked six times.
#![cfg(all(feature = "axum", feature = "actix", feature = "local", feature = "s3"))]

use crate::support;
use support::s3::unique;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Method};
use storages::statics::IMMUTABLE;
use storages::web::{Delivery, HandOff, Received, ServeOptions, UploadOptions, UploadTarget};
use storages::{Name, SaveOptions, Settings, Storage, StorageExt};
use support::s3::shared_garage;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Memory,
    Local,
    S3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Adapter {
    Axum,
    Actix,
}

/// One storage of one backend, fresh for each test, and the adapter requests go through.
struct Fixture {
    backend: Backend,
    adapter: Adapter,
    storage: Arc<dyn Storage>,
    dir: Option<tempfile::TempDir>,
}

/// The public URL prefix of memory and local storages (S3 storages link to the bucket).
const CDN: &str = "https://cdn.example.com/files/";

impl Fixture {
    fn new(backend: Backend, adapter: Adapter) -> Self {
        Self::with_query(backend, adapter, "")
    }

    /// A fixture whose settings URL carries `query` (options such as `cache_control=...`) as well.
    fn with_query(backend: Backend, adapter: Adapter, query: &str) -> Self {
        let extra = if query.is_empty() {
            String::new()
        } else {
            format!("&{query}")
        };
        let (url, dir) = match backend {
            Backend::Memory => (format!("memory://?base_url={CDN}{extra}"), None),
            Backend::Local => {
                let dir = tempfile::tempdir().expect("tempdir");
                (
                    format!("file://{}?base_url={CDN}{extra}", dir.path().display()),
                    Some(dir),
                )
            }
            Backend::S3 => (
                format!("{}{extra}", shared_garage().settings_url(&unique("web"))),
                None,
            ),
        };
        let storage = Settings::parse(&url)
            .expect("settings")
            .build()
            .expect("storage");
        Self {
            backend,
            adapter,
            storage,
            dir,
        }
    }

    async fn put(&self, name: &str, bytes: impl Into<Bytes>) {
        let bytes: Bytes = bytes.into();
        self.storage
            .save_with(name, bytes, SaveOptions::overwrite())
            .await
            .unwrap_or_else(|e| panic!("put {name}: {e}"));
    }

    /// A request to the storage mounted at `/files` with `options`.
    async fn call(
        &self,
        options: &ServeOptions,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let request = || {
            let mut builder = http::Request::builder().method(method.clone()).uri(path);
            for (k, v) in headers {
                builder = builder.header(*k, *v);
            }
            builder
        };
        match self.adapter {
            Adapter::Axum => {
                use tower::ServiceExt;
                let router: axum::Router = axum::Router::new().nest(
                    "/files",
                    storages::web::axum::serve_storage(self.storage.clone(), options.clone()),
                );
                let request = request().body(axum::body::Body::empty()).expect("request");
                axum_answer(router.oneshot(request).await.expect("infallible")).await
            }
            Adapter::Actix => {
                let app = actix_web::test::init_service(actix_web::App::new().service(
                    storages::web::actix::serve_storage(
                        "/files",
                        self.storage.clone(),
                        options.clone(),
                    ),
                ))
                .await;
                let mut test = actix_web::test::TestRequest::default()
                    .method(
                        actix_web::http::Method::from_bytes(method.as_str().as_bytes())
                            .expect("method"),
                    )
                    .uri(path);
                for (k, v) in headers {
                    test = test.insert_header((*k, *v));
                }
                actix_answer(actix_web::test::call_service(&app, test.to_request()).await).await
            }
        }
    }

    async fn get(&self, options: &ServeOptions, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.call(options, Method::GET, path, headers).await
    }

    async fn media(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.get(&ServeOptions::media(), path, headers).await
    }
}

/// A response, the same shape from both adapters.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("text header"))
    }

    #[track_caller]
    fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status,
            status,
            "{self:?} body {:?}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }
}

async fn axum_answer(response: axum::response::Response) -> Answer {
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.expect("body");
    Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

async fn actix_answer<B: actix_web::body::MessageBody>(
    response: actix_web::dev::ServiceResponse<B>,
) -> Answer {
    let status = response.status().as_u16();
    let mut headers = HeaderMap::new();
    for (k, v) in response.headers() {
        headers.append(
            http::HeaderName::from_bytes(k.as_str().as_bytes()).expect("name"),
            http::HeaderValue::from_bytes(v.as_bytes()).expect("value"),
        );
    }
    let body = actix_web::test::read_body(response).await;
    Answer {
        status,
        headers,
        body,
    }
}

fn http_date(time: SystemTime) -> String {
    httpdate::fmt_http_date(time)
}

const TEXT: &[u8] = b"0123456789abcdefghij";

/// Stores `docs/a.txt` and answers its GET.
async fn stored(fx: &Fixture) -> Answer {
    fx.put("docs/a.txt", TEXT).await;
    let answer = fx.media("/files/docs/a.txt", &[]).await;
    answer.expect(200);
    answer
}

fn last_modified(answer: &Answer) -> SystemTime {
    httpdate::parse_http_date(answer.header("last-modified").expect("Last-Modified"))
        .expect("an HTTP-date")
}

// ---------------------------------------------------------------------------------------------------------------
// Serving cases

async fn a_get_sends_the_bytes_with_validators_and_safe_headers(fx: Fixture) {
    let answer = stored(&fx).await;
    assert_eq!(answer.body, TEXT);
    assert_eq!(answer.header("content-type"), Some("text/plain"));
    assert_eq!(answer.header("content-length"), Some("20"));
    let etag = answer.header("etag").expect("ETag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "a strong ETag: {etag}"
    );
    let modified = last_modified(&answer);
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default();
    assert!(
        age < Duration::from_secs(600),
        "Last-Modified is the write time: {modified:?}"
    );
    assert_eq!(answer.header("accept-ranges"), Some("bytes"));
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("content-disposition"), None);
    assert_eq!(answer.header("cache-control"), None);
    assert_eq!(answer.header("vary"), None);
}

async fn head_sends_the_headers_of_get_without_bytes(fx: Fixture) {
    let get = stored(&fx).await;
    let head = fx
        .call(
            &ServeOptions::media(),
            Method::HEAD,
            "/files/docs/a.txt",
            &[],
        )
        .await;
    head.expect(200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), Some("20"));
    for name in [
        "etag",
        "last-modified",
        "content-type",
        "accept-ranges",
        "x-content-type-options",
    ] {
        assert_eq!(head.header(name), get.header(name), "{name}");
    }
}

async fn if_match_with_another_tag_or_a_weak_one_fails_with_412(fx: Fixture) {
    let etag = stored(&fx).await.header("etag").expect("etag").to_owned();
    for value in ["\"other\"".to_owned(), format!("W/{etag}")] {
        let answer = fx.media("/files/docs/a.txt", &[("if-match", &value)]).await;
        answer.expect(412);
        assert_ne!(answer.body, TEXT);
    }
}

async fn if_match_with_the_current_tag_or_a_star_proceeds(fx: Fixture) {
    let etag = stored(&fx).await.header("etag").expect("etag").to_owned();
    for value in [etag.clone(), format!("\"x\", {etag}"), "*".to_owned()] {
        let answer = fx.media("/files/docs/a.txt", &[("if-match", &value)]).await;
        answer.expect(200);
        assert_eq!(answer.body, TEXT, "{value}");
    }
}

async fn if_unmodified_since_before_the_write_fails_with_412(fx: Fixture) {
    let modified = last_modified(&stored(&fx).await);
    let before = http_date(modified - Duration::from_secs(86_400));
    fx.media("/files/docs/a.txt", &[("if-unmodified-since", &before)])
        .await
        .expect(412);
    let at = http_date(modified);
    fx.media("/files/docs/a.txt", &[("if-unmodified-since", &at)])
        .await
        .expect(200);
}

async fn if_match_takes_precedence_over_if_unmodified_since(fx: Fixture) {
    let answer = stored(&fx).await;
    let etag = answer.header("etag").expect("etag").to_owned();
    let before = http_date(last_modified(&answer) - Duration::from_secs(86_400));
    let headers = [
        ("if-match", etag.as_str()),
        ("if-unmodified-since", before.as_str()),
    ];
    fx.media("/files/docs/a.txt", &headers).await.expect(200);
}

async fn if_none_match_with_the_current_tag_is_304_with_validators(fx: Fixture) {
    let get = stored(&fx).await;
    let etag = get.header("etag").expect("etag").to_owned();
    for value in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"x\", {etag}"),
        "*".to_owned(),
    ] {
        let answer = fx
            .media("/files/docs/a.txt", &[("if-none-match", &value)])
            .await;
        answer.expect(304);
        assert!(answer.body.is_empty());
        assert_eq!(answer.header("etag"), Some(etag.as_str()));
        assert_eq!(answer.header("last-modified"), get.header("last-modified"));
    }
}

async fn if_none_match_with_another_tag_sends_the_file(fx: Fixture) {
    stored(&fx).await;
    let answer = fx
        .media("/files/docs/a.txt", &[("if-none-match", "\"other\"")])
        .await;
    answer.expect(200);
    assert_eq!(answer.body, TEXT);
}

async fn if_modified_since_at_or_after_the_write_is_304(fx: Fixture) {
    let modified = last_modified(&stored(&fx).await);
    for date in [modified, modified + Duration::from_secs(3600)] {
        fx.media(
            "/files/docs/a.txt",
            &[("if-modified-since", &http_date(date))],
        )
        .await
        .expect(304);
    }
}

async fn if_modified_since_before_the_write_sends_the_file(fx: Fixture) {
    let modified = last_modified(&stored(&fx).await);
    let before = http_date(modified - Duration::from_secs(1));
    let answer = fx
        .media("/files/docs/a.txt", &[("if-modified-since", &before)])
        .await;
    answer.expect(200);
    assert_eq!(answer.body, TEXT);
    let junk = fx
        .media("/files/docs/a.txt", &[("if-modified-since", "yesterday")])
        .await;
    junk.expect(200);
}

async fn if_none_match_takes_precedence_over_if_modified_since(fx: Fixture) {
    let modified = last_modified(&stored(&fx).await);
    let after = http_date(modified + Duration::from_secs(3600));
    let headers = [
        ("if-none-match", "\"other\""),
        ("if-modified-since", after.as_str()),
    ];
    fx.media("/files/docs/a.txt", &headers).await.expect(200);
}

async fn a_failed_if_match_wins_over_a_matching_if_none_match(fx: Fixture) {
    let etag = stored(&fx).await.header("etag").expect("etag").to_owned();
    let headers = [("if-match", "\"other\""), ("if-none-match", etag.as_str())];
    fx.media("/files/docs/a.txt", &headers).await.expect(412);
}

async fn head_answers_preconditions_too(fx: Fixture) {
    let etag = stored(&fx).await.header("etag").expect("etag").to_owned();
    let options = ServeOptions::media();
    fx.call(
        &options,
        Method::HEAD,
        "/files/docs/a.txt",
        &[("if-none-match", &etag)],
    )
    .await
    .expect(304);
    fx.call(
        &options,
        Method::HEAD,
        "/files/docs/a.txt",
        &[("if-match", "\"other\"")],
    )
    .await
    .expect(412);
}

async fn a_single_byte_range_is_206_with_content_range(fx: Fixture) {
    let etag = stored(&fx).await.header("etag").expect("etag").to_owned();
    let answer = fx
        .media("/files/docs/a.txt", &[("range", "bytes=2-5")])
        .await;
    answer.expect(206);
    assert_eq!(answer.body, "2345");
    assert_eq!(answer.header("content-range"), Some("bytes 2-5/20"));
    assert_eq!(answer.header("content-length"), Some("4"));
    assert_eq!(answer.header("etag"), Some(etag.as_str()));
    assert_eq!(answer.header("content-type"), Some("text/plain"));
}

async fn open_ended_suffix_and_overlong_ranges_are_cut_to_the_file(fx: Fixture) {
    stored(&fx).await;
    for (range, body, content_range) in [
        ("bytes=15-", "fghij", "bytes 15-19/20"),
        ("bytes=-3", "hij", "bytes 17-19/20"),
        ("bytes=10-999", "abcdefghij", "bytes 10-19/20"),
        ("bytes=-100", "0123456789abcdefghij", "bytes 0-19/20"),
    ] {
        let answer = fx.media("/files/docs/a.txt", &[("range", range)]).await;
        answer.expect(206);
        assert_eq!(answer.body, body, "{range}");
        assert_eq!(
            answer.header("content-range"),
            Some(content_range),
            "{range}"
        );
    }
}

async fn an_unsatisfiable_or_malformed_range_is_416_with_the_size(fx: Fixture) {
    stored(&fx).await;
    for range in ["bytes=20-", "bytes=5-2", "bytes=x-y", "bytes=-0"] {
        let answer = fx.media("/files/docs/a.txt", &[("range", range)]).await;
        answer.expect(416);
        assert_eq!(
            answer.header("content-range"),
            Some("bytes */20"),
            "{range}"
        );
        assert_ne!(answer.body, TEXT);
    }
}

async fn several_ranges_or_another_unit_get_the_whole_file(fx: Fixture) {
    stored(&fx).await;
    for range in ["bytes=0-1,4-5", "items=0-1"] {
        let answer = fx.media("/files/docs/a.txt", &[("range", range)]).await;
        answer.expect(200);
        assert_eq!(answer.body, TEXT, "{range}");
        assert_eq!(answer.header("content-range"), None);
    }
}

async fn if_range_keeps_the_range_only_while_the_file_is_unchanged(fx: Fixture) {
    let answer = stored(&fx).await;
    let etag = answer.header("etag").expect("etag").to_owned();
    let date = answer.header("last-modified").expect("date").to_owned();
    let older = http_date(last_modified(&answer) - Duration::from_secs(60));
    for (if_range, status) in [
        (etag.as_str(), 206),
        (date.as_str(), 206),
        ("\"other\"", 200),
        (older.as_str(), 200),
    ] {
        let answer = fx
            .media(
                "/files/docs/a.txt",
                &[("range", "bytes=0-1"), ("if-range", if_range)],
            )
            .await;
        answer.expect(status);
        let body: &[u8] = if status == 206 { b"01" } else { TEXT };
        assert_eq!(answer.body, body, "If-Range {if_range}");
    }
    let weak = format!("W/{etag}");
    fx.media(
        "/files/docs/a.txt",
        &[("range", "bytes=0-1"), ("if-range", &weak)],
    )
    .await
    .expect(200);
}

async fn head_ignores_range(fx: Fixture) {
    stored(&fx).await;
    let answer = fx
        .call(
            &ServeOptions::media(),
            Method::HEAD,
            "/files/docs/a.txt",
            &[("range", "bytes=0-1")],
        )
        .await;
    answer.expect(200);
    assert_eq!(answer.header("content-length"), Some("20"));
    assert_eq!(answer.header("content-range"), None);
}

async fn an_empty_file_is_served_and_any_range_of_it_is_416(fx: Fixture) {
    fx.put("empty.txt", Bytes::new()).await;
    let answer = fx.media("/files/empty.txt", &[]).await;
    answer.expect(200);
    assert!(answer.body.is_empty());
    assert_eq!(answer.header("content-length"), Some("0"));
    let range = fx.media("/files/empty.txt", &[("range", "bytes=0-")]).await;
    range.expect(416);
    assert_eq!(range.header("content-range"), Some("bytes */0"));
}

async fn active_media_is_an_attachment_unless_inline_is_allowed(fx: Fixture) {
    for name in ["page.html", "image.svg", "app.js", "feed.xml"] {
        fx.put(name, "<x>").await;
        let path = format!("/files/{name}");
        let answer = fx.media(&path, &[]).await;
        answer.expect(200);
        assert_eq!(
            answer.header("content-disposition"),
            Some("attachment"),
            "{name}"
        );
        let inline = fx
            .get(&ServeOptions::media().inline_active(true), &path, &[])
            .await;
        assert_eq!(inline.header("content-disposition"), None, "{name}");
        let statics = fx.get(&ServeOptions::static_files(), &path, &[]).await;
        assert_eq!(statics.header("content-disposition"), None, "{name}");
    }
    fx.put("photo.png", "png").await;
    assert_eq!(
        fx.media("/files/photo.png", &[])
            .await
            .header("content-disposition"),
        None
    );
}

async fn hashed_static_names_are_immutable(fx: Fixture) {
    fx.put("css/app.0123456789ab.css", "body{}").await;
    fx.put("css/app.css", "body{}").await;
    let statics = ServeOptions::static_files();
    let hashed = fx
        .get(&statics, "/files/css/app.0123456789ab.css", &[])
        .await;
    hashed.expect(200);
    assert_eq!(hashed.header("cache-control"), Some(IMMUTABLE));
    assert_eq!(IMMUTABLE, "public, max-age=31536000, immutable");
    let etag = hashed.header("etag").expect("etag").to_owned();
    let revalidated = fx
        .get(
            &statics,
            "/files/css/app.0123456789ab.css",
            &[("if-none-match", &etag)],
        )
        .await;
    revalidated.expect(304);
    assert_eq!(revalidated.header("cache-control"), Some(IMMUTABLE));
    let plain = fx.get(&statics, "/files/css/app.css", &[]).await;
    assert_eq!(plain.header("cache-control"), None);
    let media = fx.media("/files/css/app.0123456789ab.css", &[]).await;
    assert_eq!(
        media.header("cache-control"),
        None,
        "media names are never taken for hashed ones"
    );
}

async fn immutable_names_can_come_from_a_manifest(fx: Fixture) {
    fx.put("logo.png", "png").await;
    let options = ServeOptions::media().immutable_names([Name::new("logo.png").expect("name")]);
    assert_eq!(
        fx.get(&options, "/files/logo.png", &[])
            .await
            .header("cache-control"),
        Some(IMMUTABLE)
    );
}

async fn the_cache_control_setting_is_sent_and_can_be_overridden(fx: Fixture) {
    let fx = Fixture::with_query(fx.backend, fx.adapter, "cache_control=max-age%3D60");
    fx.put("a.txt", "a").await;
    let answer = fx.media("/files/a.txt", &[]).await;
    assert_eq!(answer.header("cache-control"), Some("max-age=60"));
    let etag = answer.header("etag").expect("etag").to_owned();
    let not_modified = fx.media("/files/a.txt", &[("if-none-match", &etag)]).await;
    assert_eq!(not_modified.header("cache-control"), Some("max-age=60"));
    let options = ServeOptions::media().cache_control("no-cache");
    assert_eq!(
        fx.get(&options, "/files/a.txt", &[])
            .await
            .header("cache-control"),
        Some("no-cache")
    );
}

async fn precompressed_siblings_follow_accept_encoding(fx: Fixture) {
    fx.put("app.css", "plain css").await;
    fx.put("app.css.br", "brotli css").await;
    fx.put("app.css.gz", "gzip css").await;
    let statics = ServeOptions::static_files();
    let mut etags = Vec::new();
    for (accept, body, encoding) in [
        (Some("gzip, deflate, br"), "brotli css", Some("br")),
        (Some("gzip"), "gzip css", Some("gzip")),
        (Some("br;q=0, gzip"), "gzip css", Some("gzip")),
        (Some("br;q=0.5, gzip"), "gzip css", Some("gzip")),
        (Some("identity"), "plain css", None),
        (None, "plain css", None),
    ] {
        let headers: Vec<(&str, &str)> =
            accept.map(|a| ("accept-encoding", a)).into_iter().collect();
        let answer = fx.get(&statics, "/files/app.css", &headers).await;
        answer.expect(200);
        assert_eq!(answer.body, body, "{accept:?}");
        assert_eq!(answer.header("content-encoding"), encoding, "{accept:?}");
        assert_eq!(
            answer.header("content-type"),
            Some("text/css"),
            "{accept:?}"
        );
        assert_eq!(answer.header("vary"), Some("accept-encoding"), "{accept:?}");
        assert_eq!(
            answer.header("content-length"),
            Some(body.len().to_string().as_str())
        );
        etags.push(answer.header("etag").expect("etag").to_owned());
    }
    assert_ne!(
        etags[0], etags[1],
        "each encoding is its own representation"
    );
    assert_ne!(etags[0], etags[5]);
    let media = fx
        .media("/files/app.css", &[("accept-encoding", "br")])
        .await;
    assert_eq!(
        media.body, "plain css",
        "media options look for no siblings"
    );
    assert_eq!(media.header("vary"), None);
}

async fn a_missing_sibling_falls_back_to_the_next_or_the_original(fx: Fixture) {
    fx.put("app.js", "plain js").await;
    fx.put("app.js.gz", "gzip js").await;
    let statics = ServeOptions::static_files();
    let gz = fx
        .get(
            &statics,
            "/files/app.js",
            &[("accept-encoding", "br, gzip")],
        )
        .await;
    assert_eq!(
        (gz.body.as_ref(), gz.header("content-encoding")),
        (&b"gzip js"[..], Some("gzip"))
    );
    let plain = fx
        .get(&statics, "/files/app.js", &[("accept-encoding", "br")])
        .await;
    assert_eq!(
        (plain.body.as_ref(), plain.header("content-encoding")),
        (&b"plain js"[..], None)
    );
    let range = fx
        .get(
            &statics,
            "/files/app.js",
            &[("accept-encoding", "gzip"), ("range", "bytes=0-3")],
        )
        .await;
    range.expect(206);
    assert_eq!(
        range.body, "gzip",
        "a range of the compressed representation"
    );
}

/// Paths that leave the root, are no valid name, name a temporary file or a directory, or nothing.
const HOSTILE_OR_MISSING: [&str; 12] = [
    "/files/..%2fsecret.txt",
    "/files/%2e%2e/secret.txt",
    "/files/docs/..%2f..%2fsecret.txt",
    "/files/docs%2f..%2f..%2fsecret.txt",
    "/files/a%5c..%5csecret.txt",
    "/files/a%00secret",
    "/files/%2fetc%2fsecret",
    "/files//etc/secret",
    "/files/docs/%ff%fesecret",
    "/files/missing-secret.txt",
    "/files/docs",
    "/files/.storages-tmp.secret",
];

async fn hostile_and_missing_names_are_a_plain_404(fx: Fixture) {
    fx.put("docs/a.txt", TEXT).await;
    if let Some(dir) = &fx.dir {
        std::fs::write(
            dir.path().join(".storages-tmp.secret"),
            "an unfinished write",
        )
        .expect("write");
    }
    for path in HOSTILE_OR_MISSING {
        let answer = fx.media(path, &[]).await;
        answer.expect(404);
        assert_eq!(answer.body, "not found\n", "{path}");
        assert_eq!(
            answer.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    }
}

async fn names_are_percent_decoded_exactly_once(fx: Fixture) {
    fx.put("a b/é%41+.txt", "odd").await;
    let answer = fx.media("/files/a%20b/%C3%A9%2541%2B.txt", &[]).await;
    answer.expect(200);
    assert_eq!(answer.body, "odd");
    fx.media("/files/a%20b/%C3%A9A+.txt", &[]).await.expect(404);
}

async fn other_methods_are_405_with_allow(fx: Fixture) {
    stored(&fx).await;
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let answer = fx
            .call(
                &ServeOptions::media(),
                method.clone(),
                "/files/docs/a.txt",
                &[],
            )
            .await;
        answer.expect(405);
        assert_eq!(answer.header("allow"), Some("GET, HEAD"), "{method}");
    }
    assert_eq!(
        fx.storage
            .read_to_bytes("docs/a.txt")
            .await
            .expect("still there"),
        TEXT
    );
}

async fn a_replaced_file_has_a_new_etag_and_old_validators_stop_matching(fx: Fixture) {
    let old = stored(&fx).await.header("etag").expect("etag").to_owned();
    fx.put("docs/a.txt", "new content").await;
    let answer = fx
        .media("/files/docs/a.txt", &[("if-none-match", &old)])
        .await;
    answer.expect(200);
    assert_eq!(answer.body, "new content");
    assert_ne!(answer.header("etag"), Some(old.as_str()));
    fx.media("/files/docs/a.txt", &[("if-match", &old)])
        .await
        .expect(412);
}

async fn redirect_delivery_answers_302_to_the_storage_url(fx: Fixture) {
    stored(&fx).await;
    let expires = (fx.backend == Backend::S3).then(|| Duration::from_secs(120));
    let options = ServeOptions::media().delivery(Delivery::Redirect { expires });
    let answer = fx.get(&options, "/files/docs/a.txt", &[]).await;
    answer.expect(302);
    let location = answer.header("location").expect("Location").to_owned();
    match fx.backend {
        Backend::S3 => {
            assert!(location.contains("X-Amz-Signature="), "{location}");
            let fetched = reqwest::get(&location).await.expect("follow");
            assert_eq!(fetched.status(), 200, "{location}");
            assert_eq!(fetched.bytes().await.expect("bytes"), TEXT);
        }
        _ => assert_eq!(location, format!("{CDN}docs/a.txt")),
    }
    let missing = fx.get(&options, "/files/docs/missing.txt", &[]).await;
    missing.expect(404);
    assert_eq!(missing.header("location"), None);
    fx.get(&options, "/files/..%2fa.txt", &[]).await.expect(404);
}

fn x_accel() -> ServeOptions {
    ServeOptions::media()
        .delivery("x-accel:/protected/".parse().expect("delivery"))
        .cache_control("private, max-age=60")
}

async fn hand_off_delivery_names_the_file_for_the_front_server(fx: Fixture) {
    fx.put("docs/a b/é.txt", TEXT).await;
    fx.put("docs/page.html", "<script>alert(1)</script>").await;
    let sendfile = ServeOptions::media().delivery(Delivery::HandOff(HandOff::x_sendfile()));
    let Some(dir) = &fx.dir else {
        // Object storage keeps no file on this machine: refused up front, and never handed off when served anyway.
        let refused = HandOff::x_sendfile()
            .check(&*fx.storage)
            .expect_err("no local paths");
        assert!(
            refused.to_string().contains("storage has none"),
            "{refused}"
        );
        for options in [x_accel(), sendfile] {
            let answer = fx.get(&options, "/files/docs/page.html", &[]).await;
            answer.expect(500);
            assert_eq!(answer.header("x-accel-redirect"), None);
            assert_eq!(answer.header("x-sendfile"), None);
        }
        return;
    };
    HandOff::x_sendfile()
        .check(&*fx.storage)
        .expect("a local storage can hand off");
    // Preconditions and ranges are the front server's: the app hands off whatever it is asked.
    let conditional = [("range", "bytes=0-1"), ("if-none-match", "*")];
    for method in [Method::GET, Method::HEAD] {
        let answer = fx
            .call(
                &x_accel(),
                method.clone(),
                "/files/docs/a%20b/%C3%A9.txt",
                &conditional,
            )
            .await;
        answer.expect(200);
        assert!(answer.body.is_empty(), "{method}: the app sends no bytes");
        assert_eq!(
            answer.header("x-accel-redirect"),
            Some("/protected/docs/a%20b/%C3%A9.txt")
        );
        assert_eq!(answer.header("content-type"), Some("text/plain"));
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(answer.header("cache-control"), Some("private, max-age=60"));
        assert_eq!(answer.header("content-disposition"), None);
        assert_eq!(answer.header("etag"), None, "validators are nginx's own");
    }
    let html = fx.get(&x_accel(), "/files/docs/page.html", &[]).await;
    html.expect(200);
    assert_eq!(
        html.header("x-accel-redirect"),
        Some("/protected/docs/page.html")
    );
    assert_eq!(html.header("content-disposition"), Some("attachment"));
    assert_eq!(html.header("content-type"), Some("text/html"));

    let root = dir.path().canonicalize().expect("root");
    let answer = fx.get(&sendfile, "/files/docs/a%20b/%C3%A9.txt", &[]).await;
    answer.expect(200);
    assert!(answer.body.is_empty());
    assert_eq!(
        answer.header("x-sendfile"),
        Some(format!("{}/docs/a%20b/%C3%A9.txt", root.display()).as_str())
    );
}

async fn hand_off_refuses_hostile_and_missing_names_with_a_plain_404(fx: Fixture) {
    fx.put("docs/a.txt", TEXT).await;
    let mut paths = HOSTILE_OR_MISSING.to_vec();
    if let Some(dir) = &fx.dir {
        std::fs::write(dir.path().join(".storages-tmp.secret"), "unfinished").expect("write");
        // A link leading out of the root: nginx would follow it, so the app must never hand it off.
        let outside = dir.path().parent().expect("parent").join(unique("outside"));
        std::fs::write(&outside, "secret").expect("write");
        std::os::unix::fs::symlink(&outside, dir.path().join("docs/out.txt")).expect("symlink");
        paths.push("/files/docs/out.txt");
        for options in [
            x_accel(),
            ServeOptions::media().delivery("x-sendfile".parse().expect("delivery")),
        ] {
            for path in &paths {
                let answer = fx.get(&options, path, &[]).await;
                answer.expect(404);
                assert_eq!(answer.body, "not found\n", "{path}");
                assert_eq!(answer.header("x-accel-redirect"), None, "{path}");
                assert_eq!(answer.header("x-sendfile"), None, "{path}");
            }
        }
        std::fs::remove_file(outside).expect("remove");
        return;
    }
    for path in &paths {
        let answer = fx.get(&x_accel(), path, &[]).await;
        answer.expect(404);
        assert_eq!(answer.header("x-accel-redirect"), None, "{path}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Upload cases

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n a photo";

/// A multipart body: `(field, Some(file name) or None for text, bytes)`.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----storages-test-boundary";
    let mut body = Vec::new();
    for (field, file_name, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(file) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{field}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{field}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn received_json(received: &Received) -> serde_json::Value {
    serde_json::json!({
        "files": received.files.iter().map(|f| serde_json::json!({
            "field": f.field, "file_name": f.file_name, "name": f.name.as_str(), "size": f.size,
            "content_type": f.content_type,
        })).collect::<Vec<_>>(),
        "fields": received.fields,
    })
}

impl Fixture {
    /// POSTs `body` with `content_type` to `/upload` (the upload extractor into this storage under `options`), to
    /// `/upload-then-fail` (the same, with a handler that fails after the upload: it discards it and answers `500`)
    /// or to `/direct` (the direct-upload route).
    async fn post(
        &self,
        options: UploadOptions,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let target = UploadTarget::new(self.storage.clone(), options);
        match self.adapter {
            Adapter::Axum => {
                use storages::web::axum::{Upload, direct_upload};
                use tower::ServiceExt;
                let router: axum::Router = axum::Router::new()
                    .route(
                        "/upload",
                        axum::routing::post(|Upload(received): Upload| async move {
                            axum::Json(received_json(&received))
                        }),
                    )
                    .route(
                        "/upload-then-fail",
                        axum::routing::post(
                            |axum::extract::State(target): axum::extract::State<UploadTarget>,
                             Upload(received): Upload| async move {
                                target.discard(&received).await;
                                http::StatusCode::INTERNAL_SERVER_ERROR
                            },
                        ),
                    )
                    .route("/direct", direct_upload(target.clone()))
                    .with_state(target);
                let request = http::Request::post(path)
                    .header("content-type", content_type)
                    .body(axum::body::Body::from(body))
                    .expect("request");
                axum_answer(router.oneshot(request).await.expect("infallible")).await
            }
            Adapter::Actix => {
                use storages::web::actix::{Upload, direct_upload};
                let app = actix_web::test::init_service(
                    actix_web::App::new()
                        .app_data(target.clone())
                        .route(
                            "/upload",
                            actix_web::web::post().to(|Upload(received): Upload| async move {
                                actix_web::HttpResponse::Ok().json(received_json(&received))
                            }),
                        )
                        .route(
                            "/upload-then-fail",
                            actix_web::web::post().to(
                                |request: actix_web::HttpRequest, Upload(received): Upload| async move {
                                    let target = request.app_data::<UploadTarget>().expect("target");
                                    target.discard(&received).await;
                                    actix_web::HttpResponse::InternalServerError().finish()
                                },
                            ),
                        )
                        .service(direct_upload("/direct", target)),
                )
                .await;
                let request = actix_web::test::TestRequest::post()
                    .uri(path)
                    .insert_header(("content-type", content_type))
                    .set_payload(body)
                    .to_request();
                actix_answer(actix_web::test::call_service(&app, request).await).await
            }
        }
    }

    async fn upload(
        &self,
        options: UploadOptions,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> Answer {
        let (content_type, body) = multipart(parts);
        self.post(options, "/upload", &content_type, body).await
    }

    async fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .storage
            .list_all("")
            .await
            .expect("list")
            .into_iter()
            .map(|m| m.name.to_string())
            .collect();
        names.sort();
        names
    }
}

fn into_dir(dir: &str) -> UploadOptions {
    UploadOptions::new().directory(Name::new(dir).expect("name"))
}

fn json(answer: &Answer) -> serde_json::Value {
    serde_json::from_slice(&answer.body).expect("json")
}

async fn files_stream_into_the_storage_under_cleaned_names(fx: Fixture) {
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let answer = fx
        .upload(
            into_dir("up"),
            &[
                ("caption", None, b"my holiday"),
                ("file", Some("C:\\Users\\me\\My Cat (1).png"), PNG),
                ("file", Some("notes.txt"), &big),
            ],
        )
        .await;
    answer.expect(200);
    let received = json(&answer);
    assert_eq!(
        received["fields"],
        serde_json::json!([["caption", "my holiday"]])
    );
    assert_eq!(received["files"][0]["name"], "up/My_Cat_1.png");
    assert_eq!(
        received["files"][0]["file_name"],
        "C:\\Users\\me\\My Cat (1).png"
    );
    assert_eq!(received["files"][0]["size"], PNG.len());
    assert_eq!(received["files"][0]["content_type"], "image/png");
    assert_eq!(received["files"][1]["name"], "up/notes.txt");
    assert_eq!(received["files"][1]["size"], big.len());
    assert_eq!(
        fx.storage
            .read_to_bytes("up/My_Cat_1.png")
            .await
            .expect("stored"),
        PNG
    );
    assert_eq!(
        fx.storage
            .read_to_bytes("up/notes.txt")
            .await
            .expect("stored"),
        big
    );
}

/// What the photo apps do when their answer to a stored upload fails: every file of the request goes, nothing else.
async fn a_handler_failing_after_the_upload_discards_what_the_request_stored(fx: Fixture) {
    fx.put("up/kept.png", PNG).await;
    let (content_type, body) = multipart(&[
        ("file", Some("cat.png"), PNG),
        ("file", Some("kept.png"), PNG),
    ]);
    fx.post(into_dir("up"), "/upload-then-fail", &content_type, body)
        .await
        .expect(500);
    assert_eq!(fx.names().await, ["up/kept.png"]);
}

async fn a_taken_name_gets_a_new_one(fx: Fixture) {
    let mut names = Vec::new();
    for _ in 0..2 {
        let answer = fx
            .upload(into_dir("up"), &[("file", Some("cat.png"), PNG)])
            .await;
        answer.expect(200);
        names.push(
            json(&answer)["files"][0]["name"]
                .as_str()
                .expect("name")
                .to_owned(),
        );
    }
    assert_eq!(names[0], "up/cat.png");
    assert!(
        names[1].starts_with("up/cat_") && names[1].ends_with(".png"),
        "{}",
        names[1]
    );
    assert_eq!(fx.names().await.len(), 2);
}

async fn a_file_over_the_limit_is_413_and_nothing_of_the_request_is_stored(fx: Fixture) {
    let big = vec![7u8; 200_000];
    let options = into_dir("up").max_file_size(100_000);
    let answer = fx
        .upload(
            options.clone(),
            &[
                ("file", Some("ok.png"), PNG),
                ("file", Some("big.png"), &big),
            ],
        )
        .await;
    answer.expect(413);
    assert!(
        String::from_utf8_lossy(&answer.body).contains("big.png"),
        "the message names the file"
    );
    assert_eq!(
        fx.names().await,
        Vec::<String>::new(),
        "the first file was removed too"
    );
    let exact = vec![7u8; 100_000];
    fx.upload(options, &[("file", Some("exact.png"), &exact)])
        .await
        .expect(200);
    assert_eq!(
        fx.storage.size("up/exact.png").await.expect("stored"),
        100_000
    );
}

async fn types_and_extensions_not_allowed_are_415_and_not_stored(fx: Fixture) {
    let images = into_dir("up").allow_types(["image/*"]);
    fx.upload(images.clone(), &[("file", Some("page.html"), b"<script>")])
        .await
        .expect(415);
    fx.upload(images, &[("file", Some("photo.png"), PNG)])
        .await
        .expect(200);
    let png_only = into_dir("up").allow_extensions(["PNG"]);
    fx.upload(png_only.clone(), &[("file", Some("photo.jpg"), PNG)])
        .await
        .expect(415);
    fx.upload(png_only, &[("file", Some("other.PNG"), PNG)])
        .await
        .expect(200);
    assert_eq!(
        fx.names().await,
        vec!["up/other.PNG".to_owned(), "up/photo.png".to_owned()]
    );
}

async fn bad_forms_are_refused_plainly(fx: Fixture) {
    fx.upload(into_dir("up"), &[("file", Some(".."), PNG)])
        .await
        .expect(400);
    fx.upload(into_dir("up"), &[("caption", None, b"no file")])
        .await
        .expect(400);
    fx.upload(
        into_dir("up").max_files(1),
        &[("file", Some("a.png"), PNG), ("file", Some("b.png"), PNG)],
    )
    .await
    .expect(413);
    fx.post(
        into_dir("up"),
        "/upload",
        "application/json",
        b"{}".to_vec(),
    )
    .await
    .expect(415);
    let (content_type, mut body) = multipart(&[("file", Some("cut.png"), PNG)]);
    body.truncate(body.len() - 10);
    fx.post(into_dir("up"), "/upload", &content_type, body)
        .await
        .expect(400);
    assert_eq!(fx.names().await, Vec::<String>::new());
}

async fn files_in_other_fields_are_skipped(fx: Fixture) {
    let answer = fx
        .upload(
            into_dir("up").field("file"),
            &[
                ("avatar", Some("skip.png"), PNG),
                ("file", Some("keep.png"), PNG),
            ],
        )
        .await;
    answer.expect(200);
    assert_eq!(fx.names().await, vec!["up/keep.png".to_owned()]);
    let none = fx
        .upload(
            into_dir("up").field("file"),
            &[("avatar", Some("skip.png"), PNG)],
        )
        .await;
    none.expect(400);
    assert!(String::from_utf8_lossy(&none.body).contains("field `file`"));
}

async fn direct_uploads_are_presigned_puts_on_object_storage(fx: Fixture) {
    let options = into_dir("up").allow_types(["image/*"]).max_file_size(1000);
    let ask = |file: &str, size: u64| {
        serde_json::to_vec(&serde_json::json!({ "file_name": file, "size": size })).expect("json")
    };
    if fx.backend != Backend::S3 {
        fx.post(options, "/direct", "application/json", ask("cat.png", 10))
            .await
            .expect(501);
        return;
    }
    fx.post(
        options.clone(),
        "/direct",
        "application/json",
        ask("cat.png", 5000),
    )
    .await
    .expect(413);
    fx.post(
        options.clone(),
        "/direct",
        "application/json",
        ask("page.html", 10),
    )
    .await
    .expect(415);
    fx.post(
        options.clone(),
        "/direct",
        "application/json",
        b"not json".to_vec(),
    )
    .await
    .expect(400);
    fx.put("up/cat.png", "taken").await;
    let answer = fx
        .post(
            options,
            "/direct",
            "application/json",
            ask("my cat.png", 10),
        )
        .await;
    answer.expect(200);
    let ticket = json(&answer);
    let name = ticket["name"].as_str().expect("name").to_owned();
    assert_eq!(name, "up/my_cat.png");
    assert_eq!(ticket["method"], "PUT");
    assert_eq!(ticket["headers"]["content-type"], "image/png");
    let mut put = reqwest::Client::new().put(ticket["url"].as_str().expect("url"));
    for (k, v) in ticket["headers"].as_object().expect("headers") {
        put = put.header(k.as_str(), v.as_str().expect("value"));
    }
    let sent = put.body(PNG.to_vec()).send().await.expect("put");
    assert_eq!(sent.status(), 200, "{:?}", sent.text().await);
    assert_eq!(fx.storage.read_to_bytes(&name).await.expect("stored"), PNG);
    let clash = fx
        .post(
            into_dir("up"),
            "/direct",
            "application/json",
            ask("cat.png", 10),
        )
        .await;
    let other = json(&clash)["name"].as_str().expect("name").to_owned();
    assert!(
        other.starts_with("up/cat_") && other.ends_with(".png"),
        "a taken name is not handed out: {other}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// The matrix: every case on every backend through every adapter.

macro_rules! matrix {
    ($($case:ident),* $(,)?) => {
        matrix!(@module memory_axum, Backend::Memory, Adapter::Axum; $($case),*);
        matrix!(@module memory_actix, Backend::Memory, Adapter::Actix; $($case),*);
        matrix!(@module local_axum, Backend::Local, Adapter::Axum; $($case),*);
        matrix!(@module local_actix, Backend::Local, Adapter::Actix; $($case),*);
        matrix!(@module s3_axum, Backend::S3, Adapter::Axum; $($case),*);
        matrix!(@module s3_actix, Backend::S3, Adapter::Actix; $($case),*);
    };
    (@module $module:ident, $backend:expr, $adapter:expr; $($case:ident),*) => {
        mod $module {
            use super::*;
            $(#[actix_web::test]
            async fn $case() {
                super::$case(Fixture::new($backend, $adapter)).await
            })*
        }
    };
}

matrix!(
    a_get_sends_the_bytes_with_validators_and_safe_headers,
    head_sends_the_headers_of_get_without_bytes,
    if_match_with_another_tag_or_a_weak_one_fails_with_412,
    if_match_with_the_current_tag_or_a_star_proceeds,
    if_unmodified_since_before_the_write_fails_with_412,
    if_match_takes_precedence_over_if_unmodified_since,
    if_none_match_with_the_current_tag_is_304_with_validators,
    if_none_match_with_another_tag_sends_the_file,
    if_modified_since_at_or_after_the_write_is_304,
    if_modified_since_before_the_write_sends_the_file,
    if_none_match_takes_precedence_over_if_modified_since,
    a_failed_if_match_wins_over_a_matching_if_none_match,
    head_answers_preconditions_too,
    a_single_byte_range_is_206_with_content_range,
    open_ended_suffix_and_overlong_ranges_are_cut_to_the_file,
    an_unsatisfiable_or_malformed_range_is_416_with_the_size,
    several_ranges_or_another_unit_get_the_whole_file,
    if_range_keeps_the_range_only_while_the_file_is_unchanged,
    head_ignores_range,
    an_empty_file_is_served_and_any_range_of_it_is_416,
    active_media_is_an_attachment_unless_inline_is_allowed,
    hashed_static_names_are_immutable,
    immutable_names_can_come_from_a_manifest,
    the_cache_control_setting_is_sent_and_can_be_overridden,
    precompressed_siblings_follow_accept_encoding,
    a_missing_sibling_falls_back_to_the_next_or_the_original,
    hostile_and_missing_names_are_a_plain_404,
    names_are_percent_decoded_exactly_once,
    other_methods_are_405_with_allow,
    a_replaced_file_has_a_new_etag_and_old_validators_stop_matching,
    redirect_delivery_answers_302_to_the_storage_url,
    hand_off_delivery_names_the_file_for_the_front_server,
    hand_off_refuses_hostile_and_missing_names_with_a_plain_404,
    files_stream_into_the_storage_under_cleaned_names,
    a_taken_name_gets_a_new_one,
    a_handler_failing_after_the_upload_discards_what_the_request_stored,
    a_file_over_the_limit_is_413_and_nothing_of_the_request_is_stored,
    types_and_extensions_not_allowed_are_415_and_not_stored,
    bad_forms_are_refused_plainly,
    files_in_other_fields_are_skipped,
    direct_uploads_are_presigned_puts_on_object_storage,
);
