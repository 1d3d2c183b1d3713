//! Where a storage's credentials come from when the settings give none, and the one source never asked by
//! surprise: EC2 instance metadata (IMDS, `http://169.254.169.254`).
//!
//! object_store falls back to instance metadata whenever nothing else gives credentials. For AWS itself that is
//! the standard chain (an EC2 instance's role). For any other server (Garage, MinIO, a proxy) it sends a request
//! to an address that is not the storage's server, and the failure reported is that request's opaque `403` or
//! timeout. So with an endpoint set, instance metadata is asked only with `imds=true`; without one, only unless
//! `imds=false`. When it is not asked and nothing else gives credentials, every request fails at once, before
//! anything is sent, with [`MissingCredentials`] naming what to set.

use std::sync::Arc;

use async_trait::async_trait;
use object_store::CredentialProvider;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsCredential};

use crate::S3Config;

/// No credentials for a storage that may not ask instance metadata: nothing in the settings or the environment
/// says who is signing. Found among the sources of the error of any operation of such a storage.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "no credentials: set the options access_key_id and secret_access_key (minio: ACCESS:SECRET@ before the host), \
     or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment; {imds}"
)]
pub struct MissingCredentials {
    /// Why instance metadata was not asked.
    imds: &'static str,
}

impl MissingCredentials {
    /// Missing credentials for a storage whose `imds` setting is `imds`.
    pub(crate) fn new(imds: Option<bool>) -> Self {
        let imds = match imds {
            Some(false) => "EC2 instance metadata is not asked: imds=false",
            _ => {
                "EC2 instance metadata is asked only for AWS itself (no endpoint set) or with imds=true, as a \
                 server elsewhere cannot be the one answering there"
            }
        };
        Self { imds }
    }
}

/// Stands where object_store would ask instance metadata: fails every request, sending nothing.
#[derive(Debug)]
struct NoCredentials(MissingCredentials);

#[async_trait]
impl CredentialProvider for NoCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        Err(object_store::Error::Generic {
            store: "S3",
            source: Box::new(self.0.clone()),
        })
    }
}

/// Whether a storage whose main endpoint is `endpoint` (`None`: AWS) may ask instance metadata.
pub(crate) fn may_ask_instance_metadata(config: &S3Config, endpoint: Option<&str>) -> bool {
    config.imds.unwrap_or(endpoint.is_none())
}

/// `b`, or `b` made to fail with [`MissingCredentials`] where object_store would otherwise ask instance metadata
/// and `imds` says it may not.
pub(crate) fn guard_instance_metadata(
    b: AmazonS3Builder,
    config: &S3Config,
    imds: bool,
) -> AmazonS3Builder {
    if imds || other_source(&b) {
        return b;
    }
    b.with_credentials(Arc::new(NoCredentials(MissingCredentials::new(
        config.imds,
    ))))
}

/// Whether object_store will take credentials from a source other than instance metadata: static keys, a web
/// identity, an ECS task or an EKS pod (the order and conditions of `AmazonS3Builder::build`, read back from the
/// builder so that the AWS variables it took count too).
fn other_source(b: &AmazonS3Builder) -> bool {
    use AmazonS3ConfigKey as K;
    let set = |key: K| b.get_config_value(&key).is_some();
    set(K::AccessKeyId)
        || set(K::SecretAccessKey)
        || (set(K::WebIdentityTokenFile) && set(K::RoleArn))
        || set(K::ContainerCredentialsRelativeUri)
        || (set(K::ContainerCredentialsFullUri) && set(K::ContainerAuthorizationTokenFile))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> AmazonS3Builder {
        AmazonS3Builder::new().with_bucket_name("media")
    }

    #[test]
    fn instance_metadata_is_for_aws_unless_the_settings_say() {
        let mut config = S3Config::new("media");
        assert!(may_ask_instance_metadata(&config, None));
        assert!(!may_ask_instance_metadata(
            &config,
            Some("http://127.0.0.1:3900")
        ));
        config.imds = Some(true);
        assert!(may_ask_instance_metadata(
            &config,
            Some("http://127.0.0.1:3900")
        ));
        config.imds = Some(false);
        assert!(!may_ask_instance_metadata(&config, None));
    }

    #[test]
    fn every_other_source_of_credentials_counts() {
        use AmazonS3ConfigKey as K;
        assert!(!other_source(&builder()));
        for keys in [
            &[K::AccessKeyId][..],
            &[K::SecretAccessKey],
            &[K::WebIdentityTokenFile, K::RoleArn],
            &[K::ContainerCredentialsRelativeUri],
            &[
                K::ContainerCredentialsFullUri,
                K::ContainerAuthorizationTokenFile,
            ],
        ] {
            let b = keys
                .iter()
                .fold(builder(), |b, key| b.with_config(*key, "/x"));
            assert!(other_source(&b), "{keys:?}");
        }
        // Half of a pair is no source: object_store would go on to instance metadata.
        for key in [K::WebIdentityTokenFile, K::ContainerCredentialsFullUri] {
            assert!(!other_source(&builder().with_config(key, "/x")), "{key:?}");
        }
    }

    #[tokio::test]
    async fn a_guarded_store_fails_with_missing_credentials() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = S3Config::new("media");
        let store = guard_instance_metadata(builder(), &config, false)
            .build()
            .expect("build");
        let e = store
            .credentials()
            .get_credential()
            .await
            .expect_err("no credentials");
        let missing = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<MissingCredentials>())
            .expect("MissingCredentials");
        assert!(missing.to_string().contains("imds=true"), "{missing}");
    }
}
