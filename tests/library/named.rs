//! The named set: defaults, a TOML file, and `STORAGES_<ALIAS>_URL` variables, later sources winning.

use std::io::Write;

use storages::named::{UrlOrAlias, configured_urls, open_one};
use storages::{ConfigError, Error, StorageExt, Storages};

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn defaults_are_media_and_static_under_the_working_directory() {
    let urls = configured_urls(vars(&[("PATH", "/bin")])).expect("urls");
    assert_eq!(
        urls.get("media").map(String::as_str),
        Some("file:media?base_url=/media/")
    );
    assert_eq!(
        urls.get("static").map(String::as_str),
        Some("file:static?base_url=/static/")
    );
    assert_eq!(urls.len(), 2);
}

#[tokio::test]
async fn variables_override_defaults_and_add_aliases() {
    let set = Storages::from_vars(vars(&[
        ("STORAGES_MEDIA_URL", "memory://?base_url=/m/"),
        ("STORAGES_STATIC_URL", "memory://?base_url=/s/"),
        (
            "STORAGES_USER_AVATARS_URL",
            "memory://?base_url=https://cdn.example.com/a/",
        ),
        ("UNRELATED_URL", "file:///nope"),
    ]))
    .expect("storages");
    assert_eq!(
        set.aliases().collect::<Vec<_>>(),
        ["media", "static", "user_avatars"]
    );
    let media = set.media().expect("media");
    media.save("x.txt", "hi").await.expect("save");
    assert_eq!(media.public_url("x.txt").await.expect("url"), "/m/x.txt");
    assert_eq!(
        set.get("user_avatars")
            .expect("alias")
            .public_url("a b.png")
            .await
            .expect("url"),
        "https://cdn.example.com/a/a%20b.png"
    );
    assert_eq!(
        set.static_files()
            .expect("static")
            .options()
            .base_url
            .as_deref(),
        Some("/s/")
    );
}

#[test]
fn a_toml_file_configures_aliases_and_variables_win_over_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("storages.toml");
    let mut file = std::fs::File::create(&path).expect("create");
    writeln!(file, "[storages]\nmedia = \"memory://?base_url=/from-file/\"\nreports = \"memory://\"\nstatic = \"memory://\"").expect("write");
    let config = path.display().to_string();
    let urls = configured_urls(vars(&[("STORAGES_CONFIG", &config)])).expect("urls");
    assert_eq!(urls["media"], "memory://?base_url=/from-file/");
    assert_eq!(urls["reports"], "memory://");
    let urls = configured_urls(vars(&[
        ("STORAGES_CONFIG", &config),
        ("STORAGES_MEDIA_URL", "memory://?base_url=/env/"),
    ]))
    .expect("urls");
    assert_eq!(urls["media"], "memory://?base_url=/env/");
}

#[test]
fn a_bad_file_or_alias_is_an_error_that_says_where() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[storages]\nmedia = 5\n").expect("write");
    let err = configured_urls(vars(&[("STORAGES_CONFIG", &path.display().to_string())]))
        .expect_err("bad type");
    assert!(
        matches!(&err, ConfigError::FileSyntax { path: p, line: 2, column: 9, .. } if p.ends_with("bad.toml")),
        "{err}"
    );
    std::fs::write(&path, "[storage]\nmedia = \"memory://\"\n").expect("write");
    let err = configured_urls(vars(&[("STORAGES_CONFIG", &path.display().to_string())]))
        .expect_err("unknown table");
    assert!(err.to_string().contains("storage"), "{err}");
    let err = configured_urls(vars(&[("STORAGES_CONFIG", "/no/such/file.toml")]))
        .expect_err("missing file");
    assert!(err.to_string().contains("/no/such/file.toml"), "{err}");
    let err = Storages::from_vars(vars(&[("STORAGES_MEDIA_URL", "memory://?color=blue")]))
        .expect_err("bad option");
    assert!(
        matches!(&err, Error::Config(ConfigError::InAlias { alias, .. }) if alias == "media"),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("storage `media`: unknown option `color`"),
        "{err}"
    );
    let err = Storages::from_vars(vars(&[("STORAGES_MEDIA_URL", "memory://")]))
        .expect("ok")
        .get("nope")
        .expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "no storage named `nope`: configured are media, static"
    );
}

