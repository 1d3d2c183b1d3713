//! What `nfs://` promises beyond the conformance suite, on plain directories (no mount needed): a root that is
//! refused leaves everything untouched, the sentinel, host-tagged temporary files, cleaning, and `check`.
//! The workspace's `tests/storage/nfs.rs` and `tests/storage/nfs_servers.rs` test it on real mounts and with many processes.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use storages_core::{Content, Error, Name, Storage, StorageExt};
use storages_nfs::mountinfo::read_mount_of;
use storages_nfs::{MountError, NfsConfig, NfsStorage, TEMP_PREFIX};

/// The mount guard's reason, from the error's source.
fn mount_error(e: &Error) -> &MountError {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<MountError>())
        .unwrap_or_else(|| panic!("{e:?} does not carry a MountError"))
}

fn unguarded(root: &Path) -> NfsConfig {
    let mut config = NfsConfig::new(root);
    config.require_mount = false;
    config
}

/// A temporary directory on the root filesystem (`/`), which is no share: the first candidate that is.
fn dir_on_the_root_filesystem() -> tempfile::TempDir {
    let candidates = [
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        std::env::temp_dir(),
        PathBuf::from("/var/tmp"),
        PathBuf::from("/"),
    ];
    for candidate in candidates {
        let on_root = candidate
            .canonicalize()
            .ok()
            .and_then(|c| read_mount_of(&c).ok().flatten())
            .is_some_and(|m| m.mount_point == Path::new("/"));
        if on_root {
            if let Ok(dir) = tempfile::tempdir_in(&candidate) {
                return dir;
            }
        }
    }
    panic!("no writable directory on the root filesystem to test with");
}

