//! Many app servers on one `nfs://` share, as real processes: concurrent writers, writers killed mid-save, and two
//! photo apps serving each other's uploads. The share is a tmpfs each test mounts (the tests run as root, as CI
//! does); every file written is checked byte for byte.

#![cfg(feature = "nfs")]

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use storages::conformance::pattern;
use storages::local::TEMP_PREFIX;
use support::mount::TmpfsMount;
use support::{Server, example};

const SENTINEL: &str = ".storages-share";

/// A child process, killed and reaped on drop, whose standard output is collected on a thread.
struct Running {
    child: Child,
    stdout: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    fn start(program: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let mut out = child.stdout.take().expect("stdout");
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        });
        Self {
            child,
            stdout: Some(stdout),
        }
    }

    /// Waits until it exits (at most `limit`) and returns its standard output; panics unless it succeeded.
    fn finish(mut self, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                assert!(status.success(), "the writer failed: {status}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the writer did not finish in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stdout
            .take()
            .expect("stdout")
            .join()
            .expect("stdout reader")
    }

    /// Kills it with SIGKILL: no destructor, no cleanup, as a crash or a power loss.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A share as an operator prepares it: the tmpfs mounted, `media` created on it with the sentinel inside.
fn share() -> (TmpfsMount, PathBuf, String) {
    let mount = TmpfsMount::new();
    let root = mount.path().join("media");
    std::fs::create_dir(&root).expect("mkdir media on the share");
    std::fs::write(root.join(SENTINEL), "").expect("create the sentinel");
    let url = format!(
        "nfs://{}?base_url=/media/&sentinel={SENTINEL}",
        root.display()
    );
    (mount, root, url)
}

/// The files under `root` by relative path, split into stored files and temporary files (the sentinel left out).
fn files(root: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut stored, mut temp) = (BTreeSet::new(), BTreeSet::new());
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            if e.file_type().expect("type").is_dir() {
                stack.push(e.path());
                continue;
            }
            let rel = e
                .path()
                .strip_prefix(root)
                .expect("prefix")
                .display()
                .to_string();
            if e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                temp.insert(rel);
            } else if rel != SENTINEL {
                stored.insert(rel);
            }
        }
    }
    (stored, temp)
}

/// Checks a file written by `nfs_writer`: its header `writer=W seq=S bytes=N`, then exactly N bytes of its pattern.
/// Returns (W, S).
fn verify(path: &Path) -> (u64, u64) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let newline = bytes
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or_else(|| panic!("{}: partial content, no header line", path.display()));
    let header = std::str::from_utf8(&bytes[..newline]).expect("utf-8 header");
    let field = |key: &str| -> u64 {
        header
            .split(' ')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{}: bad header {header:?}", path.display()))
    };
    let (writer, seq, size) = (field("writer"), field("seq"), field("bytes"));
    let body = &bytes[newline + 1..];
    assert_eq!(
        body.len() as u64,
        size,
        "{}: partial content ({header})",
        path.display()
    );
    assert!(
        body == pattern(writer * 1_000_000 + seq, 0, size as usize),
        "{}: bytes differ from what writer {writer} wrote in save {seq}",
        path.display()
    );
    (writer, seq)
}

/// 4 processes each save the same 10 names 50 times, 8 saves at a time: 2,000 saves, 2,000 distinct names.
#[test]
fn four_servers_saving_the_same_names_get_2000_distinct_intact_files() {
    let (_mount, root, url) = share();
    let writer = example("nfs_writer");
    let started = Instant::now();
    let processes: Vec<Running> = (1..=4)
        .map(|w| {
            Running::start(
                &writer,
                &[
                    "many",
                    &url,
                    "--writer",
                    &w.to_string(),
                    "--names",
                    "10",
                    "--rounds",
                    "50",
                    "--concurrency",
                    "8",
                ],
            )
        })
        .collect();
    let mut reported = Vec::new();
    for p in processes {
        reported.extend(
            p.finish(Duration::from_secs(120))
                .lines()
                .map(str::to_owned),
        );
    }
    eprintln!("2,000 saves by 4 processes in {:?}", started.elapsed());
    assert_eq!(reported.len(), 2000, "saves reported by the writers");
    let reported: BTreeSet<String> = reported.into_iter().collect();
    assert_eq!(reported.len(), 2000, "two saves reported the same name");

    let (stored, temp) = files(&root);
    assert!(temp.is_empty(), "temporary files left: {temp:?}");
    assert_eq!(stored, reported, "what is stored is not what was reported");
    let mut saves = BTreeSet::new();
    for name in &stored {
        let (writer, seq) = verify(&root.join(name));
        assert!(
            saves.insert((writer, seq)),
            "save {seq} of writer {writer} is stored twice"
        );
    }
    let expected: BTreeSet<(u64, u64)> = (1..=4)
        .flat_map(|w| (0..500).map(move |s| (w, s)))
        .collect();
    assert_eq!(saves, expected, "a save is missing");
    for i in 0..10 {
        assert!(
            stored.contains(&format!("shared/name-{i}.bin")),
            "name-{i}.bin itself"
        );
    }
}

