//! The photo apps behind a real nginx, as a site serves media in production: nginx proxies every request to the
//! app, and the app answers media requests with `X-Accel-Redirect` (`PHOTOS_MEDIA_DELIVERY=x-accel:...`), so nginx
//! sends the bytes itself from an `internal` location aliased to the media root. Both twins (axum, actix-web).
#![cfg(all(feature = "axum", feature = "actix", feature = "local"))]

use crate::support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use reqwest::multipart::{Form, Part};
use support::nginx::Nginx;
use support::{Server, example};

/// The internal location the app hands media to.
const PROTECTED: &str = "/protected-media/";

/// A photo of a few kilobytes, so that ranges have something to cut.
fn photo() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..5000u32).map(|i| (i * 7 % 251) as u8));
    bytes
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// nginx in front of the app on `app_port`: everything proxied, the media root served only to hand-offs.
/// `types {}` is empty, so any `Content-Type` other than `application/octet-stream` came from the app.
fn front(app_port: &str, media: &Path) -> Nginx {
    let server = format!(
        "types {{ }}\n\
         default_type application/octet-stream;\n\
         location / {{ proxy_pass http://127.0.0.1:{app_port}; }}\n\
         location {PROTECTED} {{\n\
         internal;\n\
         alias {media}/;\n\
         add_header X-Content-Type-Options nosniff always;\n\
         }}",
        media = media.display()
    );
    Nginx::start(&server).unwrap_or_else(|e| panic!("{e}"))
}

struct Site {
    dir: tempfile::TempDir,
    app: Server,
    nginx: Nginx,
}

impl Site {
    fn start(app: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let media = dir.path().join("media");
        std::fs::create_dir_all(media.join("photos")).expect("media");
        let media = media.canonicalize().expect("media path");
        let media_url = format!("file://{}?base_url=/media/", media.display());
        let app = Server::start(
            &example(app),
            dir.path(),
            &[
                ("STORAGES_MEDIA_URL", media_url.as_str()),
                ("PHOTOS_MEDIA_DELIVERY", "x-accel:/protected-media/"),
            ],
        );
        let port = app.base.rsplit(':').next().expect("port").to_owned();
        let nginx = front(&port, &media);
        Self { dir, app, nginx }
    }

    fn media(&self) -> std::path::PathBuf {
        self.dir.path().join("media")
    }

    /// Uploads `bytes` as `file_name` through nginx; the stored name.
    async fn upload(&self, file_name: &str, bytes: Vec<u8>) -> String {
        let form = Form::new().part("file", Part::bytes(bytes).file_name(file_name.to_owned()));
        let response = client()
            .post(self.nginx.url("/upload"))
            .header("accept", "application/json")
            .multipart(form)
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), 201, "{}", self.nginx.error_log());
        let json: serde_json::Value = response.json().await.expect("json");
        json["name"].as_str().expect("name").to_owned()
    }
}

scenarios!(
    an_uploaded_photo_is_sent_by_nginx_with_its_own_etag_and_ranges,
    the_app_itself_answers_media_with_an_empty_body_and_the_hand_off_header,
    hostile_missing_and_escaping_names_are_404_and_never_handed_off,
    active_content_keeps_the_apps_attachment_headers_through_nginx,
    a_hand_off_to_a_storage_without_local_paths_stops_the_app_at_start,
);

async fn an_uploaded_photo_is_sent_by_nginx_with_its_own_etag_and_ranges(app: &str) {
    let site = Site::start(app);
    let bytes = photo();
    let name = site.upload("cat.png", bytes.clone()).await;
    assert_eq!(name, "photos/cat.png");
    let url = site.nginx.url("/media/photos/cat.png");

    let whole = client().get(&url).send().await.expect("get");
    assert_eq!(whole.status(), 200, "{}", site.nginx.error_log());
    let headers = whole.headers().clone();
    assert_eq!(whole.bytes().await.expect("body"), bytes, "byte-exact");
    // nginx's static module makes its ETag from the file's mtime and size: `"<mtime hex>-<size hex>"`.
    let stat = std::fs::metadata(site.media().join("photos/cat.png")).expect("stat");
    let nginx_etag = format!("\"{:x}-{:x}\"", stat.mtime(), stat.len());
    assert_eq!(headers["etag"], nginx_etag.as_str());
    assert_eq!(
        headers["server"]
            .to_str()
            .expect("server")
            .split('/')
            .next(),
        Some("nginx")
    );
    assert_eq!(
        headers["content-type"], "image/png",
        "the app's type, not nginx's default"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["accept-ranges"], "bytes");

    let part = client()
        .get(&url)
        .header("range", "bytes=100-199")
        .send()
        .await
        .expect("range");
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 100-199/{}", bytes.len()).as_str()
    );
    assert_eq!(part.bytes().await.expect("body"), bytes[100..200]);

    let cached = client()
        .get(&url)
        .header("if-none-match", nginx_etag.as_str())
        .send()
        .await
        .expect("conditional");
    assert_eq!(cached.status(), 304);

    // The internal location is not reachable from outside.
    let direct = client()
        .get(site.nginx.url("/protected-media/photos/cat.png"))
        .send()
        .await
        .expect("internal");
    assert_eq!(direct.status(), 404);
}

