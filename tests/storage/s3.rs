//! What `s3://` promises beyond the conformance suite, on real servers: conditional writes detected, multipart
//! uploads that stream and never linger, interop with an independent client (boto3), signed URLs that Garage
//! verifies, direct uploads bound to a content type, and buckets that are missing, created or made public.
#![cfg(feature = "s3")]

use crate::support;
use support::s3::unique;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use storages::conformance::{assert_pattern, pattern, pattern_stream};
use storages::settings::{Backend, Settings};
use storages::{Content, Error, Name, S3Storage, Storage, StorageExt, UrlOptions};
use support::s3::{Peer, shared_garage, shared_moto};

fn s3_storage(url: &str) -> S3Storage {
    match Settings::parse(url).expect("parse").backend() {
        Backend::S3(config) => S3Storage::new(config.clone()).expect("build"),
        other => panic!("not s3: {other:?}"),
    }
}

#[tokio::test]
async fn conditional_writes_are_probed_per_server() {
    let garage = s3_storage(&shared_garage().settings_url(&unique("probe")));
    let report = garage.check().await.expect("check garage");
    assert_eq!(
        garage.conditional_put(),
        Some(false),
        "Garage ignores If-None-Match"
    );
    assert!(report.contains("not supported"), "{report}");
    assert!(!garage.capabilities().atomic_create);

    let moto = shared_moto();
    moto.create_bucket("probe");
    let moto = s3_storage(&moto.settings_url("probe", &unique("probe")));
    let report = moto.check().await.expect("check moto");
    assert_eq!(
        moto.conditional_put(),
        Some(true),
        "moto honours If-None-Match"
    );
    assert!(
        report.contains("supported (create-only is atomic)"),
        "{report}"
    );
    assert!(moto.capabilities().atomic_create);
    // The probe object is gone and was never listed.
    assert!(moto.list_all("").await.expect("list").is_empty());
}

#[tokio::test]
async fn boto3_reads_what_storages_writes_and_storages_reads_what_boto3_writes() {
    let g = shared_garage();
    let prefix = unique("interop");
    let storage = s3_storage(&format!(
        "{}&cache_control=public,max-age%3D60",
        g.settings_url(&prefix)
    ));
    let peer = Peer::garage(g);
    let data = pattern(11, 0, 300_000);
    let name = storage
        .save("docs/a b#1.txt", data.clone())
        .await
        .expect("save");
    let key = format!("{prefix}/{name}");
    let expected = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(expected.path(), &data).expect("write expected bytes");
    let fetched = peer.boto3(
        "o = s3.get_object(Bucket=args[0], Key=args[1]); body = o['Body'].read()\n\
         same = body == open(args[2], 'rb').read()\n\
         print(json.dumps([same, o['ContentType'], o.get('CacheControl'), len(body)]))",
        &[
            g.bucket(),
            &key,
            expected.path().to_str().expect("utf-8 path"),
        ],
    );
    let got: serde_json::Value = serde_json::from_str(&fetched).expect("json");
    assert_eq!(got[0], true, "boto3 read other bytes");
    assert_eq!(got[1], "text/plain");
    assert_eq!(got[2], "public,max-age=60");
    assert_eq!(got[3], 300_000);

    peer.boto3(
        "s3.put_object(Bucket=args[0], Key=args[1], Body=bytes.fromhex(args[2]), ContentType='application/x-custom')",
        &[g.bucket(), &format!("{prefix}/from boto/é.bin"), &hex(b"written by boto3")],
    );
    let got = storage.open("from boto/é.bin").await.expect("open");
    assert_eq!(
        got.meta.content_type.as_deref(),
        Some("application/x-custom")
    );
    assert_eq!(
        storage
            .read_to_bytes("from boto/é.bin")
            .await
            .expect("read"),
        "written by boto3"
    );
}

