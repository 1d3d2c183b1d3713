//! The S3 backend on real servers the tests start (Garage and moto, from the testkit), opened from its own settings
//! URLs (`S3Config::from_url_str`), without the `storages` facade: the conformance suite, and the MD5 record every
//! write leaves in object metadata.

mod conformance;
mod md5;

use std::sync::Arc;

use storages_core::BackendConfig;
use storages_core::Storage;
use storages_s3::S3Config;

/// The storage an `s3://` settings URL describes.
fn open(url: &str) -> Arc<dyn Storage> {
    S3Config::from_url_str(url)
        .expect("parse")
        .open()
        .expect("open")
}