async fn the_app_itself_answers_media_with_an_empty_body_and_the_hand_off_header(app: &str) {
    let site = Site::start(app);
    site.upload("a b é.png", photo()).await;
    let name = "photos/a_b_é.png";
    let path = "/media/photos/a_b_%C3%A9.png";
    assert!(site.media().join(name).is_file(), "stored as {name}");
    for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
        let answer = client()
            .request(method.clone(), site.app.url(path))
            .send()
            .await
            .expect("app");
        assert_eq!(answer.status(), 200, "{method}");
        assert_eq!(
            answer.headers()["x-accel-redirect"],
            "/protected-media/photos/a_b_%C3%A9.png",
            "{method}"
        );
        assert_eq!(answer.headers()["content-type"], "image/png");
        assert!(answer.headers().get("etag").is_none());
        assert!(
            answer.bytes().await.expect("body").is_empty(),
            "{method}: no bytes from the app"
        );
    }
    let through = client()
        .get(site.nginx.url(path))
        .send()
        .await
        .expect("nginx");
    assert_eq!(through.status(), 200, "{}", site.nginx.error_log());
    assert_eq!(through.bytes().await.expect("body"), photo());
}

async fn hostile_missing_and_escaping_names_are_404_and_never_handed_off(app: &str) {
    let site = Site::start(app);
    site.upload("cat.png", photo()).await;
    let secret = site.dir.path().join("secret.txt");
    std::fs::write(&secret, "the app's own secret").expect("secret");
    // A link inside media that leads out of it: nginx would follow it, the app must not hand it off.
    std::os::unix::fs::symlink(&secret, site.media().join("photos/out.png")).expect("symlink");
    for path in [
        "/media/photos/missing.png",
        "/media/photos/out.png",
        "/media/..%2fsecret.txt",
        "/media/photos/..%2f..%2fsecret.txt",
        "/media/%2e%2e/secret.txt",
        "/media/photos%2f..%2f..%2fsecret.txt",
        "/media/%2fetc%2fpasswd",
        "/media/photos",
    ] {
        for base in [site.nginx.url(path), site.app.url(path)] {
            let answer = client().get(&base).send().await.expect("get");
            assert_eq!(answer.status(), 404, "{base}");
            assert!(answer.headers().get("x-accel-redirect").is_none(), "{base}");
            let body = answer.text().await.expect("body");
            assert!(!body.contains("secret"), "{base}: {body}");
        }
    }
    assert!(
        !site.nginx.error_log().contains("secret.txt"),
        "nginx never looked for it: {}",
        site.nginx.error_log()
    );
}

async fn active_content_keeps_the_apps_attachment_headers_through_nginx(app: &str) {
    let site = Site::start(app);
    // Put there by other means than an upload (the app takes only images).
    std::fs::write(
        site.media().join("photos/page.html"),
        "<script>alert(1)</script>",
    )
    .expect("html");
    let answer = client()
        .get(site.nginx.url("/media/photos/page.html"))
        .send()
        .await
        .expect("get");
    assert_eq!(answer.status(), 200, "{}", site.nginx.error_log());
    assert_eq!(answer.headers()["content-type"], "text/html");
    assert_eq!(answer.headers()["content-disposition"], "attachment");
    assert_eq!(answer.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        answer.text().await.expect("body"),
        "<script>alert(1)</script>"
    );
}

async fn a_hand_off_to_a_storage_without_local_paths_stops_the_app_at_start(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (delivery, media, reason) in [
        ("x-accel:/protected-media/", "memory://", "storage has none"),
        ("x-sendfile", "memory://", "storage has none"),
        ("x-accel:protected", "file:media", "must start with `/`"),
        ("sendfile", "file:media", "unknown delivery `sendfile`"),
    ] {
        let out = support::run_until_exit(
            &example(app),
            dir.path(),
            &[
                ("STORAGES_MEDIA_URL", media),
                ("PHOTOS_MEDIA_DELIVERY", delivery),
                ("RUST_BACKTRACE", "0"),
            ],
            std::time::Duration::from_secs(60),
        );
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            !out.status.success(),
            "{delivery}: the app started: {stdout}"
        );
        assert!(
            stderr.contains("PHOTOS_MEDIA_DELIVERY"),
            "{delivery}: {stderr}"
        );
        assert!(stderr.contains(reason), "{delivery}: {stderr}");
    }
}