/// A mistake in the TOML file is reported with its line and column, whatever the mistake.
#[test]
fn a_settings_file_error_names_its_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("storages.toml");
    let config = path.display().to_string();
    let cases = [
        // A syntax error: the string is never closed.
        (
            "[storages]\nmedia = \"memory://\"\nstatic = \"file:static\n",
            3,
            22,
        ),
        // A value of the wrong type, after a comment and a blank line.
        ("# storages\n\n[storages]\n  avatars = [1, 2]\n", 4, 13),
        // An alias that is not one, on its own line.
        (
            "[storages]\nmedia = \"memory://\"\n\"Bad-Alias\" = \"memory://\"\n",
            3,
            1,
        ),
        // A table that is not [storages].
        ("[storages]\n\n[elsewhere]\nx = 1\n", 3, 2),
        // Non-ASCII text before the mistake counts in characters.
        ("[storages]\n\"médias\" = 5\n", 2, 12),
    ];
    for (text, line, column) in cases {
        std::fs::write(&path, text).expect("write");
        let err = configured_urls(vars(&[("STORAGES_CONFIG", &config)])).expect_err(text);
        let expected = format!("settings file `{config}`, line {line}, column {column}: ");
        assert!(
            err.to_string().starts_with(&expected),
            "{text:?}: {err} does not start with {expected:?}"
        );
    }
}

#[test]
fn debug_of_the_set_shows_aliases_and_masked_urls() {
    let set = Storages::from_urls([("media", "memory://?base_url=/m/")]).expect("set");
    assert_eq!(
        format!("{set:?}"),
        "{\"media\": \"memory://?base_url=/m/\"}"
    );
}

/// As Django's `MEDIA_URL` and `STATIC_URL`: `media` and `static` on a disk, an NFS share or memory are linked at
/// `/media/` and `/static/` when their URL names no `base_url`. Before, every `url()` of theirs failed, so the
/// photo app stored each upload and then answered `500`.
#[tokio::test]
async fn media_and_static_without_base_url_are_linked_at_media_and_static() {
    let dir = tempfile::tempdir().expect("tempdir");
    let share = dir.path().join("share");
    std::fs::create_dir(&share).expect("mkdir");
    let set = Storages::from_urls([
        ("media", format!("file://{}/media", dir.path().display())),
        ("static", "memory://".to_owned()),
        (
            "shared",
            format!("nfs://{}?require_mount=false", share.display()),
        ),
        ("other", "memory://".to_owned()),
    ])
    .expect("set");
    let url_of = |alias: &str| {
        let storage = set.get(alias).expect("alias");
        async move { storage.public_url("a b.png").await }
    };
    assert_eq!(url_of("media").await.expect("url"), "/media/a%20b.png");
    assert_eq!(url_of("static").await.expect("url"), "/static/a%20b.png");
    // Only `media` and `static` have a default; any other alias links nothing until told where.
    for alias in ["shared", "other"] {
        let err = url_of(alias).await.expect_err(alias);
        assert!(matches!(err, Error::Unsupported { .. }), "{alias}: {err}");
    }
    // The NFS backend takes the default as the local one does.
    let nfs = Storages::from_urls([(
        "media",
        format!("nfs://{}?require_mount=false", share.display()),
    )])
    .expect("set");
    let media = nfs.media().expect("media");
    assert_eq!(
        media.public_url("x.png").await.expect("url"),
        "/media/x.png"
    );
    // A base_url given wins, and the settings say which one the storage uses.
    let given = Storages::from_urls([("media", "memory://?base_url=https://cdn.example.com/m/")])
        .expect("set");
    let media = given.media().expect("media");
    assert_eq!(
        media.public_url("x.png").await.expect("url"),
        "https://cdn.example.com/m/x.png"
    );
    assert_eq!(
        set.settings("static")
            .and_then(|s| s.common())
            .and_then(|c| c.base_url.as_deref()),
        Some("/static/")
    );
}

