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
            "it does not start with http:// or https://",
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
    // What the CLI and the apps print over every command and error path: tests/storage/secrets.rs.
}

/// Endpoints that object_store, reqwest or url would refuse or panic on late (at the first request) are refused
/// when the settings are read, with the value and the reason.
#[test]
fn bad_endpoints_are_refused_when_parsed_naming_the_value() {
    let cases = [
        (
            "minio://K:S@127.0.0.1:99999/b",
            "its host `127.0.0.1:99999`: the port `99999` is not a number from 1 to 65535",
        ),
        (
            "s3://b?endpoint=http://127.0.0.1:abc",
            "invalid value `http://127.0.0.1:abc` for option `endpoint`",
        ),
        ("s3://b?endpoint=http://127.0.0.1:abc", "the port `abc`"),
        (
            "minio://K:S@[::1/b",
            "`[::1` is not a valid IPv6 address in brackets",
        ),
        ("minio://K:S@::1:9000/b", "write it in brackets"),
        ("minio://K:S@h:0/b", "port 0"),
        ("minio://K:S@a%22b/b", "not a valid host name"),
        ("minio://K:S@999.1.1.1/b", "not a valid IPv4 address"),
        (
            "s3://b?endpoint=http://127.0.0.1:9000/s3",
            "it has a path (`/s3`)",
        ),
        (
            "s3://b?endpoint=http://127.0.0.1:9000%3Fx%3D1",
            "query or fragment",
        ),
        ("s3://b?endpoint=http://h%0A", "a line break (CR or LF)"),
        (
            "s3://b?public_endpoint=https://[::1",
            "option `public_endpoint`",
        ),
        (
            "s3://b?aws_endpoint=http://127.0.0.1:70000",
            "option `aws_endpoint`",
        ),
        (
            "s3://b?aws_endpoint_url_s3=http://h/x",
            "option `aws_endpoint_url_s3`",
        ),
        ("s3://b?region=eu%20west", "option `region`"),
        ("s3://b?aws_region=a/b", "option `aws_region`"),
        ("s3://b?aws_bucket=other", "the bucket comes from the URL"),
        ("s3://b%20c", "the bucket `b c` is not a bucket name"),
        ("s3://-b", "is not a bucket name"),
        ("minio://K:S@h:9000/xn--b", "is not a bucket name"),
        (
            "s3://b?aws_access_key_id=A%0AB",
            "option `aws_access_key_id`",
        ),
        ("minio://A%0AB:S@h:9000/b", "an access key id"),
        (
            "s3://b?aws_session_token=T%0D%0AX-Evil:1",
            "option `aws_session_token`",
        ),
        (
            "s3://b?part_size=99999999999999",
            "5 GiB, S3's largest part",
        ),
    ];
    for (url, text) in cases {
        let err = Settings::parse(url).expect_err(url);
        assert!(
            matches!(
                err,
                storages::ConfigError::InvalidUrl { .. }
                    | storages::ConfigError::InvalidValue { .. }
            ),
            "{url}: {err:?}"
        );
        assert!(
            err.to_string().contains(text),
            "{url}: {err} does not say {text:?}"
        );
    }
}

