//! No multipart upload lingers on S3, on real Garage and moto servers: `storages put` interrupted by SIGINT or
//! SIGTERM aborts its upload before it exits; a cancelled save is aborted before the runtime ends; a server that
//! dies mid-upload gets an error naming the upload left behind, which `clean` removes once the server is back;
//! `storages clean` aborts old uploads under the storage's prefix and nothing else.
#![cfg(feature = "s3")]

use crate::support;

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use storages::settings::{Backend, Settings};
use storages::{Content, S3Storage, StorageExt};
use support::s3::{Garage, Moto, Peer, shared_garage, shared_moto, unique};
use support::storages_bin;

/// Parts of the smallest size S3 allows, so that a few seconds of streaming make several of them.
const PART_SIZE: &str = "part_size=5242880";

/// A storage under a fresh prefix of a bucket, and boto3 on the same server to look at what it left.
#[derive(Clone)]
struct Target {
    url: String,
    peer: Peer,
    bucket: String,
    prefix: String,
}

impl Target {
    fn garage(tag: &str) -> Self {
        Self::own_garage(shared_garage(), tag)
    }

    /// On `g`, which may be a Garage of the test's own (one it may kill).
    fn own_garage(g: &Garage, tag: &str) -> Self {
        let prefix = unique(tag);
        Self {
            url: format!("{}&{PART_SIZE}", g.settings_url(&prefix)),
            peer: Peer::garage(g),
            bucket: g.bucket().to_owned(),
            prefix,
        }
    }

    fn moto(tag: &str) -> Self {
        Self::own_moto(shared_moto(), tag)
    }

    /// In a new bucket of `m`.
    fn own_moto(m: &Moto, tag: &str) -> Self {
        let bucket = unique(tag);
        m.create_bucket(&bucket);
        let prefix = unique(tag);
        Self {
            url: format!("{}&{PART_SIZE}", m.settings_url(&bucket, &prefix)),
            peer: Peer::moto(m),
            bucket,
            prefix,
        }
    }

    fn storage(&self) -> S3Storage {
        match Settings::parse(&self.url).expect("parse").backend() {
            Backend::S3(config) => S3Storage::new(config.clone()).expect("build"),
            other => panic!("not s3: {other:?}"),
        }
    }

