//! collectstatic into local directories, compared byte for byte with Django 5.2's `collectstatic` with
//! `ManifestStaticFilesStorage` on the same tree; re-runs, changes, dry runs, clearing, compression, the CLI.

use crate::support;

use crate::collect_fixture as fixture;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use storages::collect::{Clear, CollectError, CollectOptions, Report, Source, collect};
use storages::statics::{Encoding, MANIFEST_NAME, Manifest, StaticsError};
use storages::{Settings, Storage, StorageExt};

/// A `file:` storage at `dir`, served at `/static/`.
fn local(dir: &Path) -> Arc<dyn Storage> {
    let url = format!("file://{}?base_url=/static/", dir.display());
    Settings::parse(&url)
        .expect("parse")
        .build()
        .expect("build")
}

fn manifest_options() -> CollectOptions {
    let mut options = CollectOptions::default();
    options.manifest = true;
    options
}

async fn run(sources: &[Source], target: &dyn Storage, options: &CollectOptions) -> Report {
    collect(sources, target, options).await.expect("collect")
}

fn manifest_paths(root: &Path) -> serde_json::Value {
    let text = std::fs::read(root.join(MANIFEST_NAME)).expect("read staticfiles.json");
    serde_json::from_slice(&text).expect("staticfiles.json is JSON")
}

#[tokio::test]
async fn rewritten_files_and_manifest_are_byte_identical_to_djangos() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = fixture::tree(dir.path());
    let django_root = dir.path().join("django");
    let django = fixture::run_django(&dir.path().join("settings"), &sources, &django_root, None);
    assert!(
        django.status.success(),
        "Django's collectstatic failed:\n{}",
        String::from_utf8_lossy(&django.stderr)
    );

    let ours_root = dir.path().join("ours");
    let report = run(&sources, &*local(&ours_root), &manifest_options()).await;

    let theirs = fixture::files(&django_root);
    let ours = fixture::files(&ours_root);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "the same files are published"
    );
    let mut rewritten = 0;
    for (name, content) in &theirs {
        if name == MANIFEST_NAME {
            continue;
        }
        if (name.ends_with(".css") || name.ends_with(".js"))
            && content != &std::fs::read(source_of(&sources, name)).unwrap_or_default()
        {
            rewritten += 1;
        }
        assert!(
            ours[name] == *content,
            "{name} differs from Django's:\n--- ours\n{}\n--- Django's\n{}",
            String::from_utf8_lossy(&ours[name]),
            String::from_utf8_lossy(content)
        );
    }
    assert!(
        rewritten >= 8,
        "the fixture exercises rewriting ({rewritten} files rewritten)"
    );
    let (ours_json, theirs_json) = (manifest_paths(&ours_root), manifest_paths(&django_root));
    assert_eq!(
        ours_json["paths"], theirs_json["paths"],
        "staticfiles.json paths"
    );
    assert_eq!(ours_json["version"], "1.1");
    assert_eq!(ours_json["hash"], theirs_json["hash"], "the manifest hash");
    // What Django itself would print: files copied (each source name once) and post-processed.
    assert_eq!(report.duplicates.len(), 1, "{:?}", report.duplicates);
    assert!(report.duplicates[0].ignored.ends_with("extra/css/base.css"));
}

/// The source file a collected name came from (first source wins).
fn source_of(sources: &[Source], name: &str) -> std::path::PathBuf {
    for source in sources {
        let relative = match &source.prefix {
            Some(prefix) => match name.strip_prefix(&format!("{prefix}/")) {
                Some(rest) => rest,
                None => continue,
            },
            None => name,
        };
        let path = source.dir.join(relative);
        if path.is_file() {
            return path;
        }
    }
    std::path::PathBuf::from("/nonexistent")
}

