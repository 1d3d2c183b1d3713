//! What object_store finds out only when it sends a request, and panics on there: the values its client will put
//! into URLs and headers, checked when the storage is built.

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use storages_core::{
    Error, Result, invalid_value, mask_userinfo, parse_bool, parse_endpoint, parse_header_value,
};

use crate::config::{S3Config, check_access_key_id, check_bucket, check_region};

/// Checks what the client built by `b` for the endpoint setting `option` will use. The values are read back from
/// the builder, so the AWS variables it took are checked too.
pub(crate) fn check_client_values(
    b: &AmazonS3Builder,
    config: &S3Config,
    option: &str,
) -> Result<()> {
    use AmazonS3ConfigKey as K;
    let value = |key: K| b.get_config_value(&key).filter(|v| !v.is_empty());
    // A value the settings did not give came from the environment: say so, it is not in any URL the user wrote.
    let named = |from_settings: bool, setting: &str, variable: &str| {
        if from_settings {
            setting.to_owned()
        } else {
            format!("{variable} (from the environment)")
        }
    };
    let invalid = |option: String, value: &str, expected: &str| {
        Error::Config(invalid_value(&option, value, expected))
    };

    let endpoint = value(K::S3Endpoint).or_else(|| value(K::Endpoint));
    if let Some(ep) = &endpoint {
        parse_endpoint(
            &named(
                endpoint.as_deref() == config_endpoint(config, option),
                option,
                "AWS_ENDPOINT_URL",
            ),
            ep,
        )?;
    }
    let region = value(K::Region).unwrap_or_else(|| "us-east-1".to_owned());
    check_region(&region).map_err(|why| {
        invalid(
            named(
                config.region.as_deref() == Some(region.as_str()),
                "region",
                "AWS_REGION",
            ),
            &region,
            &why,
        )
    })?;
    check_bucket(&config.bucket).map_err(|why| invalid("bucket".into(), &config.bucket, &why))?;
    if let Some(id) = value(K::AccessKeyId) {
        check_access_key_id(&id).map_err(|why| {
            let from_settings = config.access_key_id.as_deref() == Some(id.as_str());
            invalid(
                named(from_settings, "access_key_id", "AWS_ACCESS_KEY_ID"),
                &id,
                &why,
            )
        })?;
    }
    if let Some(token) = value(K::Token) {
        parse_header_value("aws_session_token", &token, "a session token")?;
    }
    let virtual_hosted = match value(K::VirtualHostedStyleRequest) {
        Some(v) => parse_bool("aws_virtual_hosted_style_request", &v)?,
        None => false,
    };
    // The bucket's URL as object_store forms it (object_store/src/aws/builder.rs), which every request extends.
    let bucket_url = match (&endpoint, virtual_hosted) {
        (Some(ep), true) => ep.clone(),
        (Some(ep), false) => format!("{}/{}", ep.trim_end_matches('/'), config.bucket),
        (None, true) => format!("https://{}.s3.{region}.amazonaws.com", config.bucket),
        (None, false) => format!("https://s3.{region}.amazonaws.com/{}", config.bucket),
    };
    let probe = format!("{bucket_url}/probe");
    if url::Url::parse(&probe).is_err() || probe.parse::<http::Uri>().is_err() {
        return Err(invalid(
            "bucket".into(),
            &mask_userinfo(&bucket_url),
            "settings that make a valid URL of the endpoint, region and bucket",
        ));
    }
    Ok(())
}

/// The endpoint the settings give for `option`.
fn config_endpoint<'c>(config: &'c S3Config, option: &str) -> Option<&'c str> {
    if option == "public_endpoint" {
        config.public_endpoint.as_deref()
    } else {
        config.endpoint.as_deref()
    }
}
