//! Every storage `Storages` builds is traced: each operation in a `storage` span with its backend, operation, name,
//! bytes, duration and outcome, failures as `DEBUG` events only (whoever handles them reports them once), and never
//! a secret. Output is captured from a real `tracing-subscriber` formatter, as the photo apps print it.

use std::io;
use std::sync::{Arc, Mutex};

use futures_util::TryStreamExt;
use storages::{Storage, StorageExt, Storages};

/// Everything the formatter printed.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Installs a formatter filtered like `RUST_LOG=<filter>` for this thread, until the guard drops.
    fn install(&self, filter: &str) -> tracing::subscriber::DefaultGuard {
        let out = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(move || out.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn lines(&self) -> Vec<String> {
        let text = String::from_utf8(self.0.lock().expect("log").clone()).expect("utf-8");
        text.lines().map(str::to_owned).collect()
    }

    /// The one line ending operation `operation` on `name` (`name=` or `prefix=`), with all of `parts`.
    fn ended(&self, operation: &str, name: &str, parts: &[&str]) -> String {
        let found: Vec<String> = self
            .lines()
            .into_iter()
            .filter(|l| l.contains(&format!("operation=\"{operation}\"")) && l.contains(name))
            .filter(|l| l.contains("storage operation"))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one end of {operation} {name}: {:#?}",
            self.lines()
        );
        for part in parts {
            assert!(
                found[0].contains(part),
                "{part:?} missing from: {}",
                found[0]
            );
        }
        found[0].clone()
    }
}

/// A capture of `storages=debug` on this thread, and the media storage `Storages` makes of a local directory.
fn traced_local_media() -> (
    Captured,
    tracing::subscriber::DefaultGuard,
    tempfile::TempDir,
    Arc<dyn Storage>,
) {
    let log = Captured::default();
    let guard = log.install("storages=debug");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}/media?base_url=/media/", dir.path().display());
    let media = Storages::from_urls([("media", url.as_str())])
        .expect("storages")
        .media()
        .expect("media");
    (log, guard, dir, media)
}

#[tokio::test(flavor = "current_thread")]
async fn every_operation_runs_in_a_span_with_backend_name_bytes_duration_and_outcome() {
    let (log, _guard, dir, media) = traced_local_media();
    assert_eq!(
        media.backend(),
        "local",
        "the wrapper names the inner backend"
    );
    assert!(media.capabilities().local_paths);

    let name = media.save("docs/a.txt", "hello").await.expect("save");
    assert_eq!(
        media.local_path(&name),
        Some(
            dir.path()
                .join("media/docs/a.txt")
                .canonicalize()
                .expect("stored")
        )
    );
    let again = media
        .save("docs/a.txt", "world!")
        .await
        .expect("save again");
    assert_eq!(media.read_to_bytes(&name).await.expect("read"), "hello");
    assert!(media.exists("docs/a.txt").await.expect("exists"));
    assert_eq!(media.list_all("docs").await.expect("list").len(), 2);
    assert_eq!(media.listdir("docs").await.expect("listdir").1.len(), 2);
    media.public_url(&name).await.expect("url");
    media.remove(&name).await.expect("delete");
    media.check().await.expect("check");

    let common = [
        "storage{backend=\"local\"",
        "duration_ms=",
        "outcome=\"ok\"",
        "DEBUG",
    ];
    let put = log.ended(
        "put",
        "bytes=5",
        &[&common[..], &["name=\"docs/a.txt\""]].concat(),
    );
    assert!(
        !put.contains("stored="),
        "the name asked for was stored: {put}"
    );
    let stored = format!("stored=\"{again}\"");
    let renamed: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.contains(&stored))
        .collect();
    assert_eq!(
        renamed.len(),
        1,
        "the second put names what it stored: {renamed:#?}"
    );
    assert!(renamed[0].contains("bytes=6"), "{}", renamed[0]);
    log.ended(
        "get",
        "name=\"docs/a.txt\"",
        &[&common[..], &["bytes=5"]].concat(),
    );
    log.ended("stat", "name=\"docs/a.txt\"", &common);
    log.ended(
        "list",
        "prefix=\"docs\"",
        &[&common[..], &["files=2"]].concat(),
    );
    log.ended(
        "list_dir",
        "prefix=\"docs\"",
        &[&common[..], &["files=2"]].concat(),
    );
    log.ended("url", "name=\"docs/a.txt\"", &common);
    log.ended("delete", "name=\"docs/a.txt\"", &common);
    log.ended("check", "backend=\"local\"", &common);
}

/// A reader that stops early (a client gone away, a range cut short) is recorded with the bytes it did stream.
#[tokio::test(flavor = "current_thread")]
async fn a_read_dropped_before_its_end_records_the_bytes_streamed_as_incomplete() {
    let (log, _guard, _dir, media) = traced_local_media();
    media
        .save("big.bin", vec![7u8; 1 << 20])
        .await
        .expect("save");
    let mut got = media.open("big.bin").await.expect("open");
    let first = got.stream.try_next().await.expect("read").expect("a chunk");
    assert!(first.len() < 1 << 20, "the file came in one chunk");
    assert!(
        log.lines().iter().all(|l| !l.contains("operation=\"get\"")),
        "the read ended before the stream did"
    );
    drop(got);
    log.ended(
        "get",
        "name=\"big.bin\"",
        &["outcome=\"incomplete\"", &format!("bytes={}", first.len())],
    );
}