#[tokio::test]
async fn a_missing_reference_is_an_error_naming_the_file_and_the_reference_as_in_django() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = fixture::missing_tree(dir.path());
    let target = local(&dir.path().join("ours"));
    let err = collect(&sources, &*target, &manifest_options())
        .await
        .expect_err("a missing file");
    let CollectError::MissingReferences(missing) = &err else {
        panic!("unexpected error: {err}")
    };
    assert_eq!(missing.len(), 1);
    assert_eq!(
        (missing[0].file.as_str(), missing[0].reference.as_str()),
        ("css/broken.css", "../img/nope.png")
    );
    assert_eq!(missing[0].resolved, "img/nope.png");
    assert!(
        err.to_string()
            .contains("`css/broken.css` references `../img/nope.png`"),
        "{err}"
    );
    assert!(
        target.list_all("").await.expect("list").is_empty(),
        "nothing is uploaded after an error"
    );

    let django = fixture::run_django(
        &dir.path().join("settings"),
        &sources,
        &dir.path().join("django"),
        None,
    );
    assert!(!django.status.success(), "Django refuses it too");
    assert!(String::from_utf8_lossy(&django.stderr).contains("img/nope.png"));
}

#[tokio::test]
async fn no_strict_keeps_a_missing_reference_unchanged_and_reports_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = fixture::missing_tree(dir.path());
    let root = dir.path().join("ours");
    let mut options = manifest_options();
    options.strict = false;
    let report = run(&sources, &*local(&root), &options).await;
    assert_eq!(report.missing.len(), 1);
    assert_eq!(report.missing[0].reference, "../img/nope.png");
    let manifest = manifest_paths(&root);
    let hashed = manifest["paths"]["css/broken.css"]
        .as_str()
        .expect("an entry");
    let css = std::fs::read_to_string(root.join(hashed)).expect("the hashed CSS");
    assert!(
        css.contains("url(\"../img/nope.png\")"),
        "kept as written: {css}"
    );
    assert!(
        !css.contains("url(../img/ok.png)"),
        "the other reference is rewritten: {css}"
    );
}

#[tokio::test]
async fn a_reference_cycle_is_an_error_naming_the_cycle_and_django_fails_on_it_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = fixture::cycle_tree(dir.path());
    let target = local(&dir.path().join("ours"));
    let err = collect(&sources, &*target, &manifest_options())
        .await
        .expect_err("a cycle");
    assert_eq!(
        err.to_string(),
        "reference cycle: css/a.css -> css/b.css -> css/sub/c.css -> css/a.css"
    );
    assert!(target.list_all("").await.expect("list").is_empty());

    let django = fixture::run_django(
        &dir.path().join("settings"),
        &sources,
        &dir.path().join("django"),
        None,
    );
    assert!(!django.status.success());
    assert!(String::from_utf8_lossy(&django.stderr).contains("Max post-process passes exceeded"));
}

#[tokio::test]
async fn a_rerun_with_nothing_changed_uploads_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = fixture::tree(dir.path());
    let target = local(&dir.path().join("ours"));
    let first = run(&sources, &*target, &manifest_options()).await;
    let published = target.list_all("").await.expect("list").len();
    assert_eq!(
        first.uploads(),
        published,
        "every published file was uploaded once"
    );
    assert_eq!(first.unchanged, 0);

    let again = run(&sources, &*target, &manifest_options()).await;
    assert_eq!(again.uploaded, Vec::<String>::new());
    assert_eq!(
        (again.copied, again.post_processed, again.unchanged),
        (0, 0, published)
    );
}

#[tokio::test]
async fn modification_times_never_decide() {
    let dir = tempfile::tempdir().expect("tempdir");
    let assets = dir.path().join("assets");
    fixture::write(&assets, "a.txt", "aaaa");
    fixture::write(&assets, "b.txt", "bbbb");
    let sources = [Source::new(&assets)];
    let root = dir.path().join("ours");
    let target = local(&root);
    run(&sources, &*target, &CollectOptions::default()).await;

    // a.txt: touched, same content. b.txt: new content of the same size, with the stored file made newer.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(assets.join("a.txt"))
        .and_then(|f| f.set_modified(later))
        .expect("touch");
    fixture::write(&assets, "b.txt", "BBBB");
    std::fs::File::options()
        .write(true)
        .open(root.join("b.txt"))
        .and_then(|f| f.set_modified(later))
        .expect("touch");
    let again = run(&sources, &*target, &CollectOptions::default()).await;
    assert_eq!(again.uploaded, ["b.txt"]);
    assert_eq!(std::fs::read(root.join("b.txt")).expect("read"), b"BBBB");
}

