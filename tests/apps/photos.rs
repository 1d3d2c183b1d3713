//! The photo app as a user meets it: a real process on a real port, uploads streamed into media, the gallery,
//! and files served from media and static. Every scenario runs against both twins: `photos` (axum) and
//! `photos_actix` (actix-web).

use crate::support;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use support::{Server, example, files_under};

/// A tiny but real PNG (1x1, red).
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x08, 0xD7, 0x63, 0xF8, 0xCF, 0xC0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xDD, 0x8D, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E,
    0x44, 0xAE, 0x42, 0x60, 0x82,
];

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn form(file_name: &str, bytes: &'static [u8]) -> Form {
    Form::new().part("file", Part::bytes(bytes).file_name(file_name.to_owned()))
}

fn start(app: &str, dir: &std::path::Path) -> Server {
    Server::start(&example(app), dir, &[])
}

scenarios!(
    an_upload_lands_in_media_and_shows_in_the_gallery,
    json_clients_get_201_with_name_and_url_and_clashes_get_new_names,
    bad_uploads_are_refused_and_store_nothing,
    hostile_or_missing_names_are_404_without_echo,
    links_leading_out_of_media_are_404_and_link_loops_do_not_hang_the_gallery,
    static_css_is_published_at_start_and_served,
    a_client_that_goes_away_mid_upload_leaves_nothing,
    served_photos_have_validators_ranges_and_head_over_the_wire,
    an_upload_over_the_limit_is_413_and_leaves_nothing,
    after_collectstatic_the_page_links_the_hashed_css,
    a_full_disk_is_500_and_logged_once_with_its_cause,
    an_upload_named_like_a_temporary_file_is_stored_under_a_clean_name,
    a_stalled_upload_is_408_and_leaves_nothing,
    a_bad_media_url_stops_the_app_before_it_listens,
    an_upload_is_traced_in_a_storage_span_on_stderr,
    metrics_count_the_upload_by_backend_and_never_by_name,
    media_and_static_without_base_url_are_linked_at_media_and_static,
    a_storage_that_cannot_make_urls_stops_the_app_before_it_listens,
);

/// Settings the app cannot use stop it at start, with the reason on stderr: before, it listened and then panicked
/// on every request that touched media.
async fn a_bad_media_url_stops_the_app_before_it_listens(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (url, reason) in [
        (
            "minio://K:S@127.0.0.1:99999/b",
            "the port `99999` is not a number from 1 to 65535",
        ),
        (
            "s3://b?endpoint=http://127.0.0.1:abc",
            "the port `abc` is not a number",
        ),
        ("minio://K:S@[::1/b", "`[::1` is not a valid IPv6 address"),
    ] {
        let stderr = stops_before_listening(app, dir.path(), &[("STORAGES_MEDIA_URL", url)]);
        assert!(
            stderr.contains("media") && stderr.contains(reason),
            "{url}: {stderr}"
        );
    }
}

/// Runs the app with `envs` until it exits, which it must do without listening, without panicking and with a
/// failure status; its stderr.
fn stops_before_listening(app: &str, dir: &std::path::Path, envs: &[(&str, &str)]) -> String {
    let mut envs = envs.to_vec();
    envs.push(("RUST_BACKTRACE", "0"));
    let out = support::run_until_exit(
        &example(app),
        dir,
        &envs,
        std::time::Duration::from_secs(60),
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(!out.status.success(), "{envs:?}: the app started: {stdout}");
    assert!(!stdout.contains("listening on"), "{envs:?}: {stdout}");
    assert!(!stderr.contains("panicked"), "{envs:?}: {stderr}");
    stderr
}

/// `STORAGES_MEDIA_URL=file:/srv/media` and `STORAGES_STATIC_URL=memory://` name no `base_url`: as Django's
/// `MEDIA_URL` and `STATIC_URL`, they are linked at `/media/` and `/static/`, where the app serves them. Before,
/// every upload was stored and then answered `500`, and so was the gallery.
async fn media_and_static_without_base_url_are_linked_at_media_and_static(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let uploads = dir.path().join("uploads");
    let media_url = format!("file:{}", uploads.display());
    let envs = [
        ("STORAGES_MEDIA_URL", media_url.as_str()),
        ("STORAGES_STATIC_URL", "memory://"),
    ];
    let app = Server::start(&example(app), dir.path(), &envs);
    let http = client();
    let res = post(&http, &app, form("dog.png", PNG), true).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["url"], "/media/photos/dog.png");
    assert_eq!(
        std::fs::read(uploads.join("photos/dog.png")).expect("stored"),
        PNG
    );
    let page = gallery(&http, &app).await;
    assert!(
        page.contains("<img src=\"/media/photos/dog.png\"")
            && page.contains("href=\"/static/photos/app.css\""),
        "{page}"
    );
    for path in ["/media/photos/dog.png", "/static/photos/app.css"] {
        let served = http.get(app.url(path)).send().await.expect("get");
        assert_eq!(served.status(), StatusCode::OK, "{path}");
    }
}

