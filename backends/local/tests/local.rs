//! What `file://` promises beyond the conformance suite: permissions, hidden temporary files, abandoned writes,
//! and readers that never see a file half-written.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use storages_core::conformance::{assert_pattern, pattern, pattern_stream};
use storages_core::{Content, Error, NameErrorKind, Storage, StorageExt};
use storages_local::{LocalConfig, LocalStorage, TEMP_PREFIX};

fn storage(dir: &tempfile::TempDir, tweak: impl FnOnce(&mut LocalConfig)) -> LocalStorage {
    let mut config = LocalConfig::new(dir.path().join("root"));
    tweak(&mut config);
    LocalStorage::new(config).expect("storage")
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            if e.file_type().expect("type").is_dir() {
                stack.push(e.path());
            } else {
                out.push(
                    e.path()
                        .strip_prefix(dir)
                        .expect("prefix")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn the_root_is_created_when_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = storage(&dir, |_| {});
    assert!(dir.path().join("root").is_dir());
    assert_eq!(
        s.root(),
        dir.path().join("root").canonicalize().expect("canonical")
    );
}

#[tokio::test]
async fn file_and_dir_modes_are_applied_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = storage(&dir, |c| {
        c.file_mode = Some(0o640);
        c.dir_mode = Some(0o750);
    });
    let name = s.save("x/y/z.txt", "data").await.expect("save");
    let path = s.local_path(&name).expect("path");
    assert_eq!(
        std::fs::metadata(&path).expect("stat").permissions().mode() & 0o7777,
        0o640
    );
    for d in ["x", "x/y"] {
        let mode = std::fs::metadata(s.root().join(d))
            .expect("stat dir")
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(mode, 0o750, "mode of {d}");
    }
}

#[tokio::test]
async fn fsync_writes_still_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = storage(&dir, |c| c.fsync = true);
    s.save(
        "synced/a.bin",
        Content::from_stream(pattern_stream(4, 300_000, 10_000)),
    )
    .await
    .expect("save");
    assert_pattern(&s, "synced/a.bin", 4, 300_000).await;
}

#[tokio::test]
async fn listings_hide_temporary_files_and_names_may_not_use_their_prefix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = storage(&dir, |_| {});
    s.save("d/real.txt", "x").await.expect("save");
    std::fs::write(
        s.root().join(format!("d/{TEMP_PREFIX}crashed.123")),
        "partial",
    )
    .expect("write temp");
    let listed: Vec<String> = s
        .list_all("")
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.name.to_string())
        .collect();
    assert_eq!(listed, ["d/real.txt"]);
    assert_eq!(s.listdir("d").await.expect("listdir").1, ["real.txt"]);
    match s.save(format!("d/{TEMP_PREFIX}mine").as_str(), "x").await {
        Err(Error::InvalidName(e)) => assert_eq!(e.kind(), &NameErrorKind::Reserved),
        other => panic!("expected a reserved-name error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_abandoned_write_leaves_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(storage(&dir, |_| {}));
    // A stream that yields some data, then never ends: the caller gives up on it.
    let endless = futures_util::stream::iter(vec![Ok(Bytes::from(pattern(1, 0, 100_000)))])
        .chain(futures_util::stream::pending());
    let saving = s.save("abandoned.bin", Content::from_stream(endless));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), saving)
            .await
            .is_err(),
        "the save cannot finish"
    );
    // The blocking writer notices the closed feed and removes its temporary file.
    for _ in 0..100 {
        if files_under(s.root()).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("left behind: {:?}", files_under(s.root()));
}

#[tokio::test]
async fn saving_below_a_file_is_an_error_naming_the_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = storage(&dir, |_| {});
    s.save("a", "file").await.expect("save a");
    let err = s.save("a/b.txt", "x").await.expect_err("a is a file");
    assert!(err.to_string().contains("a/b.txt"), "{err}");
    assert_eq!(files_under(s.root()), ["a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_see_the_old_or_the_new_content_never_a_mix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(storage(&dir, |_| {}));
    let size = 2 * 1024 * 1024;
    s.save("hot.bin", pattern(0, 0, size))
        .await
        .expect("first version");
    let writer = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            for version in 1..=20u64 {
                let content =
                    Content::from_stream(pattern_stream(version % 2, size as u64, 64 * 1024));
                s.save_with("hot.bin", content, storages_core::SaveOptions::overwrite())
                    .await
                    .expect("overwrite");
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() || reads < 5 {
        let bytes = s.read_to_bytes("hot.bin").await.expect("read");
        assert_eq!(bytes.len(), size, "a reader saw a partial file");
        let whole_of = |seed| bytes[..] == pattern(seed, 0, size)[..];
        assert!(
            whole_of(0) || whole_of(1),
            "a reader saw a mix of two versions"
        );
        reads += 1;
    }
    writer.await.expect("writer");
}