#[tokio::test]
async fn a_changed_image_reuploads_it_and_the_css_that_depends_on_it_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = fixture::tree(dir.path());
    let root = dir.path().join("ours");
    let target = local(&root);
    run(&sources, &*target, &manifest_options()).await;
    let before = manifest_paths(&root)["paths"].clone();

    fixture::write(
        &dir.path().join("assets"),
        "img/bg.png",
        fixture::binary(99, 20_000),
    );
    let report = run(&sources, &*target, &manifest_options()).await;
    let after = manifest_paths(&root)["paths"].clone();

    let changed: Vec<&str> = after
        .as_object()
        .expect("paths")
        .iter()
        .filter(|(name, hashed)| before[name.as_str()] != **hashed)
        .map(|(name, _)| name.as_str())
        .collect();
    let mut expected_changed = vec!["img/bg.png"];
    expected_changed.extend(fixture::CSS_USING_BG);
    expected_changed.sort_unstable();
    assert_eq!(
        changed, expected_changed,
        "the image and the CSS that reference it, directly or by @import"
    );

    let mut expected: Vec<String> = vec!["img/bg.png".into(), MANIFEST_NAME.into()];
    expected.extend(
        expected_changed
            .iter()
            .map(|name| after[*name].as_str().expect("hashed").to_owned()),
    );
    expected.sort();
    assert_eq!(report.uploaded, expected);
    assert_eq!((report.copied, report.post_processed), (2, 5));
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_says_what_it_would_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = fixture::tree(dir.path());
    let root = dir.path().join("ours");
    let target = local(&root);
    fixture::write(&root, "stale.txt", "old");
    let mut options = manifest_options();
    options.dry_run = true;
    options.clear = Clear::Stale;
    let report = run(&sources, &*target, &options).await;
    assert_eq!(
        fixture::files(&root).keys().collect::<Vec<_>>(),
        ["stale.txt"],
        "nothing written or deleted"
    );
    assert!(report.dry_run);
    assert_eq!(report.removed, ["stale.txt"]);
    assert!(
        report.uploaded.contains(&"css/app.css".to_owned())
            && report.uploaded.contains(&MANIFEST_NAME.to_owned())
    );

    let real = run(&sources, &*target, &manifest_options()).await;
    assert_eq!(
        real.uploaded, report.uploaded,
        "the dry run listed exactly what a real run uploads"
    );
    let mut details = Vec::new();
    report.write_details(&mut details).expect("write");
    let details = String::from_utf8(details).expect("text");
    assert!(
        details.contains("would copy css/app.css\n")
            && details.contains("would delete stale.txt\n"),
        "{details}"
    );
}

#[tokio::test]
async fn clear_removes_only_what_is_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = fixture::tree(dir.path());
    let root = dir.path().join("ours");
    let target = local(&root);
    run(&sources, &*target, &manifest_options()).await;
    let published = fixture::files(&root);
    fixture::write(&root, "old/gone.css", "stale");
    fixture::write(&root, "css/app.0123456789ab.css", "an old hashed copy");

    let asked = Arc::new(AtomicUsize::new(0));
    let mut options = manifest_options();
    options.clear = Clear::Stale;
    let counter = Arc::clone(&asked);
    options.confirm = Some(Arc::new(move |count| {
        counter.store(count, Ordering::SeqCst);
        true
    }));
    let report = run(&sources, &*target, &options).await;
    assert_eq!(
        asked.load(Ordering::SeqCst),
        2,
        "asked once, with the number of files"
    );
    assert_eq!(report.removed, ["css/app.0123456789ab.css", "old/gone.css"]);
    assert_eq!((report.uploads(), report.deleted), (0, 2));
    assert_eq!(
        fixture::files(&root),
        published,
        "everything collected is still there"
    );

    // Refused: nothing deleted.
    fixture::write(&root, "old/gone.css", "stale");
    options.confirm = Some(Arc::new(|_| false));
    let err = collect(&sources, &*target, &options)
        .await
        .expect_err("cancelled");
    assert!(matches!(err, CollectError::Cancelled(_)), "{err}");
    assert!(root.join("old/gone.css").is_file());
}

