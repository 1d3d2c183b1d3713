//! The conformance suite on real S3 servers started by the tests: Garage (no conditional writes, real SigV4
//! checks) and moto (conditional writes). Each test gets a fresh key prefix in a shared bucket.
use storages_testkit::s3::{Peer, unique};

/// Temporary objects that this or another server's unfinished writes and probes left in the bucket (put there by
/// boto3, an independent client, under the storage's `prefix`) appear in no listing, nor does a directory named
/// like one; names that only look like them are listed.
async fn temporary_objects_in_the_bucket_are_hidden(
    peer: Peer,
    bucket: &str,
    prefix: &str,
    url: &str,
) {
    use storages_core::StorageExt;
    let storage = crate::open(url);
    let keys: Vec<String> = storages_core::conformance::planted()
        .iter()
        .map(|name| format!("{prefix}/{name}"))
        .collect();
    let mut args = vec![bucket];
    args.extend(keys.iter().map(String::as_str));
    peer.boto3(
        "for key in args[1:]: s3.put_object(Bucket=args[0], Key=key, Body=b'partial')",
        &args,
    );
    storage.save("d/real.txt", "real").await.expect("save");
    for near in storages_core::conformance::NEAR_MISSES {
        storage.save(*near, "near").await.expect("save a near miss");
    }
    storages_core::conformance::assert_reserved_hidden(&*storage).await;
    let listed = peer.boto3(
        "print(s3.list_objects_v2(Bucket=args[0], Prefix=args[1])['KeyCount'])",
        &[bucket, prefix],
    );
    assert_eq!(listed, "7", "the planted objects are still in the bucket");
}

mod garage {
    use storages_core::conformance::Fixture;

    async fn fixture() -> Fixture {
        let garage = storages_testkit::s3::shared_garage();
        let url = format!(
            "{}&base_url=/media/",
            garage.settings_url(&super::unique("conf"))
        );
        Fixture::new(crate::open(&url))
    }

    storages_core::conformance_tests!(fixture);

    #[tokio::test]
    async fn temporary_objects_in_the_bucket_are_hidden() {
        let garage = storages_testkit::s3::shared_garage();
        let prefix = super::unique("hidden");
        let url = format!("{}&base_url=/media/", garage.settings_url(&prefix));
        let peer = storages_testkit::s3::Peer::garage(garage);
        super::temporary_objects_in_the_bucket_are_hidden(peer, garage.bucket(), &prefix, &url)
            .await;
    }
}

mod moto {
    use std::sync::OnceLock;

    use storages_core::conformance::Fixture;

    fn bucket() -> &'static str {
        static BUCKET: OnceLock<&'static str> = OnceLock::new();
        BUCKET.get_or_init(|| {
            storages_testkit::s3::shared_moto().create_bucket("conformance");
            "conformance"
        })
    }

    async fn fixture() -> Fixture {
        let moto = storages_testkit::s3::shared_moto();
        let url = format!(
            "{}&base_url=/media/",
            moto.settings_url(bucket(), &super::unique("conf"))
        );
        Fixture::new(crate::open(&url))
    }

    storages_core::conformance_tests!(fixture);

    #[tokio::test]
    async fn temporary_objects_in_the_bucket_are_hidden() {
        let moto = storages_testkit::s3::shared_moto();
        let prefix = super::unique("hidden");
        let url = format!("{}&base_url=/media/", moto.settings_url(bucket(), &prefix));
        let peer = storages_testkit::s3::Peer::moto(moto);
        super::temporary_objects_in_the_bucket_are_hidden(peer, bucket(), &prefix, &url).await;
    }
}
