//! `mirror:` storages: the primary names and answers, mirrors receive every write under the same name, and a
//! failed mirror write leaves the save on no storage.

use std::sync::Arc;

use storages::conformance::Fixture;
use storages::mirror::MirrorStorage;
use storages::{
    CommonOptions, Error, LocalConfig, LocalStorage, MemoryStorage, SaveOptions, Storage,
    StorageExt,
};

fn memory() -> Arc<dyn Storage> {
    Arc::new(MemoryStorage::with_options(CommonOptions {
        base_url: Some("/media/".into()),
        ..CommonOptions::default()
    }))
}

fn local(dir: &std::path::Path) -> Arc<dyn Storage> {
    let mut config = LocalConfig::new(dir);
    config.common.base_url = Some("/media/".into());
    Arc::new(LocalStorage::new(config).expect("local storage"))
}

fn mirror(primary: &Arc<dyn Storage>, mirrors: &[&Arc<dyn Storage>]) -> MirrorStorage {
    MirrorStorage::new(
        ("primary", Arc::clone(primary)),
        mirrors
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("mirror{i}"), Arc::clone(m))),
    )
}

/// The whole suite through a mirror whose primary is a directory and whose mirror is memory: a mirror is a storage
/// like any other to its callers.
mod conformance {
    use super::*;

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let primary = local(&dir.path().join("a/b/root"));
        let root = primary
            .local_path(&storages::Name::new("x").expect("name"))
            .and_then(|p| p.parent().map(std::path::Path::to_path_buf))
            .expect("root");
        Fixture {
            storage: Arc::new(mirror(&primary, &[&memory()])),
            outside: Some(dir.path().to_path_buf()),
            root: Some(root),
            guard: Some(Box::new(dir)),
        }
    }

    storages::conformance_tests!(fixture);
}

#[tokio::test]
async fn a_save_is_named_by_the_primary_and_lands_byte_exact_on_every_mirror() {
    let dir = tempfile::tempdir().expect("tempdir");
    let primary = local(&dir.path().join("primary"));
    let (one, two) = (memory(), local(&dir.path().join("two")));
    let m = mirror(&primary, &[&one, &two]);
    let first = m
        .save("photos/cat.png", vec![1u8; 100_000])
        .await
        .expect("save");
    let again = m
        .save("photos/cat.png", vec![2u8; 10])
        .await
        .expect("save again");
    assert_eq!(first.as_str(), "photos/cat.png");
    assert_ne!(again, first, "the primary picks a free name");
    for storage in [&primary, &one, &two] {
        assert_eq!(
            storage.read_to_bytes(&first).await.expect("read"),
            vec![1u8; 100_000]
        );
        assert_eq!(
            storage.read_to_bytes(&again).await.expect("read"),
            vec![2u8; 10]
        );
        assert_eq!(
            storage
                .open(&first)
                .await
                .expect("open")
                .meta
                .content_type
                .as_deref(),
            Some("image/png")
        );
    }
    // Reads, listings and URLs are the primary's.
    assert_eq!(
        m.public_url(&first).await.expect("url"),
        "/media/photos/cat.png"
    );
    assert_eq!(m.listdir("photos").await.expect("listdir").1.len(), 2);

    m.remove(&first).await.expect("delete");
    for storage in [&primary, &one, &two] {
        assert!(
            !storage.exists(&first).await.expect("exists"),
            "{storage:?} still holds it"
        );
    }
}

#[tokio::test]
async fn a_failed_mirror_write_fails_the_save_and_takes_it_back_off_every_storage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let primary = local(&dir.path().join("primary"));
    let healthy = memory();
    let broken_root = dir.path().join("broken");
    let broken = local(&broken_root);
    // The mirror's directory disappears under it (a lost disk): its writes fail for real.
    std::fs::remove_dir_all(&broken_root).expect("remove the mirror's root");
    let m = mirror(&primary, &[&healthy, &broken]);
    let err = m
        .save("cat.png", "meow")
        .await
        .expect_err("the mirror is broken");
    let text = err.to_string();
    assert!(
        text.contains("mirror `mirror1`") && text.contains("taken back off `primary`"),
        "{text}"
    );
    for storage in [&primary, &healthy] {
        assert_eq!(
            storage.list_all("").await.expect("list"),
            vec![],
            "{storage:?} kept a save that was not acknowledged"
        );
    }
}