#[tokio::test]
async fn clear_all_empties_the_target_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let assets = dir.path().join("assets");
    fixture::write(&assets, "a.txt", "a");
    let root = dir.path().join("ours");
    let target = local(&root);
    run(
        &[Source::new(&assets)],
        &*target,
        &CollectOptions::default(),
    )
    .await;
    fixture::write(&root, "other.txt", "x");
    let mut options = CollectOptions::default();
    options.clear = Clear::All;
    let report = run(&[Source::new(&assets)], &*target, &options).await;
    assert_eq!(
        (report.deleted, report.copied, report.unchanged),
        (2, 1, 0),
        "a.txt is deleted and sent again"
    );
    assert_eq!(fixture::files(&root).keys().collect::<Vec<_>>(), ["a.txt"]);
}

#[tokio::test]
async fn compressed_siblings_only_where_they_save_five_percent_and_never_for_images_or_fonts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let assets = dir.path().join("assets");
    let css = "body { color: red; background: white; }\n".repeat(50);
    fixture::write(&assets, "app.css", &css);
    fixture::write(&assets, "random.txt", fixture::binary(5, 5_000));
    fixture::write(
        &assets,
        "logo.svg",
        "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>\n".repeat(30),
    );
    fixture::write(&assets, "photo.png", "p".repeat(5_000));
    fixture::write(&assets, "font.woff2", "f".repeat(5_000));
    fixture::write(&assets, "empty.js", "");
    let root = dir.path().join("ours");
    let mut options = manifest_options();
    options.compress = vec![Encoding::Gzip, Encoding::Brotli];
    run(&[Source::new(&assets)], &*local(&root), &options).await;
    let names: Vec<String> = fixture::files(&root)
        .into_keys()
        .filter(|n| n.ends_with(".gz") || n.ends_with(".br"))
        .collect();
    let manifest = manifest_paths(&root);
    let hashed_css = manifest["paths"]["app.css"].as_str().expect("entry");
    let hashed_svg = manifest["paths"]["logo.svg"].as_str().expect("entry");
    let mut expected: Vec<String> = ["app.css", "logo.svg", hashed_css, hashed_svg]
        .iter()
        .flat_map(|n| [format!("{n}.br"), format!("{n}.gz")])
        .collect();
    expected.sort();
    assert_eq!(
        names, expected,
        "text only; not random bytes (no gain), images, fonts or empty files"
    );
    let gz = std::fs::read(root.join("app.css.gz")).expect("read");
    let mut back = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut back)
        .expect("gunzip");
    assert_eq!(back, css);
    assert!(
        !manifest["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .any(|k| k.ends_with(".gz")),
        "siblings are not in the manifest"
    );

    let again = run(&[Source::new(&assets)], &*local(&root), &options).await;
    assert_eq!(
        again.uploads(),
        0,
        "compression is deterministic, so siblings are skipped too"
    );
}

#[tokio::test]
async fn keep_only_hashed_publishes_no_originals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = fixture::missing_tree(dir.path());
    fixture::write(
        &dir.path().join("assets"),
        "css/broken.css",
        "a { background: url(../img/ok.png); }\n",
    );
    let root = dir.path().join("ours");
    let mut options = manifest_options();
    options.keep_only_hashed = true;
    run(&sources, &*local(&root), &options).await;
    let names: Vec<String> = fixture::files(&root).into_keys().collect();
    let manifest = manifest_paths(&root);
    let mut expected = vec![
        MANIFEST_NAME.to_owned(),
        manifest["paths"]["css/broken.css"]
            .as_str()
            .expect("entry")
            .to_owned(),
        manifest["paths"]["img/ok.png"]
            .as_str()
            .expect("entry")
            .to_owned(),
    ];
    expected.sort();
    assert_eq!(names, expected);

    let mut without_manifest = CollectOptions::default();
    without_manifest.keep_only_hashed = true;
    assert!(
        collect(&sources, &*local(&root), &without_manifest)
            .await
            .is_err(),
        "it needs --manifest"
    );
}

