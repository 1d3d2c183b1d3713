//! The photo app with its media on S3 (Garage): uploads land in the bucket (checked with boto3), the app serves
//! them, signed URLs work in the gallery, direct uploads go from the client into the bucket, and two app processes
//! share one bucket. Every scenario runs against both twins, `photos` (axum) and `photos_actix` (actix-web).
#![cfg(feature = "s3")]

use crate::support;
use support::s3::unique;

use std::process::Command;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use support::s3::{Garage, python, shared_garage};
use support::{Server, example};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n not really a png, but named like one";

fn app(example_name: &str, dir: &std::path::Path, media_url: &str) -> Server {
    Server::start(
        &example(example_name),
        dir,
        &[("STORAGES_MEDIA_URL", media_url)],
    )
}

scenarios!(
    an_upload_lands_in_the_bucket_and_is_served,
    with_presign_the_gallery_links_signed_urls_that_work,
    a_direct_upload_goes_from_the_client_into_the_bucket,
    two_app_processes_share_one_bucket,
    an_upload_over_the_limit_is_413_and_leaves_nothing_in_the_bucket,
);

async fn upload(app: &Server, file_name: &str) -> String {
    let form = Form::new().part("file", Part::bytes(PNG).file_name(file_name.to_owned()));
    let res = reqwest::Client::new()
        .post(app.url("/upload"))
        .header("accept", "application/json")
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: serde_json::Value = res.json().await.expect("json");
    body["name"].as_str().expect("name").to_owned()
}

/// The object's bytes as boto3 reads them from the bucket.
fn read_with_boto3(g: &Garage, key: &str) -> Vec<u8> {
    let script = "import sys, boto3\nfrom botocore.config import Config\n\
        s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name=sys.argv[2], aws_access_key_id=sys.argv[3], \
        aws_secret_access_key=sys.argv[4], config=Config(s3={'addressing_style': 'path'}))\n\
        sys.stdout.buffer.write(s3.get_object(Bucket=sys.argv[5], Key=sys.argv[6])['Body'].read())\n";
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args([
            &g.endpoint(),
            g.region(),
            g.access_key(),
            g.secret_key(),
            g.bucket(),
            key,
        ])
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "boto3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

async fn an_upload_lands_in_the_bucket_and_is_served(example_name: &str) {
    let g = shared_garage();
    let prefix = unique("photos");
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(example_name, dir.path(), &g.settings_url(&prefix));
    let name = upload(&app, "sunset.png").await;
    assert_eq!(name, "photos/sunset.png");
    assert_eq!(
        read_with_boto3(g, &format!("{prefix}/{name}")),
        PNG,
        "the bucket holds other bytes"
    );
    assert!(
        !dir.path().join("media").exists(),
        "nothing was written to a local media directory"
    );

    let http = reqwest::Client::new();
    let served = http
        .get(app.url("/media/photos/sunset.png"))
        .send()
        .await
        .expect("get");
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.expect("bytes"), PNG);
    let page = http
        .get(app.url("/"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let public = format!("{}/{}/{prefix}/photos/sunset.png", g.endpoint(), g.bucket());
    assert!(
        page.contains(&public),
        "the gallery does not link {public}: {page}"
    );
}

async fn with_presign_the_gallery_links_signed_urls_that_work(example_name: &str) {
    let g = shared_garage();
    let prefix = unique("signed");
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(
        example_name,
        dir.path(),
        &format!("{}&presign=600", g.settings_url(&prefix)),
    );
    upload(&app, "night.png").await;
    let page = reqwest::get(app.url("/"))
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let start = page.find("<img src=\"").expect("an image") + "<img src=\"".len();
    let src = page[start..]
        .split('"')
        .next()
        .expect("src")
        .replace("&amp;", "&");
    assert!(src.contains("X-Amz-Signature="), "{src}");
    let img = reqwest::get(&src).await.expect("signed get");
    assert_eq!(img.status(), StatusCode::OK, "{src}");
    assert_eq!(img.bytes().await.expect("bytes"), PNG);
}

async fn two_app_processes_share_one_bucket(example_name: &str) {
    let g = shared_garage();
    let media = g.settings_url(&unique("shared"));
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let (a, b) = (
        app(example_name, dir_a.path(), &media),
        app(example_name, dir_b.path(), &media),
    );
    let name = upload(&a, "from-a.png").await;
    let page = reqwest::get(b.url("/"))
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("from-a.png"),
        "B does not list A's upload: {page}"
    );
    let served = reqwest::get(b.url(&format!("/media/{name}")))
        .await
        .expect("get");
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().await.expect("bytes"), PNG);
    // And the other way, with a clash: B's upload of the same name gets its own name.
    let again = upload(&b, "from-a.png").await;
    assert_ne!(again, name);
}