/// A storage that cannot make URLs stops the app at start with the reason, for media and for static alike: a
/// `mirror:` whose primary names no `base_url` (an alias's default is its own, not its mirrors'). Before, the app
/// listened, stored every upload and then answered `500`.
async fn a_storage_that_cannot_make_urls_stops_the_app_before_it_listens(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (variable, alias) in [
        ("STORAGES_MEDIA_URL", "media"),
        ("STORAGES_STATIC_URL", "static"),
    ] {
        let stderr = stops_before_listening(
            app,
            dir.path(),
            &[
                (variable, "mirror:?primary=disk&mirrors=copy"),
                ("STORAGES_DISK_URL", "file:disk"),
                ("STORAGES_COPY_URL", "file:copy"),
            ],
        );
        let reason = format!(
            "storage `{alias}`: storage `disk`: the local backend does not support URLs without a base_url"
        );
        assert!(stderr.contains(&reason), "{alias}: {stderr}");
    }
}

/// `storages collectstatic --manifest` into the app's static storage: the page then links the hashed name from
/// `staticfiles.json`, served with immutable caching.
async fn after_collectstatic_the_page_links_the_hashed_css(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let assets = dir.path().join("assets/photos");
    std::fs::create_dir_all(&assets).expect("assets");
    std::fs::write(assets.join("app.css"), "body { color: #123; }\n").expect("css");
    let collected = std::process::Command::new(support::storages_bin())
        .args([
            "collectstatic",
            "--source",
            "assets",
            "--manifest",
            "--no-input",
        ])
        .current_dir(dir.path())
        .env_remove("STORAGES_STATIC_URL")
        .env_remove("STORAGES_CONFIG")
        .output()
        .expect("run collectstatic");
    assert!(
        collected.status.success(),
        "{}",
        String::from_utf8_lossy(&collected.stderr)
    );
    let app = start(app, dir.path());
    let page = client()
        .get(app.url("/"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let start = page
        .find("href=\"/static/photos/app.")
        .expect("a link to the CSS")
        + "href=\"".len();
    let href = page[start..].split('"').next().expect("href");
    let hash = href
        .trim_start_matches("/static/photos/app.")
        .trim_end_matches(".css");
    assert!(
        hash.len() == 12 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        "not a hashed name: {href}"
    );
    let css = client().get(app.url(href)).send().await.expect("css");
    assert_eq!(css.status(), StatusCode::OK);
    let cache = css.headers()["cache-control"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(cache.contains("immutable"), "{cache}");
    assert_eq!(css.text().await.expect("text"), "body { color: #123; }\n");
}

async fn an_upload_lands_in_media_and_shows_in_the_gallery(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(app, dir.path());
    let http = client();

    let res = http
        .post(app.url("/upload"))
        .multipart(form("C:\\Users\\me\\My Cat (1).png", PNG))
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/");
    let stored = dir.path().join("media/photos/My_Cat_1.png");
    assert_eq!(
        std::fs::read(&stored).expect("stored under the cleaned name"),
        PNG
    );

    let page = http
        .get(app.url("/"))
        .send()
        .await
        .expect("gallery")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("<img src=\"/media/photos/My_Cat_1.png\""),
        "{page}"
    );
    assert!(page.contains("href=\"/static/photos/app.css\""), "{page}");

    let img = http
        .get(app.url("/media/photos/My_Cat_1.png"))
        .send()
        .await
        .expect("image");
    assert_eq!(img.status(), StatusCode::OK);
    assert_eq!(img.headers()["content-type"], "image/png");
    assert_eq!(img.headers()["x-content-type-options"], "nosniff");
    assert_eq!(img.bytes().await.expect("bytes"), PNG);
}

async fn json_clients_get_201_with_name_and_url_and_clashes_get_new_names(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(app, dir.path());
    let http = client();
    let mut names = Vec::new();
    for _ in 0..2 {
        let res = http
            .post(app.url("/upload"))
            .header("accept", "application/json")
            .multipart(form("dog.png", PNG))
            .send()
            .await
            .expect("upload");
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: serde_json::Value = res.json().await.expect("json");
        let name = body["name"].as_str().expect("name").to_owned();
        assert_eq!(body["url"].as_str().expect("url"), format!("/media/{name}"));
        names.push(name);
    }
    assert_eq!(names[0], "photos/dog.png");
    assert!(
        names[1].starts_with("photos/dog_") && names[1].ends_with(".png"),
        "{}",
        names[1]
    );
}

async fn bad_uploads_are_refused_and_store_nothing(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(app, dir.path());
    let http = client();
    let not_image = http
        .post(app.url("/upload"))
        .multipart(form("page.html", b"<script>"))
        .send()
        .await
        .expect("send");
    assert_eq!(not_image.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let nameless = http
        .post(app.url("/upload"))
        .multipart(form("..", PNG))
        .send()
        .await
        .expect("send");
    assert_eq!(nameless.status(), StatusCode::BAD_REQUEST);
    let no_file = Form::new().text("other", "x");
    let res = http
        .post(app.url("/upload"))
        .multipart(no_file)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let photos = dir.path().join("media/photos");
    let stored = std::fs::read_dir(&photos).map(|d| d.count()).unwrap_or(0);
    assert_eq!(stored, 0, "a refused upload left a file");
}

async fn hostile_or_missing_names_are_404_without_echo(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("secret.txt"), "outside media").expect("write");
    let app = start(app, dir.path());
    let http = client();
    for path in [
        "/media/..%2fsecret.txt",
        "/media/%2e%2e/secret.txt",
        "/media/photos/..%2f..%2fsecret.txt",
        "/media/a%5c..%5csecret.txt",
        "/media/a%00b",
        "/media/missing.png",
        "/static/..%2f..%2fsecret.txt",
    ] {
        let res = http.get(app.url(path)).send().await.expect("get");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let body = res.text().await.expect("body");
        assert!(
            !body.contains("secret") && !body.contains("outside media"),
            "{path} echoed: {body}"
        );
    }
}

/// A media root holding `shared -> ../elsewhere` and two links back to itself: nothing outside is served, and the
/// gallery (a listing of media) answers instead of looping.
async fn links_leading_out_of_media_are_404_and_link_loops_do_not_hang_the_gallery(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let media = dir.path().join("media");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&media).expect("mkdir media");
    std::fs::create_dir_all(&elsewhere).expect("mkdir elsewhere");
    std::fs::write(elsewhere.join("x.png"), "outside media").expect("write");
    std::os::unix::fs::symlink(&elsewhere, media.join("shared")).expect("symlink");
    std::os::unix::fs::symlink(".", media.join("a")).expect("symlink");
    std::os::unix::fs::symlink(".", media.join("b")).expect("symlink");
    let app = start(app, dir.path());
    let http = client();
    for path in ["/media/shared/x.png", "/media/a/b/shared/x.png"] {
        let res = http.get(app.url(path)).send().await.expect("get");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let body = res.text().await.expect("body");
        assert!(!body.contains("outside media"), "{path} served: {body}");
    }
    let uploaded = http
        .post(app.url("/upload"))
        .multipart(form("cat.png", PNG))
        .send()
        .await
        .expect("upload");
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let gallery = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        http.get(app.url("/")).send(),
    )
    .await
    .expect("the gallery hangs")
    .expect("get /");
    assert_eq!(gallery.status(), StatusCode::OK);
    let page = gallery.text().await.expect("page");
    assert!(page.contains("cat.png"), "{page}");
    assert!(
        !page.contains("x.png"),
        "a file outside media is shown: {page}"
    );
    assert_eq!(
        std::fs::read_to_string(elsewhere.join("x.png")).expect("read"),
        "outside media"
    );
}

