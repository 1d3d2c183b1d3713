//! Real S3 servers for the tests: Garage (verifies SigV4 signatures; no conditional writes, no bucket policies),
//! as one node or a three-node cluster, and moto (a broad S3 emulator with conditional writes and policies; no
//! signature checks); boto3 as an independent client.
//!
//! Each server runs in its own temporary directory on free loopback ports, logs to a file there, and is killed on
//! drop. A server held in a `static` (see [`shared_garage`], [`shared_moto`]) is never dropped, so every server also
//! gets a watchdog that kills it when the test process exits.

mod cluster;
mod garage;
mod installed;
mod moto;
mod peer;

use std::fmt::Write as _;

pub use cluster::{ClusterHealth, GarageCluster};
pub use garage::{Garage, shared_garage};
pub use installed::{garage_bin, moto_server_bin, python, venv};
pub use moto::{Moto, shared_moto};
pub use peer::Peer;

/// `tag` and ten random lowercase alphanumerics: a bucket name or prefix no other test uses.
pub fn unique(tag: &str) -> String {
    let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
        .take(10)
        .collect();
    format!("{tag}-{}", suffix.to_lowercase())
}

fn settings_url(
    bucket: &str,
    prefix: &str,
    endpoint: &str,
    region: &str,
    access_key: &str,
    secret_key: &str,
) -> String {
    let mut url = format!("s3://{bucket}");
    if !prefix.is_empty() {
        url.push('/');
        url.push_str(prefix.trim_start_matches('/'));
    }
    write!(
        url,
        "?endpoint={endpoint}&region={region}&aws_access_key_id={access_key}&aws_secret_access_key={secret_key}"
    )
    .expect("write to a String");
    url
}

fn random_hex(digits: usize) -> String {
    (0..digits)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).expect("a hex digit"))
        .collect()
}
