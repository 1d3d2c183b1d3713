//! Real asset trees for the benchmarks: the Django admin's static files and the published files of popular npm
//! packages (CSS that references fonts and images, JavaScript, fonts, icons), fetched once from PyPI and the npm
//! registry with `pip download` and `npm pack` and cached under `~/.cache/storages-bench/` (or
//! `$STORAGES_BENCH_CACHE`). Versions are pinned, so every machine measures the same bytes.
//!
//! Two trees are cut from the one corpus:
//! - [`assets`]: what a site collects as static files: Django's admin and the dist folders of the packages;
//! - [`mid_sized`]: every corpus file of 4 KiB to 1 MiB (fonts, scripts, stylesheets), what a media or asset
//!   migration moves.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::BenchResult;

/// Bumped whenever the packages or the cuts change, so a stale cache is never mistaken for the new corpus.
const CORPUS: &str = "corpus-v2";

/// The Django release whose admin static files are collected.
const DJANGO: &str = "5.2.8";

/// npm packages and the folders of each that a site publishes (empty: the whole package but its metadata).
const PACKAGES: &[(&str, &[&str])] = &[
    ("bootstrap@5.3.3", &["dist"]),
    ("bootstrap-icons@1.11.3", &["font", "icons"]),
    (
        "@fortawesome/fontawesome-free@6.6.0",
        &["css", "webfonts", "svgs", "js"],
    ),
    ("katex@0.16.11", &["dist"]),
    ("leaflet@1.9.4", &["dist"]),
    ("lightbox2@2.11.4", &["dist"]),
    ("slick-carousel@1.8.1", &["slick"]),
    (
        "tinymce@7.3.0",
        &["skins", "themes", "icons", "models", "plugins"],
    ),
    ("@fontsource/roboto@5.1.0", &[]),
    ("@fontsource/noto-sans-jp@5.1.0", &[]),
    ("codemirror@5.65.18", &["lib", "mode", "addon", "theme"]),
    ("highlight.js@11.10.0", &["styles"]),
    (
        "ace-builds@1.36.2",
        &["src", "src-noconflict", "src-min", "src-min-noconflict"],
    ),
    ("monaco-editor@0.52.0", &["min", "esm"]),
    ("three@0.169.0", &["build", "examples"]),
    ("moment@2.30.1", &["min", "locale", "dist"]),
    (
        "pdfjs-dist@4.6.82",
        &["build", "web", "cmaps", "standard_fonts"],
    ),
    ("echarts@5.5.1", &["dist", "lib"]),
];

/// Packages whose folders make up the static assets tree (the rest only feed the mid-sized tree). Each collects
/// under Django's `ManifestStaticFilesStorage` as it is published (jQuery UI's CSS, for one, does not: a comment
/// holds `url(...)` references Django cannot resolve).
const ASSET_PACKAGES: &[&str] = &[
    "bootstrap",
    "bootstrap-icons",
    "@fortawesome/fontawesome-free",
    "katex",
    "leaflet",
    "lightbox2",
    "slick-carousel",
    "tinymce",
    "@fontsource/roboto",
    "codemirror",
];

fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("STORAGES_BENCH_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("storages-bench")
}

/// The whole corpus, fetched on first use: `django-admin/` and one folder per npm package.
pub fn corpus() -> BenchResult<PathBuf> {
    let root = cache_root().join(CORPUS);
    let done = root.join(".complete");
    if done.exists() {
        return Ok(root);
    }
    let partial = cache_root().join(format!("{CORPUS}.partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial)?;
    eprintln!(
        "fetching the benchmark corpus into {} (once)",
        root.display()
    );
    fetch_django_admin(&partial)?;
    for (spec, _) in PACKAGES {
        fetch_npm(&partial, spec)?;
    }
    fs::write(partial.join(".complete"), "")?;
    let _ = fs::remove_dir_all(&root);
    fs::rename(&partial, &root)?;
    Ok(root)
}

fn run(command: &mut Command) -> BenchResult<()> {
    let shown = format!("{command:?}");
    let out = command.output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{shown} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into())
    }
}