async fn static_css_is_published_at_start_and_served(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(app, dir.path());
    let res = client()
        .get(app.url("/static/photos/app.css"))
        .send()
        .await
        .expect("css");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/css");
    let css = res.text().await.expect("text");
    assert_eq!(
        css,
        std::fs::read_to_string(dir.path().join("static/photos/app.css")).expect("published")
    );
    assert!(css.contains(".gallery"));
}

async fn a_client_that_goes_away_mid_upload_leaves_nothing(app: &str) {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(app, dir.path());
    let boundary = "XBOUNDARYX";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n"
    );
    let declared = head.len() + 10_000_000;
    let request = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {declared}\r\n\r\n{head}"
    );
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(request.as_bytes()).await.expect("head");
    conn.write_all(&vec![0x42; 3_000_000])
        .await
        .expect("part of the body");
    conn.flush().await.expect("flush");
    let photos = dir.path().join("media/photos");
    // The upload streams into one file while the body arrives (an anonymous one on this filesystem).
    support::expect_one_file_being_written(app.pid(), &photos).await;
    drop(conn);
    // The app notices the broken body, fails the save and removes its temporary file.
    let mut left = Vec::new();
    for _ in 0..100 {
        left = std::fs::read_dir(&photos)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(left.is_empty(), "left behind: {left:?}");
    let page = client()
        .get(app.url("/"))
        .send()
        .await
        .expect("gallery")
        .text()
        .await
        .expect("html");
    assert!(page.contains("No photos yet"), "{page}");
}