#[tokio::test]
async fn large_content_goes_up_in_parts_and_keeps_its_type() {
    let g = shared_garage();
    let prefix = unique("multipart");
    let storage = s3_storage(&format!("{}&part_size=5242880", g.settings_url(&prefix)));
    let size = 17 * 1024 * 1024 + 5;
    let content =
        Content::from_stream(pattern_stream(21, size, 100_000)).with_content_type("video/mp4");
    let name = storage.save("big.bin", content).await.expect("save");
    assert_pattern(&storage, name.as_str(), 21, size).await;
    let head = Peer::garage(g).boto3(
        "h = s3.head_object(Bucket=args[0], Key=args[1]); print(json.dumps([h['ContentLength'], h['ContentType'], h['ETag']]))",
        &[g.bucket(), &format!("{prefix}/big.bin")],
    );
    let head: serde_json::Value = serde_json::from_str(&head).expect("json");
    assert_eq!(head[0], size);
    assert_eq!(head[1], "video/mp4");
    assert!(
        head[2].as_str().expect("etag").ends_with("-4\""),
        "4 parts of 5 MiB: {}",
        head[2]
    );
}

/// A stream that fails after more than two parts: the save fails, no object appears, no upload lingers.
async fn failed_upload_leaves_nothing(
    storage: &S3Storage,
    peer: &Peer,
    bucket: &str,
    prefix: &str,
) {
    let good = pattern_stream(5, 12 * 1024 * 1024, 256 * 1024);
    let broken = futures_util::StreamExt::chain(
        good,
        futures_util::stream::iter([Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        ))]),
    );
    let err = storage
        .save("broken.bin", Content::from_stream(broken))
        .await
        .expect_err("must fail");
    assert!(err.to_string().contains("client went away"), "{err}");
    assert!(!storage.exists("broken.bin").await.expect("exists"));
    let uploads = peer.boto3(
        "r = s3.list_multipart_uploads(Bucket=args[0], Prefix=args[1]); print(len(r.get('Uploads', [])))",
        &[bucket, prefix],
    );
    assert_eq!(uploads, "0", "a multipart upload was left on the server");
}

#[tokio::test]
async fn a_failed_multipart_upload_is_aborted_on_garage() {
    let g = shared_garage();
    let prefix = unique("abort");
    let storage = s3_storage(&format!("{}&part_size=5242880", g.settings_url(&prefix)));
    failed_upload_leaves_nothing(&storage, &Peer::garage(g), g.bucket(), &prefix).await;
}

#[tokio::test]
async fn a_failed_multipart_upload_is_aborted_on_moto() {
    let m = shared_moto();
    m.create_bucket("aborts");
    let prefix = unique("abort");
    let storage = s3_storage(&format!(
        "{}&part_size=5242880",
        m.settings_url("aborts", &prefix)
    ));
    failed_upload_leaves_nothing(&storage, &Peer::moto(m), "aborts", &prefix).await;
}

#[tokio::test]
async fn presigned_urls_work_and_garage_refuses_tampered_or_expired_ones() {
    let g = shared_garage();
    let storage = s3_storage(&format!(
        "{}&presign=300",
        g.settings_url(&unique("presign"))
    ));
    let name = storage
        .save("photo 1.jpg", b"jpeg!".to_vec())
        .await
        .expect("save");
    let url = storage.public_url(&name).await.expect("url");
    assert!(
        url.starts_with(&g.endpoint()) && url.contains("X-Amz-Signature="),
        "{url}"
    );
    assert!(url.contains("photo%201.jpg"), "{url}");
    let http = reqwest::Client::new();
    let ok = http.get(&url).send().await.expect("get");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.bytes().await.expect("body"), "jpeg!");

    let sig_at = url.find("X-Amz-Signature=").expect("signature") + "X-Amz-Signature=".len();
    let mut tampered = url.clone().into_bytes();
    tampered[sig_at] = if tampered[sig_at] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).expect("utf-8");
    assert_eq!(
        http.get(&tampered).send().await.expect("get").status(),
        403,
        "a tampered signature was accepted"
    );

    let short = storage
        .url(&name, &UrlOptions::expiring(Duration::from_secs(2)))
        .await
        .expect("url");
    assert_eq!(
        http.get(&short).send().await.expect("get").status(),
        200,
        "fresh, it works"
    );
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let expired = http.get(&short).send().await.expect("get");
    let status = expired.status().as_u16();
    let body = expired.text().await.expect("body");
    // AWS answers 403 "Request has expired"; Garage 2.5 answers 400 "Date is too old". Either way: refused.
    assert!(
        matches!(status, 400 | 403),
        "an expired URL got {status}: {body}"
    );
    let why = body.to_lowercase();
    assert!(
        why.contains("expire") || why.contains("too old"),
        "{status}: {body}"
    );
}

