//! The hooks other backends build on `file://` with, and cleaning up after crashed writers.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use storages_core::{Error, Result, Storage, StorageExt};
use storages_local::{Hooks, LocalConfig, LocalStorage, TEMP_PREFIX, WriteCheck};

/// A check that refuses every change while `closed` is set.
#[derive(Debug, Default)]
struct Gate {
    closed: AtomicBool,
}

impl WriteCheck for Gate {
    fn before_change(&self, root: &Path, _handle: std::os::fd::BorrowedFd<'_>) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            Err(Error::Backend {
                backend: "test",
                message: format!("{} is closed", root.display()),
                source: None,
            })
        } else {
            Ok(())
        }
    }
}

fn age(path: &Path, by: Duration) {
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open to age");
    file.set_modified(SystemTime::now() - by)
        .expect("set mtime");
}

#[tokio::test]
async fn without_create_root_a_missing_root_is_refused_and_not_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hooks = Hooks::default();
    hooks.backend = "nfs";
    let mut config = LocalConfig::new(dir.path().join("a/root"));
    config.create_root = false;
    let err = LocalStorage::with_hooks(config, hooks).expect_err("missing root");
    let text = err.to_string();
    assert!(
        text.contains("a/root") && text.contains("does not create it"),
        "{text}"
    );
    assert_eq!(tree(dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn a_failing_write_check_stops_saves_and_deletes_before_anything_is_touched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gate = Arc::new(Gate::default());
    let mut hooks = Hooks::default();
    hooks.before_change = Some(gate.clone());
    let s = LocalStorage::with_hooks(LocalConfig::new(dir.path()), hooks).expect("storage");
    s.save("kept/a.txt", "a").await.expect("open gate");
    gate.closed.store(true, Ordering::SeqCst);
    let before = tree(dir.path());
    let err = s.save("new/b.txt", "b").await.expect_err("closed gate");
    assert!(err.to_string().contains("is closed"), "{err}");
    s.save_with("kept/a.txt", "x", storages_core::SaveOptions::overwrite())
        .await
        .expect_err("closed gate: overwrite");
    s.remove("kept/a.txt")
        .await
        .expect_err("closed gate: delete");
    s.clean_temp_files(Duration::ZERO)
        .await
        .expect_err("closed gate: clean");
    assert_eq!(
        tree(dir.path()),
        before,
        "something changed behind a closed gate"
    );
    assert_eq!(s.read_to_bytes("kept/a.txt").await.expect("read"), "a");
}

#[tokio::test]
async fn temporary_files_carry_the_backend_tag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = LocalStorage::with_backend(LocalConfig::new(dir.path()), "nfs", "web-1.".into())
        .expect("storage");
    assert_eq!(s.backend(), "nfs");
    // A stream that never ends keeps the temporary file on disk while we look at it.
    let endless = futures_util::stream::iter(vec![Ok(bytes::Bytes::from_static(b"x"))])
        .chain(futures_util::stream::pending());
    let saving = s.save("d/f.bin", storages_core::Content::from_stream(endless));
    let looking = async {
        for _ in 0..200 {
            let names: Vec<String> = std::fs::read_dir(dir.path().join("d"))
                .map(|d| {
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            if let Some(n) = names.first() {
                return n.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no temporary file appeared");
    };
    let name = tokio::select! {
        _ = saving => panic!("the save cannot finish"),
        n = looking => n,
    };
    let pid = std::process::id();
    assert!(
        name.starts_with(&format!("{TEMP_PREFIX}web-1.{pid}.")),
        "{name} does not name the tag and process"
    );
}

use futures_util::StreamExt as _;
use storages_testkit::fs::tree;

#[tokio::test]
async fn cleaning_removes_old_temporary_files_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = LocalStorage::new(LocalConfig::new(dir.path().join("root"))).expect("storage");
    let root = s.root().to_path_buf();
    s.save("a/b/photo.jpg", "stored").await.expect("save");
    s.save("top.txt", "stored").await.expect("save");
    let old = [
        format!("{TEMP_PREFIX}web-1.123.aaaaaaaaaaaa"),
        format!("a/b/{TEMP_PREFIX}web-2.456.bbbbbbbbbbbb"),
    ];
    let young = format!("a/{TEMP_PREFIX}web-1.789.cccccccccccc");
    let lookalikes = [
        "a/storages-tmp.x",
        "a/.storages-tmpx",
        "a/b/notes.storages-tmp.1",
    ];
    for rel in old.iter().chain([&young]) {
        std::fs::write(root.join(rel), b"partial").expect("write temp");
    }
    for rel in lookalikes {
        std::fs::write(root.join(rel), b"user data").expect("write lookalike");
        age(&root.join(rel), Duration::from_secs(7200));
    }
    // An old stored file and an old directory named like a temporary file are not temporary files.
    age(&root.join("top.txt"), Duration::from_secs(7200));
    std::fs::create_dir(root.join(format!("{TEMP_PREFIX}dir"))).expect("mkdir");
    for rel in &old {
        age(&root.join(rel), Duration::from_secs(7200));
    }
    age(&root.join(&young), Duration::from_secs(60));

    let report = s
        .clean_temp_files(Duration::from_secs(3600))
        .await
        .expect("clean");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let removed: Vec<String> = report
        .removed
        .iter()
        .map(|r| r.path.display().to_string())
        .collect();
    let mut expected = old.to_vec();
    expected.sort();
    assert_eq!(removed, expected);
    assert!(
        report
            .removed
            .iter()
            .all(|r| r.size == 7 && r.age >= Duration::from_secs(7100))
    );
    for rel in old.iter() {
        assert!(!root.join(rel).exists(), "{rel} is still there");
    }
    for rel in [young.as_str(), "a/b/photo.jpg", "top.txt"]
        .into_iter()
        .chain(lookalikes)
    {
        assert!(root.join(rel).is_file(), "{rel} was removed");
    }
    assert!(root.join(format!("{TEMP_PREFIX}dir")).is_dir());
    let again = s
        .clean_temp_files(Duration::from_secs(3600))
        .await
        .expect("clean");
    assert!(again.removed.is_empty(), "{:?}", again.removed);
}

#[tokio::test]
async fn cleaning_does_not_follow_symbolic_links_out_of_the_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).expect("mkdir");
    let victim = outside.join(format!("{TEMP_PREFIX}not-ours"));
    std::fs::write(&victim, b"x").expect("write");
    age(&victim, Duration::from_secs(7200));
    let s = LocalStorage::new(LocalConfig::new(dir.path().join("root"))).expect("storage");
    std::os::unix::fs::symlink(&outside, s.root().join("link")).expect("symlink");
    let report = s.clean_temp_files(Duration::ZERO).await.expect("clean");
    assert!(report.removed.is_empty(), "{:?}", report.removed);
    assert!(victim.is_file());
}