async fn served_photos_have_validators_ranges_and_head_over_the_wire(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(app, dir.path());
    let http = client();
    let res = http
        .post(app.url("/upload"))
        .multipart(form("sun.png", PNG))
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let url = app.url("/media/photos/sun.png");

    let head = http.head(&url).send().await.expect("head");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()["content-length"],
        PNG.len().to_string().as_str()
    );
    assert_eq!(head.headers()["accept-ranges"], "bytes");
    let etag = head.headers()["etag"].to_str().expect("etag").to_owned();
    assert!(head.bytes().await.expect("no body").is_empty());

    let cached = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("revalidate");
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(cached.headers()["etag"], etag.as_str());

    let part = http
        .get(&url)
        .header("range", "bytes=1-3")
        .send()
        .await
        .expect("range");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 1-3/{}", PNG.len()).as_str()
    );
    assert_eq!(part.bytes().await.expect("bytes"), &PNG[1..4]);

    let beyond = http
        .get(&url)
        .header("range", "bytes=9999-")
        .send()
        .await
        .expect("range");
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        beyond.headers()["content-range"],
        format!("bytes */{}", PNG.len()).as_str()
    );
}

async fn an_upload_over_the_limit_is_413_and_leaves_nothing(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let limit = 1 << 20;
    let app = Server::start(
        &example(app),
        dir.path(),
        &[("PHOTOS_UPLOAD_LIMIT", &limit.to_string())],
    );
    let big = vec![0x42u8; 3 * limit];
    let res = client()
        .post(app.url("/upload"))
        .multipart(Form::new().part("file", Part::bytes(big).file_name("big.png")))
        .send()
        .await
        .expect("the answer arrives, not a reset");
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let text = res.text().await.expect("text");
    assert!(
        text.contains("big.png") && text.contains(&limit.to_string()),
        "{text}"
    );
    let photos = dir.path().join("media/photos");
    let left: Vec<_> = std::fs::read_dir(&photos)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    let exact = vec![0x42u8; limit];
    let res = client()
        .post(app.url("/upload"))
        .multipart(Form::new().part("file", Part::bytes(exact).file_name("exact.png")))
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        std::fs::metadata(photos.join("exact.png"))
            .expect("stored")
            .len(),
        limit as u64
    );
}

/// The gallery page's HTML.
async fn gallery(http: &reqwest::Client, app: &Server) -> String {
    let res = http.get(app.url("/")).send().await.expect("gallery");
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.expect("html")
}

/// Posts a photo form; `json` asks for the JSON answer instead of the redirect.
async fn post(http: &reqwest::Client, app: &Server, form: Form, json: bool) -> reqwest::Response {
    let mut request = http.post(app.url("/upload")).multipart(form);
    if json {
        request = request.header("accept", "application/json");
    }
    request.send().await.expect("an answer to the upload")
}

