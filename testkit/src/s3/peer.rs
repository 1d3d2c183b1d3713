//! boto3 as an independent S3 client: what the tests check the storages' work against.

use std::process::Command;

use super::installed::python;
use super::{Garage, Moto};

/// boto3, the independent client the tests check against: where it talks to, and as whom.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The S3 endpoint.
    pub endpoint: String,
    /// The region requests are signed for.
    pub region: String,
    /// The access key id.
    pub key: String,
    /// The secret access key.
    pub secret: String,
}

impl Peer {
    /// boto3 on `g`, with its key.
    pub fn garage(g: &Garage) -> Self {
        Self {
            endpoint: g.endpoint(),
            region: g.region().into(),
            key: g.access_key().into(),
            secret: g.secret_key().into(),
        }
    }

    /// boto3 on `m`.
    pub fn moto(m: &Moto) -> Self {
        Self {
            endpoint: m.endpoint(),
            region: m.region().into(),
            key: m.access_key().into(),
            secret: m.secret_key().into(),
        }
    }

    /// A settings URL for `bucket` on this server.
    pub fn url(&self, bucket: &str) -> String {
        format!(
            "s3://{bucket}?endpoint={}&region={}&aws_access_key_id={}&aws_secret_access_key={}",
            self.endpoint, self.region, self.key, self.secret
        )
    }

    /// Runs `code` with `s3` (a boto3 client), `args` (the extra arguments) and `sys`; returns its standard output.
    pub fn boto3(&self, code: &str, args: &[&str]) -> String {
        let script = format!(
            "import sys, json, boto3\nfrom botocore.config import Config\n\
             s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name=sys.argv[2], aws_access_key_id=sys.argv[3], \
             aws_secret_access_key=sys.argv[4], config=Config(s3={{'addressing_style': 'path'}}))\nargs = sys.argv[5:]\n{code}\n"
        );
        let out = Command::new(python())
            .arg("-c")
            .arg(script)
            .args([&self.endpoint, &self.region, &self.key, &self.secret])
            .args(args)
            .output()
            .expect("run python with boto3");
        assert!(
            out.status.success(),
            "boto3 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}