async fn a_direct_upload_goes_from_the_client_into_the_bucket(example_name: &str) {
    let g = shared_garage();
    let prefix = unique("direct");
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(example_name, dir.path(), &g.settings_url(&prefix));
    let http = reqwest::Client::new();
    let refused = http
        .post(app.url("/upload/direct"))
        .json(&serde_json::json!({ "file_name": "page.html" }))
        .send()
        .await
        .expect("ask");
    assert_eq!(refused.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let ticket: serde_json::Value = http
        .post(app.url("/upload/direct"))
        .json(&serde_json::json!({ "file_name": "My Dog.png", "size": PNG.len() }))
        .send()
        .await
        .expect("ask")
        .error_for_status()
        .expect("a ticket")
        .json()
        .await
        .expect("json");
    assert_eq!(ticket["name"], "photos/My_Dog.png");
    let mut put = http.put(ticket["url"].as_str().expect("url")).body(PNG);
    for (k, v) in ticket["headers"].as_object().expect("headers") {
        put = put.header(k.as_str(), v.as_str().expect("value"));
    }
    let sent = put.send().await.expect("put");
    assert!(sent.status().is_success(), "{:?}", sent.text().await);
    assert_eq!(
        read_with_boto3(g, &format!("{prefix}/photos/My_Dog.png")),
        PNG
    );
    let page = http
        .get(app.url("/"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("My_Dog.png"),
        "the gallery lists the direct upload: {page}"
    );
}

/// Keys and unfinished multipart uploads under `prefix`, as boto3 lists them.
fn leftovers_with_boto3(g: &Garage, prefix: &str) -> String {
    let script = "import sys, boto3\nfrom botocore.config import Config\n\
        s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name=sys.argv[2], aws_access_key_id=sys.argv[3], \
        aws_secret_access_key=sys.argv[4], config=Config(s3={'addressing_style': 'path'}))\n\
        keys = [o['Key'] for o in s3.list_objects_v2(Bucket=sys.argv[5], Prefix=sys.argv[6]).get('Contents', [])]\n\
        uploads = [u['Key'] for u in s3.list_multipart_uploads(Bucket=sys.argv[5], Prefix=sys.argv[6]).get('Uploads', [])]\n\
        print(keys + uploads)\n";
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args([
            &g.endpoint(),
            g.region(),
            g.access_key(),
            g.secret_key(),
            g.bucket(),
            prefix,
        ])
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "boto3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn an_upload_over_the_limit_is_413_and_leaves_nothing_in_the_bucket(example_name: &str) {
    let g = shared_garage();
    let prefix = unique("limit");
    let dir = tempfile::tempdir().expect("tempdir");
    // Over one part (8 MiB), so the refused upload had begun as a multipart upload that must be aborted.
    let limit: usize = 12 << 20;
    let app = Server::start(
        &example(example_name),
        dir.path(),
        &[
            ("STORAGES_MEDIA_URL", &g.settings_url(&prefix)),
            ("PHOTOS_UPLOAD_LIMIT", &limit.to_string()),
        ],
    );
    let form = Form::new().part(
        "file",
        Part::bytes(vec![7u8; limit + (8 << 20)]).file_name("huge.png"),
    );
    let res = reqwest::Client::new()
        .post(app.url("/upload"))
        .multipart(form)
        .send()
        .await
        .expect("an answer");
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let mut left = String::new();
    for _ in 0..50 {
        left = leftovers_with_boto3(g, &prefix);
        if left == "[]" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(left, "[]", "objects or multipart uploads were left behind");
}

#[tokio::test]
async fn an_axum_app_and_an_actix_app_share_one_bucket() {
    let g = shared_garage();
    let media = g.settings_url(&unique("twins"));
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let axum = app("photos", dir_a.path(), &media);
    let actix = app("photos_actix", dir_b.path(), &media);
    for (from, to) in [(&axum, &actix), (&actix, &axum)] {
        let name = upload(from, "twin.png").await;
        let page = reqwest::get(to.url("/"))
            .await
            .expect("page")
            .text()
            .await
            .expect("html");
        assert!(page.contains(name.trim_start_matches("photos/")), "{page}");
        let served = reqwest::get(to.url(&format!("/media/{name}")))
            .await
            .expect("get");
        assert_eq!(served.status(), StatusCode::OK);
        assert_eq!(served.bytes().await.expect("bytes"), PNG);
    }
}