/// A failure is recorded once, at `DEBUG`, with its kind: an app at the default level sees nothing from the
/// wrapper, and the web core's own `ERROR` line stays the only one.
#[tokio::test(flavor = "current_thread")]
async fn failures_are_debug_events_with_their_kind_and_nothing_above_debug() {
    let (log, _guard, _dir, media) = traced_local_media();
    media.open("no/such.png").await.expect_err("missing");
    media.save("taken.txt", "x").await.expect("save");
    let taken = storages::Name::new("taken.txt").expect("name");
    media
        .put(&taken, "y".into(), storages::PutMode::Create)
        .await
        .expect_err("taken");
    let line = log.ended(
        "get",
        "name=\"no/such.png\"",
        &["outcome=\"not_found\"", "failed"],
    );
    assert!(line.contains("DEBUG"), "{line}");
    log.ended(
        "put",
        "outcome=\"already_exists\"",
        &["name=\"taken.txt\"", "error="],
    );
    let loud: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.contains("INFO") || l.contains("WARN") || l.contains("ERROR"))
        .collect();
    assert!(loud.is_empty(), "the wrapper logged above DEBUG: {loud:#?}");

    let quiet = Captured::default();
    let _guard = quiet.install("info");
    media.open("no/such.png").await.expect_err("missing");
    assert_eq!(
        quiet.lines(),
        Vec::<String>::new(),
        "logged at the default level"
    );
}

/// A `mirror:` storage's span holds the spans of its legs, each traced as the set's own storage.
#[tokio::test(flavor = "current_thread")]
async fn a_mirror_and_its_legs_are_each_traced() {
    let log = Captured::default();
    let _guard = log.install("storages=debug");
    let storages = Storages::from_urls([
        ("one", "memory://"),
        ("two", "memory://"),
        ("both", "mirror:?primary=one&mirrors=two"),
    ])
    .expect("storages");
    let both = storages.get("both").expect("both");
    assert_eq!(both.backend(), "mirror");
    both.save("m.txt", "abc").await.expect("save");
    let ends: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.contains("storage operation done"))
        .collect();
    // The mirror reads back what its primary stored to send it to the mirrors: a `get` leg, not counted here.
    let (legs, own): (Vec<&String>, Vec<&String>) = ends
        .iter()
        .filter(|l| !l.contains("operation=\"get\""))
        .partition(|l| l.contains("storage{backend=\"memory\""));
    assert_eq!(own.len(), 1, "the mirror's own put: {ends:#?}");
    assert!(own[0].contains("storage{backend=\"mirror\"") && own[0].contains("bytes=3"));
    assert_eq!(legs.len(), 2, "a put on each leg: {ends:#?}");
    for leg in legs {
        assert!(
            leg.find("backend=\"mirror\"") < leg.find("backend=\"memory\""),
            "the leg's span is not inside the mirror's: {leg}"
        );
    }
}

/// The storage that `storages` commands open for one STORAGE is traced too.
#[tokio::test(flavor = "current_thread")]
async fn the_command_lines_one_storage_is_traced() {
    let log = Captured::default();
    let _guard = log.install("storages=debug");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}/one", dir.path().display());
    let one = storages::named::open_one(&url, &Default::default()).expect("open");
    one.save("x.txt", "1").await.expect("save");
    log.ended(
        "put",
        "name=\"x.txt\"",
        &["backend=\"local\"", "outcome=\"ok\""],
    );
}

/// Signed URLs and presigned uploads are credentials until they expire, and the settings hold keys: none of it is
/// in any span, event or `Debug`.
#[cfg(feature = "s3")]
#[tokio::test(flavor = "current_thread")]
async fn no_secret_or_signature_is_ever_recorded() {
    let log = Captured::default();
    let _guard = log.install("trace");
    let url = "minio://AKIDTRACE:SeCrEtTrAcEkEy@127.0.0.1:9/bucket?secure=false&presign=600";
    let storages = Storages::from_urls([("media", url)]).expect("storages");
    let media = storages.media().expect("media");
    let signed = media.public_url("a b.png").await.expect("signed url");
    let signature = signed
        .split("X-Amz-Signature=")
        .nth(1)
        .expect("a signature")
        .to_owned();
    let name = storages::Name::new("up.png").expect("name");
    let upload = media
        .direct_upload(&name, "image/png", std::time::Duration::from_secs(60))
        .await
        .expect("presigned upload");
    let upload_signature = upload
        .url
        .split("X-Amz-Signature=")
        .nth(1)
        .expect("signed")
        .to_owned();
    log.ended(
        "url",
        "name=\"a b.png\"",
        &["backend=\"s3\"", "outcome=\"ok\""],
    );
    log.ended("direct_upload", "name=\"up.png\"", &["outcome=\"ok\""]);
    let text = log.lines().join("\n") + &format!("{media:?}");
    for secret in [
        "SeCrEtTrAcEkEy",
        &signature,
        &upload_signature,
        "X-Amz-Signature",
    ] {
        assert!(!text.contains(secret), "{secret} was recorded: {text}");
    }
}
