//! collectstatic into real Garage and moto buckets: one listing, ETags and recorded MD5s compared with the files'
//! so re-runs send nothing (multipart objects included), changes send exactly what they change, and the headers
//! each file gets, read back with boto3.
#![cfg(feature = "s3")]

use crate::support;

use crate::collect_fixture as fixture;

use std::process::Command;
use std::sync::Arc;

use storages::collect::{CollectOptions, Source, collect};
use storages::statics::{IMMUTABLE, MANIFEST_NAME, Manifest};
use storages::{Name, Settings, Storage, StorageExt};
use support::s3::{Peer, python, shared_garage, shared_moto, unique};

/// A storage under a fresh prefix of the shared Garage bucket, and that prefix.
fn garage_target() -> (Arc<dyn Storage>, String) {
    let prefix = unique("collect");
    let url = format!(
        "{}&base_url=/static/",
        shared_garage().settings_url(&prefix)
    );
    (
        Settings::parse(&url)
            .expect("parse")
            .build()
            .expect("build"),
        prefix,
    )
}

fn manifest_options() -> CollectOptions {
    let mut options = CollectOptions::default();
    options.manifest = true;
    options
}

/// `head_object` of `key` by boto3: `[ContentType, CacheControl, ETag, ContentLength]`.
fn head(key: &str) -> serde_json::Value {
    let g = shared_garage();
    let script = "import sys, json, boto3\nfrom botocore.config import Config\n\
         s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name=sys.argv[2], aws_access_key_id=sys.argv[3], \
         aws_secret_access_key=sys.argv[4], config=Config(s3={'addressing_style': 'path'}))\n\
         h = s3.head_object(Bucket=sys.argv[5], Key=sys.argv[6])\n\
         print(json.dumps([h.get('ContentType'), h.get('CacheControl'), h['ETag'], h['ContentLength']]))\n";
    let out = Command::new(python())
        .args([
            "-c",
            script,
            &g.endpoint(),
            g.region(),
            g.access_key(),
            g.secret_key(),
            g.bucket(),
            key,
        ])
        .output()
        .expect("run python with boto3");
    assert!(
        out.status.success(),
        "boto3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[tokio::test]
async fn a_rerun_on_garage_uploads_nothing_because_etags_are_the_md5s() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = fixture::tree(dir.path());
    let (target, prefix) = garage_target();
    let first = collect(&sources, &*target, &manifest_options())
        .await
        .expect("collect");
    let stored = target.list_all("").await.expect("list");
    assert_eq!(first.uploads(), stored.len());
    assert_eq!((first.copied, first.post_processed), (28, 27));

    let bg = std::fs::read(dir.path().join("assets/img/bg.png")).expect("read");
    let md5 = storages::Md5::of(&bg).to_string();
    assert_eq!(
        head(&format!("{prefix}/img/bg.png"))[2],
        format!("\"{md5}\""),
        "a single-part ETag is the MD5"
    );

    let again = collect(&sources, &*target, &manifest_options())
        .await
        .expect("collect");
    assert_eq!(again.uploaded, Vec::<String>::new());
    assert_eq!((again.uploads(), again.unchanged), (0, stored.len()));
}

#[tokio::test]
async fn a_changed_image_on_garage_sends_it_and_the_css_that_depends_on_it_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = fixture::tree(dir.path());
    let (target, _) = garage_target();
    collect(&sources, &*target, &manifest_options())
        .await
        .expect("collect");
    let before = Manifest::load(&target).await.expect("load").paths().clone();

    fixture::write(
        &dir.path().join("assets"),
        "img/bg.png",
        fixture::binary(77, 20_000),
    );
    let report = collect(&sources, &*target, &manifest_options())
        .await
        .expect("collect");
    let after = Manifest::load(&target).await.expect("load").paths().clone();
    let mut expected = vec![
        "img/bg.png".to_owned(),
        MANIFEST_NAME.to_owned(),
        after["img/bg.png"].clone(),
    ];
    for css in fixture::CSS_USING_BG {
        assert_ne!(before[*css], after[*css], "{css} depends on the image");
        expected.push(after[*css].clone());
    }
    expected.sort();
    assert_eq!(report.uploaded, expected);
    let unchanged = before
        .iter()
        .filter(|(name, hashed)| after[name.as_str()] == **hashed)
        .count();
    assert_eq!(unchanged, before.len() - 1 - fixture::CSS_USING_BG.len());
}