/// Object storage keeps its own bucket URLs under `media` too: `/media/` would not reach the bucket.
#[cfg(feature = "s3")]
#[tokio::test]
async fn object_storage_under_media_keeps_its_bucket_urls() {
    let set = Storages::from_urls([(
        "media",
        "s3://bucket/up?endpoint=http://127.0.0.1:1&region=garage&aws_access_key_id=A&aws_secret_access_key=S",
    )])
    .expect("set");
    let media = set.media().expect("media");
    assert_eq!(
        media.public_url("x.png").await.expect("url"),
        "http://127.0.0.1:1/bucket/up/x.png"
    );
}

/// The command line's `open_one` reads an alias's settings as the set does, defaults included.
#[tokio::test]
async fn one_alias_opened_alone_gets_its_default_base_url_too() {
    let urls = configured_urls(vars(&[("STORAGES_STATIC_URL", "memory://")])).expect("urls");
    let statics = storages::named::open_one("static", &urls).expect("open");
    assert_eq!(
        statics.public_url("app.css").await.expect("url"),
        "/static/app.css"
    );
    let url = storages::named::open_one("memory://", &urls).expect("open");
    assert!(url.public_url("app.css").await.is_err());
}

/// An app takes its storages through `linkable` at start: one that cannot make URLs stops it there, naming the
/// alias (a mirror's primary too) and the reason `url()` would give at every request.
#[test]
fn linkable_refuses_a_storage_that_cannot_make_urls_naming_its_alias() {
    let set = Storages::from_urls([
        ("media", "mirror:?primary=disk&mirrors=copy"),
        ("disk", "memory://"),
        ("copy", "memory://?base_url=/copy/"),
        ("static", "memory://"),
        ("avatars", "memory://"),
    ])
    .expect("set");
    assert!(set.linkable("static").is_ok());
    assert!(set.linkable("copy").is_ok());
    let err = set.linkable("avatars").expect_err("no base_url");
    assert!(
        matches!(&err, Error::Config(ConfigError::InAlias { alias, source })
            if alias == "avatars" && matches!(**source, ConfigError::NoUrls { .. })),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(
            "storage `avatars`: the memory backend does not support URLs without a base_url"
        ),
        "{err}"
    );
    let err = set.linkable("media").expect_err("its primary has none");
    assert!(
        err.to_string().starts_with(
            "storage `media`: storage `disk`: the memory backend does not support URLs without a base_url"
        ),
        "{err}"
    );
    assert!(matches!(
        set.linkable("nope"),
        Err(Error::Config(ConfigError::UnknownAlias { .. }))
    ));
}

#[tokio::test]
async fn a_command_line_storage_is_a_settings_url_when_it_has_a_colon_and_an_alias_otherwise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let media = format!("file://{}/media?base_url=/m/", dir.path().display());
    let urls = configured_urls(vars(&[("STORAGES_MEDIA_URL", &media)])).expect("urls");
    assert_eq!(UrlOrAlias::new("media"), UrlOrAlias::Alias("media"));
    assert_eq!(UrlOrAlias::new("file:media"), UrlOrAlias::Url("file:media"));
    assert_eq!(UrlOrAlias::new("media").url(&urls).expect("alias"), media);
    assert_eq!(
        UrlOrAlias::new("memory://").url(&urls).expect("url"),
        "memory://"
    );
    let unknown = UrlOrAlias::new("avatars").url(&urls).expect_err("unknown");
    assert_eq!(
        unknown.to_string(),
        "no storage named `avatars`: configured are media, static"
    );
    assert_eq!(UrlOrAlias::new("media").shown(), "`media`");
    assert_eq!(
        UrlOrAlias::new("minio://K:SeCrEt@h:9000/b").shown(),
        "minio://K:***@h:9000/b"
    );

    // The alias's URL and the URL itself open the same storage; the set resolves both the same way.
    let by_alias = open_one("media", &urls).expect("alias");
    by_alias.save("a.txt", "x").await.expect("save");
    let by_url = open_one(&media, &urls).expect("url");
    assert!(by_url.exists("a.txt").await.expect("exists"));
    let set = Storages::from_urls(urls.iter()).expect("set");
    assert!(
        set.resolve("media")
            .expect("alias")
            .exists("a.txt")
            .await
            .expect("exists")
    );
    assert!(
        set.resolve(&media)
            .expect("url")
            .exists("a.txt")
            .await
            .expect("exists")
    );
    assert!(matches!(
        set.resolve("avatars"),
        Err(Error::Config(ConfigError::UnknownAlias { .. }))
    ));
}