/// Waits (up to 10 s) until one of the server's stderr lines contains `needle`, then a little longer so that a
/// second line about the same thing would have arrived too.
async fn stderr_after(app: &Server, needle: &str) -> Vec<String> {
    for _ in 0..200 {
        if app.stderr().iter().any(|l| l.contains(needle)) {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.stderr()
}

/// Media on a tmpfs far smaller than the photo: the write fails for real with ENOSPC. The client learns only that
/// the storage failed; the operator reads one line with the operation, the name and the cause.
async fn a_full_disk_is_500_and_logged_once_with_its_cause(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = support::mount::TmpfsMount::with_size("64k");
    let media = format!("file://{}?base_url=/media/", disk.path().display());
    let app = Server::start(
        &example(app),
        dir.path(),
        &[("STORAGES_MEDIA_URL", media.as_str())],
    );
    let photo = vec![0x42u8; 1 << 20];
    let photo = Form::new().part("file", Part::bytes(photo).file_name("full.png"));
    let res = post(&client(), &app, photo, false).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = res.text().await.expect("text");
    assert!(!body.contains("No space"), "details leaked: {body}");

    let log = stderr_after(&app, "photos/full.png").await;
    let about: Vec<&String> = log.iter().filter(|l| l.contains("full.png")).collect();
    assert_eq!(about.len(), 1, "one line about the failure, got: {log:#?}");
    let line = about[0];
    for part in [
        "ERROR",
        "operation=\"upload\"",
        "backend=\"local\"",
        "name=\"photos/full.png\"",
        "No space left on device",
    ] {
        assert!(line.contains(part), "{part:?} missing from: {line}");
    }
    let alarms = log
        .iter()
        .filter(|l| l.contains("ERROR") || l.contains("WARN"))
        .count();
    assert_eq!(alarms, 1, "logged once: {log:#?}");
    let left = files_under(disk.path());
    assert!(left.is_empty(), "left on the full disk: {left:?}");
    drop(app);
}

/// A name every backend reserves for its temporary files is cleaned into an ordinary one, not refused with `500`.
async fn an_upload_named_like_a_temporary_file_is_stored_under_a_clean_name(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(app, dir.path());
    let http = client();
    let res = post(&http, &app, form(".storages-tmp.x.png", PNG), false).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let stored = dir.path().join("media/photos/storages-tmp.x.png");
    assert_eq!(std::fs::read(&stored).expect("stored clean"), PNG);

    let again = form("C:\\fakepath\\.storages-tmp.x.png", PNG);
    let res = post(&http, &app, again, true).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: serde_json::Value = res.json().await.expect("json");
    let name = body["name"].as_str().expect("name");
    assert!(
        name.starts_with("photos/storages-tmp_") && name.ends_with(".x.png"),
        "{name}"
    );
    let page = gallery(&http, &app).await;
    assert!(
        page.contains("<img src=\"/media/photos/storages-tmp.x.png\""),
        "{page}"
    );
    let served = http
        .get(app.url("/media/photos/storages-tmp.x.png"))
        .send()
        .await
        .expect("image");
    assert_eq!(served.status(), StatusCode::OK);
}

/// A client that sends its headers and part of a photo, then nothing: after the idle timeout it gets `408`, the
/// connection is closed, and neither a temporary file nor a descriptor of it stays behind.
async fn a_stalled_upload_is_408_and_leaves_nothing(app: &str) {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("tempdir");
    let idle = Duration::from_secs(1);
    let app = Server::start(
        &example(app),
        dir.path(),
        &[("PHOTOS_IDLE_TIMEOUT_SECS", "1")],
    );
    let addr = app.base.trim_start_matches("http://").to_owned();
    // One whole request first, so that what the server opens once (workers, pools) is counted in the baseline.
    let mut warm = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    warm.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    warm.read_to_end(&mut Vec::new()).await.expect("page");
    let baseline = steady_fds(&app).await;
    let boundary = "XBOUNDARYX";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.png\"\r\nContent-Type: image/png\r\n\r\n"
    );
    let request = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n{head}",
        head.len() + 1_000_000
    );
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(request.as_bytes()).await.expect("head");
    conn.write_all(&[0x42; 100_000])
        .await
        .expect("part of the photo");
    conn.flush().await.expect("flush");
    let stalled = Instant::now();

    let photos = dir.path().join("media/photos");
    support::expect_one_file_being_written(app.pid(), &photos).await;
    assert!(
        app.open_fds() > baseline,
        "the stalled upload holds descriptors while it lasts"
    );

    let mut answer = Vec::new();
    let slack = Duration::from_secs(5);
    tokio::time::timeout(idle + slack, conn.read_to_end(&mut answer))
        .await
        .expect("an answer and a closed connection within the idle timeout and slack")
        .expect("read");
    let waited = stalled.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "not a 408 after {waited:?}: {answer}"
    );
    assert!(
        waited >= idle - Duration::from_millis(100),
        "answered before the idle timeout: {waited:?}"
    );
    let left = files_under(&photos);
    assert!(left.is_empty(), "left behind: {left:?}");
    let open = steady_fds(&app).await;
    assert!(
        open <= baseline,
        "{open} descriptors open, {baseline} before the upload"
    );
}