#[tokio::test]
async fn a_direct_upload_is_bound_to_its_content_type() {
    let g = shared_garage();
    let storage = s3_storage(&g.settings_url(&unique("direct")));
    let name = Name::new("uploads/avatar.png").expect("name");
    let upload = storage
        .direct_upload(&name, "image/png", Duration::from_secs(300))
        .await
        .expect("presign put");
    assert_eq!(upload.method, "PUT");
    assert_eq!(
        upload.headers,
        vec![("content-type".to_owned(), "image/png".to_owned())]
    );
    let http = reqwest::Client::new();
    let wrong = http
        .put(&upload.url)
        .header("content-type", "text/html")
        .body("<script>")
        .send()
        .await
        .expect("put");
    assert_eq!(wrong.status(), 403, "another content type was accepted");
    assert!(!storage.exists(&name).await.expect("exists"));
    let mut request = http.put(&upload.url).body("\u{89}PNG");
    for (k, v) in &upload.headers {
        request = request.header(k, v);
    }
    assert_eq!(request.send().await.expect("put").status(), 200);
    let meta = storage.metadata(&name).await.expect("stat");
    assert_eq!(meta.content_type.as_deref(), Some("image/png"));
}

#[tokio::test]
async fn public_urls_are_built_without_requests_and_encoded_as_s3_expects() {
    let g = shared_garage();
    let prefix = unique("urls");
    let storage = s3_storage(&g.settings_url(&prefix));
    let name = Name::new("a b/ü+%.txt").expect("name");
    let url = storage
        .url(&name, &UrlOptions::default())
        .await
        .expect("url");
    assert_eq!(
        url,
        format!(
            "{}/{}/{prefix}/a%20b/%C3%BC%2B%25.txt",
            g.endpoint(),
            g.bucket()
        )
    );
    let cdn = s3_storage(&format!(
        "{}&base_url=https://cdn.example.com/media/",
        g.settings_url(&prefix)
    ));
    assert_eq!(
        cdn.url(&name, &UrlOptions::default()).await.expect("url"),
        "https://cdn.example.com/media/a%20b/%C3%BC%2B%25.txt"
    );
    // The unsigned bucket URL names the very object a signed request reaches.
    storage
        .save_with(&name, "x", storages::SaveOptions::overwrite())
        .await
        .expect("save");
    let signed = storage
        .url(&name, &UrlOptions::expiring(Duration::from_secs(60)))
        .await
        .expect("signed");
    assert!(
        signed.starts_with(&format!("{url}?")),
        "{signed} does not extend {url}"
    );
}

#[tokio::test]
async fn a_missing_bucket_is_named_and_auto_create_makes_it() {
    for (label, peer) in [
        ("garage", Peer::garage(shared_garage())),
        ("moto", Peer::moto(shared_moto())),
    ] {
        let bucket = unique("missing");
        let url = peer.url(&bucket);
        let storage = s3_storage(&url);
        let err = storage.save("a.txt", "x").await.expect_err("no bucket");
        let message = err.to_string();
        assert!(
            message.contains(&bucket) && message.contains(&peer.endpoint),
            "{label}: {message}"
        );
        assert!(message.contains("does not exist"), "{label}: {message}");
        let check = storage.check().await.expect_err("check must fail");
        assert!(check.to_string().contains(&bucket), "{label}: {check}");

        let created = s3_storage(&format!("{url}&auto_create=true"));
        created
            .save("a.txt", "x")
            .await
            .unwrap_or_else(|e| panic!("{label}: auto_create: {e}"));
        let exists = peer.boto3("s3.head_bucket(Bucket=args[0]); print('yes')", &[&bucket]);
        assert_eq!(exists, "yes", "{label}");
    }
}

