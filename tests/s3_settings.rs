//! `s3://` and `minio://` settings URLs, and secrets that never show.
#![cfg(feature = "s3")]

use std::time::Duration;

use storages::settings::{Backend, Settings};
use storages::{Error, Storages};

fn s3(url: &str) -> storages::s3::S3Config {
    match Settings::parse(url)
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .backend()
    {
        Backend::S3(config) => config.clone(),
        other => panic!("{url} gave {other:?}"),
    }
}

#[test]
fn s3_urls_parse_bucket_prefix_and_options() {
    let c = s3(
        "s3://media-bucket/site/media?endpoint=http://127.0.0.1:3900&region=garage&presign=600&part_size=5242880",
    );
    assert_eq!(
        (c.bucket.as_str(), c.prefix.as_str()),
        ("media-bucket", "site/media")
    );
    assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
    assert_eq!(c.region.as_deref(), Some("garage"));
    assert_eq!(c.presign, Some(Duration::from_secs(600)));
    assert_eq!(c.part_size, 5 * 1024 * 1024);
    assert!(!c.virtual_hosted);
    let c = s3(
        "s3://b?virtual_hosted=true&auto_create=yes&public=1&conditional_put=false&base_url=https://cdn.example.com/",
    );
    assert!(c.virtual_hosted && c.auto_create && c.public);
    assert_eq!(c.conditional_put, storages::s3::ConditionalPut::Disabled);
    assert_eq!(c.prefix, "");
    let c = s3("s3://b/p/?aws_unsigned_payload=true&path_style=false");
    assert_eq!(c.prefix, "p");
    assert!(c.virtual_hosted);
    assert_eq!(c.passthrough.len(), 1);
}

#[test]
fn minio_urls_take_credentials_host_and_secure() {
    let c = s3("minio://AKIA:s%2Fecret@minio.internal:9000/static/assets?secure=true");
    assert_eq!(c.endpoint.as_deref(), Some("https://minio.internal:9000"));
    assert_eq!((c.bucket.as_str(), c.prefix.as_str()), ("static", "assets"));
    assert_eq!(c.access_key_id.as_deref(), Some("AKIA"));
    assert_eq!(
        c.secret_access_key.as_ref().map(|s| s.expose()),
        Some("s/ecret")
    );
    assert!(!c.virtual_hosted, "minio is path style");
    let plain = s3("minio://a:b@127.0.0.1:9000/media");
    assert_eq!(plain.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
}

#[test]
fn bad_s3_urls_name_what_is_wrong() {
    let cases = [
        ("s3://", "it names no bucket"),
        ("s3:bucket", "expected //BUCKET"),
        (
            "s3://b?colour=red",
            "unknown option `colour` for the s3 backend",
        ),
        (
            "s3://b?aws_no_such_thing=1",
            "unknown option `aws_no_such_thing`",
        ),
        ("s3://b?secure=true", "`secure` is for minio"),
        (
            "s3://b?endpoint=localhost:9000",
            "an http:// or https:// URL",
        ),
        ("s3://b?presign=0", "option `presign`"),
        ("s3://b?presign=999999", "at most 604800"),
        ("s3://b?part_size=1000", "at least 5242880"),
        ("s3://b?conditional_put=sometimes", "auto, true or false"),
        ("s3://b/a/../c", "key prefix is not a valid name"),
        ("minio://a:b@/bucket", "need a host"),
        ("minio://justuser@h:9000/b", "ACCESS:SECRET"),
    ];
    for (url, text) in cases {
        let err = Settings::parse(url).expect_err(url);
        assert!(
            err.to_string().contains(text),
            "{url}: {err} does not say {text:?}"
        );
    }
}

#[test]
fn secrets_never_appear_in_debug_display_or_errors() {
    let secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY";
    let urls = [
        format!("minio://AKID:{secret}@127.0.0.1:1/bucket?secure=false"),
        format!(
            "s3://bucket/p?endpoint=http://127.0.0.1:1&aws_access_key_id=AKID&aws_secret_access_key={secret}"
        ),
        format!(
            "s3://bucket?endpoint=http://127.0.0.1:1&aws_session_token={secret}&aws_access_key_id=A&aws_secret_access_key={secret}"
        ),
    ];
    for url in &urls {
        let settings = Settings::parse(url).expect("parse");
        let storage = settings.build().expect("build");
        let set = Storages::from_urls([("media", url.as_str())]).expect("set");
        let shown = [
            format!("{settings}"),
            format!("{settings:?}"),
            format!("{storage:?}"),
            format!("{set:?}"),
            format!("{:?}", settings.backend()),
        ];
        for text in shown {
            assert!(!text.contains(secret), "a secret in {text}");
        }
        // Errors from a server that is not there, with their whole source chain.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let err: Error = rt
            .block_on(async { storages::StorageExt::read_to_bytes(&*storage, "x.txt").await })
            .expect_err("nothing listens");
        let mut chain = format!("{err} {err:?}");
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            chain.push_str(&format!(" {s} {s:?}"));
            source = s.source();
        }
        assert!(
            !chain.contains(secret),
            "a secret in the error chain: {chain}"
        );
        // And a bad option next to a secret names the option, not the secret.
        let bad = format!("{url}&colour={secret}x");
        let err = Settings::parse(&bad).expect_err("unknown option");
        assert!(!format!("{err} {err:?}").contains(secret), "{err}");
    }
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_storages"))
        .args(["ls", &urls[0]])
        .output()
        .expect("run the CLI");
    assert_eq!(
        cli.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&cli.stdout),
        String::from_utf8_lossy(&cli.stderr)
    );
    assert!(
        !printed.contains(secret),
        "the CLI printed a secret: {printed}"
    );
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_storages"))
        .args(["check", &urls[1]])
        .output()
        .expect("run");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        !printed.contains(secret) && printed.contains("FAIL"),
        "{printed}"
    );
}
