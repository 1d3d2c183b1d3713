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

/// A copy within the storage is a hard link (one inode, no byte written twice: what collectstatic's hashed copies
/// rely on), and it keeps its content when its source is replaced, by bytes or by a stream: every write makes a new
/// inode and renames or links it into place, never writing into a stored file.
#[tokio::test]
async fn a_copy_is_a_hard_link_that_survives_replacing_its_source() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let s = storage(&dir, |_| {});
    let name = |n: &str| storages_core::Name::new(n).expect("name");
    let inode = |n: &str| {
        std::fs::metadata(s.local_path(&name(n)).expect("path"))
            .expect("stat")
            .ino()
    };
    s.save("css/app.css", "body { color: red }")
        .await
        .expect("save");
    s.copy_within(&name("css/app.css"), &name("css/app.0123456789ab.css"))
        .await
        .expect("copy");
    let shared = inode("css/app.css");
    assert_eq!(
        inode("css/app.0123456789ab.css"),
        shared,
        "the copy is a link"
    );

    s.save_with(
        "css/app.css",
        "body { color: blue }",
        storages_core::SaveOptions::overwrite(),
    )
    .await
    .expect("overwrite with bytes");
    assert_ne!(
        inode("css/app.css"),
        shared,
        "an overwrite makes a new inode"
    );
    assert_eq!(inode("css/app.0123456789ab.css"), shared);
    assert_eq!(
        s.read_to_bytes("css/app.0123456789ab.css")
            .await
            .expect("read"),
        "body { color: red }"
    );

    s.copy_within(&name("css/app.css"), &name("css/again.css"))
        .await
        .expect("copy");
    let streamed =
        futures_util::stream::iter(vec![Ok(Bytes::from_static(b"body { color: green }"))]);
    s.put(
        &name("css/app.css"),
        Content::from_stream(streamed),
        storages_core::PutMode::Overwrite,
    )
    .await
    .expect("overwrite with a stream");
    assert_eq!(
        s.read_to_bytes("css/again.css").await.expect("read"),
        "body { color: blue }"
    );
    assert_eq!(
        s.read_to_bytes("css/app.css").await.expect("read"),
        "body { color: green }"
    );
}

/// A declared MD5 is recorded with the file and read back by `stat`, so a later comparison (collectstatic's and
/// sync's re-runs) need not read the file; a file changed behind the storage's back loses its record.
#[tokio::test]
async fn a_declared_md5_is_recorded_and_dropped_once_the_file_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = storage(&dir, |_| {});
    let md5 = storages_core::Md5::of(b"hashed bytes");
    let content = Content::from_bytes("hashed bytes").with_md5(md5);
    let name = storages_core::Name::new("a/b.txt").expect("name");
    let meta = s
        .put(&name, content, storages_core::PutMode::Overwrite)
        .await
        .expect("put");
    assert_eq!(meta.content_md5, Some(md5));
    assert_eq!(s.stat(&name).await.expect("stat").content_md5, Some(md5));
    // A copy shares the record with the bytes.
    let copy = storages_core::Name::new("c.txt").expect("name");
    s.copy_within(&name, &copy).await.expect("copy");
    assert_eq!(s.stat(&copy).await.expect("stat").content_md5, Some(md5));
    // Without a declared MD5 nothing is recorded (the storage never hashes on its own).
    s.save("plain.txt", "plain").await.expect("save");
    assert_eq!(
        s.metadata("plain.txt").await.expect("stat").content_md5,
        None
    );
    // Written in place by another program: the record no longer describes the file.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(s.local_path(&name).expect("path"), "other bytes!").expect("write in place");
    assert_eq!(s.stat(&name).await.expect("stat").content_md5, None);
}

/// A stream of a file in the page cache reads on the calling task, and still gives the worker back now and then
/// (tokio's cooperative budget): on one thread, a task spawned by the reader runs before a 64 MiB cached file has
/// been read to its end, though the reader awaits nothing but the stream.
#[tokio::test(flavor = "current_thread")]
async fn reading_a_cached_file_lets_other_tasks_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = storage(&dir, |_| {});
    let size = 64 << 20;
    let name = s
        .save("big.bin", Bytes::from(vec![7u8; size]))
        .await
        .expect("save");
    let reader = tokio::spawn(async move {
        let mut stream = s.open(&name).await.expect("open").stream;
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let other = tokio::spawn({
            let ran = Arc::clone(&ran);
            async move { ran.store(true, std::sync::atomic::Ordering::SeqCst) }
        });
        let (mut read, mut ran_at) = (0, None);
        while let Some(chunk) = stream.next().await {
            read += chunk.expect("chunk").len();
            if ran_at.is_none() && ran.load(std::sync::atomic::Ordering::SeqCst) {
                ran_at = Some(read);
            }
        }
        other.await.expect("the other task");
        (read, ran_at)
    });
    let (read, ran_at) = reader.await.expect("reader");
    assert_eq!(read, size);
    assert!(
        ran_at.is_some_and(|at| at < size),
        "the other task ran only once the whole file was read: {ran_at:?}"
    );
}