/// A writer killed (SIGKILL) mid-save, 20 times at random moments: no final name ever holds partial content, and
/// `storages clean` then removes what the crashes left (once old enough), and only that.
#[test]
fn writers_killed_mid_save_leave_no_partial_files_and_clean_removes_their_leftovers() {
    let (_mount, root, url) = share();
    let writer = example("nfs_writer");
    let mut seed = fastrand::Rng::new();
    for run in 0..20u64 {
        let p = Running::start(&writer, &["slow", &url, "--writer", &(run + 1).to_string()]);
        std::thread::sleep(Duration::from_millis(seed.u64(60..600)));
        p.kill();
        let (stored, _) = files(&root);
        for name in &stored {
            verify(&root.join(name));
        }
    }
    let (stored, leftovers) = files(&root);
    eprintln!(
        "20 kills left {} stored files and {} temporary files",
        stored.len(),
        leftovers.len()
    );
    assert!(
        stored.len() >= 5,
        "the writers stored too little to test: {stored:?}"
    );
    assert!(
        !leftovers.is_empty(),
        "20 kills mid-save left no temporary file: nothing was tested"
    );
    let listed = Command::new(support::storages_bin())
        .args(["ls", &url])
        .output()
        .expect("ls");
    let listed: BTreeSet<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, stored, "listings show exactly the stored files");

    let clean = |age: &str| {
        let out = Command::new(support::storages_bin())
            .args(["clean", &url, "--older-than", age])
            .output()
            .expect("clean");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The leftovers are minutes old at most: a writer on another server could still own them.
    assert_eq!(clean("1h"), "0 temporary file(s) removed\n");
    assert_eq!(files(&root).1, leftovers);

    // An hour later (their clocks moved back) ... and a write in progress right now on another server.
    for rel in &leftovers {
        std::fs::File::options()
            .write(true)
            .open(root.join(rel))
            .expect("open leftover")
            .set_modified(SystemTime::now() - Duration::from_secs(2 * 3600))
            .expect("age");
    }
    let live = format!("crash/{TEMP_PREFIX}other-host.4242.abcdefghijkl");
    std::fs::write(root.join(&live), "being written").expect("live temp");
    let out = clean("1h");
    let mut removed = BTreeMap::new();
    let mut lines = out.lines().collect::<Vec<_>>();
    let summary = lines.pop().expect("summary line");
    for line in lines {
        let rest = line
            .strip_prefix("removed ")
            .unwrap_or_else(|| panic!("{line}"));
        let (path, detail) = rest.split_once("  (").expect("path  (detail)");
        removed.insert(path.to_owned(), detail.to_owned());
    }
    assert_eq!(
        removed.keys().cloned().collect::<BTreeSet<_>>(),
        leftovers,
        "{out}"
    );
    assert_eq!(
        summary,
        format!("{} temporary file(s) removed", leftovers.len())
    );
    let (after, temp) = files(&root);
    assert_eq!(temp, BTreeSet::from([live]), "only the old ones go");
    assert_eq!(after, stored, "clean touched a stored file");
    for name in &after {
        verify(&root.join(name));
    }
}

/// A tiny but real PNG (1x1, red).
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x08, 0xD7, 0x63, 0xF8, 0xCF, 0xC0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xDD, 0x8D, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E,
    0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// Uploads `file_name` to `app` as a JSON client and returns the stored name and URL.
async fn upload(http: &reqwest::Client, app: &Server, file_name: &str) -> (String, String) {
    let form = Form::new().part("file", Part::bytes(PNG).file_name(file_name.to_owned()));
    let res = http
        .post(app.url("/upload"))
        .header("accept", "application/json")
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: serde_json::Value = res.json().await.expect("json");
    (
        body["name"].as_str().expect("name").to_owned(),
        body["url"].as_str().expect("url").to_owned(),
    )
}

/// Two photo apps (two processes, two ports, each with its own working directory) on one share: what is uploaded
/// through either is listed and served by both, and the same file name uploaded to both gets two names.
#[tokio::test]
async fn two_photo_apps_on_one_share_serve_each_others_uploads() {
    let (_mount, root, url) = share();
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let photos = example("photos");
    let envs = [("STORAGES_MEDIA_URL", url.as_str())];
    let a = Server::start(&photos, dir_a.path(), &envs);
    let b = Server::start(&photos, dir_b.path(), &envs);
    let http = reqwest::Client::new();

    let (from_a, url_a) = upload(&http, &a, "cat.png").await;
    let (from_b, url_b) = upload(&http, &b, "cat.png").await;
    assert_eq!(from_a, "photos/cat.png");
    assert_ne!(
        from_b, from_a,
        "the second upload of cat.png got its own name"
    );
    for (server, other_url) in [(&b, &url_a), (&a, &url_b)] {
        let page = http
            .get(server.url("/"))
            .send()
            .await
            .expect("gallery")
            .text()
            .await
            .expect("html");
        assert!(
            page.contains(&format!("<img src=\"{other_url}\"")),
            "{} does not list {other_url}: {page}",
            server.base
        );
        let img = http.get(server.url(other_url)).send().await.expect("image");
        assert_eq!(
            img.status(),
            StatusCode::OK,
            "{other_url} on {}",
            server.base
        );
        assert_eq!(img.headers()["content-type"], "image/png");
        assert_eq!(img.bytes().await.expect("bytes"), PNG);
    }
    let (stored, temp) = files(&root);
    assert_eq!(stored, BTreeSet::from([from_a, from_b]));
    assert!(temp.is_empty(), "{temp:?}");
    assert!(
        !dir_a.path().join("media").exists() && !dir_b.path().join("media").exists(),
        "an app wrote media to its local directory"
    );
}