#[tokio::test]
async fn an_overwrite_that_a_mirror_misses_says_how_to_repair() {
    let dir = tempfile::tempdir().expect("tempdir");
    let primary = local(&dir.path().join("primary"));
    let broken_root = dir.path().join("broken");
    let broken = local(&broken_root);
    let m = mirror(&primary, &[&broken]);
    m.save("a.txt", "old").await.expect("save");
    std::fs::remove_dir_all(&broken_root).expect("remove the mirror's root");
    let err = m
        .save_with("a.txt", "new", SaveOptions::overwrite())
        .await
        .expect_err("the mirror is broken");
    assert!(
        err.to_string().contains("storages sync primary mirror0"),
        "{err}"
    );
    assert_eq!(primary.read_to_bytes("a.txt").await.expect("read"), "new");
}

#[tokio::test]
async fn direct_uploads_are_refused_because_they_would_bypass_the_mirrors() {
    let m = mirror(&memory(), &[&memory()]);
    let name = storages::Name::new("a.png").expect("name");
    let err = m
        .direct_upload(&name, "image/png", std::time::Duration::from_secs(60))
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
}

#[tokio::test]
async fn a_mirror_url_names_storages_of_its_set_by_alias() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    let storages = storages::Storages::from_urls([
        ("old", format!("file://{}?base_url=/media/", old.display())),
        ("new", format!("file://{}?base_url=/media/", new.display())),
        ("media", "mirror:?primary=old&mirrors=new".to_owned()),
    ])
    .expect("the set builds");
    let media = storages.media().expect("media");
    assert_eq!(media.backend(), "mirror");
    let name = media.save("a/b.txt", "both").await.expect("save");
    for root in [&old, &new] {
        assert_eq!(
            std::fs::read_to_string(root.join(name.as_str())).expect("on both"),
            "both"
        );
    }
    // A URL given on its own (as on a command line) finds its aliases in the set too.
    let again = storages
        .resolve("mirror:?primary=new&mirrors=old")
        .expect("resolve");
    assert_eq!(again.read_to_bytes(&name).await.expect("read"), "both");
}

#[test]
fn bad_mirror_urls_are_typed_errors_naming_the_offender() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = format!("file://{}", dir.path().join("plain").display());
    for (mirror, expected) in [
        ("mirror:?mirrors=plain", "names no primary"),
        ("mirror:?primary=plain", "names no mirror"),
        ("mirror:?primary=plain&mirrors=plain", "named twice"),
        ("mirror:?primary=plain&mirrors=missing", "`missing`"),
        (
            "mirror:?primary=plain&mirrors=other",
            "cannot be part of another",
        ),
        (
            "mirror:?primary=plain&mirrors=x&base_url=/m/",
            "unknown option `base_url`",
        ),
        (
            "mirror://host?primary=plain&mirrors=x",
            "takes no host or path",
        ),
        ("mirror:?primary=Plain&mirrors=x", "`Plain`"),
    ] {
        let err = storages::Storages::from_urls([
            ("plain", plain.as_str()),
            ("other", "mirror:?primary=plain&mirrors=third"),
            ("third", "memory://"),
            ("media", mirror),
        ])
        .expect_err(mirror)
        .to_string();
        assert!(err.contains(expected), "{mirror}: {err}");
        assert!(
            err.contains("`media`") || err.contains("storage `"),
            "{mirror}: {err}"
        );
    }
}

/// collectstatic into a mirror whose primary keeps no Cache-Control (a directory) and whose mirror does (memory, as
/// S3): the hashed copies reach the mirror with their immutable Cache-Control, not as bare copies of the primary's
/// hard links.
#[tokio::test]
async fn collected_hashed_copies_keep_their_cache_control_on_a_mirror_that_keeps_it() {
    use storages::collect::{CollectOptions, Source, collect};
    let assets = tempfile::tempdir().expect("tempdir");
    std::fs::write(assets.path().join("logo.png"), b"\x89PNG").expect("write");
    let dir = tempfile::tempdir().expect("tempdir");
    let (primary, copy) = (local(dir.path()), memory());
    let target = mirror(&primary, &[&copy]);
    assert!(target.capabilities().cache_control);
    let mut options = CollectOptions::default();
    options.manifest = true;
    collect(&[Source::new(assets.path())], &target, &options)
        .await
        .expect("collect");
    let hashed = storages::Name::new(storages::statics::hashed_name(
        "logo.png",
        &storages::Md5::of(b"\x89PNG"),
    ))
    .expect("name");
    let meta = copy
        .stat(&hashed)
        .await
        .expect("the hashed copy on the mirror");
    assert_eq!(
        meta.cache_control.as_deref(),
        Some(storages::statics::IMMUTABLE)
    );
    assert!(primary.stat(&hashed).await.is_ok());
}
