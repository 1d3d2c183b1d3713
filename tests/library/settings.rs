//! Settings URLs, valid and invalid, as a table: what each parses to or the error it must name.

use std::path::PathBuf;

use storages::settings::{Backend, Settings, redact};
use storages::{ConfigError, LocalConfig};

/// What a URL must give: a local config with these fields, memory options, or an error message containing text.
enum Expect {
    Local {
        root: &'static str,
        base_url: Option<&'static str>,
        check: fn(&LocalConfig) -> bool,
    },
    Memory {
        base_url: Option<&'static str>,
        overwrite: bool,
    },
    Error(&'static str),
}

use Expect::*;

fn any(_: &LocalConfig) -> bool {
    true
}

#[test]
fn settings_urls_parse_or_fail_naming_the_offender() {
    let table: Vec<(&str, Expect)> = vec![
        (
            "file:///srv/media",
            Local {
                root: "/srv/media",
                base_url: None,
                check: any,
            },
        ),
        (
            "file:///srv/media?base_url=/media/",
            Local {
                root: "/srv/media",
                base_url: Some("/media/"),
                check: any,
            },
        ),
        (
            "file://localhost/srv/m",
            Local {
                root: "/srv/m",
                base_url: None,
                check: any,
            },
        ),
        (
            "file:/srv/m",
            Local {
                root: "/srv/m",
                base_url: None,
                check: any,
            },
        ),
        (
            "file:media?base_url=/media/",
            Local {
                root: "media",
                base_url: Some("/media/"),
                check: any,
            },
        ),
        (
            "file:a/b%20c",
            Local {
                root: "a/b c",
                base_url: None,
                check: any,
            },
        ),
        (
            "FILE:///x",
            Local {
                root: "/x",
                base_url: None,
                check: any,
            },
        ),
        (
            "file:///m?file_mode=644&dir_mode=0o755&fsync=true",
            Local {
                root: "/m",
                base_url: None,
                check: |c| c.file_mode == Some(0o644) && c.dir_mode == Some(0o755) && c.fsync,
            },
        ),
        (
            "file:///m?fsync=0&overwrite=yes",
            Local {
                root: "/m",
                base_url: None,
                check: |c| !c.fsync && c.common.overwrite,
            },
        ),
        (
            "file:///m?cache_control=public%2C%20max-age%3D60",
            Local {
                root: "/m",
                base_url: None,
                check: |c| c.common.cache_control.as_deref() == Some("public, max-age=60"),
            },
        ),
        (
            "file:///m?max_name_length=255",
            Local {
                root: "/m",
                base_url: None,
                check: |c| c.common.max_name_len == 255,
            },
        ),
        (
            "file:///m?base_url=https://cdn.example.com/m/",
            Local {
                root: "/m",
                base_url: Some("https://cdn.example.com/m/"),
                check: any,
            },
        ),
        (
            "memory://",
            Memory {
                base_url: None,
                overwrite: false,
            },
        ),
        (
            "memory:",
            Memory {
                base_url: None,
                overwrite: false,
            },
        ),
        (
            "memory://?base_url=/m/&overwrite=true",
            Memory {
                base_url: Some("/m/"),
                overwrite: true,
            },
        ),
        (
            "file:///m?bogus=1",
            Error("unknown option `bogus` for the local backend: valid options are base_url"),
        ),
        (
            "memory://?file_mode=644",
            Error("unknown option `file_mode` for the memory backend"),
        ),
        (
            "file:///m?fsync=maybe",
            Error("invalid value `maybe` for option `fsync`: expected true or false"),
        ),
        (
            "file:///m?file_mode=999",
            Error("invalid value `999` for option `file_mode`"),
        ),
        (
            "file:///m?dir_mode=",
            Error("invalid value `` for option `dir_mode`"),
        ),
        (
            "file:///m?base_url=",
            Error("invalid value `` for option `base_url`"),
        ),
        (
            "file:///m?max_name_length=0",
            Error("option `max_name_length`"),
        ),
        (
            "file:///m?fsync=1&fsync=0",
            Error("option `fsync` is given more than once"),
        ),
        (
            "file://server/share",
            Error("file URLs take no host (`server`)"),
        ),
        ("file:", Error("it names no directory")),
        ("file:///a#frag", Error("`#` fragment")),
        ("memory://name", Error("memory: takes no host or path")),
        (
            "ftp://host/x",
            Error("unknown storage scheme `ftp`: expected one of file, memory, nfs, s3, minio"),
        ),
        ("/srv/media", Error("it has no scheme")),
        ("media", Error("it has no scheme")),
        (
            "nfs://server/export",
            Error("nfs URLs take no host (`server`)"),
        ),
        ("file:///m%00x", Error("NUL")),
        (
            "file:///m?file_mode=0o777&dir_mode=0",
            Local {
                root: "/m",
                base_url: None,
                check: |c| c.file_mode == Some(0o777) && c.dir_mode == Some(0),
            },
        ),
        (
            "file:///m?file_mode=4755",
            Error(
                "invalid value `4755` for option `file_mode`: expected an octal mode from 0 to 777",
            ),
        ),
        (
            "file:///m?dir_mode=1777",
            Error("no setuid, setgid or sticky bits"),
        ),
        ("file:///m?dir_mode=0o2775", Error("option `dir_mode`")),
        (
            "file:///m?cache_control=max-age%3D60%0D%0ASet-Cookie:%20a%3Db",
            Error(
                "for option `cache_control`: expected a Cache-Control value such as max-age=3600; it contains a line break (CR or LF)",
            ),
        ),
        (
            "file:///m?cache_control=max-age%3D60%0A",
            Error("a line break (CR or LF)"),
        ),
        (
            "file:///m?cache_control=public%09x",
            Error("a control character"),
        ),
        ("file:///m?cache_control=%7F", Error("a control character")),
        (
            "file:///m?cache_control=no-cache%C3%A9",
            Error("a non-ASCII character"),
        ),
        ("file:///m?cache_control=", Error("option `cache_control`")),
        ("file:///m?cache_control=%20", Error("it is empty")),
        (
            "file:///m?base_url=%zz",
            Error(
                "invalid value `%zz` for option `base_url`: expected a path such as /media/ or an http(s) URL such as https://cdn.example.com/media/; `%zz` is not a percent escape",
            ),
        ),
        (
            "file:///m?base_url=/media/%2/",
            Error("`%2/` is not a percent escape"),
        ),
        (
            "file:///m?base_url=https://cdn.example.com/%zz/",
            Error("`%zz` is not a percent escape"),
        ),
        (
            "file:///m?base_url=media/",
            Error("neither an absolute path"),
        ),
        (
            "file:///m?base_url=//cdn.example.com/m/",
            Error("neither an absolute path"),
        ),
        ("file:///m?base_url=/m/?v=1", Error("query or fragment")),
        ("file:///m?base_url=/m/%23x", Error("query or fragment")),
        ("file:///m?base_url=/a%20b/", Error("a space")),
        (
            "file:///m?base_url=ftp://cdn.example.com/",
            Error("does not start with http:// or https://"),
        ),
        (
            "file:///m?base_url=https://cdn.example.com:99999/",
            Error("the port `99999`"),
        ),
        (
            "file:///m?base_url=https://u:SeCrEt@cdn.example.com/",
            Error("invalid value `https://u:***@cdn.example.com/` for option `base_url`"),
        ),
        (
            "file:///m?base_url=/media%2520files/",
            Local {
                root: "/m",
                base_url: Some("/media%20files/"),
                check: any,
            },
        ),
        (
            "file:///m?base_url=https://cdn.example.com",
            Local {
                root: "/m",
                base_url: Some("https://cdn.example.com"),
                check: any,
            },
        ),
    ];
    assert!(table.len() >= 25);
    for (url, expect) in table {
        let parsed = Settings::parse(url);
        match (expect, parsed) {
            (
                Local {
                    root,
                    base_url,
                    check,
                },
                Ok(settings),
            ) => match settings.backend() {
                Backend::Local(config) => {
                    assert_eq!(config.root, PathBuf::from(root), "root of {url}");
                    assert_eq!(
                        config.common.base_url.as_deref(),
                        base_url,
                        "base_url of {url}"
                    );
                    assert!(check(config), "options of {url}: {config:?}");
                }
                other => panic!("{url} gave {other:?}"),
            },
            (
                Memory {
                    base_url,
                    overwrite,
                },
                Ok(settings),
            ) => match settings.backend() {
                Backend::Memory(common) => {
                    assert_eq!(common.base_url.as_deref(), base_url, "base_url of {url}");
                    assert_eq!(common.overwrite, overwrite, "overwrite of {url}");
                }
                other => panic!("{url} gave {other:?}"),
            },
            (Error(text), Err(e)) => assert!(
                e.to_string().contains(text),
                "{url}: {e:?} does not say {text:?}"
            ),
            (_, result) => panic!("{url} gave an unexpected {result:?}"),
        }
    }
}

#[test]
fn redact_masks_passwords_and_secret_options() {
    let url = "minio://AKID:wJalrXUtnFEMI@host:9000/bucket?aws_secret_access_key=TOPSECRET&session_token=TOK";
    assert_eq!(
        redact(url),
        "minio://AKID:***@host:9000/bucket?aws_secret_access_key=***&session_token=***"
    );
    let bad = "ftp://u:hunter2@h/x#frag";
    let err = Settings::parse(bad).expect_err("fragment");
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");
}

#[test]
fn display_shows_the_url_and_errors_are_typed() {
    let settings: Settings = "file:///srv/m?base_url=/m/".parse().expect("parse");
    assert_eq!(settings.to_string(), "file:///srv/m?base_url=/m/");
    assert!(
        matches!(Settings::parse("file:///m?x=1"), Err(ConfigError::UnknownOption { option, .. }) if option == "x")
    );
}