/// The server's count of open descriptors once it has stayed the same for 300 ms (at most 10 s).
async fn steady_fds(app: &Server) -> usize {
    let mut last = app.open_fds();
    let mut same = 0;
    for _ in 0..200 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let now = app.open_fds();
        same = if now == last { same + 1 } else { 0 };
        last = now;
        if same == 6 {
            break;
        }
    }
    last
}

/// With `RUST_LOG=storages=debug` the app's stderr shows the storage span of an upload: the backend, the operation,
/// the stored name, the bytes, the duration and the outcome, ended by one event.
async fn an_upload_is_traced_in_a_storage_span_on_stderr(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = Server::start(&example(app), dir.path(), &[("RUST_LOG", "storages=debug")]);
    let res = post(&client(), &app, form("traced cat.png", PNG), true).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let log = stderr_after(&app, "name=\"photos/traced_cat.png\"").await;
    let ends: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("operation=\"put\"") && l.contains("storage operation done"))
        .filter(|l| l.contains("name=\"photos/traced_cat.png\""))
        .collect();
    assert_eq!(ends.len(), 1, "one end of the upload's put: {log:#?}");
    for part in [
        "DEBUG",
        "storage{",
        "backend=\"local\"",
        &format!("bytes={}", PNG.len()),
        "duration_ms=",
        "outcome=\"ok\"",
    ] {
        assert!(ends[0].contains(part), "{part:?} missing from: {}", ends[0]);
    }
}

/// Built with the `metrics` feature (as the tests build the examples), `/metrics` answers Prometheus text with the
/// upload counted under the media backend (an NFS share here, so it stands apart from the local static storage):
/// the put counter, its bytes and its latency histogram, labelled by backend, operation and outcome and never by
/// the file's name.
async fn metrics_count_the_upload_by_backend_and_never_by_name(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let share = dir.path().join("share");
    std::fs::create_dir(&share).expect("the share's directory");
    let media = format!(
        "nfs://{}?require_mount=false&base_url=/media/",
        share.display()
    );
    let app = Server::start(
        &example(app),
        dir.path(),
        &[("STORAGES_MEDIA_URL", media.as_str())],
    );
    let http = client();
    let res = post(&http, &app, form("counted.png", PNG), true).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = http.get(app.url("/metrics")).send().await.expect("metrics");
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = res.text().await.expect("text");
    let line = |metric: &str, labels: &[&str]| -> String {
        let found: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{metric}{{")))
            .filter(|l| labels.iter().all(|label| l.contains(label)))
            .collect();
        assert_eq!(found.len(), 1, "{metric} {labels:?} in:\n{text}");
        found[0].to_owned()
    };
    let put = ["backend=\"nfs\"", "operation=\"put\"", "outcome=\"ok\""];
    assert!(
        line("storages_operations_total", &put).ends_with(" 1"),
        "{text}"
    );
    assert!(
        line("storages_operation_duration_seconds_count", &put).ends_with(" 1"),
        "{text}"
    );
    line(
        "storages_operation_duration_seconds_bucket",
        &[&put[..], &["le=\"+Inf\""]].concat(),
    );
    let bytes = line("storages_bytes_total", &put[..2]);
    assert!(bytes.ends_with(&format!(" {}", PNG.len())), "{bytes}");
    assert!(text.contains("# HELP storages_operations_total"), "{text}");
    assert!(!text.contains("counted"), "a name became a label:\n{text}");
}