/// An S3Config made in code skips the URL parser: `S3Storage::new` refuses what would make object_store panic
/// at the first request, instead of building a storage that panics on every use.
#[test]
fn s3_storage_new_refuses_values_object_store_cannot_send() {
    let with = |change: fn(&mut storages::s3::S3Config)| {
        let mut config = storages::s3::S3Config::new("bucket");
        config.endpoint = Some("http://127.0.0.1:9000".into());
        config.access_key_id = Some("AKID".into());
        config.secret_access_key = Some(storages::s3::Secret::new("SeCrEt-XYZ123"));
        change(&mut config);
        config
    };
    type Change = fn(&mut storages::s3::S3Config);
    let cases: [(Change, &str); 7] = [
        (
            |c| c.endpoint = Some("http://127.0.0.1:99999".into()),
            "the port `99999`",
        ),
        (|c| c.endpoint = Some("http://[::1".into()), "IPv6"),
        (
            |c| c.endpoint = Some("http://u:SeCrEt-XYZ123@h:1".into()),
            "holds credentials",
        ),
        (
            |c| c.public_endpoint = Some("http://h:abc".into()),
            "option `public_endpoint`",
        ),
        (|c| c.region = Some("eu west\n".into()), "option `region`"),
        (|c| c.bucket = "a b".into(), "option `bucket`"),
        (
            |c| c.access_key_id = Some("AK\nID".into()),
            "option `access_key_id`",
        ),
    ];
    for (change, text) in cases {
        let config = with(change);
        let err = storages::s3::S3Storage::new(config.clone()).expect_err(text);
        let shown = format!("{err} {err:?} {config:?}");
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(
            err.to_string().contains(text),
            "{err} does not say {text:?}"
        );
        assert!(!shown.contains("SeCrEt-XYZ123"), "a secret in {shown}");
    }
    storages::s3::S3Storage::new(with(|_| {})).expect("the unchanged settings build");
}

/// Userinfo in an endpoint is refused (S3 requests are signed with the access key: a password there could only be
/// sent in the clear or handed out in every URL), and never shown.
#[test]
fn endpoint_userinfo_is_refused_and_masked_everywhere() {
    for option in ["endpoint", "public_endpoint", "aws_endpoint"] {
        for value in [
            "http://user:SeCrEt-XYZ123@127.0.0.1:9000",
            "http://SeCrEt-XYZ123@127.0.0.1:9000",
            "http%3A%2F%2Fuser%3ASeCrEt-XYZ123%40127.0.0.1%3A9000",
        ] {
            let url = format!("s3://b?{option}={value}");
            let err = Settings::parse(&url).expect_err(&url);
            let shown = format!("{err} {err:?} {}", storages::settings::redact(&url));
            assert!(
                err.to_string().contains("holds credentials"),
                "{url}: {err}"
            );
            assert!(!shown.contains("SeCrEt"), "{url}: a secret in {shown}");
        }
    }
    // Made in code, past the parser: Debug and endpoint_shown mask it all the same.
    let mut config = storages::s3::S3Config::new("b");
    config.endpoint = Some("http://user:SeCrEt-XYZ123@h:1".into());
    config.public_endpoint = Some("http://user:SeCrEt-XYZ123@h:2".into());
    let shown = format!("{config:?} {}", config.endpoint_shown());
    assert!(
        !shown.contains("SeCrEt") && shown.contains("user:***@h:1"),
        "{shown}"
    );
}

/// Percent-encoded option names are read decoded, so an encoded secret option is masked like a plain one.
#[test]
fn encoded_secret_options_are_masked_too() {
    let url = "s3://b?endpoint=http://127.0.0.1:1&aws_s%65ssion_tok%65n=SeCrEt-XYZ123";
    let settings = Settings::parse(url).expect("parse");
    let shown = format!("{settings} {settings:?}");
    assert!(!shown.contains("SeCrEt"), "{shown}");
}

/// Transfers into object storage, whose every operation waits on the network, run many copies at once; into file
/// systems, twice the cores. Decided by the storage's capabilities, whatever wraps it.
#[cfg(feature = "transfer")]
#[test]
fn transfers_run_many_jobs_into_remote_storages_and_few_into_local_ones() {
    use storages::transfer::default_jobs;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = format!("file://{}/m", dir.path().display());
    let set = Storages::from_urls([
        (
            "bucket",
            "s3://bucket?endpoint=http://127.0.0.1:9&region=garage",
        ),
        ("disk", file.as_str()),
        ("memory", "memory://"),
    ])
    .expect("built without a request");
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    assert_eq!(default_jobs(&*set.get("bucket").expect("bucket")), 32);
    assert_eq!(default_jobs(&*set.get("disk").expect("disk")), 2 * cores);
    assert_eq!(
        default_jobs(&*set.get("memory").expect("memory")),
        2 * cores
    );
}
