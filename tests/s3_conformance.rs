//! The conformance suite on real S3 servers started by the tests: Garage (no conditional writes, real SigV4
//! checks) and moto (conditional writes). Each test gets a fresh key prefix in a shared bucket.
#![cfg(feature = "s3")]

mod support;

fn unique(tag: &str) -> String {
    let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
        .take(10)
        .collect();
    format!("{tag}-{suffix}")
}

mod garage {
    use storages::Settings;
    use storages::conformance::Fixture;

    async fn fixture() -> Fixture {
        let garage = crate::support::s3::shared_garage();
        let url = format!(
            "{}&base_url=/media/",
            garage.settings_url(&super::unique("conf"))
        );
        Fixture::new(
            Settings::parse(&url)
                .expect("parse")
                .build()
                .expect("build"),
        )
    }

    storages::conformance_tests!(fixture);
}

mod moto {
    use std::sync::OnceLock;

    use storages::Settings;
    use storages::conformance::Fixture;

    fn bucket() -> &'static str {
        static BUCKET: OnceLock<&'static str> = OnceLock::new();
        BUCKET.get_or_init(|| {
            crate::support::s3::shared_moto().create_bucket("conformance");
            "conformance"
        })
    }

    async fn fixture() -> Fixture {
        let moto = crate::support::s3::shared_moto();
        let url = format!(
            "{}&base_url=/media/",
            moto.settings_url(bucket(), &super::unique("conf"))
        );
        Fixture::new(
            Settings::parse(&url)
                .expect("parse")
                .build()
                .expect("build"),
        )
    }

    storages::conformance_tests!(fixture);
}
