//! `nfs://` as applications and operators meet it, on real mount points (a tmpfs each test mounts: the tests run
//! as root, as CI does): settings URLs, the conformance suite over a mount, the mount guard, and the `check` and
//! `clean` commands. Many processes at once are in `nfs_servers.rs`.

#![cfg(feature = "nfs")]

use crate::support;

use std::path::{Path, PathBuf};

use storages::nfs::MountError;
use storages::settings::{Backend, Settings};
use storages::{Error, StorageExt};
use storages_testkit::fs::tree;
use support::mount::{TmpfsMount, dir_on_the_root_filesystem};
use support::storages;

const SENTINEL: &str = ".storages-share";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The mount guard's reason, from the error's source.
fn mount_error(e: &Error) -> &MountError {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<MountError>())
        .unwrap_or_else(|| panic!("{e:?} does not carry a MountError"))
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

#[test]
fn nfs_urls_parse_to_nfs_settings_or_fail_naming_the_offender() {
    let settings = Settings::parse(
        "nfs:///mnt/share/media?base_url=/media/&sentinel=.storages-share&require_mount=false&fsync=false&file_mode=640",
    )
    .expect("parse");
    let Backend::Nfs(config) = settings.backend() else {
        panic!("{settings:?} is not nfs");
    };
    assert_eq!(config.local.root, Path::new("/mnt/share/media"));
    assert_eq!(config.local.common.base_url.as_deref(), Some("/media/"));
    assert_eq!(
        config.sentinel.as_ref().map(|s| s.as_str()),
        Some(".storages-share")
    );
    assert!(!config.require_mount && !config.local.fsync);
    assert_eq!(config.local.file_mode, Some(0o640));

    let defaults = Settings::parse("nfs://localhost/mnt/a%20b").expect("parse");
    let Backend::Nfs(config) = defaults.backend() else {
        panic!("not nfs");
    };
    assert_eq!(config.local.root, Path::new("/mnt/a b"));
    assert!(config.require_mount && config.local.fsync && config.sentinel.is_none());
    assert_eq!(
        Settings::parse("nfs:/mnt/x")
            .expect("nfs:/abs")
            .common()
            .expect("plain storages have common options")
            .base_url,
        None
    );

    for (url, says) in [
        (
            "nfs://files.example.com/export",
            "nfs URLs take no host (`files.example.com`)",
        ),
        ("nfs:media", "absolute path"),
        ("nfs://", "absolute path"),
        (
            "nfs:///m?require_mount=maybe",
            "invalid value `maybe` for option `require_mount`",
        ),
        (
            "nfs:///m?sentinel=../x",
            "invalid value `../x` for option `sentinel`",
        ),
        (
            "nfs:///m?bucket=x",
            "unknown option `bucket` for the nfs backend: valid options are base_url",
        ),
        ("nfs:///m%00", "NUL"),
    ] {
        let err = Settings::parse(url).expect_err(url).to_string();
        assert!(err.contains(says), "{url}: {err:?} does not say {says:?}");
    }
    let unknown = Settings::parse("nfs:///m?x=1")
        .expect_err("unknown")
        .to_string();
    for option in [
        "require_mount",
        "sentinel",
        "fsync",
        "file_mode",
        "dir_mode",
    ] {
        assert!(unknown.contains(option), "{unknown} does not list {option}");
    }
}

/// The suite over a real mount point, with the root one level below it as in production, synced writes and a file
/// mode. Without a sentinel: the suite checks that nothing but what it stored lies under the root (the sentinel's
/// own behaviour is tested on its own).
mod conformance_on_a_mount {
    use storages::Settings;
    use storages::conformance::Fixture;

    async fn fixture() -> Fixture {
        let mount = super::TmpfsMount::new();
        let root = mount.path().join("media");
        std::fs::create_dir(&root).expect("mkdir media on the share");
        let url = format!("nfs://{}?base_url=/media/&file_mode=644", root.display());
        let storage = Settings::parse(&url)
            .expect("parse")
            .build()
            .expect("build on the mounted share");
        Fixture {
            storage,
            outside: Some(mount.path().to_path_buf()),
            root: Some(root.canonicalize().expect("canonical")),
            guard: Some(Box::new(mount)),
        }
    }

    storages::conformance_tests!(fixture);
    storages::filesystem_conformance_tests!(fixture);
}

#[tokio::test]
async fn a_root_that_is_not_a_mount_point_is_refused_with_nothing_written_anywhere() {
    let dir = dir_on_the_root_filesystem();
    let root = dir.path().join("media");
    std::fs::create_dir(&root).expect("mkdir");
    std::fs::write(dir.path().join("upload.png"), "png").expect("write");
    let before = tree(dir.path());
    let url = format!("nfs://{}?base_url=/media/", root.display());

    let err = Settings::parse(&url)
        .expect("parse")
        .build()
        .expect_err("refused");
    assert!(
        matches!(mount_error(&err), MountError::NotMounted { root: r, .. } if *r == root.canonicalize().expect("canonical")),
        "{err:?}"
    );

    let upload = dir.path().join("upload.png");
    let put = storages(&["put", &url, upload.to_str().expect("utf-8"), "a.png"]);
    assert_eq!(put.status.code(), Some(1), "{}", text(&put.stderr));
    let stderr = text(&put.stderr);
    assert!(
        stderr.contains(&root.display().to_string()) && stderr.contains("not on a mounted share"),
        "{stderr}"
    );
    let check = storages(&["check", &url]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        text(&check.stdout).contains("FAIL")
            && text(&check.stdout).contains("not on a mounted share"),
        "{}",
        text(&check.stdout)
    );
    assert_eq!(tree(dir.path()), before, "a refused root was written to");
}

