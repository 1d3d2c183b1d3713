//! Every boolean option of every backend reads the same spellings (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`,
//! in any case) and refuses anything else naming the option and the value: one test per option.

use storages::settings::{Backend, Settings};

const TRUE: &[&str] = &["true", "1", "yes", "on", "TRUE", "Yes", "ON"];
const FALSE: &[&str] = &["false", "0", "no", "off", "FALSE", "No", "Off"];
const NEITHER: &[&str] = &["maybe", "2", "", "y", "truee", "nein"];

/// Parses `template` with `{}` replaced by each spelling and checks that `read` sees the value it means.
#[track_caller]
fn assert_boolean(template: &str, option: &str, read: fn(&Backend) -> bool) {
    for (spellings, expected) in [(TRUE, true), (FALSE, false)] {
        for spelling in spellings {
            let url = template.replace("{}", spelling);
            let settings = Settings::parse(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(read(settings.backend()), expected, "{url}");
        }
    }
    for spelling in NEITHER {
        let url = template.replace("{}", spelling);
        let err = Settings::parse(&url).expect_err(&url).to_string();
        assert!(
            err.contains(&format!("invalid value `{spelling}` for option `{option}`"))
                && err.contains("true or false"),
            "{url}: {err}"
        );
    }
}

macro_rules! boolean_options {
    ($($test:ident: $template:expr, $option:expr, $read:expr;)*) => {
        $(#[test]
        fn $test() {
            assert_boolean($template, $option, $read);
        })*
    };
}

boolean_options! {
    memory_overwrite: "memory://?overwrite={}", "overwrite", |b| match b {
        Backend::Memory(common) => common.overwrite,
        other => panic!("{other:?}"),
    };
    file_overwrite: "file:///m?overwrite={}", "overwrite", |b| match b {
        Backend::Local(c) => c.common.overwrite,
        other => panic!("{other:?}"),
    };
    file_fsync: "file:///m?fsync={}", "fsync", |b| match b {
        Backend::Local(c) => c.fsync,
        other => panic!("{other:?}"),
    };
    nfs_overwrite: "nfs:///mnt/m?overwrite={}", "overwrite", |b| match b {
        Backend::Nfs(c) => c.local.common.overwrite,
        other => panic!("{other:?}"),
    };
    nfs_fsync: "nfs:///mnt/m?fsync={}", "fsync", |b| match b {
        Backend::Nfs(c) => c.local.fsync,
        other => panic!("{other:?}"),
    };
    nfs_require_mount: "nfs:///mnt/m?require_mount={}", "require_mount", |b| match b {
        Backend::Nfs(c) => c.require_mount,
        other => panic!("{other:?}"),
    };
}

#[cfg(feature = "s3")]
mod s3 {
    use super::*;
    use storages::s3::{ConditionalPut, S3Config};

    fn s3(b: &Backend) -> &S3Config {
        match b {
            Backend::S3(c) => c,
            other => panic!("{other:?}"),
        }
    }

    /// The value object_store is given for a passed-through `aws_*` boolean: always `true` or `false`.
    fn passed(b: &Backend, key: &str) -> bool {
        let (_, value) = s3(b)
            .passthrough
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .unwrap_or_else(|| panic!("{key} not passed through"));
        match value.expose() {
            "true" => true,
            "false" => false,
            other => panic!("{key} passed on as {other:?}"),
        }
    }

    boolean_options! {
        s3_overwrite: "s3://b?overwrite={}", "overwrite", |b| s3(b).common.overwrite;
        s3_path_style: "s3://b?path_style={}", "path_style", |b| !s3(b).virtual_hosted;
        s3_virtual_hosted: "s3://b?virtual_hosted={}", "virtual_hosted", |b| s3(b).virtual_hosted;
        s3_auto_create: "s3://b?auto_create={}", "auto_create", |b| s3(b).auto_create;
        s3_public: "s3://b?public={}", "public", |b| s3(b).public;
        s3_imds: "s3://b?imds={}", "imds", |b| s3(b).imds == Some(true);
        minio_secure: "minio://K:S@h:9000/b?secure={}", "secure",
            |b| s3(b).endpoint.as_deref() == Some("https://h:9000");
        s3_aws_virtual_hosted_style_request: "s3://b?aws_virtual_hosted_style_request={}",
            "aws_virtual_hosted_style_request", |b| s3(b).virtual_hosted;
        s3_aws_unsigned_payload: "s3://b?aws_unsigned_payload={}", "aws_unsigned_payload",
            |b| passed(b, "aws_unsigned_payload");
        s3_aws_skip_signature: "s3://b?aws_skip_signature={}", "aws_skip_signature",
            |b| passed(b, "aws_skip_signature");
        s3_aws_imdsv1_fallback: "s3://b?aws_imdsv1_fallback={}", "aws_imdsv1_fallback",
            |b| passed(b, "aws_imdsv1_fallback");
        s3_aws_disable_tagging: "s3://b?aws_disable_tagging={}", "aws_disable_tagging",
            |b| passed(b, "aws_disable_tagging");
        s3_aws_request_payer: "s3://b?aws_request_payer={}", "aws_request_payer",
            |b| passed(b, "aws_request_payer");
        s3_aws_allow_http: "s3://b?aws_allow_http={}", "aws_allow_http",
            |b| passed(b, "allow_http");
    }

    /// `conditional_put` takes `auto` and every boolean spelling.
    #[test]
    fn s3_conditional_put() {
        for (value, expected) in [
            ("auto", ConditionalPut::Auto),
            ("AUTO", ConditionalPut::Auto),
            ("on", ConditionalPut::Enabled),
            ("1", ConditionalPut::Enabled),
            ("Yes", ConditionalPut::Enabled),
            ("off", ConditionalPut::Disabled),
            ("0", ConditionalPut::Disabled),
            ("NO", ConditionalPut::Disabled),
        ] {
            let url = format!("s3://b?conditional_put={value}");
            let settings = Settings::parse(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(s3(settings.backend()).conditional_put, expected, "{url}");
        }
        let err = Settings::parse("s3://b?conditional_put=maybe")
            .expect_err("maybe")
            .to_string();
        assert!(
            err.contains("`maybe`") && err.contains("auto, true or false"),
            "{err}"
        );
    }
}
