//! The photo app in a real browser: headless Chromium, driven over WebDriver by chromedriver (Debian's `chromium`
//! and `chromium-driver`, which `scripts/test` installs), opens the gallery, uploads an image through the form,
//! finds it in the gallery decoded from what the app served, and leaves a screenshot under `target/tmp/`.
#![cfg(all(feature = "axum", feature = "actix"))]

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use support::{Server, example, free_port};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A tiny but real PNG (1x1, red): the browser must decode it for the test to pass.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x08, 0xD7, 0x63, 0xF8, 0xCF, 0xC0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xDD, 0x8D, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E,
    0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// chromedriver and the browser session it drives. Dropping it ends the session (which quits Chromium), kills
/// chromedriver, and kills any process still running with this session's own profile directory.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    profile: tempfile::TempDir,
    http: reqwest::Client,
}

impl Browser {
    async fn start(logs: &Path) -> Self {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).is_file(),
                "{program} is missing: run scripts/test, which installs Debian's chromium and chromium-driver"
            );
        }
        let port = free_port();
        let log = std::fs::File::create(logs.join("chromedriver.log")).expect("log file");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::Builder::new()
            .prefix("storages-chromium-")
            .tempdir()
            .expect("profile dir");
        let mut browser = Self {
            driver,
            port,
            session: String::new(),
            profile,
            http: reqwest::Client::new(),
        };
        browser.wait_ready().await;
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1000,800",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .chain([format!(
            "--user-data-dir={}",
            browser.profile.path().display()
        )])
        .collect::<Vec<_>>();
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        }}});
        let created = browser.call("POST", "/session", Some(capabilities)).await;
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        browser
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = self
                .http
                .get(format!("http://127.0.0.1:{}/status", self.port))
                .send()
                .await;
            if let Ok(res) = status {
                let body: Value = res.json().await.unwrap_or_default();
                if body["value"]["ready"] == true {
                    return;
                }
            }
            if let Ok(Some(exit)) = self.driver.try_wait() {
                panic!("chromedriver exited: {exit}");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver was not ready in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One WebDriver command; its `value`. A WebDriver error fails the test with its message.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let request = match method {
            "POST" => self.http.post(&url).json(&body.unwrap_or(json!({}))),
            "DELETE" => self.http.delete(&url),
            _ => self.http.get(&url),
        };
        let res = request.send().await.expect("chromedriver answers");
        let status = res.status();
        let answer: Value = res.json().await.expect("json");
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer["value"].clone()
    }

    async fn session(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    async fn open(&self, url: &str) {
        self.session("POST", "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self
            .session(
                "POST",
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found
            .as_array()
            .expect("elements")
            .iter()
            .map(|e| e[ELEMENT].as_str().expect("element id").to_owned())
            .collect()
    }

    async fn find(&self, css: &str) -> String {
        let all = self.find_all(css).await;
        all.into_iter()
            .next()
            .unwrap_or_else(|| panic!("no {css} on the page"))
    }

    async fn property(&self, element: &str, name: &str) -> Value {
        self.session("GET", &format!("/element/{element}/property/{name}"), None)
            .await
    }

    async fn screenshot(&self, path: &Path) {
        let data = self.session("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().expect("base64"))
            .expect("a PNG");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        std::fs::write(path, png).expect("write the screenshot");
    }

    /// `DELETE /session/ID` without a runtime (for drop): chromedriver quits the browser.
    fn end_session(&self) {
        if self.session.is_empty() {
            return;
        }
        let Ok(mut conn) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.session, self.port
        );
        if conn.write_all(request.as_bytes()).is_ok() {
            let _ = conn.read_to_end(&mut Vec::new());
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.end_session();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // Whatever survived (a browser chromedriver could not quit) is found by this session's own profile
        // directory, which no other process names, and killed by its id.
        let marker = format!("--user-data-dir={}", self.profile.path().display());
        for pid in processes_naming(&marker) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

/// Ids of the processes whose command line contains `marker`.
fn processes_naming(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains(marker))
        })
        .collect()
}

fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

async fn a_user_uploads_a_photo_and_sees_it_in_the_gallery(app_name: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = Server::start(&example(app_name), dir.path(), &[]);
    let photo = dir.path().join("Red Square.png");
    std::fs::write(&photo, PNG).expect("photo");
    let browser = Browser::start(dir.path()).await;

    browser.open(&app.url("/")).await;
    let title = browser.session("GET", "/title", None).await;
    assert_eq!(title, "Photos");
    assert!(browser.find_all("figure img").await.is_empty());
    let input = browser.find("input[type=file]").await;
    browser
        .session(
            "POST",
            &format!("/element/{input}/value"),
            Some(json!({ "text": photo.display().to_string() })),
        )
        .await;
    let button = browser.find("button[type=submit]").await;
    browser
        .session("POST", &format!("/element/{button}/click"), None)
        .await;

    // The form posts, the app answers 303 to the gallery, and the gallery shows the photo once it has loaded.
    let deadline = Instant::now() + Duration::from_secs(30);
    let image = loop {
        let images = browser.find_all("figure img").await;
        if let Some(image) = images.first() {
            let complete = browser.property(image, "complete").await == true;
            if complete {
                break image.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "no photo in the gallery after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let src = browser.property(&image, "src").await;
    assert_eq!(src, app.url("/media/photos/Red_Square.png"));
    assert_eq!(
        browser.property(&image, "naturalWidth").await,
        1,
        "the browser decoded the served image"
    );
    let caption = browser.find("figcaption").await;
    assert_eq!(
        browser.property(&caption, "textContent").await,
        "Red_Square.png"
    );
    let css = browser.find("link[rel=stylesheet]").await;
    let sheet_rules = browser
        .session(
            "POST",
            "/execute/sync",
            Some(json!({ "script": "return document.styleSheets[0].cssRules.length", "args": [] })),
        )
        .await;
    assert!(
        sheet_rules.as_u64().is_some_and(|n| n > 0),
        "the stylesheet from static loaded: {sheet_rules} ({css})"
    );
    let shot = artifacts().join(format!("browser-{app_name}.png"));
    browser.screenshot(&shot).await;
    eprintln!("screenshot: {}", shot.display());
    assert_eq!(
        std::fs::read(dir.path().join("media/photos/Red_Square.png")).expect("stored"),
        PNG
    );
}

#[tokio::test]
async fn axum_app_in_a_real_browser() {
    a_user_uploads_a_photo_and_sees_it_in_the_gallery("photos").await;
}

#[tokio::test]
async fn actix_app_in_a_real_browser() {
    a_user_uploads_a_photo_and_sees_it_in_the_gallery("photos_actix").await;
}