#[tokio::test]
async fn a_mount_without_its_sentinel_is_refused_with_nothing_written_anywhere() {
    let mount = TmpfsMount::new();
    let url = format!("nfs://{}?sentinel={SENTINEL}", mount.path().display());
    let err = Settings::parse(&url)
        .expect("parse")
        .build()
        .expect_err("no sentinel");
    match mount_error(&err) {
        MountError::SentinelMissing { sentinel, .. } => {
            assert_eq!(sentinel, &mount.path().join(SENTINEL))
        }
        other => panic!("expected SentinelMissing, got {other:?}"),
    }
    let input = tempfile::NamedTempFile::new().expect("input file");
    let put = storages(&["put", &url, input.path().to_str().expect("utf-8"), "a.txt"]);
    assert_eq!(put.status.code(), Some(1));
    assert!(
        text(&put.stderr).contains("has no sentinel file"),
        "{}",
        text(&put.stderr)
    );
    assert_eq!(
        tree(mount.path()),
        Vec::<String>::new(),
        "the share was written to"
    );
}

#[tokio::test]
async fn a_missing_root_on_a_mount_is_refused_and_not_created() {
    let mount = TmpfsMount::new();
    let root = mount.path().join("media");
    let err = Settings::parse(&format!("nfs://{}", root.display()))
        .expect("parse")
        .build()
        .expect_err("missing");
    assert!(
        matches!(mount_error(&err), MountError::RootMissing { .. }),
        "{err:?}"
    );
    assert_eq!(tree(mount.path()), Vec::<String>::new());
}

#[tokio::test]
async fn a_share_unmounted_under_a_running_server_gets_no_more_writes() {
    let mut mount = TmpfsMount::new();
    std::fs::write(mount.path().join(SENTINEL), "").expect("sentinel");
    let url = format!("nfs://{}?sentinel={SENTINEL}", mount.path().display());
    let storage = Settings::parse(&url)
        .expect("parse")
        .build()
        .expect("build");
    storage
        .save("before.txt", "on the share")
        .await
        .expect("save while mounted");

    mount.unmount();
    // What is left is the empty mount point directory: exactly where a careless app would now write.
    let refusals = [
        storage.save("after.txt", "lost").await.map(drop),
        storage
            .save_with("before.txt", "lost", storages::SaveOptions::overwrite())
            .await
            .map(drop),
        storage.remove("before.txt").await,
    ];
    for refused in refusals {
        let err = refused.expect_err("unmounted");
        assert!(
            matches!(
                mount_error(&err),
                MountError::SentinelMissing { .. } | MountError::NotMounted { .. }
            ),
            "{err:?}"
        );
    }
    assert_eq!(
        tree(mount.path()),
        Vec::<String>::new(),
        "written past the guard"
    );
}

#[test]
fn check_reports_the_filesystem_type_and_the_sentinel() {
    let (_mount, root, url) = share();
    let out = storages(&["check", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let root = root.canonicalize().expect("canonical");
    assert!(
        stdout.starts_with(&format!(
            "ok    -  {url}  nfs root {} on tmpfs (tmpfs mounted at ",
            root.display()
        )) && stdout.contains(&format!(
            "sentinel {} present, writable",
            root.join(SENTINEL).display()
        )),
        "{stdout}"
    );
    assert_eq!(tree(&root), [SENTINEL], "the probe was left");
}

#[test]
fn clean_is_usage_checked() {
    let cases: &[(&[&str], &str)] = &[
        (&["clean", "memory://"], "--older-than"),
        (&["clean", "memory://", "--older-than", "soon"], "soon"),
        (
            &["clean", "memory://", "--older-than", "1h"],
            "keeps nothing to clean: clean works on file:, nfs: and s3: storages",
        ),
    ];
    for (args, says) in cases {
        let out = storages(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn clean_on_a_file_url_removes_old_temporary_files_and_never_creates_the_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = format!("file://{}/nothing-here", dir.path().display());
    let out = storages(&["clean", &missing, "--older-than", "1h"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(!dir.path().join("nothing-here").exists());

    let root = dir.path().join("media");
    std::fs::create_dir_all(root.join("a")).expect("mkdir");
    let temp = root.join(format!(
        "a/{}web-1.1.abcdefghijkl",
        storages::local::TEMP_PREFIX
    ));
    std::fs::write(&temp, "partial").expect("write");
    std::fs::write(root.join("a/kept.txt"), "kept").expect("write");
    for p in [&temp, &root.join("a/kept.txt")] {
        std::fs::File::options()
            .write(true)
            .open(p)
            .expect("open")
            .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400))
            .expect("age");
    }
    let url = format!("file://{}", root.display());
    let young = storages(&["clean", &url, "--older-than", "3d"]);
    assert_eq!(text(&young.stdout), "0 temporary file(s) removed\n");
    let out = storages(&["clean", &url, "--older-than", "1d"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with(&format!(
            "removed a/{}web-1.1.abcdefghijkl  (7 bytes, 2days",
            storages::local::TEMP_PREFIX
        )),
        "{stdout}"
    );
    assert_eq!(lines[1], "1 temporary file(s) removed");
    assert_eq!(tree(&root), ["a/", "a/kept.txt"]);
}