#[tokio::test]
async fn static_url_links_the_hashed_copy_and_is_strict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = fixture::tree(dir.path());
    let target = local(&dir.path().join("ours"));
    let before = Manifest::load(&target)
        .await
        .expect("no manifest yet is fine");
    assert_eq!(
        before.static_url("css/app.css").await.expect("url"),
        "/static/css/app.css"
    );

    run(&sources, &*target, &manifest_options()).await;
    let manifest = Manifest::load(&target).await.expect("load");
    let hashed = manifest
        .hashed_name("css/app.css")
        .expect("listed")
        .to_owned();
    assert!(
        hashed.starts_with("css/app.")
            && hashed.ends_with(".css")
            && hashed.len() == "css/app..css".len() + 12
    );
    assert_eq!(
        manifest.static_url("css/app.css").await.expect("url"),
        format!("/static/{hashed}")
    );
    let font = manifest
        .hashed_name("fonts/icons.eot")
        .expect("listed")
        .to_owned();
    assert_eq!(
        manifest
            .static_url("fonts/icons.eot?#iefix")
            .await
            .expect("url"),
        format!("/static/{font}?#iefix")
    );
    assert!(matches!(
        manifest.static_url("css/nope.css").await,
        Err(StaticsError::MissingEntry(_))
    ));
    assert_eq!(manifest.hash().len(), 12);
}

#[tokio::test]
async fn ignore_patterns_apply_and_the_defaults_can_be_turned_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let assets = dir.path().join("assets");
    for name in ["a.css", "a.scss", "src/x.ts", ".env", "b~"] {
        fixture::write(&assets, name, "x");
    }
    let root = dir.path().join("ours");
    let mut options = CollectOptions::default();
    options.ignore = vec!["*.scss".into(), "src".into()];
    run(&[Source::new(&assets)], &*local(&root), &options).await;
    assert_eq!(
        fixture::files(&root).into_keys().collect::<Vec<_>>(),
        ["a.css"]
    );
    options.default_ignore = false;
    run(&[Source::new(&assets)], &*local(&root), &options).await;
    assert_eq!(
        fixture::files(&root).into_keys().collect::<Vec<_>>(),
        [".env", "a.css", "b~"]
    );
}

fn cli(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(support::storages_bin())
        .arg("collectstatic")
        .args(args)
        .current_dir(dir)
        .env_remove("STORAGES_CONFIG")
        .env_remove("STORAGES_STATIC_URL")
        .envs(envs.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run storages collectstatic")
}

#[test]
fn the_command_collects_into_the_static_alias_and_prints_one_summary_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    fixture::tree(d);
    let static_url = format!("file://{}/public?base_url=/static/", d.display());
    let envs = [("STORAGES_STATIC_URL", static_url.as_str())];
    let args = [
        "--source",
        "assets",
        "--source",
        "vendor=vendor",
        "--source",
        "extra",
        "--manifest",
    ];
    let first = cli(d, &args, &envs);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let summary = stdout.lines().last().expect("a summary");
    assert!(
        summary.starts_with("28 copied, 0 unchanged, 27 post-processed, 0 deleted in "),
        "{stdout}"
    );
    assert!(
        stdout.contains("ignored ") && stdout.contains("extra/css/base.css"),
        "the duplicate is reported: {stdout}"
    );
    assert!(d.join("public/staticfiles.json").is_file());

    let again = cli(d, &args, &envs);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        stdout
            .lines()
            .last()
            .expect("a summary")
            .starts_with("0 copied, 55 unchanged, 0 post-processed, 0 deleted"),
        "{stdout}"
    );

    // Deleting without a terminal needs --no-input.
    let mut clear = args.to_vec();
    clear.push("--clear");
    fixture::write(&d.join("public"), "stale.txt", "x");
    let refused = cli(d, &clear, &envs);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--no-input"));
    assert!(d.join("public/stale.txt").is_file());
    clear.push("--no-input");
    let cleared = cli(d, &clear, &envs);
    assert_eq!(cleared.status.code(), Some(0));
    assert!(!d.join("public/stale.txt").exists());

    let bad = cli(d, &["--source", "../x=assets"], &envs);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "a bad --source is a usage error"
    );
    let no_dir = cli(d, &["--source", "missing-dir"], &envs);
    assert_eq!(no_dir.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_dir.stderr).contains("missing-dir"));
}