/// A bucket removed while its storage is in use (readiness checked long ago) is named as missing by the next
/// read, not taken for a missing file: the server's `NoSuchBucket` is read from the answer object_store reports.
#[tokio::test]
async fn a_bucket_removed_in_use_is_named_as_missing_by_a_read() {
    for (label, peer) in [
        ("garage", Peer::garage(shared_garage())),
        ("moto", Peer::moto(shared_moto())),
    ] {
        let bucket = unique("removed");
        let storage = s3_storage(&format!("{}&auto_create=true", peer.url(&bucket)));
        let name = storage.save("a.txt", "x").await.expect("save");
        storage.delete(&name).await.expect("delete");
        peer.boto3("s3.delete_bucket(Bucket=args[0])", &[&bucket]);
        let err = storage
            .read_to_bytes(&name)
            .await
            .expect_err("the bucket is gone");
        let message = err.to_string();
        assert!(
            !err.is_not_found() && message.contains("does not exist") && message.contains(&bucket),
            "{label}: {message}"
        );
    }
}

#[tokio::test]
async fn public_true_sets_a_read_only_policy_or_says_plainly_it_cannot() {
    let m = shared_moto();
    let bucket = unique("public");
    let storage = s3_storage(&format!(
        "{}&auto_create=true&public=true",
        m.settings_url(&bucket, "assets")
    ));
    storage.check().await.expect("check applies the policy");
    let policy = Peer::moto(m).boto3(
        "print(s3.get_bucket_policy(Bucket=args[0])['Policy'])",
        &[&bucket],
    );
    assert!(
        policy.contains("s3:GetObject")
            && policy.contains(&format!("arn:aws:s3:::{bucket}/assets/*")),
        "{policy}"
    );
    assert!(
        !policy.contains("PutObject") && !policy.contains("ListBucket"),
        "more than read: {policy}"
    );

    let g = shared_garage();
    let storage = s3_storage(&format!(
        "{}&public=true",
        g.settings_url(&unique("public"))
    ));
    let err = storage
        .check()
        .await
        .expect_err("Garage has no bucket policies");
    assert!(
        err.to_string().contains("does not support bucket policies")
            || err.to_string().contains("refused"),
        "{err}"
    );
    let err = storage
        .save("x.txt", "x")
        .await
        .expect_err("and no save pretends otherwise");
    assert!(err.to_string().contains("public=true"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_only_on_moto_is_decided_by_the_server_across_instances() {
    // Two separate storage instances (as two app servers would be) racing for one name: conditional PUTs
    // decide, so every save lands under its own name with its own bytes.
    let m = shared_moto();
    m.create_bucket("race");
    let url = m.settings_url("race", &unique("race"));
    let a = Arc::new(s3_storage(&url));
    let b = Arc::new(s3_storage(&url));
    let mut tasks = Vec::new();
    for i in 0..32u64 {
        let s = if i % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        tasks.push(tokio::spawn(async move {
            (
                i,
                s.save("same.bin", Bytes::from(pattern(i, 0, 1000))).await,
            )
        }));
    }
    let mut names = std::collections::HashSet::new();
    for t in tasks {
        let (i, saved) = t.await.expect("task");
        let name = saved.expect("save");
        assert!(names.insert(name.clone()), "two saves got {name}");
        assert_pattern(&*a, name.as_str(), i, 1000).await;
    }
    assert_eq!(a.conditional_put(), Some(true));
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_clear_error() {
    let port = support::free_port();
    let url = format!(
        "s3://bucket/p?endpoint=http://127.0.0.1:{port}&region=x&aws_access_key_id=a&aws_secret_access_key=b"
    );
    let storage = s3_storage(&url);
    let started = std::time::Instant::now();
    let err = storage
        .save("a.txt", "x")
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{port} is unreachable")),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "gave up only after {:?}",
        started.elapsed()
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