    /// Waits until the one multipart upload under the prefix holds a finished part.
    fn wait_for_a_part(&self) {
        self.wait_for_an_upload("a save");
        let uploads = self.uploads();
        let [(key, id)] = uploads.as_slice() else {
            panic!("one upload expected: {uploads:?}");
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let parts = self.peer.boto3(
                "r = s3.list_parts(Bucket=args[0], Key=args[1], UploadId=args[2])\n\
                 print(len(r.get('Parts', [])))",
                &[&self.bucket, key, id],
            );
            if parts != "0" {
                return;
            }
            assert!(Instant::now() < deadline, "no part finished in 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts a multipart upload of each key (with boto3) and returns their ids.
    fn start_uploads(&self, keys: &[String]) -> Vec<String> {
        let mut args = vec![self.bucket.as_str()];
        args.extend(keys.iter().map(String::as_str));
        let ids = self.peer.boto3(
            "ids = [s3.create_multipart_upload(Bucket=args[0], Key=k)['UploadId'] for k in args[1:]]\n\
             print(json.dumps(ids))",
            &args,
        );
        serde_json::from_str(&ids).expect("json")
    }

    /// Stores a small object under `key` (with boto3).
    fn put_object(&self, key: &str) {
        self.peer.boto3(
            "s3.put_object(Bucket=args[0], Key=args[1], Body=b'kept')",
            &[&self.bucket, key],
        );
    }

    /// Runs `storages clean URL --older-than AGE`.
    fn clean(&self, age: &str) -> Output {
        Command::new(storages_bin())
            .args(["clean", &self.url, "--older-than", age])
            .output()
            .expect("run storages clean")
    }

    /// The multipart uploads in progress under `prefix/` (key and upload id), as the server lists them.
    fn uploads_under(&self, prefix: &str) -> Vec<(String, String)> {
        let listed = self.peer.boto3(
            "p = s3.get_paginator('list_multipart_uploads')\n\
             ups = [[u['Key'], u['UploadId']] for page in p.paginate(Bucket=args[0], Prefix=args[1]) \
             for u in page.get('Uploads', [])]\n\
             print(json.dumps(ups))",
            &[&self.bucket, &format!("{prefix}/")],
        );
        let listed: Vec<(String, String)> = serde_json::from_str(&listed).expect("json");
        listed
    }

    fn uploads(&self) -> Vec<(String, String)> {
        self.uploads_under(&self.prefix)
    }

    /// The object keys under `prefix/`.
    fn objects(&self) -> Vec<String> {
        let listed = self.peer.boto3(
            "r = s3.list_objects_v2(Bucket=args[0], Prefix=args[1])\n\
             print(json.dumps([o['Key'] for o in r.get('Contents', [])]))",
            &[&self.bucket, &format!("{}/", self.prefix)],
        );
        serde_json::from_str(&listed).expect("json")
    }

    /// No multipart upload and no object under the prefix.
    fn assert_nothing_left(&self, when: &str) {
        assert_eq!(
            self.uploads(),
            vec![],
            "{when}: a multipart upload was left"
        );
        assert_eq!(
            self.objects(),
            Vec::<String>::new(),
            "{when}: an object appeared"
        );
    }

    /// Waits until the server lists a multipart upload under the prefix.
    fn wait_for_an_upload(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.uploads().is_empty() {
            assert!(
                Instant::now() < deadline,
                "{what}: no multipart upload appeared in 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A child process killed (and reaped) on drop, so that a failing test leaves none behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `child` to exit (killing it after `limit`).
fn wait_with_limit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// `storages put` of an endless standard input gets `signal` once its multipart upload exists: it exits with
/// `code` and one line on stderr, and neither an upload nor an object is left.
fn interrupted_put_leaves_nothing(target: &Target, signal: &str, code: i32) {
    let mut child = Reaped(
        Command::new(storages_bin())
            .args(["put", &target.url, "-", "big.bin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start storages put"),
    );
    let mut stdin = child.0.stdin.take().expect("stdin");
    // Paced, so that parts are in flight (not finished) whenever the signal comes, and the servers' disks and
    // memory see tens of megabytes, not gigabytes. Stops when the command has gone (a broken pipe).
    let feeder = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1024 * 1024];
        while stdin.write_all(&chunk).is_ok() {
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    target.wait_for_an_upload(&format!("storages put, before {signal}"));
    send_signal(child.0.id(), signal);
    let status = wait_with_limit(&mut child.0, Duration::from_secs(30));
    feeder.join().expect("the feeder thread");
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    assert_eq!(
        status.code(),
        Some(code),
        "{signal}: {status}; stderr: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr}");
    assert!(
        lines[0].contains(&format!(
            "interrupted by SIG{signal}; aborted its multipart upload"
        )),
        "{stderr}"
    );
    target.assert_nothing_left(&format!("after SIG{signal}"));
}

#[test]
fn sigint_during_put_aborts_its_upload_on_garage() {
    interrupted_put_leaves_nothing(&Target::garage("sigint"), "INT", 130);
}

#[test]
fn sigterm_during_put_aborts_its_upload_on_garage() {
    interrupted_put_leaves_nothing(&Target::garage("sigterm"), "TERM", 143);
}

#[test]
fn sigint_during_put_aborts_its_upload_on_moto() {
    interrupted_put_leaves_nothing(&Target::moto("sigint"), "INT", 130);
}

#[test]
fn sigterm_during_put_aborts_its_upload_on_moto() {
    interrupted_put_leaves_nothing(&Target::moto("sigterm"), "TERM", 143);
}

/// Content that never ends, at a pace that keeps parts in flight for as long as a test needs.
fn endless() -> Content<'static> {
    let chunk = Bytes::from(vec![b'y'; 256 * 1024]);
    Content::from_stream(futures_util::stream::unfold(chunk, |chunk| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Some((Ok(chunk.clone()), chunk))
    }))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// One part's worth of content, then nothing: a source that stalls (a slow client) with no part in flight.
fn stalled() -> Content<'static> {
    let first = Bytes::from(vec![b's'; 6 * 1024 * 1024]);
    Content::from_stream(
        futures_util::stream::iter([Ok(first)]).chain(futures_util::stream::pending()),
    )
}

/// A save cancelled mid-upload (its future dropped) leaves nothing once `settle_aborts` has returned, even though
/// its runtime ends right after. It is cancelled while no part is in flight (a broken-off part makes Garage drop
/// the upload by itself), from within `block_on`'s own future on a current-thread runtime: the abort task spawned
/// by the drop gets no chance to run unless that future waits for it.
fn a_cancelled_save_is_aborted_before_its_runtime_ends(target: &Target) {
    // `settle_aborts` hands each outcome to the one call that collects it first, process-wide: the Garage and moto
    // cases, run side by side in this binary, would otherwise take each other's.
    static SETTLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _alone = SETTLING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let storage = target.storage();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let settled = runtime.block_on(async {
        let mut save = Box::pin(storage.save("cancelled.bin", stalled()));
        let watcher = target.clone();
        let first_part = tokio::task::spawn_blocking(move || watcher.wait_for_a_part());
        tokio::select! {
            saved = &mut save => panic!("the save ended: {saved:?}"),
            waited = first_part => waited.expect("wait for the first part"),
        }
        drop(save);
        storages::s3::settle_aborts(Duration::from_secs(10)).await
    });
    drop(runtime);
    let ours = |key: &String| key.starts_with(&format!("{}/", target.prefix));
    let aborted: Vec<_> = settled.aborted.iter().filter(|u| ours(&u.key)).collect();
    assert_eq!(aborted.len(), 1, "{settled:?}");
    assert_eq!(aborted[0].key, format!("{}/cancelled.bin", target.prefix));
    assert!(
        !settled.left.iter().any(|e| ours(&e.upload().key)),
        "{settled:?}"
    );
    target.assert_nothing_left("after a cancelled save");
}

#[test]
fn a_cancelled_save_is_aborted_before_its_runtime_ends_on_garage() {
    a_cancelled_save_is_aborted_before_its_runtime_ends(&Target::garage("cancel"));
}

#[test]
fn a_cancelled_save_is_aborted_before_its_runtime_ends_on_moto() {
    a_cancelled_save_is_aborted_before_its_runtime_ends(&Target::moto("cancel"));
}

/// Saves endless content, kills the server (with `kill`) once the upload exists, and returns the upload's id and
/// the save's error: the upload and its abort both failed.
fn save_while_the_server_dies(target: &Target, kill: impl FnOnce()) -> (String, String) {
    let storage = Arc::new(target.storage());
    let runtime = runtime();
    let saving = Arc::clone(&storage);
    let save = runtime.spawn(async move { saving.save("doomed.bin", endless()).await });
    target.wait_for_an_upload("a save");
    let uploads = target.uploads();
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    let (key, id) = uploads[0].clone();
    assert_eq!(key, format!("{}/doomed.bin", target.prefix));
    kill();
    let saved = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(120), save).await })
        .expect("the save gave up within 2 minutes")
        .expect("the save task");
    let message = saved.expect_err("the server is gone").to_string();
    (id, message)
}

fn assert_names_the_upload_left(message: &str, id: &str) {
    assert!(
        message.contains(&format!("aborting multipart upload {id} also failed")),
        "the error does not name the upload left behind: {message}"
    );
    assert!(message.contains("storages clean"), "{message}");
    assert!(!message.contains("s3: s3:"), "{message}");
}

#[test]
fn a_garage_killed_mid_upload_gets_an_error_naming_the_upload_which_clean_removes_once_it_is_back()
{
    let mut garage = Garage::start();
    let target = Target::own_garage(&garage, "killed");
    let (id, message) = save_while_the_server_dies(&target, || garage.kill());
    assert!(message.contains("doomed.bin"), "{message}");
    assert_names_the_upload_left(&message, &id);

    garage.restart();
    let key = format!("{}/doomed.bin", target.prefix);
    assert_eq!(
        target.uploads(),
        vec![(key.clone(), id.clone())],
        "the upload the error names is the one left"
    );
    let cleaned = runtime()
        .block_on(target.storage().clean_incomplete_uploads(Duration::ZERO))
        .expect("clean");
    assert!(cleaned.failed.is_empty(), "{:?}", cleaned.failed);
    let aborted: Vec<_> = cleaned
        .aborted
        .iter()
        .map(|a| (a.key.clone(), a.upload_id.clone()))
        .collect();
    assert_eq!(aborted, vec![(key, id)]);
    target.assert_nothing_left("after clean");
}

#[test]
fn a_moto_killed_mid_upload_gets_an_error_naming_the_upload() {
    let mut moto = Moto::start();
    let target = Target::own_moto(&moto, "killed");
    let (id, message) = save_while_the_server_dies(&target, || moto.kill());
    assert_names_the_upload_left(&message, &id);
}

/// Runs `clean` and checks that it succeeded, printed `expected` (keys) as aborted and then the count.
fn assert_clean_aborts(target: &Target, age: &str, expected: &[&String]) {
    let out = target.clean(age);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "clean --older-than {age}: {}; {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let aborted: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("aborted "))
        .map(|l| l.split("  ").next().unwrap_or_default())
        .collect();
    let mut expected: Vec<&str> = expected.iter().map(|k| k.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(aborted, expected, "clean --older-than {age}: {stdout}");
    assert!(
        stdout.contains(&format!("{} multipart upload(s) aborted", expected.len())),
        "{stdout}"
    );
}

/// Starts two uploads under the storage's prefix (returned), one under a prefix that shares the storage's as a
/// string but not as a directory (`<prefix>-other/`), and stores an object under the prefix.
fn uploads_to_clean(target: &Target) -> [String; 2] {
    let p = &target.prefix;
    let ours = [format!("{p}/old.bin"), format!("{p}/sub/old.bin")];
    target.start_uploads(&ours);
    target.start_uploads(&[format!("{p}-other/old.bin")]);
    target.put_object(&format!("{p}/kept.bin"));
    ours
}

/// The other prefix's upload and the object are still there.
fn assert_nothing_else_was_touched(target: &Target) {
    let other = format!("{}-other", target.prefix);
    assert_eq!(
        target.uploads_under(&other).len(),
        1,
        "another prefix was cleaned"
    );
    assert_eq!(
        target.objects(),
        vec![format!("{}/kept.bin", target.prefix)]
    );
}

#[test]
fn clean_aborts_old_uploads_under_the_prefix_and_nothing_else_on_garage() {
    let target = Target::garage("clean");
    let old = uploads_to_clean(&target);
    let old_started = std::time::Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    let young = format!("{}/young.bin", target.prefix);
    let young_id = target.start_uploads(std::slice::from_ref(&young));

    // The old uploads are at least this old, the young one 10 s younger: a busy machine may delay the command by
    // seconds, so the threshold follows the clock instead of being fixed.
    let age = old_started.elapsed().as_secs() - 2;
    assert_clean_aborts(&target, &format!("{age}s"), &[&old[0], &old[1]]);
    assert_eq!(target.uploads(), vec![(young, young_id[0].clone())]);
    assert_nothing_else_was_touched(&target);
}

#[test]
fn clean_aborts_old_uploads_under_the_prefix_and_nothing_else_on_moto() {
    // moto dates every upload 2010-11-10: ages separate nothing there beyond "older than 30 years" or not.
    let target = Target::moto("clean");
    let ours = uploads_to_clean(&target);

    assert_clean_aborts(&target, "30years", &[]);
    assert_eq!(target.uploads().len(), 2);
    assert_clean_aborts(&target, "0s", &[&ours[0], &ours[1]]);
    assert_eq!(target.uploads(), vec![]);
    assert_nothing_else_was_touched(&target);
}

#[test]
fn clean_follows_the_listing_across_pages_on_garage() {
    // 998 keys, then 5 uploads of one key: the first page (1000 uploads) ends between two uploads of that key,
    // so the second page needs both the key marker and the upload id marker.
    let target = Target::garage("pages");
    let p = &target.prefix;
    let mut keys: Vec<String> = (0..998).map(|i| format!("{p}/k{i:04}")).collect();
    keys.extend(std::iter::repeat_n(format!("{p}/z"), 5));
    target.start_uploads(&keys);
    let cleaned = runtime()
        .block_on(target.storage().clean_incomplete_uploads(Duration::ZERO))
        .expect("clean");
    assert!(cleaned.failed.is_empty(), "{:?}", cleaned.failed);
    assert_eq!(cleaned.aborted.len(), 1003);
    assert_eq!(target.uploads(), vec![]);
}

#[test]
fn the_readme_lifecycle_rule_is_accepted_by_garage_and_moto() {
    let readme = include_str!("../../README.md");
    let rule = readme
        .split("```json")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|block| block.contains("AbortIncompleteMultipartUpload"))
        .expect("the README gives a lifecycle rule as a json block");
    let g = shared_garage();
    let bucket = unique("lifecycle");
    g.create_bucket(&bucket);
    let m = shared_moto();
    m.create_bucket(&bucket);
    for peer in [Peer::garage(g), Peer::moto(m)] {
        let days = peer.boto3(
            "s3.put_bucket_lifecycle_configuration(Bucket=args[0], LifecycleConfiguration=json.loads(args[1]))\n\
             rules = s3.get_bucket_lifecycle_configuration(Bucket=args[0])['Rules']\n\
             print(rules[0]['AbortIncompleteMultipartUpload']['DaysAfterInitiation'])",
            &[&bucket, rule],
        );
        assert_eq!(days, "1", "{}", peer.endpoint);
    }
}