#[tokio::test]
async fn a_root_on_the_root_filesystem_is_refused_and_nothing_is_written() {
    let dir = dir_on_the_root_filesystem();
    let root = dir.path().join("media");
    std::fs::create_dir(&root).expect("mkdir");
    let before = tree(dir.path());
    let err = NfsStorage::new(NfsConfig::new(&root)).expect_err("not a share");
    match mount_error(&err) {
        MountError::NotMounted { root: r, fstype } => {
            assert_eq!(r, &root.canonicalize().expect("canonical"));
            assert!(!fstype.is_empty());
        }
        other => panic!("expected NotMounted, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with("nfs: root ")
            && text.contains(&root.display().to_string())
            && text.contains("not on a mounted share")
            && text.contains("require_mount=false"),
        "{text}"
    );
    assert_eq!(tree(dir.path()), before, "a refused root was written to");
}

#[tokio::test]
async fn a_missing_root_is_refused_and_never_created_even_without_the_mount_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("share/media");
    for config in [NfsConfig::new(&root), unguarded(&root)] {
        let err = NfsStorage::new(config).expect_err("missing root");
        assert!(
            matches!(mount_error(&err), MountError::RootMissing { root: r } if r == &root),
            "{err:?}"
        );
        assert!(err.to_string().contains("never creates its root"), "{err}");
    }
    assert_eq!(tree(dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn a_root_that_is_a_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("file");
    std::fs::write(&root, "x").expect("write");
    let err = NfsStorage::new(unguarded(&root)).expect_err("a file");
    assert!(
        matches!(mount_error(&err), MountError::NotADirectory { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn without_its_sentinel_the_root_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = unguarded(dir.path());
    config.set("sentinel", ".storages-share").expect("option");
    let err = NfsStorage::new(config.clone()).expect_err("no sentinel");
    match mount_error(&err) {
        MountError::SentinelMissing { sentinel, .. } => {
            assert!(
                sentinel.ends_with(".storages-share"),
                "{}",
                sentinel.display()
            )
        }
        other => panic!("expected SentinelMissing, got {other:?}"),
    }
    assert!(err.to_string().contains(".storages-share"), "{err}");
    assert_eq!(tree(dir.path()), Vec::<String>::new());

    std::fs::write(dir.path().join(".storages-share"), "").expect("the operator creates it");
    let s = NfsStorage::new(config).expect("with its sentinel");
    s.save("a.txt", "x").await.expect("save");
    // Removing the sentinel on the share is seen at the next full check.
    std::fs::remove_file(dir.path().join(".storages-share")).expect("rm");
    let err = s.check().await.expect_err("sentinel gone");
    assert!(
        matches!(mount_error(&err), MountError::SentinelMissing { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_sentinel_is_hidden_from_listings_and_cannot_be_changed_through_the_storage() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(".storages-share"), "").expect("sentinel");
    let mut config = unguarded(dir.path());
    config.set("sentinel", ".storages-share").expect("option");
    let s = NfsStorage::new(config).expect("storage");
    s.save("a.txt", "x").await.expect("save");
    let listed: Vec<String> = s
        .list_all("")
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.name.to_string())
        .collect();
    assert_eq!(listed, ["a.txt"]);
    assert_eq!(s.listdir("").await.expect("listdir").1, ["a.txt"]);
    for err in [
        s.remove(".storages-share").await.expect_err("delete"),
        s.save_with(
            ".storages-share",
            "x",
            storages_core::SaveOptions::overwrite(),
        )
        .await
        .expect_err("overwrite"),
    ] {
        assert!(err.to_string().contains("sentinel"), "{err}");
    }
    assert!(dir.path().join(".storages-share").is_file());
}

#[tokio::test]
async fn temporary_files_name_the_host_and_the_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = NfsStorage::new(unguarded(dir.path())).expect("storage");
    let endless =
        futures_util::stream::iter(vec![Ok(bytes_of("x"))]).chain(futures_util::stream::pending());
    let saving = s.save("d/f.bin", Content::from_stream(endless));
    let looking = async {
        for _ in 0..200 {
            if let Some(name) = std::fs::read_dir(dir.path().join("d"))
                .ok()
                .and_then(|mut d| d.next())
                .and_then(|e| e.ok())
            {
                return name.file_name().to_string_lossy().into_owned();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no temporary file appeared");
    };
    let name = tokio::select! {
        _ = saving => panic!("the save cannot finish"),
        n = looking => n,
    };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let host: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let prefix = format!("{TEMP_PREFIX}{host}.{}.", std::process::id());
    assert!(
        name.starts_with(&prefix),
        "{name} does not start with {prefix}"
    );
    let random = &name[prefix.len()..];
    assert!(
        random.len() >= 8 && random.chars().all(|c| c.is_ascii_alphanumeric()),
        "{name}: no random part"
    );
}

fn bytes_of(s: &'static str) -> storages_core::Bytes {
    storages_core::Bytes::from_static(s.as_bytes())
}

use futures_util::StreamExt as _;
use storages_testkit::fs::tree;

#[tokio::test]
async fn saves_are_synced_by_default_and_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = NfsStorage::new(unguarded(dir.path())).expect("storage");
    assert!(NfsConfig::new("/x").local.fsync, "fsync is on by default");
    let name = s.save("x/y.txt", "synced").await.expect("save");
    assert_eq!(s.read_to_bytes(&name).await.expect("read"), "synced");
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
}

#[tokio::test]
async fn modes_are_applied_where_the_filesystem_allows() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = unguarded(dir.path());
    config.set("file_mode", "640").expect("file_mode");
    config.set("dir_mode", "750").expect("dir_mode");
    let s = NfsStorage::new(config).expect("storage");
    let name = s.save("p/q.txt", "x").await.expect("save");
    let mode = |p: PathBuf| std::fs::metadata(p).expect("stat").permissions().mode() & 0o7777;
    assert_eq!(mode(s.local_path(&name).expect("path")), 0o640);
    assert_eq!(mode(s.root().join("p")), 0o750);
    assert!(s.warnings().is_empty());
}

#[tokio::test]
async fn cleaning_removes_only_old_temporary_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = NfsStorage::new(unguarded(dir.path())).expect("storage");
    s.save("d/kept.bin", "stored").await.expect("save");
    let old = dir
        .path()
        .join(format!("d/{TEMP_PREFIX}web-2.77.abcdefghijkl"));
    let young = dir
        .path()
        .join(format!("d/{TEMP_PREFIX}web-3.78.abcdefghijkl"));
    for p in [&old, &young] {
        std::fs::write(p, "partial").expect("write");
    }
    std::fs::File::options()
        .write(true)
        .open(&old)
        .expect("open")
        .set_modified(SystemTime::now() - Duration::from_secs(3 * 3600))
        .expect("age");
    let report = s
        .clean_temp_files(Duration::from_secs(3600))
        .await
        .expect("clean");
    let removed: Vec<PathBuf> = report.removed.into_iter().map(|r| r.path).collect();
    assert_eq!(
        removed,
        [PathBuf::from(format!(
            "d/{TEMP_PREFIX}web-2.77.abcdefghijkl"
        ))]
    );
    assert!(!old.exists() && young.is_file());
    assert_eq!(s.read_to_bytes("d/kept.bin").await.expect("read"), "stored");
}

#[tokio::test]
async fn check_reports_the_filesystem_and_the_options_in_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = NfsStorage::new(unguarded(dir.path())).expect("storage");
    let report = s.check().await.expect("check");
    let fstype = read_mount_of(s.root())
        .expect("mountinfo")
        .expect("a mount")
        .fstype;
    assert!(
        report.starts_with(&format!("nfs root {} on {fstype} (", s.root().display()))
            && report.contains("mount check off")
            && report.ends_with("writable"),
        "{report}"
    );
    assert_eq!(tree(dir.path()), Vec::<String>::new(), "the probe was left");
    let share = s.share().await.expect("share");
    assert_eq!(share.mount.expect("mount").fstype, fstype);
}

#[test]
fn the_sentinel_name_is_validated_as_a_name() {
    assert!(Name::new(".storages-share").is_ok());
    let mut config = NfsConfig::new("/mnt/share");
    assert!(config.set("sentinel", "../escape").is_err());
}

#[tokio::test]
async fn another_directory_at_the_roots_path_is_verified_again_before_the_next_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("share");
    std::fs::create_dir(&root).expect("mkdir");
    std::fs::write(root.join(".storages-share"), "").expect("sentinel");
    let mut config = unguarded(&root);
    config.set("sentinel", ".storages-share").expect("option");
    let s = NfsStorage::new(config).expect("storage");
    s.save("a.txt", "first").await.expect("save");

    // The verified directory moves away and an empty one takes its path, on the same device (as the bare mount
    // point does when a share is unmounted).
    std::fs::rename(&root, dir.path().join("old")).expect("rename");
    std::fs::create_dir(&root).expect("mkdir");
    let err = s.save("b.txt", "lost").await.expect_err("not verified");
    assert!(
        matches!(mount_error(&err), MountError::SentinelMissing { .. }),
        "{err:?}"
    );
    s.remove("a.txt")
        .await
        .expect_err("deletes are guarded too");
    assert_eq!(tree(&root), Vec::<String>::new());

    // Once the new directory is a share (its sentinel is there), it is verified and used.
    std::fs::write(root.join(".storages-share"), "").expect("sentinel");
    s.save("c.txt", "second")
        .await
        .expect("save after re-verification");
    assert_eq!(tree(&root), [".storages-share", "c.txt"]);
}