#[tokio::test]
async fn hashed_copies_are_immutable_and_the_rest_get_the_configured_cache_control() {
    let dir = tempfile::tempdir().expect("tempdir");
    let assets = dir.path().join("assets");
    fixture::write(
        &assets,
        "css/site.css",
        "body { background: url(../img/a.png); }\n",
    );
    fixture::write(&assets, "img/a.png", fixture::binary(3, 500));
    let (target, prefix) = garage_target();
    let mut options = manifest_options();
    options.cache_control = Some("public, max-age=300".into());
    collect(&[Source::new(&assets)], &*target, &options)
        .await
        .expect("collect");
    let manifest = Manifest::load(&target).await.expect("load");
    let hashed = manifest.hashed_name("css/site.css").expect("listed");
    let head_hashed = head(&format!("{prefix}/{hashed}"));
    assert_eq!(head_hashed[0], "text/css");
    assert_eq!(head_hashed[1], IMMUTABLE);
    assert_eq!(
        head(&format!("{prefix}/css/site.css"))[1],
        "public, max-age=300"
    );
    assert_eq!(
        head(&format!("{prefix}/{MANIFEST_NAME}"))[1],
        "public, max-age=300"
    );
}

/// A storage with 5 MiB parts under a fresh prefix of a fresh moto bucket, and boto3 on the same server.
fn moto_target() -> (Arc<dyn Storage>, Peer, String, String) {
    let m = shared_moto();
    let bucket = unique("collect");
    m.create_bucket(&bucket);
    let prefix = unique("collect");
    let url = format!(
        "{}&base_url=/static/&part_size={PART_SIZE}",
        m.settings_url(&bucket, &prefix)
    );
    let storage = Settings::parse(&url)
        .expect("parse")
        .build()
        .expect("build");
    (storage, Peer::moto(m), bucket, prefix)
}

/// Parts of the smallest size S3 allows: 6 MiB make a multipart upload.
const PART_SIZE: usize = 5 * 1024 * 1024;

/// `[ETag, LastModified]` of `key` by boto3.
fn etag_and_modified(peer: &Peer, bucket: &str, key: &str) -> (String, String) {
    let out = peer.boto3(
        "h = s3.head_object(Bucket=args[0], Key=args[1])\nprint(json.dumps([h['ETag'], str(h['LastModified'])]))",
        &[bucket, key],
    );
    serde_json::from_str(&out).expect("json")
}

/// Over the part size, an object's ETag is no MD5; the MD5 every S3 write records in object metadata is, so a
/// re-run skips multipart originals as it skips single-part ones (and their hashed copies), on Garage and moto.
async fn a_multipart_original_is_not_sent_again(
    target: Arc<dyn Storage>,
    peer: Peer,
    bucket: String,
    prefix: String,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let assets = dir.path().join("assets");
    fixture::write(
        &assets,
        "video/intro.webm",
        fixture::binary(8, 6 * 1024 * 1024 + 5),
    );
    let first = collect(&[Source::new(&assets)], &*target, &manifest_options())
        .await
        .expect("collect");
    assert_eq!(first.uploads(), 3, "original, hashed copy, manifest");
    let key = format!("{prefix}/video/intro.webm");
    let before = etag_and_modified(&peer, &bucket, &key);
    // Let a second pass: a re-upload would get a later LastModified (S3 keeps whole seconds).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = collect(&[Source::new(&assets)], &*target, &manifest_options())
        .await
        .expect("collect");
    assert_eq!(again.uploaded, Vec::<String>::new());
    assert_eq!((again.uploads(), again.unchanged), (0, 3));
    assert_eq!(etag_and_modified(&peer, &bucket, &key), before, "untouched");
}

#[tokio::test]
async fn a_multipart_original_is_not_sent_again_on_garage() {
    let g = shared_garage();
    let prefix = unique("collect");
    let url = format!(
        "{}&base_url=/static/&part_size={PART_SIZE}",
        g.settings_url(&prefix)
    );
    let target = Settings::parse(&url)
        .expect("parse")
        .build()
        .expect("build");
    let peer = Peer::garage(g);
    let etag = {
        let dir = tempfile::tempdir().expect("tempdir");
        let probe = Name::new("probe.bin").expect("name");
        let path = dir.path().join("probe.bin");
        std::fs::write(&path, fixture::binary(9, 6 * 1024 * 1024)).expect("write");
        target
            .put(
                &probe,
                storages::Content::from_file(&path),
                storages::PutMode::Overwrite,
            )
            .await
            .expect("put");
        etag_and_modified(&peer, g.bucket(), &format!("{prefix}/probe.bin")).0
    };
    assert!(
        etag.contains('-'),
        "6 MiB in 5 MiB parts is multipart on Garage: {etag}"
    );
    target.remove("probe.bin").await.expect("remove");
    a_multipart_original_is_not_sent_again(target, peer, g.bucket().to_owned(), prefix).await;
}

#[tokio::test]
async fn a_multipart_original_is_not_sent_again_on_moto() {
    let (target, peer, bucket, prefix) = moto_target();
    a_multipart_original_is_not_sent_again(target, peer, bucket, prefix).await;
}

#[tokio::test]
async fn a_dry_run_on_garage_sends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = fixture::tree(dir.path());
    let (target, _) = garage_target();
    let mut options = manifest_options();
    options.dry_run = true;
    let report = collect(&sources, &*target, &options)
        .await
        .expect("collect");
    assert_eq!(report.uploads(), 55);
    assert!(target.list_all("").await.expect("list").is_empty());
}