/// `django/contrib/admin/static/` of the Django wheel from PyPI, as `django-admin/`.
fn fetch_django_admin(into: &Path) -> BenchResult<()> {
    let download = into.join(".download");
    fs::create_dir_all(&download)?;
    let python = std::env::var("STORAGES_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary",
            ":all:",
            &format!("django=={DJANGO}"),
            "-d",
        ])
        .arg(&download))?;
    let wheel = fs::read_dir(&download)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .ok_or("pip downloaded no Django wheel")?;
    let script = "import sys, zipfile\n\
        z = zipfile.ZipFile(sys.argv[1])\n\
        z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith('django/contrib/admin/static/')])";
    let unpacked = download.join("wheel");
    run(Command::new(&python)
        .args(["-c", script])
        .arg(&wheel)
        .arg(&unpacked))?;
    fs::rename(
        unpacked.join("django/contrib/admin/static"),
        into.join("django-admin"),
    )?;
    fs::remove_dir_all(&download)?;
    Ok(())
}

/// The tarball of `spec` from the npm registry, unpacked as `<package name>/` (its `package/` folder).
fn fetch_npm(into: &Path, spec: &str) -> BenchResult<()> {
    let download = into.join(".download");
    fs::create_dir_all(&download)?;
    run(Command::new("npm")
        .args(["pack", "--silent", spec, "--pack-destination"])
        .arg(&download))?;
    let tarball = fs::read_dir(&download)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "tgz"))
        .ok_or_else(|| format!("npm pack {spec} gave no tarball"))?;
    run(Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&download))?;
    let target = into.join(package_name(spec));
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::rename(download.join("package"), &target)?;
    fs::remove_dir_all(&download)?;
    Ok(())
}

/// `@scope/name@1.2.3` → `@scope/name`.
fn package_name(spec: &str) -> &str {
    match spec.rfind('@') {
        Some(0) | None => spec,
        Some(at) => &spec[..at],
    }
}

/// Builds (once) a tree under the cache from the corpus by hard links, keeping the files `keep` selects, and
/// returns it with its file count and bytes.
fn cut(name: &str, keep: &dyn Fn(&Path, u64) -> bool) -> BenchResult<(PathBuf, usize, u64)> {
    let corpus = corpus()?;
    let root = cache_root().join(format!("{CORPUS}-{name}"));
    let partial = cache_root().join(format!("{CORPUS}-{name}.partial-{}", std::process::id()));
    let reuse = root.join(".complete").exists();
    let target = if reuse { root.clone() } else { partial.clone() };
    if !reuse {
        let _ = fs::remove_dir_all(&partial);
    }
    let (mut files, mut bytes) = (0, 0);
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in fs::read_dir(corpus.join(&rel))? {
            let entry = entry?;
            let path = rel.join(entry.file_name());
            let kind = entry.file_type()?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let size = entry.metadata()?.len();
                if !keep(&path, size) {
                    continue;
                }
                files += 1;
                bytes += size;
                if !reuse {
                    let to = target.join(&path);
                    if let Some(parent) = to.parent() {
                        fs::create_dir_all(parent)?;
                    }
                    fs::hard_link(corpus.join(&path), &to)?;
                }
            }
        }
    }
    if !reuse {
        fs::write(partial.join(".complete"), "")?;
        let _ = fs::remove_dir_all(&root);
        fs::rename(&partial, &root)?;
    }
    Ok((root, files, bytes))
}

/// The static assets a site collects: Django's admin and the published folders of the asset packages (their CSS
/// references fonts and images). Returns the tree, its file count and its bytes.
pub fn assets() -> BenchResult<(PathBuf, usize, u64)> {
    cut("assets", &|path, _| {
        if path.starts_with("django-admin") {
            return true;
        }
        PACKAGES.iter().any(|(spec, folders)| {
            let name = package_name(spec);
            ASSET_PACKAGES.contains(&name)
                && path.starts_with(name)
                && path
                    .strip_prefix(name)
                    .is_ok_and(|inner| published(inner, folders))
        })
    })
}

/// Every corpus file from 4 KiB to 1 MiB in the packages' published folders. Returns the tree, its file count and
/// its bytes.
pub fn mid_sized() -> BenchResult<(PathBuf, usize, u64)> {
    cut("mid-sized", &|path, size| {
        if !(4 << 10..=1 << 20).contains(&size) {
            return false;
        }
        if path.starts_with("django-admin") {
            return true;
        }
        PACKAGES.iter().any(|(spec, folders)| {
            let name = package_name(spec);
            path.strip_prefix(name)
                .is_ok_and(|inner| published(inner, folders))
        })
    })
}

/// Whether `inner` (a path inside a package) lies in one of `folders` (all but the package's metadata when
/// empty).
fn published(inner: &Path, folders: &[&str]) -> bool {
    if folders.is_empty() {
        let first = inner.components().next();
        return !matches!(
            first
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .as_deref(),
            Some("package.json" | "README.md" | "LICENSE" | "CHANGELOG.md")
        );
    }
    folders.iter().any(|f| inner.starts_with(f))
}
